//! Team wallets: bought into by the team's owners and admins, spent by its members (in
//! the web app with the team chosen in the header, or with a team's API token), with
//! usage that says who spent what; and budgets on a member and on the team, enforced
//! with the hold so concurrent calls on two instances never pass them.

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;

use crate::budgets::run_with;
use crate::helpers::{TestApp, spawn_app_with};
use crate::stripe_standin::{WHSEC, deliver};

backend_tests!(
    a_team_wallet_is_bought_into_and_pays_for_its_members_calls,
    a_member_who_leaves_stops_spending_from_the_team,
    member_and_team_budgets_never_overshoot_under_concurrent_calls,
    team_budgets_are_set_by_owners_and_admins_and_bad_input_changes_nothing,
    a_refund_of_a_team_purchase_takes_the_credits_from_the_team,
    the_cli_sets_a_members_budget_and_the_member_runs_into_it,
);

const PASSWORD: &str = "correct horse battery";
/// The sandbox price of one fal-ai/flux/schnell image.
const IMAGE: i64 = 3_000;
const MILLION: i64 = 1_000_000;

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC)]).await
}

pub async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Ada's team "Studio Nine" with Bo in it as a member: (team id, ada, bo, bo's user id).
pub async fn team_of_two(app: &TestApp) -> (String, reqwest::Client, reqwest::Client, String) {
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let bo = app.signed_up("bo@example.com", PASSWORD).await;
    let (status, team) = json_of(app.call(&ada, "teams_create", &[("name", "Studio Nine")]).await).await;
    assert_eq!(status, 200, "{team}");
    let team = team["id"].as_str().unwrap().to_string();
    let (status, invite) = json_of(app.call(&ada, "team_invite", &[("team", &team), ("role", "member")]).await).await;
    assert_eq!(status, 200, "{invite}");
    let code = invite["link"].as_str().unwrap().split("code=").nth(1).unwrap().to_string();
    assert_eq!(app.call(&bo, "team_join", &[("code", &code)]).await.status(), 200);
    let (_, detail) = json_of(app.call(&ada, "team_detail", &[("team", &team)]).await).await;
    let bo_id =
        detail["members"].as_array().unwrap().iter().find(|m| m["email"] == "bo@example.com").unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_string();
    (team, ada, bo, bo_id)
}

/// Chooses the wallet `client` acts on in the web app ("" for their own).
pub async fn select(app: &TestApp, client: &reqwest::Client, team: &str) -> Value {
    let (status, summary) = json_of(app.call(client, "select_wallet", &[("team", team)]).await).await;
    assert_eq!(status, 200, "{summary}");
    summary
}

/// Buys `dollars` in the sandbox for the wallet `client` acts on; the session id.
pub async fn buy(app: &TestApp, client: &reqwest::Client, dollars: &str) -> String {
    let res = app.call(client, "checkout_start", &[("amount", dollars)]).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let session = location.strip_prefix("/sandbox/checkout/").unwrap().to_string();
    assert_eq!(app.call(client, "sandbox_pay", &[("session", &session)]).await.status(), 200);
    session
}

async fn wallet_of(app: &TestApp, owner: &str) -> i64 {
    app.state.ledger.balance_of(owner).await.unwrap().available.get()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("select id from app_user where email = $1").bind(email).fetch_one(app.db.pool()).await.unwrap()
}

async fn studio_run(app: &TestApp, client: &reqwest::Client) -> (u16, Value) {
    let form = [("endpoint_id", "fal-ai/flux/schnell"), ("prompt", "a fox"), ("num_images", "1")];
    json_of(app.call(client, "studio_run", &form).await).await
}

/// A token of `client`'s that pays from `team` ("" for their own): (id, secret).
async fn token(app: &TestApp, client: &reqwest::Client, team: &str) -> (String, String) {
    let (status, made) = json_of(app.call(client, "tokens_create", &[("name", "script"), ("team", team)]).await).await;
    assert_eq!(status, 200, "{made}");
    (made["info"]["id"].as_str().unwrap().to_string(), made["secret"].as_str().unwrap().to_string())
}

