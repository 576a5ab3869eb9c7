-- Refunds and disputes take purchased credits back. A purchase remembers the Stripe
-- payment behind it and how much of it was refunded; each dispute is kept with what it
-- took; and a wallet keeps what it owes when credits taken back were already spent
-- (its posted balance never goes below zero: the debt is kept beside it, and the next
-- credits pay it first).
alter table account add column owed_micros bigint not null default 0 check (owed_micros >= 0);
alter table checkout_session add column payment_intent text;
alter table checkout_session add column refunded_micros bigint not null default 0 check (refunded_micros >= 0);
create unique index checkout_session_by_payment on checkout_session (payment_intent);

create table dispute (
    -- Stripe's dispute id (dp_...).
    id text primary key,
    session_id text not null references checkout_session (id),
    user_id text not null references app_user (id),
    -- What was taken back for it: from the wallet (of which the bonus share), and added
    -- to what the wallet owes.
    taken_micros bigint not null,
    taken_bonus_micros bigint not null,
    owed_micros bigint not null,
    status text not null default 'open',
    created_at_ms bigint not null,
    closed_at_ms bigint,
    constraint dispute_amounts_not_negative check (taken_micros >= taken_bonus_micros and taken_bonus_micros >= 0 and owed_micros >= 0),
    constraint dispute_status_known check (status in ('open', 'won', 'lost'))
);
create index dispute_by_user on dispute (user_id, created_at_ms);
