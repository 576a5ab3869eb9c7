//! Teams: made with their owner and a wallet, invitation links that work once, roles,
//! removal and leaving, and the last owner, including under concurrent changes.

use serde_json::Value;
use tollgate::server::infra::db::Backend;

use crate::helpers::{TestApp, spawn_app};

backend_tests!(
    a_team_is_made_with_its_owner_and_its_own_wallet,
    an_invitation_link_works_once_until_it_expires_or_is_revoked,
    roles_decide_who_may_invite_change_and_remove,
    the_last_owner_cannot_leave_even_when_two_owners_leave_at_once,
    one_invitation_accepted_by_many_at_once_lets_one_in,
);

const PASSWORD: &str = "correct horse battery";

async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn make_team(app: &TestApp, owner: &reqwest::Client, name: &str) -> String {
    let (status, team) = json(app.call(owner, "teams_create", &[("name", name)]).await).await;
    assert_eq!(status, 200, "{team}");
    team["id"].as_str().unwrap().to_string()
}

/// An invitation's code, from its link.
async fn invite(app: &TestApp, by: &reqwest::Client, team: &str, role: &str) -> String {
    let (status, made) = json(app.call(by, "team_invite", &[("team", team), ("role", role)]).await).await;
    assert_eq!(status, 200, "{made}");
    let link = made["link"].as_str().unwrap();
    assert!(link.contains("/teams/join?code="), "{link}");
    link.split("code=").nth(1).unwrap().to_string()
}

async fn detail(app: &TestApp, client: &reqwest::Client, team: &str) -> (u16, Value) {
    json(app.call(client, "team_detail", &[("team", team)]).await).await
}

fn roles(detail: &Value) -> Vec<(String, String)> {
    detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_string(), m["role"].as_str().unwrap().to_string()))
        .collect()
}

async fn user_id(app: &TestApp, detail: &Value, email: &str) -> String {
    let _ = app;
    detail["members"].as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn a_team_is_made_with_its_owner_and_its_own_wallet(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    for (name, field) in [("", "name"), (&"x".repeat(61)[..], "name")] {
        let (status, err) = json(app.call(&ada, "teams_create", &[("name", name)]).await).await;
        assert_eq!((status, err["field"].as_str()), (422, Some(field)), "{err}");
    }
    let team = make_team(&app, &ada, "  Studio Nine ").await;
    assert!(team.starts_with("tm_") && team.len() == 27, "{team}");
    let (status, list) = json(app.call(&ada, "teams_list", &[]).await).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Studio Nine");
    assert_eq!(list[0]["role"], "owner");
    let (_, d) = detail(&app, &ada, &team).await;
    assert_eq!(roles(&d), [("ada@example.com".to_string(), "owner".to_string())]);
    // Its own wallet, empty, beside the owner's.
    let wallet = app.state.ledger.find_wallet(&team).await.unwrap().expect("the team has a wallet");
    let mine = app.state.ledger.find_wallet(&user_id(&app, &d, "ada@example.com").await).await.unwrap().unwrap();
    assert_ne!(wallet, mine);
    assert_eq!(app.state.ledger.balance(wallet).await.unwrap().available.get(), 0);

    // Someone else does not see it; a malformed id is refused naming the field.
    let bo = app.signed_up("bo@example.com", PASSWORD).await;
    assert_eq!(detail(&app, &bo, &team).await.0, 404);
    let (status, err) = detail(&app, &bo, "tm_' or 1=1 --").await;
    assert_eq!((status, err["field"].as_str()), (422, Some("team")));
    assert_eq!(app.call(&app.client, "teams_list", &[]).await.status(), 401);
}

async fn an_invitation_link_works_once_until_it_expires_or_is_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let bo = app.signed_up("bo@example.com", PASSWORD).await;
    let cy = app.signed_up("cy@example.com", PASSWORD).await;
    let team = make_team(&app, &ada, "Studio").await;

    let code = invite(&app, &ada, &team, "member").await;
    let (status, joined) = json(app.call(&bo, "team_join", &[("code", &code)]).await).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!((joined["id"].as_str(), joined["role"].as_str()), (Some(team.as_str()), Some("member")));
    // Used: nobody else gets in with it, and the one who did stays a member.
    let (status, err) = json(app.call(&cy, "team_join", &[("code", &code)]).await).await;
    assert_eq!((status, err["field"].as_str()), (422, Some("code")), "{err}");
    let (_, d) = detail(&app, &ada, &team).await;
    assert_eq!(roles(&d).len(), 2);
    assert_eq!(d["invites"], serde_json::json!([]), "the used link is no longer open");

    // Expired.
    let code = invite(&app, &ada, &team, "member").await;
    sqlx::query("update team_invite set expires_at_ms = 1 where accepted_by is null")
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(app.call(&cy, "team_join", &[("code", &code)]).await.status(), 422);
    // Revoked.
    let code = invite(&app, &ada, &team, "admin").await;
    let (_, d) = detail(&app, &ada, &team).await;
    let open = d["invites"].as_array().unwrap();
    assert_eq!(open.len(), 1);
    let id = open[0]["id"].as_str().unwrap();
    assert_eq!(app.call(&ada, "team_invite_revoke", &[("team", &team), ("invite", id)]).await.status(), 200);
    assert_eq!(app.call(&cy, "team_join", &[("code", &code)]).await.status(), 422);
    // Nonsense.
    for bad in ["", "zz", "00", &"a".repeat(200)] {
        assert_eq!(app.call(&cy, "team_join", &[("code", bad)]).await.status(), 422, "{bad}");
    }
    // Someone already in the team cannot use another link to change their role.
    let code = invite(&app, &ada, &team, "admin").await;
    assert_eq!(app.call(&bo, "team_join", &[("code", &code)]).await.status(), 409);
    let (_, d) = detail(&app, &ada, &team).await;
    assert!(roles(&d).contains(&("bo@example.com".to_string(), "member".to_string())));
    // The link still works for someone new, as admin.
    let (status, joined) = json(app.call(&cy, "team_join", &[("code", &code)]).await).await;
    assert_eq!((status, joined["role"].as_str()), (200, Some("admin")));
    // Signing in is needed to join.
    let code = invite(&app, &ada, &team, "member").await;
    assert_eq!(app.call(&app.client, "team_join", &[("code", &code)]).await.status(), 401);
}

