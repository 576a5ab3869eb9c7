-- Saved cards and auto top-up, and a journal of what wallets owe.

-- Every change to what a wallet owes, so the audit can check `account.owed_micros`
-- against its history: credits taken back after they were spent (+), what later
-- credits or released holds paid (-), and what a dispute decided for the payer forgave (-).
create table owed_change (
    id integer primary key,
    wallet_id bigint not null references account (id),
    delta_micros bigint not null,
    reason text not null,
    idempotency_key text not null,
    -- The repayment transfer, for what was repaid.
    transfer_id bigint references transfer (id),
    created_at_ms bigint not null,
    constraint owed_change_key_unique unique (idempotency_key),
    constraint owed_change_not_zero check (delta_micros <> 0),
    constraint owed_change_reason_known check (reason in ('taken_back', 'repaid', 'forgiven'))
);
create index owed_change_by_wallet on owed_change (wallet_id);
-- What was owed before this journal existed opens it.
insert into owed_change (wallet_id, delta_micros, reason, idempotency_key, created_at_ms)
select id, owed_micros, 'taken_back', 'opening-balance:' || cast(id as text), 0 from account where owed_micros > 0;

-- A person's Stripe customer, saved card and auto top-up settings and state.
create table billing_profile (
    user_id text primary key references app_user (id),
    -- Stripe's customer (cus_...), made once per account; null until needed.
    stripe_customer text,
    -- The saved card: its payment method (pm_..., or pm_sandbox_... in the sandbox) and
    -- what the person sees of it.
    card_id text,
    card_provider text,
    card_brand text,
    card_last4 text,
    card_exp_month bigint,
    card_exp_year bigint,
    -- Auto top-up: when available credits fall under the threshold, buy `amount`, never
    -- more than `monthly_cap` in a calendar month (UTC).
    auto_enabled bigint not null default 0,
    auto_threshold_micros bigint not null default 0,
    auto_amount_micros bigint not null default 0,
    auto_monthly_cap_micros bigint not null default 0,
    -- Why auto top-up stopped by itself (a declined card); null while it runs.
    auto_paused_reason text,
    -- Attempts so far; each attempt's number is part of its Stripe idempotency key.
    top_up_seq bigint not null default 0,
    -- The attempt waiting for Stripe's answer, if any, and when the last one started.
    top_up_pending text,
    top_up_last_at_ms bigint,
    -- What top-ups started in `top_up_month` ('YYYY-MM', UTC) add up to.
    top_up_month text,
    top_up_month_micros bigint not null default 0,
    updated_at_ms bigint not null,
    constraint billing_profile_customer_unique unique (stripe_customer),
    constraint billing_profile_auto_flag check (auto_enabled in (0, 1)),
    constraint billing_profile_auto_amounts check (auto_threshold_micros >= 0 and auto_amount_micros >= 0
        and auto_monthly_cap_micros >= 0 and top_up_month_micros >= 0),
    constraint billing_profile_card_provider_known check (card_provider is null or card_provider in ('stripe', 'sandbox'))
);

-- A purchase is made at Checkout, by auto top-up (an off-session payment of the saved
-- card) or to pay an invoice; a payment that failed says why.
alter table checkout_session add column kind text not null default 'checkout';
alter table checkout_session add column failure text;
