-- Calls in flight per wallet: how many calls (run now or queued) the wallet of a person or
-- a team has going, kept against a limit that grows with what its buyers have paid
-- (tiers in the settings) or that an administrator set for it. A call takes its place in
-- the transaction that begins it and gives it back in the one that finishes it.
create table wallet_calls (
    -- A person's id or a team's: whose wallet the calls belong to.
    owner_id text primary key,
    in_flight bigint not null default 0,
    -- Set by an administrator: this many at once, whatever was paid.
    max_override bigint,
    updated_at_ms bigint not null,
    constraint wallet_calls_in_flight_not_negative check (in_flight >= 0),
    constraint wallet_calls_override_positive check (max_override is null or max_override >= 1)
);

-- Whose place a running call holds (null: a call begun before places were kept, which
-- has none to give back).
alter table usage_record add column in_flight_owner text;

-- A team's paid purchases, summed to find its limit.
create index checkout_session_by_team on checkout_session (team_id, status);
