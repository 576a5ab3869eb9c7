-- Postpaid accounts: a credit line the ledger draws on when a wallet's own credits run
-- out, billed by monthly invoices.

-- A wallet's credit line: how far it may spend on credit, and how much of that is drawn
-- and not yet paid. Drawing credits the wallet from `system:receivables` (so the posted
-- balance, and the no-overdraft guard, stay as they are); paying an invoice moves money
-- from payments into receivables and lowers what is drawn.
alter table account add column credit_limit_micros bigint not null default 0 check (credit_limit_micros >= 0);
alter table account add column credit_used_micros bigint not null default 0 check (credit_used_micros >= 0);
-- What a hold drew on the credit line, given back for the part the hold did not use.
alter table hold add column credit_drawn_micros bigint not null default 0 check (credit_drawn_micros >= 0);

insert into account (kind, code, created_at_ms) values ('system', 'system:receivables', 0);

-- A month of a postpaid account's usage, billed.
create table invoice (
    -- 'inv_<YYYYMM>_<account>'
    id text primary key,
    user_id text not null references app_user (id),
    -- 'YYYY-MM' (UTC).
    month text not null,
    -- Everything the month's calls cost, what the account's own credits paid of it, and
    -- what was spent on credit and is due.
    usage_micros bigint not null,
    paid_from_credits_micros bigint not null,
    amount_due_micros bigint not null,
    status text not null default 'open',
    due_at_ms bigint not null,
    -- The payment Stripe accepted for it (pi_...), why the last attempt failed, and how
    -- many attempts were made (each attempt's number is part of its idempotency key).
    payment_intent text,
    failure text,
    payment_attempts bigint not null default 0,
    created_at_ms bigint not null,
    paid_at_ms bigint,
    constraint invoice_once_a_month unique (user_id, month),
    constraint invoice_amounts_not_negative check (usage_micros >= 0 and paid_from_credits_micros >= 0 and amount_due_micros >= 0),
    constraint invoice_status_known check (status in ('open', 'paid'))
);
create index invoice_by_status on invoice (status, due_at_ms);

-- What an invoice bills, one line per model and unit.
create table invoice_line (
    invoice_id text not null references invoice (id),
    endpoint_id text not null,
    unit text not null,
    calls bigint not null,
    units_milli bigint not null,
    unit_price_micros bigint not null,
    amount_micros bigint not null,
    constraint invoice_line_pk primary key (invoice_id, endpoint_id, unit, unit_price_micros)
);

-- Two new transfer codes: drawn on (or given back to) a credit line, and an invoice paid.
-- SQLite cannot change a CHECK in place: the table is rebuilt with the same rows. Foreign
-- keys stay on and are checked when this migration commits: dropping the table leaves the
-- rows that refer to transfers without one, and putting the same rows back into the new
-- `transfer` gives each its transfer again.
pragma defer_foreign_keys = on;
create table transfer_copy as select * from transfer;
drop table transfer;
create table transfer (
    id integer primary key,
    debit_account_id bigint not null references account (id),
    credit_account_id bigint not null references account (id),
    amount_micros bigint not null,
    code text not null,
    idempotency_key text not null,
    description text not null,
    metadata text not null default '{}',
    wallet_id bigint references account (id),
    wallet_balance_after_micros bigint,
    hold_id bigint references hold (id),
    reverses_transfer_id bigint references transfer (id),
    created_at_ms bigint not null,
    constraint transfer_amount_positive check (amount_micros > 0),
    constraint transfer_between_two_accounts check (debit_account_id <> credit_account_id),
    constraint transfer_code_known check (code in (
        'purchase', 'purchase_bonus', 'signup_grant', 'gift_code',
        'usage', 'adjustment', 'refund', 'expiry', 'credit_line', 'invoice_payment')),
    constraint transfer_idempotency_key_unique unique (idempotency_key),
    constraint transfer_reversed_once unique (reverses_transfer_id)
);
insert into transfer (id, debit_account_id, credit_account_id, amount_micros, code, idempotency_key, description,
    metadata, wallet_id, wallet_balance_after_micros, hold_id, reverses_transfer_id, created_at_ms)
select id, debit_account_id, credit_account_id, amount_micros, code, idempotency_key, description,
    metadata, wallet_id, wallet_balance_after_micros, hold_id, reverses_transfer_id, created_at_ms from transfer_copy order by id;
drop table transfer_copy;
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