async fn a_team_wallet_is_bought_into_and_pays_for_its_members_calls(backend: Backend) {
    let app = app(backend).await;
    let (team, ada, bo, bo_id) = team_of_two(&app).await;
    let (ada_id, personal) = (user_id(&app, "ada@example.com").await, 5 * MILLION);

    // Ada (the owner) buys $10 for the team: it lands in the team's wallet, not hers.
    let summary = select(&app, &ada, &team).await;
    assert_eq!((summary["team"]["id"].as_str(), summary["available"].as_i64()), (Some(team.as_str()), Some(0)));
    let session = buy(&app, &ada, "10").await;
    let bought = wallet_of(&app, &team).await;
    assert!(bought >= 10 * MILLION, "{bought}");
    assert_eq!(wallet_of(&app, &ada_id).await, personal, "the sign-up credit only");
    // Paying again (a replay) adds nothing.
    assert_eq!(app.call(&ada, "sandbox_pay", &[("session", &session)]).await.status(), 409);
    assert_eq!(wallet_of(&app, &team).await, bought);
    let (_, account) = json_of(app.call(&ada, "account", &[]).await).await;
    assert_eq!(account["available"].as_i64(), Some(bought), "the header shows the team's wallet");

    // A member spends from it but does not buy for it.
    select(&app, &bo, &team).await;
    assert_eq!(app.call(&bo, "checkout_start", &[("amount", "10")]).await.status(), 403);
    let (status, ran) = studio_run(&app, &bo).await;
    assert_eq!(status, 200, "{ran}");
    assert_eq!(wallet_of(&app, &team).await, bought - IMAGE);
    assert_eq!(wallet_of(&app, &bo_id).await, personal, "Bo's own wallet is untouched");
    // A team token pays from the team's wallet too, whatever Bo picked in the browser.
    select(&app, &bo, "").await;
    let (_, secret) = token(&app, &bo, &team).await;
    assert_eq!(run_with(&app, &secret, "t1", json!({"prompt": "a fox"})).await.0, 200);
    assert_eq!(wallet_of(&app, &team).await, bought - 2 * IMAGE);
    let me: Value =
        app.client.get(app.url("/api/v1/me")).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (me["team"]["id"].as_str(), me["balance"]["available_micros"].as_i64()),
        (Some(team.as_str()), Some(bought - 2 * IMAGE))
    );
    // Bo's own call pays from Bo's wallet.
    let (status, _) = studio_run(&app, &bo).await;
    assert_eq!(status, 200);
    assert_eq!(wallet_of(&app, &bo_id).await, personal - IMAGE);

    // The team's usage says who spent what; Bo's own usage has only his own call.
    let (_, usage) = json_of(app.call(&ada, "usage_summary", &[("days", "7")]).await).await;
    assert_eq!(usage["total"].as_i64(), Some(2 * IMAGE), "{usage}");
    assert_eq!(usage["members"], json!([{ "email": "bo@example.com", "cost": 2 * IMAGE, "requests": 2 }]));
    let (_, history) = json_of(app.call(&ada, "usage_history", &[("limit", "20"), ("days", "7")]).await).await;
    let who: Vec<&str> = history.as_array().unwrap().iter().map(|r| r["member"].as_str().unwrap()).collect();
    assert_eq!(who, vec!["bo@example.com", "bo@example.com"]);
    let (_, own) = json_of(app.call(&bo, "usage_summary", &[("days", "7")]).await).await;
    assert_eq!((own["total"].as_i64(), own["members"].as_array().map(Vec::len)), (Some(IMAGE), Some(0)));
    // The team's transactions: the purchase (and any bonus) and the two calls.
    let (_, txs) = json_of(app.call(&ada, "transactions", &[("filter", "")]).await).await;
    let codes: Vec<&str> = txs["rows"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "usage").count(), 2, "{codes:?}");
    assert!(codes.contains(&"purchase"), "{codes:?}");
    assert!(!codes.contains(&"signup_grant"), "the team's own transactions only: {codes:?}");

    // Someone outside the team cannot act on it.
    let eve = app.signed_up("eve@example.com", PASSWORD).await;
    assert_eq!(app.call(&eve, "select_wallet", &[("team", &team)]).await.status(), 404);
    let (status, err) = json_of(app.call(&eve, "tokens_create", &[("name", "x"), ("team", &team)]).await).await;
    assert_eq!((status, err["field"].as_str()), (422, Some("team")));
    assert_eq!(app.call(&eve, "select_wallet", &[("team", "not-a-team")]).await.status(), 422);
    let report = app.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
}

