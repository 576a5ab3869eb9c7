//! Calls in flight per wallet: a limit on calls going at once that grows with what the
//! wallet's buyers paid, taken by a guarded update in the transaction that begins a call
//! and given back in the one that finishes it, so concurrent calls on two instances never
//! pass it; 429 with `Retry-After` names it.

use std::time::Duration;

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;

use crate::helpers::{TestApp, spawn_app_with, wait_for};
use crate::provider_standin::{PLATFORM_FAL_KEY, ProviderStandIn};

backend_tests!(
    a_wallet_runs_as_many_calls_at_once_as_its_purchases_allow,
    concurrent_calls_on_two_instances_never_pass_the_limit,
    a_team_wallet_has_its_own_places_and_the_studio_names_the_limit,
    an_administrator_sets_and_clears_a_wallets_limit,
    a_caller_who_hangs_up_does_not_cut_the_call_off,
);

const PASSWORD: &str = "correct horse battery";

/// Settings of an instance whose fal runs go to `fal`, with these tiers.
fn settings(fal: &ProviderStandIn, tiers: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TOLLGATE_FAL_RUN_BASE", fal.url()),
        ("TOLLGATE_FAL_QUEUE_BASE", format!("{}queue/", fal.url())),
        ("TOLLGATE_FAL_API_BASE", fal.url()),
        ("TOLLGATE_FAL_PLATFORM_KEY", PLATFORM_FAL_KEY.to_string()),
        ("TOLLGATE_CALLS_IN_FLIGHT_TIERS", tiers.to_string()),
    ]
}

async fn app_on(backend: Backend, fal: &ProviderStandIn, tiers: &str) -> TestApp {
    let settings = settings(fal, tiers);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(backend, &settings).await
}

/// Ada, signed up on an app with these tiers, with an API token: (fal, app, ada's user
/// id, the token).
async fn ada_on(backend: Backend, tiers: &str) -> (ProviderStandIn, TestApp, reqwest::Client, String, String) {
    let fal = ProviderStandIn::start().await;
    let app = app_on(backend, &fal, tiers).await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let ada_id = user_id(&app, &ada).await;
    let secret = token(&app, &ada).await;
    (fal, app, ada, ada_id, secret)
}

async fn token(app: &TestApp, client: &reqwest::Client) -> String {
    let made: Value = app.call(client, "tokens_create", &[("name", "script")]).await.json().await.unwrap();
    made["secret"].as_str().unwrap().to_string()
}

/// A call to the image model with `secret`: status, `Retry-After`, body.
async fn run(app: &TestApp, secret: &str, id: &str, input: Value) -> (u16, Option<String>, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
        .bearer_auth(secret)
        .header("x-request-id", id)
        .json(&input)
        .send()
        .await
        .unwrap();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (res.status().as_u16(), retry, res.json().await.unwrap_or(Value::Null))
}

async fn in_flight(app: &TestApp, owner: &str) -> i64 {
    sqlx::query_scalar("select in_flight from wallet_calls where owner_id = $1")
        .bind(owner)
        .fetch_optional(app.db.pool())
        .await
        .unwrap()
        .unwrap_or(0)
}

async fn user_id(app: &TestApp, client: &reqwest::Client) -> String {
    app.me(client).await.1["id"].as_str().unwrap().to_string()
}

/// Buys `dollars` in the sandbox for the wallet `client` acts on.
async fn buy(app: &TestApp, client: &reqwest::Client, dollars: &str) {
    let res = app.call(client, "checkout_start", &[("amount", dollars)]).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let session = location.strip_prefix("/sandbox/checkout/").unwrap().to_string();
    assert_eq!(app.call(client, "sandbox_pay", &[("session", &session)]).await.status(), 200);
}

/// Waits until `n` model runs are waiting at the stand-in.
async fn runs_waiting(fal: &ProviderStandIn, n: usize) {
    wait_for(&format!("{n} runs waiting"), Duration::from_secs(30), async || (fal.waiting_runs() == n).then_some(()))
        .await;
}

