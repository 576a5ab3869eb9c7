-- Webhooks out: endpoints an administrator registered, and one delivery per money event
-- and endpoint, written in the transaction that writes the event (so nothing committed
-- is lost, even if the server stops before sending it).
create table webhook_endpoint (
    -- 'we_' and 24 hex digits.
    id text primary key,
    url text not null,
    -- The event kinds it receives, comma-separated, or '*' for all.
    events text not null,
    -- The signing secret ('whsec_...'), sealed with the master key.
    secret_sealed text not null,
    created_at_ms bigint not null,
    removed_at_ms bigint
);

create table webhook_delivery (
    -- 'wd_<event id>_<endpoint id>'.
    id text primary key,
    endpoint_id text not null references webhook_endpoint (id),
    event_id bigint not null references event (id),
    -- The wallet and its event number: deliveries to one endpoint go in this order per
    -- wallet.
    wallet_id bigint not null,
    seq bigint not null,
    -- 'pending', 'delivered', or 'failed' (3 days without a 2xx).
    status text not null,
    attempts bigint not null default 0,
    next_attempt_at_ms bigint not null,
    -- A sender working on it holds it until then, so instances do not send it twice at once.
    lease_until_ms bigint not null default 0,
    -- The receiver's last HTTP status, or why it could not be reached.
    last_status bigint,
    last_error text,
    created_at_ms bigint not null,
    delivered_at_ms bigint,
    constraint webhook_delivery_status_known check (status in ('pending', 'delivered', 'failed'))
);
create index webhook_delivery_due on webhook_delivery (status, next_attempt_at_ms);
create index webhook_delivery_queue on webhook_delivery (endpoint_id, wallet_id, seq);