async fn a_member_who_leaves_stops_spending_from_the_team(backend: Backend) {
    let app = app(backend).await;
    let (team, ada, bo, bo_id) = team_of_two(&app).await;
    select(&app, &ada, &team).await;
    buy(&app, &ada, "10").await;
    select(&app, &bo, &team).await;
    let (_, secret) = token(&app, &bo, &team).await;
    assert_eq!(studio_run(&app, &bo).await.0, 200);
    assert_eq!(run_with(&app, &secret, "before", json!({"prompt": "a fox"})).await.0, 200);
    let own = wallet_of(&app, &bo_id).await;
    // Bo follows the team's money events live.
    let mut stream = bo.get(app.url("/api/v1/events/stream")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(app.call(&ada, "team_member_remove", &[("team", &team), ("member", &bo_id)]).await.status(), 200);
    // The team's next event ends his stream instead of reaching him.
    assert_eq!(studio_run(&app, &ada).await.0, 200);
    let mut seen = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), stream.chunk()).await;
        match chunk.expect("the stream ends after the team's next event") {
            Ok(Some(bytes)) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            _ => break,
        }
    }
    assert!(!seen.contains("id:"), "no team event reached a removed member: {seen}");
    let before = wallet_of(&app, &team).await;
    // The team token stops working at once, on the instance that just let it through.
    assert_eq!(run_with(&app, &secret, "after", json!({"prompt": "a fox"})).await.0, 403);
    // Bo's next run in the browser is refused once (it was meant for the team), and his
    // own wallet is chosen from then on.
    let (status, err) = studio_run(&app, &bo).await;
    assert_eq!((status, err["kind"].as_str()), (409, Some("conflict")), "{err}");
    assert_eq!(wallet_of(&app, &bo_id).await, own, "nobody paid for it");
    let (_, account) = json_of(app.call(&bo, "account", &[]).await).await;
    assert!(account["team"].is_null(), "{account}");
    assert_eq!(studio_run(&app, &bo).await.0, 200);
    assert_eq!(wallet_of(&app, &bo_id).await, own - IMAGE);
    assert_eq!(wallet_of(&app, &team).await, before, "nothing more from the team");
}

async fn put(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    json_of(client.put(url).json(&body).send().await.unwrap()).await
}

