-- The ledger: accounts, immutable double-entry transfers, holds, credit lots and
-- idempotency keys. Amounts are integers in micro-USD; times are Unix milliseconds.

-- Wallets (one per owner) and system accounts (where money comes from and goes to).
create table account (
    id integer primary key,
    kind text not null,
    -- 'wallet:<owner id>' or 'system:<name>'.
    code text not null,
    owner_id text,
    -- Wallets: credits minus debits, and the sum of open holds. System accounts keep 0
    -- in both: their balance is the sum of their transfers, so that a busy system
    -- account is not a row every transaction has to queue on.
    posted_micros bigint not null default 0,
    reserved_micros bigint not null default 0,
    created_at_ms bigint not null,
    constraint account_code_unique unique (code),
    constraint account_kind_known check (kind in ('wallet', 'system')),
    -- The last line of defence for the no-overdraft rule (the first is the guarded
    -- update in the ledger's SQL): nothing can spend reserved or missing money.
    constraint account_never_overdrawn check (reserved_micros >= 0 and posted_micros >= reserved_micros)
);

insert into account (kind, code, created_at_ms) values
    ('system', 'system:payments_clearing', 0),
    ('system', 'system:promotions', 0),
    ('system', 'system:gift_codes', 0),
    ('system', 'system:usage_revenue', 0),
    ('system', 'system:expired_credit', 0),
    ('system', 'system:adjustments', 0);

-- Money reserved for work in progress.
create table hold (
    id integer primary key,
    wallet_id bigint not null references account (id),
    amount_micros bigint not null,
    status text not null default 'open',
    -- Set when captured: what was charged, and what the wallet could not cover.
    captured_micros bigint,
    uncollected_micros bigint,
    description text not null,
    metadata text not null default '{}',
    expires_at_ms bigint not null,
    created_at_ms bigint not null,
    closed_at_ms bigint,
    constraint hold_amount_positive check (amount_micros > 0),
    constraint hold_status_known check (status in ('open', 'captured', 'voided', 'expired'))
);
create index hold_open_by_expiry on hold (expires_at_ms) where status = 'open';
create index hold_by_wallet on hold (wallet_id, status);

-- Every movement of money. Never updated or deleted: a mistake is corrected by a
-- transfer that reverses it.
create table transfer (
    id integer primary key,
    debit_account_id bigint not null references account (id),
    credit_account_id bigint not null references account (id),
    amount_micros bigint not null,
    code text not null,
    idempotency_key text not null,
    description text not null,
    metadata text not null default '{}',
    -- The wallet side of the transfer and its posted balance right after it.
    wallet_id bigint references account (id),
    wallet_balance_after_micros bigint,
    hold_id bigint references hold (id),
    reverses_transfer_id bigint references transfer (id),
    created_at_ms bigint not null,
    constraint transfer_amount_positive check (amount_micros > 0),
    constraint transfer_between_two_accounts check (debit_account_id <> credit_account_id),
    constraint transfer_code_known check (code in (
        'purchase', 'purchase_bonus', 'signup_grant', 'gift_code',
        'usage', 'adjustment', 'refund', 'expiry')),
    constraint transfer_idempotency_key_unique unique (idempotency_key),
    constraint transfer_reversed_once unique (reverses_transfer_id)
);
create index transfer_wallet_history on transfer (wallet_id, id);
create index transfer_wallet_code_history on transfer (wallet_id, code, id);
create index transfer_by_hold on transfer (hold_id) where hold_id is not null;

create trigger transfer_no_update before update on transfer
begin
    select raise(abort, 'transfers are immutable; write a reversing transfer');
end;
create trigger transfer_no_delete before delete on transfer
begin
    select raise(abort, 'transfers are immutable; write a reversing transfer');
end;

-- Each credit to a wallet is a lot that spending draws down: promotional lots first,
-- then earliest expiry first.
create table credit_lot (
    id integer primary key,
    wallet_id bigint not null references account (id),
    transfer_id bigint not null references transfer (id),
    source text not null,
    promotional integer not null,
    original_micros bigint not null,
    remaining_micros bigint not null,
    expires_at_ms bigint,
    created_at_ms bigint not null,
    constraint credit_lot_promotional_flag check (promotional in (0, 1)),
    constraint credit_lot_original_positive check (original_micros > 0),
    constraint credit_lot_remaining_in_range check (remaining_micros >= 0 and remaining_micros <= original_micros)
);
create index credit_lot_spend_order on credit_lot (wallet_id, promotional, expires_at_ms) where remaining_micros > 0;
create index credit_lot_expiring on credit_lot (expires_at_ms) where remaining_micros > 0 and expires_at_ms is not null;

-- How much each transfer took from (positive) or gave back to (negative) each lot.
create table lot_draw (
    transfer_id bigint not null references transfer (id),
    lot_id bigint not null references credit_lot (id),
    amount_micros bigint not null,
    constraint lot_draw_pk primary key (transfer_id, lot_id),
    constraint lot_draw_nonzero check (amount_micros <> 0)
);
create index lot_draw_by_lot on lot_draw (lot_id);

-- One row per ledger request, written in the same transaction as its effects, so a
-- retried request returns the first answer instead of moving money again.
create table idempotency_key (
    key text primary key,
    operation text not null,
    -- The request as first received; a replay must match it exactly.
    request text not null,
    -- The first answer, returned to every replay.
    result text not null,
    created_at_ms bigint not null
);
