-- One row that identifies this Tollgate installation. Written once, at the first start,
-- and shared by every app instance that uses the same database.
create table installation (
    -- Always 1: the check makes a second row impossible.
    id integer primary key check (id = 1),
    -- A random identifier, shown on the status page and sent as metadata to payment
    -- providers so a shared provider account can tell installations apart.
    installation_id text not null,
    -- Unix time in milliseconds.
    created_at_ms bigint not null
);
