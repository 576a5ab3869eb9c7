-- Each event's webhook deliveries are written by the database as the event is inserted,
-- in the same statement: one round trip fewer for every money event, and no way to write
-- an event without its deliveries. The rows are the ones the application wrote before:
-- one pending delivery per endpoint (not removed) that wants the event's kind.
create function tollgate_event_webhook_deliveries() returns trigger language plpgsql as $$
begin
    insert into webhook_delivery (id, endpoint_id, event_id, wallet_id, seq, status, next_attempt_at_ms,
        created_at_ms)
    select 'wd_' || new.id::text || '_' || e.id, e.id, new.id, new.wallet_id, new.seq, 'pending',
        new.created_at_ms, new.created_at_ms
    from webhook_endpoint e
    where e.removed_at_ms is null and (e.events = '*' or (',' || e.events || ',') like ('%,' || new.kind || ',%'));
    return null;
end
$$;
create trigger event_webhook_deliveries after insert on event for each row
    execute function tollgate_event_webhook_deliveries();

-- Instances are told of new events by a NOTIFY each instance sends after its commits
-- (see the event bus), no longer from the transaction that writes them: a transaction
-- that notifies holds a lock on the database's notification queue until its commit is on
-- disk, so every money write of every instance committed one after another.
drop trigger event_notify on event;
drop function tollgate_event_notify();
