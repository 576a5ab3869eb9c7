-- People's own provider keys (bring your own key), and whether they have been through
-- the onboarding dialog.

create table provider_key (
    user_id text not null references app_user (id) on delete cascade,
    -- 'fal' or 'openrouter'.
    provider text not null,
    -- The key sealed with XChaCha20-Poly1305 under the master key, bound to the user and
    -- provider; the plaintext is never stored.
    sealed_key text not null,
    -- The last four characters, enough to recognise the key.
    last4 text not null,
    -- 'pasted', or 'oauth' when it came from connecting the account.
    source text not null,
    -- The provider's answer at the last check: 'valid', 'rejected', or 'unchecked' when
    -- it could not be asked. Only a 'valid' key pays for calls instead of credits.
    status text not null,
    checked_at_ms bigint,
    created_at_ms bigint not null,
    updated_at_ms bigint not null,
    primary key (user_id, provider),
    constraint provider_key_provider_known check (provider in ('fal', 'openrouter')),
    constraint provider_key_source_known check (source in ('pasted', 'oauth')),
    constraint provider_key_status_known check (status in ('valid', 'rejected', 'unchecked'))
);

-- Set when the person dismisses the "Get started" dialog (or picks one of its options).
-- Accounts that existed before this column are past onboarding.
alter table app_user add column onboarding_done_at_ms bigint;
update app_user set onboarding_done_at_ms = created_at_ms;
