-- Calls cut off by a crash, and retries that get the first answer.

-- The instance (one process) that runs a call. An instance holds a lease (a session-level
-- advisory lock) for as long as it lives; a call still running whose instance no longer
-- holds its lease was cut off, and is settled by whichever instance finds it.
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
-- then; a job that failed before the provider took it has none).
alter table provider_job alter column provider_request_id drop not null;
alter table provider_job alter column status_url drop not null;
alter table provider_job alter column response_url drop not null;
alter table provider_job drop constraint provider_job_state_known;
alter table provider_job add constraint provider_job_state_known
    check (state in ('submitting', 'queued', 'running', 'succeeded', 'failed'));
alter table provider_job add constraint provider_job_ticket_once_submitted check (
    state in ('submitting', 'failed') or (provider_request_id is not null and status_url is not null and response_url is not null)
);
