-- Notice emails: one row per notice event (low balance, a failed top-up, credits
-- expiring, an invoice due) once a sender has taken it up, so each is mailed once
-- however many instances run, and one the mail server refused is tried again.
create table email_delivery (
    event_id bigint primary key references event (id),
    -- 'pending', 'sent', 'failed' (3 days without the mail server taking it), or
    -- 'skipped' (nothing to say, or nobody to send it to).
    status text not null,
    attempts bigint not null default 0,
    next_attempt_at_ms bigint not null,
    -- A sender working on it holds it until then, so instances do not send it twice at once.
    lease_until_ms bigint not null default 0,
    last_error text,
    created_at_ms bigint not null,
    sent_at_ms bigint,
    constraint email_delivery_status_known check (status in ('pending', 'sent', 'failed', 'skipped'))
);
create index email_delivery_due on email_delivery (status, next_attempt_at_ms);
-- The notice events by time, for the sender's scan (the kinds are those of NOTICE_KINDS).
create index event_notice_time on event (created_at_ms)
    where kind in ('balance.low', 'top_up.failed', 'credits.expiring', 'invoice.created', 'invoice.overdue');