async fn roles_decide_who_may_invite_change_and_remove(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let bo = app.signed_up("bo@example.com", PASSWORD).await;
    let cy = app.signed_up("cy@example.com", PASSWORD).await;
    let di = app.signed_up("di@example.com", PASSWORD).await;
    let team = make_team(&app, &ada, "Studio").await;
    let code = invite(&app, &ada, &team, "admin").await;
    assert_eq!(app.call(&bo, "team_join", &[("code", &code)]).await.status(), 200);
    // An admin invites members, not admins.
    let code = invite(&app, &bo, &team, "member").await;
    assert_eq!(app.call(&cy, "team_join", &[("code", &code)]).await.status(), 200);
    assert_eq!(app.call(&bo, "team_invite", &[("team", &team), ("role", "admin")]).await.status(), 403);
    let (status, err) = json(app.call(&ada, "team_invite", &[("team", &team), ("role", "owner")]).await).await;
    assert_eq!((status, err["field"].as_str()), (422, Some("role")));
    let (status, err) = json(app.call(&ada, "team_invite", &[("team", &team), ("role", "boss")]).await).await;
    assert_eq!((status, err["field"].as_str()), (422, Some("role")));
    // A member invites nobody, changes and removes nobody; an outsider is told nothing.
    assert_eq!(app.call(&cy, "team_invite", &[("team", &team), ("role", "member")]).await.status(), 403);
    assert_eq!(app.call(&di, "team_invite", &[("team", &team), ("role", "member")]).await.status(), 404);

    let (_, d) = detail(&app, &ada, &team).await;
    assert_eq!(detail(&app, &cy, &team).await.1["invites"], serde_json::json!([]), "members see no links");
    let (ada_id, bo_id, cy_id) = (
        user_id(&app, &d, "ada@example.com").await,
        user_id(&app, &d, "bo@example.com").await,
        user_id(&app, &d, "cy@example.com").await,
    );
    let set = async |by: &reqwest::Client, who: &str, role: &str| {
        app.call(by, "team_member_role", &[("team", &team), ("member", who), ("role", role)]).await.status()
    };
    let remove = async |by: &reqwest::Client, who: &str| {
        app.call(by, "team_member_remove", &[("team", &team), ("member", who)]).await.status()
    };
    assert_eq!(remove(&cy, &bo_id).await, 403);
    assert_eq!(set(&cy, &cy_id, "admin").await, 403);
    // An admin cannot touch an owner or make one.
    assert_eq!(remove(&bo, &ada_id).await, 403);
    assert_eq!(set(&bo, &ada_id, "member").await, 403);
    assert_eq!(set(&bo, &cy_id, "owner").await, 403);
    // ... but manages members.
    assert_eq!(set(&bo, &cy_id, "admin").await, 200);
    assert_eq!(set(&bo, &cy_id, "member").await, 200);
    assert_eq!(remove(&bo, &cy_id).await, 200);
    let (_, d) = detail(&app, &ada, &team).await;
    assert_eq!(roles(&d).len(), 2);
    assert_eq!(detail(&app, &cy, &team).await.0, 404, "a removed member no longer sees the team");
    // Someone not in the team is not found.
    assert_eq!(remove(&ada, &cy_id).await, 404);
    // A member leaves by removing themself.
    assert_eq!(remove(&bo, &bo_id).await, 200);
    assert_eq!(json(app.call(&bo, "teams_list", &[]).await).await.1, serde_json::json!([]));
}

