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
alter table transfer drop constraint transfer_code_known;
alter table transfer add constraint transfer_code_known check (code in (
        'purchase', 'purchase_bonus', 'signup_grant', 'gift_code',
        'usage', 'adjustment', 'refund', 'expiry', 'credit_line', 'invoice_payment'));
