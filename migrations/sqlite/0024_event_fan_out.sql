-- Each event's webhook deliveries are written by the database as the event is inserted,
-- in the same statement: one round trip fewer for every money event, and no way to write
-- an event without its deliveries. The rows are the ones the application wrote before:
-- one pending delivery per endpoint (not removed) that wants the event's kind.
create trigger event_webhook_deliveries after insert on event
begin
    insert into webhook_delivery (id, endpoint_id, event_id, wallet_id, seq, status, next_attempt_at_ms,
        created_at_ms)
    select 'wd_' || new.id || '_' || e.id, e.id, new.id, new.wallet_id, new.seq, 'pending', new.created_at_ms,
        new.created_at_ms
    from webhook_endpoint e
    where e.removed_at_ms is null and (e.events = '*' or (',' || e.events || ',') like ('%,' || new.kind || ',%'));
end;
