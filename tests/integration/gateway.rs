//! `POST /api/v1/run/{endpoint_id}?dryRun=true`: estimates, who pays, and 402.

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::server::services::gateway::pricing;
use tollgate::shared::money::Micros;

use crate::helpers::{TestApp, spawn_app_with};
use crate::provider_standin::{FAL_KEY, ProviderStandIn};

backend_tests!(
    a_dry_run_prices_the_input_and_holds_nothing,
    without_enough_credits_or_a_key_the_answer_is_402_naming_the_limit,
    bad_requests_are_refused_naming_the_field,
    a_sandbox_run_charges_what_was_produced_and_a_failure_charges_nothing,
    real_fal_runs_use_the_platform_key_for_credits_and_the_callers_own_key_for_free,
    a_run_cap_holds_under_concurrency,
    chat_calls_are_charged_from_the_usage_they_report,
    a_repeated_request_id_is_never_run_or_charged_twice,
    the_balance_checked_before_a_call_follows_every_change,
);

async fn a_repeated_request_id_is_never_run_or_charged_twice(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    // The same request id again (a client retrying): not run, not charged twice, and
    // answered as the first time.
    let repeat = |client: &reqwest::Client| {
        client
            .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
            .header("x-request-id", "client-chosen-id-1")
            .json(&json!({"prompt": "again"}))
            .send()
    };
    let first = repeat(&ada).await.unwrap();
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    let again = repeat(&ada).await.unwrap();
    assert_eq!((again.status().as_u16(), again.headers()["idempotent-replayed"].to_str().unwrap()), (200, "true"));
    assert_eq!(again.text().await.unwrap(), first);
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"], 4_997_000);

    // A call whose answer is no longer kept (or was made before answers were): refused,
    // saying so, and still not run again.
    sqlx::query("update usage_record set answer_status = null, answer_body = null")
        .execute(app.db.pool())
        .await
        .unwrap();
    let again = repeat(&ada).await.unwrap();
    assert_eq!(again.status(), 409);
    let body = again.json::<Value>().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("not run or charged again"), "{body}");
    assert_eq!(body["error"]["field"], "X-Request-Id");
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"], 4_997_000);
}

async fn chat_calls_are_charged_from_the_usage_they_report(backend: Backend) {
    // The sandbox: no reported cost, so tokens at the catalog price.
    let app = crate::helpers::spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let input = json!({"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 100});
    let (status, body) = post(&app, &ada, "/api/v1/run/openrouter/openai/gpt-4o-mini?dryRun=true", &input).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["unit"].as_str(), body["cost_estimate_micros"].as_i64()), (Some("1k_tokens"), Some(62)));
    let (status, body) = post(&app, &ada, "/api/v1/run/openrouter/openai/gpt-4o-mini", &input).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["choices"][0]["message"]["content"].as_str().unwrap().contains("You said: hello there"));
    assert_eq!(body["usage"]["total_tokens"], 16);
    assert_eq!(
        (body["metadata"]["cost_micros"].as_i64(), body["metadata"]["charged_micros"].as_i64()),
        (Some(10), Some(10))
    );
    assert_eq!(body["metadata"]["operation"], "chat");

    // Real HTTP: OpenRouter's usage.cost is what is charged; the caller's own key is free.
    let standin = ProviderStandIn::start().await;
    let base = standin.url();
    let settings = [
        ("TOLLGATE_OPENROUTER_BASE", base.as_str()),
        ("TOLLGATE_OPENROUTER_PLATFORM_KEY", crate::provider_standin::PLATFORM_OPENROUTER_KEY),
    ];
    let app = spawn_app_with(backend, &settings).await;
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    let (status, body) = post(&app, &bob, "/api/v1/run/openrouter/openai/gpt-4o-mini", &input).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["charged_micros"], 420);
    assert_eq!(standin.runs(), vec![crate::provider_standin::PLATFORM_OPENROUTER_KEY.to_string()]);
    let key = crate::provider_standin::OPENROUTER_KEY;
    assert_eq!(app.call(&bob, "provider_key_save", &[("provider", "openrouter"), ("key", key)]).await.status(), 200);
    let (status, body) = post(&app, &bob, "/api/v1/run/openrouter/openai/gpt-4o-mini", &input).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["metadata"]["paid_with"].as_str(), body["metadata"]["charged_micros"].as_i64()),
        (Some("own_key"), Some(0))
    );
    assert_eq!(standin.runs().last().map(String::as_str), Some(key));
    assert_eq!(app.me(&bob).await.1["balance"]["available_micros"], 5_000_000 - 420);
}

