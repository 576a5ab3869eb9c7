-- Calls cut off by a crash, and retries that get the first answer.

-- The instance (one process) that runs a call. An instance holds a lease for as long as
-- it lives; a call still running whose instance no longer holds its lease was cut off,
-- and is settled by whichever instance finds it.
alter table usage_record add column instance_id text;
-- What the caller was answered, exactly as sent (status and JSON body), so a retry under
-- the same request id gets the same answer. Kept for 7 days after the call.
alter table usage_record add column answer_status bigint;
alter table usage_record add column answer_body text;
-- SHA-256 of what was asked (route, endpoint and input): a retry that asks something
-- else under the same request id is refused.
alter table usage_record add column request_digest text;
create index usage_record_running on usage_record (instance_id) where status = 'running';
create index usage_record_answers_kept on usage_record (created_at_ms) where answer_body is not null;

-- A queued call's job row is now written with its hold, before the provider is asked:
-- 'submitting' until the provider has taken it (its request id and URLs are unknown until
-- then). SQLite cannot change a column or a CHECK in place, so the table is rebuilt with
-- the same rows; nothing refers to it.
create table provider_job_copy as select * from provider_job;
drop table provider_job;
create table provider_job (
    -- The usage record's id, returned to the caller as job_id.
    id text primary key references usage_record (id) on delete cascade,
    user_id text not null references app_user (id) on delete cascade,
    endpoint_id text not null,
    -- The provider's id for the queued request, and where its status and result are read;
    -- null while submitting (and for a job that failed before the provider took it).
    provider_request_id text,
    status_url text,
    response_url text,
    -- 'submitting', 'queued', 'running', 'succeeded' or 'failed'.
    state text not null,
    queue_position bigint,
    -- The provider's latest progress message.
    progress text,
    -- The provider's output as JSON, once the job succeeded.
    output text,
    failure text,
    polls bigint not null default 0,
    next_poll_at_ms bigint not null,
    -- A poller working on the job holds it until then, so instances do not poll it twice.
    lease_until_ms bigint not null default 0,
    -- A job still unfinished then fails as timed out, and its hold is released.
    deadline_at_ms bigint not null,
    created_at_ms bigint not null,
    started_at_ms bigint,
    finished_at_ms bigint,
    constraint provider_job_state_known check (state in ('submitting', 'queued', 'running', 'succeeded', 'failed')),
    constraint provider_job_ticket_once_submitted check (
        state in ('submitting', 'failed') or (provider_request_id is not null and status_url is not null and response_url is not null)
    )
);
insert into provider_job select * from provider_job_copy;
drop table provider_job_copy;
create index provider_job_due on provider_job (state, next_poll_at_ms);
create index provider_job_by_user on provider_job (user_id, created_at_ms);
