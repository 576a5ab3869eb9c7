-- Per-run spend caps: what a client's run (Tollgate-Run-Id) may spend in credits, and
-- what its calls have committed so far (estimates of calls running, costs of calls done).
-- A call is admitted by one guarded UPDATE, so concurrent calls cannot overshoot the cap.
create table run_budget (
    user_id text not null references app_user (id) on delete cascade,
    run_id text not null,
    cap_micros bigint not null,
    committed_micros bigint not null default 0,
    updated_at_ms bigint not null,
    primary key (user_id, run_id),
    constraint run_budget_cap_positive check (cap_micros > 0)
);
