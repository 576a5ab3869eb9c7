//! `POST /api/v1/run/{endpoint_id}?dryRun=true`: estimates, who pays, and 402.

use serde_json::{Value, json};
use tollgate::money::Micros;
use tollgate::server::db::Backend;
use tollgate::server::gateway::pricing;

use crate::helpers::{TestApp, spawn_app_with};
use crate::provider_standin::{FAL_KEY, ProviderStandIn};

backend_tests!(
    a_dry_run_prices_the_input_and_holds_nothing,
    without_enough_credits_or_a_key_the_answer_is_402_naming_the_limit,
    bad_requests_are_refused_naming_the_field,
);

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

    // Running (not a dry run) is refused plainly for now, and moves nothing either.
    let (status, _) = post(&app, &ada, "/api/v1/run/fal-ai/flux/schnell", &json!({})).await;
    assert_eq!(status, 501);
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"], 5_000_000);

    assert_eq!(post(&app, &app.browser(), "/api/v1/run/fal-ai/flux/schnell?dryRun=true", &json!({})).await.0, 401);
}

async fn without_enough_credits_or_a_key_the_answer_is_402_naming_the_limit(backend: Backend) {
    let (app, _standin) = app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    // $6.00 an image for Ada: more than her $5.00.
    pricing::set_account_price(&app.db, &id, "fal-ai/flux/dev", Micros::from_usd(6), "test").await.unwrap();
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
