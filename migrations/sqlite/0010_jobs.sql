-- Whether a call's estimate was admitted into its run's budget (Tollgate-Max-USD-Per-Run),
-- so finishing the call settles the budget exactly once.
alter table usage_record add column run_budgeted bigint not null default 0;

-- Long calls (video) go through the provider's queue. One row per queued call, beside its
-- usage record: where to ask the provider about it, and what it has said so far.
create table provider_job (
    -- The usage record's id, returned to the caller as job_id.
    id text primary key references usage_record (id) on delete cascade,
    user_id text not null references app_user (id) on delete cascade,
    endpoint_id text not null,
    -- The provider's id for the queued request, and where its status and result are read.
    provider_request_id text not null,
    status_url text not null,
    response_url text not null,
    -- 'queued', 'running', 'succeeded' or 'failed'.
    state text not null,
    queue_position bigint,
    -- The provider's latest progress message.
    progress text,
    -- The provider's output as JSON, once the job succeeded.
    output text,
    failure text,
    polls bigint not null default 0,
    next_poll_at_ms bigint not null,
    -- A poller working on the job holds it until then, so instances do not poll it twice.
    lease_until_ms bigint not null default 0,
    -- A job still unfinished then fails as timed out, and its hold is released.
    deadline_at_ms bigint not null,
    created_at_ms bigint not null,
    started_at_ms bigint,
    finished_at_ms bigint,
    constraint provider_job_state_known check (state in ('queued', 'running', 'succeeded', 'failed'))
);
create index provider_job_due on provider_job (state, next_poll_at_ms);
create index provider_job_by_user on provider_job (user_id, created_at_ms);
