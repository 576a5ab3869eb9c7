-- Budgets: a spending limit per window (a UTC day, week from Monday, month, or in
-- total) on an API token, a team member or a team. A call is admitted into every budget
-- that applies, in the transaction that holds its estimate, by a guarded update: spent
-- plus the estimate must stay within the limit, so concurrent calls cannot pass it
-- together. When the call ends its estimate is replaced by what it was charged.
create table budget (
    -- 'bg_' and 24 hex digits.
    id text primary key,
    -- 'token', 'member' or 'team'.
    scope text not null,
    -- The token id; '<team id>:<user id>'; or the team id.
    subject text not null,
    limit_micros bigint not null,
    -- 'day', 'week', 'month' or 'total'.
    period text not null,
    -- When the current window began (0 for 'total'); spent_micros counts from then.
    window_start_ms bigint not null,
    spent_micros bigint not null default 0,
    created_by text not null,
    updated_at_ms bigint not null,
    constraint budget_subject_once unique (scope, subject),
    constraint budget_scope_known check (scope in ('token', 'member', 'team')),
    constraint budget_period_known check (period in ('day', 'week', 'month', 'total')),
    constraint budget_limit_positive check (limit_micros > 0)
);

-- What a call put into each budget it was admitted into, and in which window: settled
-- (or given back) when the call ends, whichever instance ends it.
create table budget_charge (
    call_id text not null,
    budget_id text not null references budget (id),
    window_start_ms bigint not null,
    amount_micros bigint not null,
    primary key (call_id, budget_id)
);
