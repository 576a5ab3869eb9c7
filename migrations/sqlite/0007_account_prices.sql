-- Custom pricing: an administrator's price for one account and endpoint, in micro-USD
-- per the catalog's billing unit for that endpoint. It replaces the catalog price for
-- that account only.
create table account_price (
    user_id text not null references app_user (id) on delete cascade,
    endpoint_id text not null,
    unit_price_micros bigint not null,
    set_by text not null,
    updated_at_ms bigint not null,
    primary key (user_id, endpoint_id),
    constraint account_price_positive check (unit_price_micros > 0)
);
