-- Money events: the outbox. Every change to a wallet's money writes one row here in the
-- transaction that makes the change, numbered per wallet (1, 2, 3 ...). The live balance
-- stream, webhooks and notices read from it.
create table event (
    id integer primary key autoincrement,
    wallet_id bigint not null references account (id),
    -- The wallet's own sequence number, the stream's event id.
    seq bigint not null,
    -- 'purchase.credited', 'usage.charged', 'balance.low' ... (see EventKind).
    kind text not null,
    -- JSON: what happened, and the wallet's balance after it.
    data text not null,
    created_at_ms bigint not null,
    constraint event_seq_once unique (wallet_id, seq)
);
-- The last sequence number a wallet's events took, and whether its available balance is
-- under the low-balance threshold (so `balance.low` is written once per fall).
alter table account add column event_seq bigint not null default 0;
alter table account add column balance_low bigint not null default 0;

-- When a lot's owner was told it expires within 7 days (`credits.expiring`), and when an
-- invoice's owner was told it is past due (`invoice.overdue`): each said once.
alter table credit_lot add column expiry_warned_at_ms bigint;
alter table invoice add column overdue_told_at_ms bigint;

-- Settings the ledger reads inside its transactions (one row): the low-balance threshold,
-- written from `low_balance_usd` when an instance starts.
create table ledger_setting (
    id bigint primary key check (id = 1),
    low_balance_micros bigint not null check (low_balance_micros >= 0)
);
insert into ledger_setting (id, low_balance_micros) values (1, 1000000);
