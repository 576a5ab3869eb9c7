-- Teams: a wallet shared by its members. A team's id ('tm_' and 24 hex digits) is also
-- the owner id of its wallet ('wallet:tm_...'), which is spent, bought into and audited
-- like a person's.
create table team (
    id text primary key,
    name text not null,
    created_by text not null references app_user (id),
    created_at_ms bigint not null,
    -- Raised by every change to the members, so changes that must see each other (the
    -- last owner leaving, say) are made one after another.
    members_version bigint not null default 0
);

create table team_member (
    team_id text not null references team (id),
    user_id text not null references app_user (id),
    -- 'owner' (everything, the team itself), 'admin' (members, budgets, billing) or
    -- 'member' (spends from the team's wallet).
    role text not null,
    joined_at_ms bigint not null,
    primary key (team_id, user_id),
    constraint team_member_role_known check (role in ('owner', 'admin', 'member'))
);
create index team_member_by_user on team_member (user_id);

-- Invitations by link: the link carries a random secret, of which only a SHA-256 is kept.
-- A link works once, until it expires or is revoked.
create table team_invite (
    id text primary key,
    team_id text not null references team (id),
    secret_hash text not null,
    role text not null,
    created_by text not null references app_user (id),
    created_at_ms bigint not null,
    expires_at_ms bigint not null,
    accepted_by text references app_user (id),
    accepted_at_ms bigint,
    revoked_at_ms bigint,
    constraint team_invite_secret_unique unique (secret_hash),
    constraint team_invite_role_known check (role in ('admin', 'member'))
);
create index team_invite_by_team on team_invite (team_id, created_at_ms);
