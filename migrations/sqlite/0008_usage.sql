-- One row per metered call through the gateway, whatever became of it.
create table usage_record (
    -- The request id, returned to the caller as metadata.request_id.
    id text primary key,
    user_id text not null references app_user (id) on delete cascade,
    -- The upstream provider: 'fal' or 'openrouter'.
    provider text not null,
    endpoint_id text not null,
    operation text not null,
    unit text not null,
    -- Billing units in thousandths (megapixels and token blocks stay integers).
    units_milli bigint not null,
    unit_price_micros bigint not null,
    cost_estimate_micros bigint not null,
    -- The effective cost, from what was produced; null until the call succeeded.
    cost_micros bigint,
    -- 'credits' (routed through this platform's provider account) or 'own_key'.
    paid_with text not null,
    -- What was taken from the wallet (zero for own-key calls and failures).
    charged_micros bigint not null default 0,
    -- 'running', 'succeeded' or 'failed'.
    status text not null,
    failure text,
    hold_id bigint,
    run_id text,
    created_at_ms bigint not null,
    finished_at_ms bigint,
    constraint usage_record_status_known check (status in ('running', 'succeeded', 'failed')),
    constraint usage_record_paid_with_known check (paid_with in ('credits', 'own_key'))
);
create index usage_record_by_user_time on usage_record (user_id, created_at_ms);