/// Starts a call to the image model in the background; its status when it ends.
fn spawn_run(app: &TestApp, secret: &str, id: &str) -> tokio::task::JoinHandle<u16> {
    let (client, url) = (app.client.clone(), app.url("/api/v1/run/fal-ai/flux/schnell"));
    let (secret, id) = (secret.to_string(), id.to_string());
    tokio::spawn(async move {
        let res = client.post(url).bearer_auth(&secret).header("x-request-id", &id).json(&json!({"prompt": "a fox"}));
        res.send().await.unwrap().status().as_u16()
    })
}

async fn a_wallet_runs_as_many_calls_at_once_as_its_purchases_allow(backend: Backend) {
    let (fal, app, ada, ada_id, secret) = ada_on(backend, "0:2,10:3").await;
    fal.hold_runs();
    let (a, b) = (spawn_run(&app, &secret, "a"), spawn_run(&app, &secret, "b"));
    runs_waiting(&fal, 2).await;
    // Two calls going, two allowed (sign-up credit is not a purchase): the third is
    // refused at once, with nothing held or recorded.
    let (status, retry, body) = run(&app, &secret, "c", json!({"prompt": "a fox"})).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert_eq!(body["limit"], "concurrency");
    assert_eq!(body["error"]["kind"], "too_many_calls");
    assert_eq!((body["in_flight"].as_i64(), body["max_in_flight"].as_i64()), (Some(2), Some(2)));
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("2 calls running") && message.contains("from $10.00 paid"), "{message}");
    assert_eq!(in_flight(&app, &ada_id).await, 2);
    let recorded: i64 = sqlx::query_scalar("select count(*) from usage_record where request_id = 'c'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(recorded, 0, "a refused call is not recorded");
    let balance = app.state.ledger.balance_of(&ada_id).await.unwrap();
    assert_eq!(balance.reserved.get(), 2 * 3_000, "only the two calls going hold funds");
    // A queued call counts as well.
    let res = app
        .client
        .post(app.url("/api/v1/queue/fal-ai/flux/schnell"))
        .bearer_auth(&secret)
        .json(&json!({"prompt": "a fox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // The Balance tab says so.
    let account: Value = app.call(&ada, "account", &[]).await.json().await.unwrap();
    assert_eq!(
        account["calls_at_once"],
        json!({"max": 2, "set_by_admin": false, "next": [10_000_000, 3]}),
        "{account}"
    );
    // Buying $10 lifts the limit to 3 at once; the refused request id runs then.
    buy(&app, &ada, "10").await;
    let c = spawn_run(&app, &secret, "c");
    runs_waiting(&fal, 3).await;
    let (status, _, body) = run(&app, &secret, "d", json!({"prompt": "a fox"})).await;
    assert_eq!((status, body["max_in_flight"].as_i64()), (429, Some(3)), "{body}");
    let me: Value =
        app.client.get(app.url("/api/v1/me")).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        me["calls_in_flight"],
        json!({"in_flight": 3, "max_in_flight": 3, "set_by_admin": false, "next_tier": null}),
        "{me}"
    );
    assert!(!body["message"].as_str().unwrap().contains("grows"), "no tier above: {body}");
    fal.release_runs();
    assert_eq!((a.await.unwrap(), b.await.unwrap(), c.await.unwrap()), (200, 200, 200));
    assert_eq!(in_flight(&app, &ada_id).await, 0, "every place is given back");
    // A failed call gives its place back too.
    let (status, _, _) = run(&app, &secret, "e", json!({"prompt": "a fox", "fail": true})).await;
    assert_eq!(status, 502);
    assert_eq!(in_flight(&app, &ada_id).await, 0);
    assert!(app.state.ledger.audit().await.unwrap().is_clean());
}

async fn concurrent_calls_on_two_instances_never_pass_the_limit(backend: Backend) {
    let (fal, app, _ada, ada_id, secret) = ada_on(backend, "0:10").await;
    let settings = settings(&fal, "0:10");
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let other = app.second_instance_with(&settings).await;
    for round in 0..3 {
        fal.hold_runs();
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..64 {
            let url = if i % 2 == 0 { app.url("") } else { other.url("") };
            let (client, secret) = (app.client.clone(), secret.clone());
            calls.spawn(async move {
                client
                    .post(format!("{url}/api/v1/run/fal-ai/flux/schnell"))
                    .bearer_auth(&secret)
                    .header("x-request-id", format!("r{round}-{i}"))
                    .json(&json!({"prompt": "a fox"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            });
        }
        // Every call is either refused or waiting at the provider.
        let mut refused = 0;
        let settled = wait_for("every call refused or running", Duration::from_secs(60), async || {
            while let Some(Ok(status)) = calls.try_join_next() {
                assert_eq!(status, 429, "only refusals answer while the runs are held");
                refused += 1;
            }
            (refused + fal.waiting_runs() == 64).then_some(fal.waiting_runs())
        })
        .await;
        assert_eq!((settled, refused), (10, 54), "round {round}: exactly the limit runs at once");
        assert_eq!(in_flight(&app, &ada_id).await, 10);
        fal.release_runs();
        let done: Vec<u16> = calls.join_all().await;
        assert_eq!(done, vec![200; 10]);
        assert_eq!(in_flight(&app, &ada_id).await, 0);
    }
    let charged: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(charged_micros), 0) as bigint) from usage_record where user_id = $1",
    )
    .bind(&ada_id)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(charged, 30 * 3_000);
    assert!(app.state.ledger.audit().await.unwrap().is_clean());
}

async fn a_team_wallet_has_its_own_places_and_the_studio_names_the_limit(backend: Backend) {
    let fal = ProviderStandIn::start().await;
    let app = app_on(backend, &fal, "0:1").await;
    let ada = app.signed_up("ada@example.com", PASSWORD).await;
    let ada_id = user_id(&app, &ada).await;
    let made: Value = app.call(&ada, "teams_create", &[("name", "Studio Nine")]).await.json().await.unwrap();
    let team = made["id"].as_str().unwrap().to_string();
    // The team's wallet, with $20 in it (a purchase: 1 at once still, by these tiers).
    assert_eq!(app.call(&ada, "select_wallet", &[("team", &team)]).await.status(), 200);
    buy(&app, &ada, "20").await;
    fal.hold_runs();
    let studio = |client: reqwest::Client| {
        let app_url = app.url("/api/studio_run");
        async move {
            let res = client
                .post(app_url)
                .form(&[("endpoint_id", "fal-ai/flux/schnell"), ("prompt", "a fox"), ("num_images", "1")])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let first = tokio::spawn(studio(ada.clone()));
    runs_waiting(&fal, 1).await;
    assert_eq!(in_flight(&app, &team).await, 1);
    assert_eq!(in_flight(&app, &ada_id).await, 0, "the team's call holds the team's place");
    // The Studio's second run on the team's wallet is refused with the limit named.
    let (status, body) = studio(ada.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["kind"], "too_many_calls");
    assert_eq!(body["limit"], "concurrency");
    assert!(body["message"].as_str().unwrap().contains("1 call running"), "{body}");
    // Her own wallet has its own place.
    assert_eq!(app.call(&ada, "select_wallet", &[("team", "")]).await.status(), 200);
    let own = tokio::spawn(studio(ada.clone()));
    runs_waiting(&fal, 2).await;
    fal.release_runs();
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(own.await.unwrap().0, 200);
    assert_eq!((in_flight(&app, &team).await, in_flight(&app, &ada_id).await), (0, 0));
}

async fn an_administrator_sets_and_clears_a_wallets_limit(backend: Backend) {
    let (fal, app, _ada, ada_id, secret) = ada_on(backend, "0:2,10:10").await;
    let dir = tempfile::tempdir().unwrap();
    let admin = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOLLGATE_")) {
            cmd.env_remove(k);
        }
        let out = cmd
            .current_dir(dir.path())
            .env("TOLLGATE_DATABASE_URL", &app.database_handle().url)
            .env("TOLLGATE_DATA_DIR", dir.path())
            .env("TOLLGATE_MASTER_KEY", crate::helpers::TEST_MASTER_KEY)
            .env("TOLLGATE_SECRET_KEY", "test-secret-key-0123456789abcdef0123456789")
            .env("TOLLGATE_CALLS_IN_FLIGHT_TIERS", "0:2,10:10")
            .args(["admin", "calls-in-flight"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, said, err) = admin(&["show", "--email", "ada@example.com"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        said.trim(),
        "0 of 2 calls in flight (limit by purchases: $0.00 paid in all; 10 at once from $10.00 paid)"
    );
    let (code, said, err) = admin(&["set", "--email", "ADA@example.com", "--max", "1"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(said.trim(), "0 of 1 calls in flight (limit set by an administrator)");
    fal.hold_runs();
    let first = tokio::spawn({
        let (client, url, secret) = (app.client.clone(), app.url("/api/v1/run/fal-ai/flux/schnell"), secret.clone());
        async move { client.post(url).bearer_auth(&secret).json(&json!({"prompt": "a fox"})).send().await.unwrap() }
    });
    runs_waiting(&fal, 1).await;
    let (status, _, body) = run(&app, &secret, "second", json!({"prompt": "a fox"})).await;
    assert_eq!((status, body["max_in_flight"].as_i64()), (429, Some(1)), "{body}");
    assert!(!body["message"].as_str().unwrap().contains("grows"), "an administrator's limit does not grow: {body}");
    fal.release_runs();
    assert_eq!(first.await.unwrap().status(), 200);
    let (code, said, _) = admin(&["clear", "--email", "ada@example.com"]);
    assert_eq!(
        (code, said.trim()),
        (Some(0), "0 of 2 calls in flight (limit by purchases: $0.00 paid in all; 10 at once from $10.00 paid)")
    );
    // Bad input names what is wrong and changes nothing.
    let (code, _, err) = admin(&["set", "--email", "ada@example.com", "--max", "0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("at least 1"), "{err}");
    let (code, _, err) = admin(&["set", "--email", "nobody@example.com", "--max", "3"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("No account has that email"), "{err}");
    let (code, _, err) = admin(&["show", "--team", "../etc"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a team id"), "{err}");
    let (code, _, _) = admin(&["show"]);
    assert_eq!(code, Some(2), "a wallet must be named");
    let max_override: Option<i64> = sqlx::query_scalar("select max_override from wallet_calls where owner_id = $1")
        .bind(&ada_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(max_override, None);
}

async fn a_caller_who_hangs_up_does_not_cut_the_call_off(backend: Backend) {
    let (fal, app, _ada, ada_id, secret) = ada_on(backend, "0:1").await;
    fal.hold_runs();
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(800)).build().unwrap();
    let hung_up = impatient
        .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
        .bearer_auth(&secret)
        .header("x-request-id", "hung-up")
        .json(&json!({"prompt": "a fox"}))
        .send()
        .await;
    assert!(hung_up.is_err(), "the caller gave up waiting");
    runs_waiting(&fal, 1).await;
    fal.release_runs();
    // The call still ends: charged once, its place given back at once (not by recovery).
    let (status, charged): (String, i64) = wait_for("the call to end", Duration::from_secs(30), async || {
        let row: (String, Option<i64>) =
            sqlx::query_as("select status, charged_micros from usage_record where request_id = 'hung-up'")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        (row.0 != "running").then(|| (row.0, row.1.unwrap_or(0)))
    })
    .await;
    assert_eq!((status.as_str(), charged), ("succeeded", 3_000));
    assert_eq!(in_flight(&app, &ada_id).await, 0);
    // Asking again under the same request id gets the answer, not a second call.
    let (status, _, _) = run(&app, &secret, "hung-up", json!({"prompt": "a fox"})).await;
    assert_eq!(status, 200);
    assert_eq!(fal.runs().len(), 1);
}
