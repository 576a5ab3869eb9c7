-- People who sign in, their sessions, their API tokens, and sign-in throttling.

-- "user" is reserved in PostgreSQL; both schemas use the same name.
create table app_user (
    -- A random UUID, also the owner id of the user's wallet.
    id text primary key,
    -- Trimmed and lower-cased.
    email text not null,
    -- An argon2id PHC string.
    password_hash text not null,
    role text not null default 'user',
    -- The sign-up credit this account is owed, fixed when it was created, so changing
    -- the setting later neither pays existing accounts nor takes anything back.
    signup_credit_micros bigint not null default 0,
    created_at_ms bigint not null,
    constraint app_user_email_unique unique (email),
    constraint app_user_role_known check (role in ('user', 'admin'))
);

-- Server-side session records (the cookie holds only the id).
create table session (
    id text primary key,
    data text not null,
    expires_at_ms bigint not null
);
create index session_by_expiry on session (expires_at_ms);

-- Tokens for the JSON API and the CLI. Only a SHA-256 of the token is kept.
create table api_token (
    id text primary key,
    user_id text not null references app_user (id),
    name text not null,
    -- The first characters of the token, shown so a person can tell tokens apart.
    display_prefix text not null,
    token_hash text not null,
    created_at_ms bigint not null,
    last_used_at_ms bigint,
    revoked_at_ms bigint,
    constraint api_token_hash_unique unique (token_hash)
);
create index api_token_by_user on api_token (user_id, created_at_ms);

-- Failed sign-ins per email and per client address, to slow down password guessing.
create table auth_throttle (
    key text primary key,
    failures bigint not null,
    window_started_at_ms bigint not null,
    blocked_until_ms bigint not null default 0
);
