-- Request ids belong to the account that chose them. Until now a call's usage record was
-- keyed by the caller's request id, so one account's id could collide with another's (and
-- the refusal told the second account that the id had been used). From here on a call has
-- an id of its own, made by the server, and the caller's request id is unique per account.
alter table usage_record add column request_id text;
-- Records from before: their id was the request id.
update usage_record set request_id = id;
create unique index usage_record_request_per_account on usage_record (user_id, request_id);
