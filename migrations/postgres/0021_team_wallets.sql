-- A team's wallet pays for calls: the usage record keeps which team's wallet paid (null:
-- the caller's own), so a team's usage shows who spent what. An API token may belong to
-- a team (its calls are paid from the team's wallet while its owner is a member), and a
-- purchase may be for a team's wallet.
alter table usage_record add column team_id text;
create index usage_record_by_team_time on usage_record (team_id, created_at_ms);
alter table api_token add column team_id text;
alter table checkout_session add column team_id text;