async fn the_last_owner_cannot_leave_even_when_two_owners_leave_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let bo = app.signed_up("bo@example.com", PASSWORD).await;
    let team = make_team(&app, &ada, "Studio").await;
    let (_, d) = detail(&app, &ada, &team).await;
    let ada_id = user_id(&app, &d, "ada@example.com").await;
    let (status, err) = json(app.call(&ada, "team_member_remove", &[("team", &team), ("member", &ada_id)]).await).await;
    assert_eq!((status, err["field"].as_str()), (422, Some("member")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("last owner"), "{err}");
    let (status, err) =
        json(app.call(&ada, "team_member_role", &[("team", &team), ("member", &ada_id), ("role", "admin")]).await)
            .await;
    assert_eq!((status, err["field"].as_str()), (422, Some("role")));

    let code = invite(&app, &ada, &team, "member").await;
    assert_eq!(app.call(&bo, "team_join", &[("code", &code)]).await.status(), 200);
    let (_, d) = detail(&app, &ada, &team).await;
    let bo_id = user_id(&app, &d, "bo@example.com").await;
    for round in 0..10 {
        // Two owners, both leaving at the same moment: one goes, one stays owner.
        let promote = [("team", team.as_str()), ("member", bo_id.as_str()), ("role", "owner")];
        assert_eq!(app.call(&ada, "team_member_role", &promote).await.status(), 200, "round {round}");
        let (ada_leaves, bo_leaves) = (
            [("team", team.as_str()), ("member", ada_id.as_str())],
            [("team", team.as_str()), ("member", bo_id.as_str())],
        );
        let (a, b) = tokio::join!(
            app.call(&ada, "team_member_remove", &ada_leaves),
            app.call(&bo, "team_member_remove", &bo_leaves),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 422], "round {round}: exactly one leaves");
        let owners: i64 = sqlx::query_scalar("select count(*) from team_member where team_id = $1 and role = 'owner'")
            .bind(&team)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(owners, 1, "round {round}");
        // Whoever left is invited back as a member for the next round.
        let (stayed, left, left_client) = if a.status() == 200 { (&bo, "ada", &ada) } else { (&ada, "bo", &bo) };
        let code = invite(&app, stayed, &team, "member").await;
        assert_eq!(app.call(left_client, "team_join", &[("code", &code)]).await.status(), 200, "{left}");
        if left == "bo" {
            continue;
        }
        // Ada left and came back as a member: make her owner again, Bo member again.
        let set_ada = [("team", team.as_str()), ("member", ada_id.as_str()), ("role", "owner")];
        assert_eq!(app.call(&bo, "team_member_role", &set_ada).await.status(), 200);
        let set_bo = [("team", team.as_str()), ("member", bo_id.as_str()), ("role", "member")];
        assert_eq!(app.call(&ada, "team_member_role", &set_bo).await.status(), 200);
    }
}

async fn one_invitation_accepted_by_many_at_once_lets_one_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let team = make_team(&app, &ada, "Studio").await;
    let mut people = Vec::new();
    for i in 0..8 {
        people.push(app.signed_up(&format!("p{i}@example.com"), PASSWORD).await);
    }
    let code = invite(&app, &ada, &team, "member").await;
    let mut tries = tokio::task::JoinSet::new();
    for person in &people {
        let (person, url, code) = (person.clone(), app.url("/api/team_join"), code.clone());
        tries.spawn(async move { person.post(url).form(&[("code", code)]).send().await.unwrap().status().as_u16() });
    }
    let statuses = tries.join_all().await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 422), "{statuses:?}");
    let (_, d) = detail(&app, &ada, &team).await;
    assert_eq!(roles(&d).len(), 2);
}
