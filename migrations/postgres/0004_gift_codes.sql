-- Gift codes: batches made by administrators, codes stored only as keyed hashes, and
-- who redeemed what.

create table gift_code_batch (
    id bigint generated always as identity primary key,
    amount_micros bigint not null,
    max_uses bigint not null,
    expires_at_ms bigint,
    note text not null default '',
    created_by text not null,
    created_at_ms bigint not null,
    constraint gift_code_batch_amount_positive check (amount_micros > 0),
    constraint gift_code_batch_max_uses_positive check (max_uses > 0)
);

create table gift_code (
    id bigint generated always as identity primary key,
    batch_id bigint not null references gift_code_batch (id),
    -- HMAC-SHA256 of the normalised code under the server's secret key: a copy of the
    -- database alone does not give anyone a usable code.
    code_hash text not null,
    -- The last characters, so an administrator can tell codes apart.
    display_suffix text not null,
    max_uses bigint not null,
    uses bigint not null default 0,
    constraint gift_code_hash_unique unique (code_hash),
    constraint gift_code_uses_in_range check (uses >= 0 and uses <= max_uses)
);
create index gift_code_by_batch on gift_code (batch_id);

create table gift_redemption (
    gift_code_id bigint not null references gift_code (id),
    user_id text not null references app_user (id),
    transfer_id bigint not null references transfer (id),
    created_at_ms bigint not null,
    constraint gift_redemption_once_per_user primary key (gift_code_id, user_id)
);
