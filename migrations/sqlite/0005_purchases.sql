-- Credit purchases through Stripe Checkout (or the built-in sandbox), and the Stripe
-- events already handled.

create table checkout_session (
    -- The payment provider's session id (cs_... from Stripe, cs_sandbox_... locally).
    id text primary key,
    user_id text not null references app_user (id),
    provider text not null,
    -- What the person pays, and the bonus they get on top; fixed when the session is made.
    amount_micros bigint not null,
    bonus_micros bigint not null default 0,
    status text not null default 'open',
    created_at_ms bigint not null,
    completed_at_ms bigint,
    constraint checkout_session_amount_positive check (amount_micros > 0),
    constraint checkout_session_bonus_not_negative check (bonus_micros >= 0),
    constraint checkout_session_status_known check (status in ('open', 'completed')),
    constraint checkout_session_provider_known check (provider in ('stripe', 'sandbox'))
);
create index checkout_session_by_user on checkout_session (user_id, created_at_ms);

create table stripe_event (
    id text primary key,
    type text not null,
    received_at_ms bigint not null
);
