-- A team's wallet may have provider keys of its own, which pay for its members' calls:
-- a provider key now belongs to a person or a team (`user_id` holds either id), so it no
-- longer references app_user. SQLite cannot drop a foreign key: the table is rebuilt,
-- with every key as it was.
create table provider_key_owned (
    -- A person's id or a team's: whose wallet the key pays for.
    user_id text not null,
    provider text not null,
    sealed_key text not null,
    last4 text not null,
    source text not null,
    status text not null,
    checked_at_ms bigint,
    created_at_ms bigint not null,
    updated_at_ms bigint not null,
    primary key (user_id, provider),
    constraint provider_key_provider_known check (provider in ('fal', 'openrouter')),
    constraint provider_key_source_known check (source in ('pasted', 'oauth')),
    constraint provider_key_status_known check (status in ('valid', 'rejected', 'unchecked'))
);
insert into provider_key_owned (user_id, provider, sealed_key, last4, source, status, checked_at_ms, created_at_ms,
    updated_at_ms)
select user_id, provider, sealed_key, last4, source, status, checked_at_ms, created_at_ms, updated_at_ms
from provider_key;
drop table provider_key;
alter table provider_key_owned rename to provider_key;
