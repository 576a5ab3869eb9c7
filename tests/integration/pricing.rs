//! `GET /api/v1/models/pricing`: the caller's prices, named or the whole catalog, a page
//! at a time.

use serde_json::Value;
use tollgate::server::infra::db::Backend;
use tollgate::server::services::gateway::pricing;
use tollgate::shared::money::Micros;

use crate::helpers::{TestApp, spawn_app};

backend_tests!(
    prices_come_from_the_catalog_with_a_default_for_unknown_endpoints,
    custom_prices_apply_to_their_account_only
);

async fn get(app: &TestApp, client: &reqwest::Client, query: &str) -> (u16, Value) {
    let res = client.get(app.url(&format!("/api/v1/models/pricing{query}"))).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn prices_come_from_the_catalog_with_a_default_for_unknown_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(get(&app, &app.browser(), "").await.0, 401, "callers must say who they are");
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;

    let (status, body) =
        get(&app, &ada, "?endpoint_id=fal-ai/flux/dev&endpoint_id=fal-ai/veo2&endpoint_id=fal-ai/new-thing").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["has_more"], false);
    assert!(body["next_cursor"].is_null());
    let p = &body["prices"];
    assert_eq!(p[0]["endpoint_id"], "fal-ai/flux/dev");
    assert_eq!((p[0]["unit_price"].as_f64(), p[0]["unit"].as_str()), (Some(0.025), Some("image")));
    assert_eq!(p[0]["currency"], "USD");
    assert_eq!((p[1]["unit_price_micros"].as_i64(), p[1]["unit"].as_str()), (Some(500_000), Some("video")));
    assert_eq!((p[2]["unit_price"].as_f64(), p[2]["unit"].as_str()), (Some(0.05), Some("request")));
    assert_eq!(p[2]["listed"], false);

    // The whole catalog, ten at a time.
    let mut seen = Vec::new();
    let mut query = "?limit=10".to_string();
    loop {
        let (status, body) = get(&app, &ada, &query).await;
        assert_eq!(status, 200);
        for p in body["prices"].as_array().unwrap() {
            seen.push(p["endpoint_id"].as_str().unwrap().to_string());
        }
        match body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(body["has_more"], true);
                query = format!("?limit=10&cursor={c}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "each once, in order");

    for (query, field) in
        [("?limit=0", "limit"), ("?limit=x", "limit"), ("?cursor=abc", "cursor"), ("?model=x", "model")]
    {
        let (status, body) = get(&app, &ada, query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

async fn custom_prices_apply_to_their_account_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    let ada_id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    pricing::set_account_price(&app.db, &ada_id, &crate::helpers::endpoint("fal-ai/flux/dev"), Micros(20_000), "test")
        .await
        .unwrap();
    assert!(
        pricing::set_account_price(&app.db, &ada_id, &crate::helpers::endpoint("fal-ai/flux/dev"), Micros(0), "test")
            .await
            .is_err()
    );

    let (_, body) = get(&app, &ada, "?endpoint_id=fal-ai/flux/dev").await;
    assert_eq!(
        (body["prices"][0]["unit_price"].as_f64(), body["prices"][0]["custom"].as_bool()),
        (Some(0.02), Some(true))
    );
    let (_, body) = get(&app, &bob, "?endpoint_id=fal-ai/flux/dev").await;
    assert_eq!(
        (body["prices"][0]["unit_price"].as_f64(), body["prices"][0]["custom"].as_bool()),
        (Some(0.025), Some(false))
    );

    assert!(
        pricing::clear_account_price(&app.db, &ada_id, &crate::helpers::endpoint("fal-ai/flux/dev")).await.unwrap()
    );
    // A change made outside the server (the admin CLI) is seen once its cached prices
    // expire, within a few seconds; here they are dropped at once.
    app.state.caches.account_prices.clear();
    let (_, body) = get(&app, &ada, "?endpoint_id=fal-ai/flux/dev").await;
    assert_eq!(body["prices"][0]["unit_price"].as_f64(), Some(0.025));
}