async fn a_run_cap_holds_under_concurrency(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    // $0.01 for run "r1": three $0.003 images fit, a fourth would not.
    let call = |run: &'static str, cap: &'static str| {
        let req = ada
            .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
            .header("Tollgate-Run-Id", run)
            .header("Tollgate-Max-USD-Per-Run", cap)
            .json(&json!({"prompt": "p", "sandbox_delay_ms": 200}));
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        set.spawn(call("r1", "0.01"));
    }
    let answers: Vec<(u16, Value)> = set.join_all().await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let capped: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 402).map(|(_, b)| b).collect();
    assert_eq!((ok, capped.len()), (3, 5), "{answers:?}");
    assert!(capped.iter().all(|b| b["limit"] == "run_cap"));
    assert_eq!(capped[0]["needed_micros"], 3_000);
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"], 5_000_000 - 9_000);

    // Another run has its own budget; a cap without a run id is refused.
    assert_eq!(call("r2", "0.01").await.0, 200);
    let res = ada
        .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
        .header("Tollgate-Max-USD-Per-Run", "1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "Tollgate-Run-Id");
    let (status, body) = call("r3", "lots").await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("Tollgate-Max-USD-Per-Run")));

    // A failed call gives its share back to the run.
    let failing = ada
        .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
        .header("Tollgate-Run-Id", "r4")
        .header("Tollgate-Max-USD-Per-Run", "0.003")
        .json(&json!({"sandbox_failure": "server_error"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failing.status(), 502);
    assert_eq!(call("r4", "0.003").await.0, 200, "the failed call's estimate was released");
}

async fn usage_rows(app: &TestApp) -> Vec<(String, String, i64, Option<i64>, i64, Option<String>)> {
    use sqlx::Row;
    sqlx::query("select status, paid_with, cost_estimate_micros, cost_micros, charged_micros, failure from usage_record order by created_at_ms, id")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

async fn a_sandbox_run_charges_what_was_produced_and_a_failure_charges_nothing(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (status, body) =
        post(&app, &ada, "/api/v1/run/fal-ai/flux/schnell", &json!({"prompt": "a fox", "num_images": 2})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images"].as_array().unwrap().len(), 2);
    assert!(body["images"][0]["url"].as_str().unwrap().starts_with("data:image/svg+xml;base64,"));
    let meta = &body["metadata"];
    assert_eq!((meta["cost_micros"].as_i64(), meta["cost_estimate_micros"].as_i64()), (Some(6_000), Some(6_000)));
    assert_eq!((meta["charged"].as_bool(), meta["paid_with"].as_str()), (Some(true), Some("credits")));
    assert_eq!(meta["executed_model"], "fal-ai/flux/schnell");
    assert_eq!(meta["provider"], "fal");
    assert!(!meta["request_id"].as_str().unwrap().is_empty());
    let balance = &app.me(&ada).await.1["balance"];
    assert_eq!((balance["available_micros"].as_i64(), balance["reserved_micros"].as_i64()), (Some(4_994_000), Some(0)));

    // It shows in Transactions with the model and operation.
    let tx: Value = ada.get(app.url("/api/v1/transactions?type=usage")).send().await.unwrap().json().await.unwrap();
    let row = &tx["transactions"][0];
    assert_eq!(
        (row["model"].as_str(), row["operation"].as_str()),
        (Some("fal-ai/flux/schnell"), Some("generateImage"))
    );

    // A provider failure: nothing held any longer, nothing charged, and the record says why.
    let (status, body) =
        post(&app, &ada, "/api/v1/run/fal-ai/flux/schnell", &json!({"sandbox_failure": "server_error"})).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["charged"], false);
    assert!(body["message"].as_str().unwrap().ends_with("Nothing was charged."));
    let (status, _) = post(&app, &ada, "/api/v1/run/fal-ai/flux/schnell", &json!({"sandbox_failure": "timeout"})).await;
    assert_eq!(status, 504);
    let balance = &app.me(&ada).await.1["balance"];
    assert_eq!((balance["available_micros"].as_i64(), balance["reserved_micros"].as_i64()), (Some(4_994_000), Some(0)));
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0], ("succeeded".into(), "credits".into(), 6_000, Some(6_000), 6_000, None));
    let failures: Vec<_> = rows[1..].iter().map(|r| (r.0.as_str(), r.4, r.5.clone())).collect();
    assert!(failures.contains(&("failed", 0, Some("provider_error".into()))), "{failures:?}");
    assert!(failures.contains(&("failed", 0, Some("provider_timeout".into()))), "{failures:?}");
    let audit = app.state.ledger.audit().await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.findings);
}