async fn spent(app: &TestApp, scope: &str, subject: &str) -> i64 {
    sqlx::query_scalar("select spent_micros from budget where scope = $1 and subject = $2")
        .bind(scope)
        .bind(subject)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

async fn member_and_team_budgets_never_overshoot_under_concurrent_calls(backend: Backend) {
    let a = app(backend).await;
    // Two instances share PostgreSQL; SQLite is one machine's store, with one instance.
    let second = if backend == Backend::Postgres { Some(a.second_instance().await) } else { None };
    let b = second.as_ref().unwrap_or(&a);
    let (team, ada, bo, bo_id) = team_of_two(&a).await;
    select(&a, &ada, &team).await;
    buy(&a, &ada, "10").await;
    let (_, secret) = token(&a, &bo, &team).await;
    let member = format!("{team}:{bo_id}");
    let member_url = a.url(&format!("/api/v1/budgets/teams/{team}/members/bo@example.com"));
    let team_url = a.url(&format!("/api/v1/budgets/teams/{team}"));
    // Round 0: the member's budget fits 5. Round 1: the team's fits 3 (the member's 5 too).
    for (round, scope, fits) in [(0, "member", 5i64), (1, "team", 3)] {
        let limit = |n: i64| format!("{}", (n * IMAGE) as f64 / 1e6);
        let (status, set) = put(&ada, member_url.clone(), json!({"limit_usd": limit(5), "period": "total"})).await;
        assert_eq!(status, 200, "{set}");
        if scope == "team" {
            assert_eq!(put(&ada, team_url.clone(), json!({"limit_usd": limit(3), "period": "month"})).await.0, 200);
        }
        sqlx::query("update budget set spent_micros = 0").execute(a.db.pool()).await.unwrap();
        let before = wallet_of(&a, &team).await;
        let answers = crate::budgets::fire_64(&a, b, &secret, round).await;
        let ok = answers.iter().filter(|(s, _)| *s == 200).count() as i64;
        assert_eq!(ok, fits, "round {round}: exactly the calls that fit ran: {answers:?}");
        let named = format!("{scope}_budget");
        assert!(answers.iter().all(|(s, l)| *s == 200 || (*s == 402 && l.as_deref() == Some(&named))), "{answers:?}");
        let subject = if scope == "team" { team.clone() } else { member.clone() };
        assert_eq!(spent(&a, scope, &subject).await, fits * IMAGE, "round {round}: no overshoot");
        assert_eq!(before - wallet_of(&a, &team).await, fits * IMAGE, "round {round}: charged for those only");
    }
    // A call the provider fails gives its share back to both.
    let (m, t) = (spent(&a, "member", &member).await, spent(&a, "team", &team).await);
    sqlx::query("update budget set spent_micros = 0 where scope = 'team'").execute(a.db.pool()).await.unwrap();
    let failing = json!({"prompt": "a fox", "sandbox_failure": "server_error"});
    assert_eq!(run_with(&a, &secret, "fails", failing).await.0, 502);
    assert_eq!((spent(&a, "member", &member).await, spent(&a, "team", &team).await), (m, 0));
    assert_eq!(t, 3 * IMAGE);
    // The web app's Studio says which budget stopped it, with its window and reset.
    select(&a, &bo, &team).await;
    sqlx::query("update budget set spent_micros = limit_micros where scope = 'member'")
        .execute(a.db.pool())
        .await
        .unwrap();
    let (status, err) = studio_run(&a, &bo).await;
    assert_eq!(
        (status, err["kind"].as_str(), err["limit"].as_str()),
        (402, Some("over_budget"), Some("member_budget")),
        "{err}"
    );
    assert!(err["message"].as_str().unwrap().contains("member budget"), "{err}");
    let report = a.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
}

async fn team_budgets_are_set_by_owners_and_admins_and_bad_input_changes_nothing(backend: Backend) {
    let app = app(backend).await;
    let (team, ada, bo, bo_id) = team_of_two(&app).await;
    let team_url = app.url(&format!("/api/v1/budgets/teams/{team}"));
    let member_url = app.url(&format!("/api/v1/budgets/teams/{team}/members/{bo_id}"));
    for (body, field) in [
        (json!({"limit_usd": "abc", "period": "day"}), "limit_usd"),
        (json!({"limit_usd": "0", "period": "day"}), "limit_usd"),
        (json!({"limit_usd": "5", "period": "fortnight"}), "period"),
        (json!({"period": "day"}), "limit_usd"),
    ] {
        let (status, err) = put(&ada, member_url.clone(), body).await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{err}");
    }
    assert_eq!(budget_rows(&app).await, 0, "nothing was written");
    let ok = json!({"limit_usd": "2.50", "period": "week"});
    // A member may not set budgets; someone outside the team does not see it.
    assert_eq!(put(&bo, member_url.clone(), ok.clone()).await.0, 403);
    let eve = app.signed_up("eve@example.com", PASSWORD).await;
    assert_eq!(put(&eve, team_url.clone(), ok.clone()).await.0, 404);
    assert_eq!(put(&app.browser(), team_url.clone(), ok.clone()).await.0, 401);
    let bad_team = app.url("/api/v1/budgets/teams/tm_nope");
    assert_eq!(put(&ada, bad_team, ok.clone()).await.1["error"]["field"], "team_id");
    let stranger = app.url(&format!("/api/v1/budgets/teams/{team}/members/eve@example.com"));
    assert_eq!(put(&ada, stranger, ok.clone()).await.0, 404);
    // The owner sets both; the member sees the team's and their own.
    let (status, set) = put(&ada, member_url.clone(), ok.clone()).await;
    assert_eq!((status, set["limit_micros"].as_i64(), set["scope"].as_str()), (200, Some(2_500_000), Some("member")));
    assert_eq!(put(&ada, team_url.clone(), json!({"limit_usd": 100, "period": "month"})).await.0, 200);
    let (_, seen) = json_of(bo.get(team_url.clone()).send().await.unwrap()).await;
    let scopes: Vec<&str> = seen["budgets"].as_array().unwrap().iter().map(|b| b["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, vec!["team", "member"]);
    // The web app's forms set and remove them too.
    let form = [("team", team.as_str()), ("member", ""), ("limit", "50"), ("period", "day")];
    let (status, b) = json_of(app.call(&ada, "team_budget_set", &form).await).await;
    assert_eq!((status, b["period"].as_str()), (200, Some("day")));
    let (status, err) = json_of(app.call(&bo, "team_budget_set", &form).await).await;
    assert_eq!(status, 403, "{err}");
    let (status, listed) = json_of(app.call(&bo, "team_budgets", &[("team", &team)]).await).await;
    assert_eq!((status, listed.as_array().map(Vec::len)), (200, Some(2)));
    assert_eq!(app.call(&ada, "team_budget_remove", &[("team", &team), ("member", &bo_id)]).await.status(), 200);
    assert_eq!(app.call(&ada, "team_budget_remove", &[("team", &team), ("member", &bo_id)]).await.status(), 404);
    assert_eq!(ada.delete(team_url).send().await.unwrap().status(), 200);
    assert_eq!(budget_rows(&app).await, 0);
    let doc: Value = ada.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for path in ["/api/v1/budgets/teams/{team_id}", "/api/v1/budgets/teams/{team_id}/members/{member}"] {
        assert!(doc["paths"][path].get("put").is_some(), "{path} is documented");
    }
}

async fn a_refund_of_a_team_purchase_takes_the_credits_from_the_team(backend: Backend) {
    let app = app(backend).await;
    let (team, ada, _bo, _) = team_of_two(&app).await;
    let ada_id = user_id(&app, "ada@example.com").await;
    select(&app, &ada, &team).await;
    let session = buy(&app, &ada, "10").await;
    let bought = wallet_of(&app, &team).await;
    let payment: String = sqlx::query_scalar("select payment_intent from checkout_session where id = $1")
        .bind(&session)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let refund = json!({ "id": "ch_1", "object": "charge", "payment_intent": payment, "amount_refunded": 1_000, "currency": "usd" });
    for _ in 0..2 {
        assert_eq!(deliver(&app, "evt_team_r1", "charge.refunded", refund.clone()).await, 200);
    }
    assert_eq!(wallet_of(&app, &team).await, 0, "all of it, with its bonus, from the team's wallet: {bought}");
    assert_eq!(wallet_of(&app, &ada_id).await, 5 * MILLION, "the buyer's own wallet is untouched");
    let report = app.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
}

async fn budget_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from budget").fetch_one(app.db.pool()).await.unwrap()
}

async fn the_cli_sets_a_members_budget_and_the_member_runs_into_it(backend: Backend) {
    use crate::usage_api::cli;
    let app = app(backend).await;
    let (team, ada, bo, _) = team_of_two(&app).await;
    select(&app, &ada, &team).await;
    buy(&app, &ada, "10").await;
    let (_, ada_secret) = token(&app, &ada, "").await;
    let (_, bo_secret) = token(&app, &bo, &team).await;
    let home = tempfile::tempdir().unwrap();
    let as_ada = |args: &[&str]| tokio::task::block_in_place(|| cli(&app, home.path(), &ada_secret, args));
    let set = ["budgets", "set", "--team", &team, "--member", "bo@example.com", "--usd", "0.003", "--period", "day"];
    let (code, out, err) = as_ada(&set);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("member ") && out.contains("$0.0030 per day (UTC)"), "{out}");
    let (code, out, err) = as_ada(&["budgets", "team", &team]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("$0.0030 per day (UTC); $0.0000 spent, $0.0030 left"), "{out}");
    // Ids are checked before anything is sent.
    let (code, _, err) = as_ada(&["budgets", "set", "--team", "../admin", "--usd", "1", "--period", "day"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = as_ada(&["budgets", "remove", "--team", &team, "--member", "bo/../x"]);
    assert_eq!(code, 2, "{err}");
    let bo_home = tempfile::tempdir().unwrap();
    let as_bo = |args: &[&str]| tokio::task::block_in_place(|| cli(&app, bo_home.path(), &bo_secret, args));
    let input = ["run", "fal-ai/flux/schnell", "--input", r#"{"prompt":"a fox"}"#];
    let (code, _, err) = as_bo(&input);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = as_bo(&input);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("over the member budget (per-day budget)"), "{err}");
    // A member may not change it.
    let (code, _, err) = as_bo(&set);
    assert_eq!(code, 1, "{err}");
    let (code, out, err) = as_ada(&["budgets", "remove", "--team", &team, "--member", "bo@example.com"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Removed"), "{out}");
    assert_eq!(as_bo(&input).0, 0);
}
