-- A team's wallet may have provider keys of its own, which pay for its members' calls:
-- a provider key now belongs to a person or a team (`user_id` holds either id), so it no
-- longer references app_user.
alter table provider_key drop constraint if exists provider_key_user_id_fkey;
comment on column provider_key.user_id is 'A person''s id or a team''s: whose wallet the key pays for.';