async fn real_fal_runs_use_the_platform_key_for_credits_and_the_callers_own_key_for_free(backend: Backend) {
    let standin = ProviderStandIn::start().await;
    let base = standin.url();
    let with_platform = [
        ("TOLLGATE_FAL_API_BASE", base.as_str()),
        ("TOLLGATE_FAL_RUN_BASE", base.as_str()),
        ("TOLLGATE_FAL_PLATFORM_KEY", crate::provider_standin::PLATFORM_FAL_KEY),
    ];
    let app = spawn_app_with(backend, &with_platform).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;

    let (status, body) =
        post(&app, &ada, "/api/v1/run/fal-ai/flux/dev", &json!({"prompt": "x", "num_images": 3})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["charged_micros"], 75_000);
    assert_eq!(standin.runs(), vec![crate::provider_standin::PLATFORM_FAL_KEY.to_string()]);

    // A 500 from fal: nothing charged.
    let (status, _) = post(&app, &ada, "/api/v1/run/fal-ai/flux/dev", &json!({"fail": true})).await;
    assert_eq!(status, 502);
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"], 4_925_000);

    // Her own key: used for the call, and free.
    assert_eq!(app.call(&ada, "provider_key_save", &[("provider", "fal"), ("key", FAL_KEY)]).await.status(), 200);
    let (status, body) = post(&app, &ada, "/api/v1/run/fal-ai/flux/dev", &json!({"prompt": "x"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["metadata"]["paid_with"].as_str(), body["metadata"]["charged"].as_bool()),
        (Some("own_key"), Some(false))
    );
    assert_eq!(body["metadata"]["cost_micros"], 25_000, "the provider's price is still reported");
    assert_eq!(standin.runs().last().map(String::as_str), Some(FAL_KEY));
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"], 4_925_000);

    // Without a platform account, credit-paid calls cannot be routed: 503, nothing held.
    let bare = spawn_app_with(backend, &[("TOLLGATE_FAL_RUN_BASE", base.as_str())]).await;
    let bob = bare.signed_up("bob@example.com", "correct horse battery").await;
    let (status, body) = post(&bare, &bob, "/api/v1/run/fal-ai/flux/dev", &json!({})).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(bare.me(&bob).await.1["balance"]["available_micros"], 5_000_000);
}

async fn app(backend: Backend) -> (TestApp, ProviderStandIn) {
    let standin = ProviderStandIn::start().await;
    let settings = standin.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (spawn_app_with(backend, &pairs).await, standin)
}

async fn post(app: &TestApp, client: &reqwest::Client, path: &str, body: &Value) -> (u16, Value) {
    let res = client.post(app.url(path)).json(body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn a_dry_run_prices_the_input_and_holds_nothing(backend: Backend) {
    let (app, _standin) = app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (status, body) =
        post(&app, &ada, "/api/v1/run/fal-ai/flux/schnell?dryRun=true", &json!({"prompt": "a fox", "num_images": 4}))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["charged"], false);
    assert_eq!(body["paid_with"], "credits");
    assert_eq!(body["cost_estimate_micros"], 12_000);
    assert_eq!(body["cost_estimate"].as_f64(), Some(0.012));
    assert_eq!((body["unit"].as_str(), body["units"].as_f64()), (Some("image"), Some(4.0)));
    assert_eq!(body["operation"], "generateImage");

    let (_, body) = post(&app, &ada, "/api/v1/run/fal-ai/some-new-model?dryRun=true", &json!({})).await;
    assert_eq!((body["unit"].as_str(), body["cost_estimate_micros"].as_i64()), (Some("request"), Some(50_000)));

    // Nothing held, nothing charged.
    let me = app.me(&ada).await.1;
    assert_eq!(me["balance"]["available_micros"], 5_000_000);
    assert_eq!(me["balance"]["reserved_micros"], 0);

    assert_eq!(post(&app, &app.browser(), "/api/v1/run/fal-ai/flux/schnell?dryRun=true", &json!({})).await.0, 401);
}

async fn without_enough_credits_or_a_key_the_answer_is_402_naming_the_limit(backend: Backend) {
    let (app, _standin) = app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    // $6.00 an image for Ada: more than her $5.00.
    pricing::set_account_price(&app.db, &id, &crate::helpers::endpoint("fal-ai/flux/dev"), Micros::from_usd(6), "test")
        .await
        .unwrap();
    let (status, body) = post(&app, &ada, "/api/v1/run/fal-ai/flux/dev?dryRun=true", &json!({})).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["limit"], "balance");
    assert_eq!((body["needed_micros"].as_i64(), body["available_micros"].as_i64()), (Some(6_000_000), Some(5_000_000)));
    assert_eq!(body["error"]["kind"], "insufficient_credits");

    // With her own working fal key, fal calls are hers to pay: no credit check.
    let res = app.call(&ada, "provider_key_save", &[("provider", "fal"), ("key", FAL_KEY)]).await;
    assert_eq!(res.status(), 200);
    let (status, body) = post(&app, &ada, "/api/v1/run/fal-ai/flux/dev?dryRun=true", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paid_with"], "own_key");
    assert_eq!(body["cost_estimate_micros"], 6_000_000, "the price is still shown");
}

async fn bad_requests_are_refused_naming_the_field(backend: Backend) {
    let (app, _standin) = app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    for (path, body, field) in [
        ("/api/v1/run/fal-ai/flux/schnell?dryRun=true", json!({"num_images": 50}), "num_images"),
        ("/api/v1/run/fal-ai/flux/schnell?dryRun=true", json!([1]), "input"),
        ("/api/v1/run/fal-ai/flux/schnell?dryRun=maybe", json!({}), "dryRun"),
    ] {
        let (status, answer) = post(&app, &ada, path, &body).await;
        assert_eq!(status, 400, "{path} {body}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let res = ada
        .post(app.url("/api/v1/run/fal-ai/flux/schnell?dryRun=true"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "input");
}

async fn the_balance_checked_before_a_call_follows_every_change(backend: Backend) {
    use tollgate::server::ledger::{CreditKind, CreditRequest, DebitKind, DebitRequest, Ledger};
    let (app, _standin) = app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    let no_input = json!({});
    let dry_run = || post(&app, &ada, "/api/v1/run/fal-ai/flux/dev?dryRun=true", &no_input);
    let spend = |ledger: Ledger, key: &'static str, amount: Micros| {
        let id = id.clone();
        async move {
            let wallet = ledger.find_wallet(&id).await.unwrap().unwrap();
            let request = DebitRequest {
                idempotency_key: key.into(),
                wallet,
                amount,
                kind: DebitKind::Usage,
                description: "spent elsewhere".into(),
                metadata: json!({}),
            };
            ledger.debit(&request).await.unwrap();
        }
    };
    assert_eq!(dry_run().await.0, 200);

    // Spent through this instance: the next check sees it at once.
    spend(app.state.ledger.clone(), "spend-here", Micros(4_990_000)).await;
    let (status, body) = dry_run().await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["available_micros"], 10_000);

    // Credits added by another instance on the same database: a refusal is always
    // confirmed with the database, so the call goes through.
    let other = crate::helpers::AppServer::build(
        crate::helpers::test_config(app.database_handle(), &[]),
        tollgate::ui::app::web_app(),
    )
    .await
    .unwrap();
    let wallet = other.state().ledger.find_wallet(&id).await.unwrap().unwrap();
    let grant = CreditRequest {
        idempotency_key: "grant-elsewhere".into(),
        wallet,
        amount: Micros::from_usd(1),
        kind: CreditKind::Adjustment,
        description: "added elsewhere".into(),
        metadata: json!({}),
        expires_at_ms: None,
    };
    other.state().ledger.credit(&grant).await.unwrap();
    assert_eq!(dry_run().await.0, 200);

    // Everything spent by the other instance: this one may still remember $1.01, but a real
    // call is funded by a hold taken in the database, which refuses it. Nothing is charged.
    spend(other.state().ledger.clone(), "spend-there", Micros(1_010_000)).await;
    let (status, body) = post(&app, &ada, "/api/v1/run/fal-ai/flux/dev", &json!({"prompt": "a fox"})).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!((body["limit"].as_str(), body["available_micros"].as_i64()), (Some("balance"), Some(0)));
    let me = app.me(&ada).await.1;
    assert_eq!(
        (me["balance"]["available_micros"].as_i64(), me["balance"]["reserved_micros"].as_i64()),
        (Some(0), Some(0))
    );
    // Refused for the balance, wherever it was refused: nothing recorded, nothing ran.
    assert_eq!(usage_rows(&app).await, vec![]);
}
