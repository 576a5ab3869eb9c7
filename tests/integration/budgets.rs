//! Budgets on API tokens: a limit per UTC window, enforced in the transaction that holds
//! the call's estimate, so concurrent calls (on one instance or two) never pass it.

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;

use crate::helpers::{TestApp, spawn_app};

backend_tests!(
    a_token_budget_refuses_the_call_that_would_pass_it,
    concurrent_calls_never_overshoot_a_token_budget,
    a_retry_or_a_failure_does_not_use_the_budget,
    budgets_are_checked_and_belong_to_the_token_owner,
    the_cli_sets_the_budget_of_the_token_it_uses,
);

const PASSWORD: &str = "correct horse battery";
/// The sandbox price of one fal-ai/flux/schnell image.
const IMAGE: i64 = 3_000;
const DAY_MS: i64 = 86_400_000;

async fn token(app: &TestApp, client: &reqwest::Client) -> (String, String) {
    let made: Value = app.call(client, "tokens_create", &[("name", "script")]).await.json().await.unwrap();
    (made["info"]["id"].as_str().unwrap().to_string(), made["secret"].as_str().unwrap().to_string())
}

async fn put_budget(app: &TestApp, client: &reqwest::Client, token_id: &str, body: Value) -> (u16, Value) {
    let res = client.put(app.url(&format!("/api/v1/budgets/tokens/{token_id}"))).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// Runs the sandbox image model with the token `secret` under request id `id`.
pub async fn run_with(app: &TestApp, secret: &str, id: &str, input: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
        .bearer_auth(secret)
        .header("x-request-id", id)
        .json(&input)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn spent(app: &TestApp, token_id: &str) -> i64 {
    sqlx::query_scalar("select spent_micros from budget where scope = 'token' and subject = $1")
        .bind(token_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

async fn a_token_budget_refuses_the_call_that_would_pass_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let (token_id, secret) = token(&app, &ada).await;
    let (status, budget) = put_budget(&app, &ada, &token_id, json!({"limit_usd": "0.009", "period": "day"})).await;
    assert_eq!(status, 200, "{budget}");
    assert_eq!((budget["limit_micros"].as_i64(), budget["period"].as_str()), (Some(9_000), Some("day")));
    for i in 0..3 {
        assert_eq!(run_with(&app, &secret, &format!("ok-{i}"), json!({"prompt": "a fox"})).await.0, 200);
    }
    let (status, refused) = run_with(&app, &secret, "over", json!({"prompt": "a fox"})).await;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(refused["limit"], "token_budget");
    assert_eq!(refused["window"], "day");
    assert_eq!(refused["needed_micros"], IMAGE);
    assert_eq!(refused["available_micros"], 0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert_eq!(refused["resets_at_ms"].as_i64(), Some((now / DAY_MS + 1) * DAY_MS), "the next UTC midnight");
    assert!(refused["message"].as_str().unwrap().contains("token budget"), "{refused}");
    assert_eq!(spent(&app, &token_id).await, 3 * IMAGE);
    // The same person without the token (the web app) is not limited by it.
    let res = ada.post(app.url("/api/v1/run/fal-ai/flux/schnell")).json(&json!({"prompt": "a fox"})).send().await;
    assert_eq!(res.unwrap().status(), 200);
    // Listed with what is left, and documented.
    let list: Value = ada.get(app.url("/api/v1/budgets")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["budgets"][0]["left_micros"], 0);
    let doc: Value = ada.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for path in ["/api/v1/budgets", "/api/v1/budgets/tokens/{token_id}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(doc["paths"]["/api/v1/budgets/tokens/{token_id}"].get("put").is_some());
    // A new window starts from nothing.
    sqlx::query("update budget set window_start_ms = window_start_ms - $1")
        .bind(DAY_MS)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(run_with(&app, &secret, "tomorrow", json!({"prompt": "a fox"})).await.0, 200);
    assert_eq!(spent(&app, &token_id).await, IMAGE);
    // Raised: room again, what was spent kept. Removed: no limit.
    assert_eq!(put_budget(&app, &ada, &token_id, json!({"limit_usd": 1, "period": "day"})).await.0, 200);
    assert_eq!(spent(&app, &token_id).await, IMAGE);
    let res = ada.delete(app.url(&format!("/api/v1/budgets/tokens/{token_id}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(run_with(&app, &secret, "free", json!({"prompt": "a fox"})).await.0, 200);
    let report = app.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
}

async fn concurrent_calls_never_overshoot_a_token_budget(backend: Backend) {
    let a = spawn_app(backend).await;
    // Two instances share PostgreSQL; SQLite is one machine's store, with one instance.
    let second = if backend == Backend::Postgres { Some(a.second_instance().await) } else { None };
    let b = second.as_ref().unwrap_or(&a);
    let ada = a.signed_up("ada@example.com", PASSWORD).await;
    let (token_id, secret) = token(&a, &ada).await;
    const FITS: i64 = 5;
    for round in 0..3 {
        let limit = format!("{}", (FITS * IMAGE) as f64 / 1e6);
        let (status, _) = put_budget(&a, &ada, &token_id, json!({"limit_usd": limit, "period": "total"})).await;
        assert_eq!(status, 200);
        sqlx::query("update budget set spent_micros = 0").execute(a.db.pool()).await.unwrap();
        let before = a.state.ledger.balance_of(&user_id(&a).await).await.unwrap().available.get();
        let answers = fire_64(&a, b, &secret, round).await;
        let ok = answers.iter().filter(|(s, _)| *s == 200).count() as i64;
        assert_eq!(ok, FITS, "round {round}: exactly the calls that fit ran: {answers:?}");
        assert!(
            answers.iter().all(|(s, l)| *s == 200 || (*s == 402 && l.as_deref() == Some("token_budget"))),
            "{answers:?}"
        );
        assert_eq!(spent(&a, &token_id).await, FITS * IMAGE, "round {round}: no overshoot");
        let after = a.state.ledger.balance_of(&user_id(&a).await).await.unwrap().available.get();
        assert_eq!(before - after, FITS * IMAGE, "round {round}: charged for those only");
    }
    let report = a.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
}

/// Fires 64 calls at once with the token `secret`, every other one through `b`, under
/// request ids `r{round}-{i}`: each answer's status and the limit a refusal names.
pub async fn fire_64(a: &TestApp, b: &TestApp, secret: &str, round: usize) -> Vec<(u16, Option<String>)> {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..64 {
        let app = if i % 2 == 0 { a } else { b };
        let (url, secret, id) =
            (app.url("/api/v1/run/fal-ai/flux/schnell"), secret.to_string(), format!("r{round}-{i}"));
        let client = app.client.clone();
        calls.spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(secret)
                .header("x-request-id", id)
                .json(&json!({"prompt": "a fox"}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, body["limit"].as_str().map(str::to_string))
        });
    }
    calls.join_all().await
}

async fn user_id(app: &TestApp) -> String {
    sqlx::query_scalar("select id from app_user where email = 'ada@example.com'")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

async fn a_retry_or_a_failure_does_not_use_the_budget(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let (token_id, secret) = token(&app, &ada).await;
    assert_eq!(put_budget(&app, &ada, &token_id, json!({"limit_usd": "0.006", "period": "week"})).await.0, 200);
    let (status, first) = run_with(&app, &secret, "same", json!({"prompt": "a fox"})).await;
    assert_eq!(status, 200);
    // A retry is answered from the first call: nothing more counts.
    for _ in 0..3 {
        let (status, again) = run_with(&app, &secret, "same", json!({"prompt": "a fox"})).await;
        assert_eq!((status, &again), (200, &first));
    }
    assert_eq!(spent(&app, &token_id).await, IMAGE);
    // A call the provider fails gives its share back.
    let failing = json!({"prompt": "a fox", "sandbox_failure": "server_error"});
    assert_eq!(run_with(&app, &secret, "fails", failing).await.0, 502);
    assert_eq!(spent(&app, &token_id).await, IMAGE);
    assert_eq!(run_with(&app, &secret, "second", json!({"prompt": "a fox"})).await.0, 200);
    assert_eq!(run_with(&app, &secret, "third", json!({"prompt": "a fox"})).await.0, 402);
    let held: i64 = sqlx::query_scalar("select count(*) from budget_charge").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(held, 3, "the two that ran and the one that failed (at zero)");
    let failed: i64 = sqlx::query_scalar(
        "select amount_micros from budget_charge c join usage_record u on u.id = c.call_id \
         where u.request_id = 'fails'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(failed, 0);
}

async fn budgets_are_checked_and_belong_to_the_token_owner(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let bo = app.signed_up("bo@example.com", PASSWORD).await;
    let (token_id, _) = token(&app, &ada).await;
    for (body, field) in [
        (json!({"limit_usd": "abc", "period": "day"}), "limit_usd"),
        (json!({"limit_usd": "-1", "period": "day"}), "limit_usd"),
        (json!({"limit_usd": "0", "period": "day"}), "limit_usd"),
        (json!({"limit_usd": "2000000", "period": "day"}), "limit_usd"),
        (json!({"period": "day"}), "limit_usd"),
        (json!({"limit_usd": "5", "period": "hour"}), "period"),
        (json!({"limit_usd": "5"}), "period"),
    ] {
        let (status, err) = put_budget(&app, &ada, &token_id, body.clone()).await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{body}: {err}");
    }
    let res = ada.put(app.url(&format!("/api/v1/budgets/tokens/{token_id}"))).body("not json").send().await.unwrap();
    assert_eq!(res.status(), 422);
    let none: i64 = sqlx::query_scalar("select count(*) from budget").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(none, 0, "bad input changes nothing");
    // Someone else's token, or no token at all, is not found; a visitor is refused.
    assert_eq!(put_budget(&app, &bo, &token_id, json!({"limit_usd": "5", "period": "day"})).await.0, 404);
    assert_eq!(put_budget(&app, &ada, "nope", json!({"limit_usd": "5", "period": "day"})).await.0, 404);
    let res = app.client.put(app.url(&format!("/api/v1/budgets/tokens/{token_id}"))).json(&json!({})).send().await;
    assert_eq!(res.unwrap().status(), 401);
    assert_eq!(app.client.get(app.url("/api/v1/budgets")).send().await.unwrap().status(), 401);
    let res = bo.delete(app.url(&format!("/api/v1/budgets/tokens/{token_id}"))).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

async fn the_cli_sets_the_budget_of_the_token_it_uses(backend: Backend) {
    use crate::usage_api::cli;
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let (token_id, secret) = token(&app, &ada).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| tokio::task::block_in_place(|| cli(&app, home.path(), &secret, args));
    let (code, out, err) = run(&["budgets"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("No budgets"), "{out}");
    let (code, out, err) = run(&["budgets", "set", "--usd", "0.003", "--period", "day"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("token {token_id}: $0.0030 per day (UTC)")), "{out}");
    let (code, _, err) = run(&["run", "fal-ai/flux/schnell", "--input", r#"{"prompt":"a fox"}"#]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["run", "fal-ai/flux/schnell", "--input", r#"{"prompt":"a fox"}"#]);
    assert_eq!(
        (code, err.trim()),
        (5, "tollgate: over the token budget (per-day budget): this needs $0.0030 and $0.0000 is available (402)")
    );
    let (code, _, err) = run(&["budgets", "set", "--usd", "lots", "--period", "day"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("limit_usd"), "{err}");
    let (code, _, err) = run(&["budgets", "set", "--token", "../../admin", "--usd", "1", "--period", "day"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = run(&["budgets", "remove"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Removed"), "{out}");
    let (code, _, err) = run(&["run", "fal-ai/flux/schnell", "--input", r#"{"prompt":"a fox"}"#]);
    assert_eq!(code, 0, "{err}");
}
