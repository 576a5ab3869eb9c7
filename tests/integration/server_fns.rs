use tollgate::server::infra::db::Backend;

use crate::helpers::spawn_app;

backend_tests!(
    the_status_server_function_answers_from_the_database,
    site_info_reports_sandbox_mode,
    the_front_door_prices_the_cheapest_model_of_each_kind,
    server_functions_refuse_other_methods,
);

async fn the_status_server_function_answers_from_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.server_fn("service_status", &[]).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], backend.label());
    assert_eq!(body["schema_version"], crate::helpers::LATEST_SCHEMA_VERSION);
    assert_eq!(body["sandbox"], true);
    assert!(body["database_latency_micros"].as_u64().is_some());
}

async fn site_info_reports_sandbox_mode(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: serde_json::Value = app.server_fn("site_info", &[]).await.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "sandbox": true, "version": env!("CARGO_PKG_VERSION") }));
}

async fn the_front_door_prices_the_cheapest_model_of_each_kind(backend: Backend) {
    let app = spawn_app(backend).await;
    // Public: a visitor sees it before signing up.
    let res = app.server_fn("front_door", &[]).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["signup_credit"], 5_000_000);
    assert_eq!(body["purchase_min"], 5_000_000);
    let prices = body["prices"].as_array().unwrap();
    let what: Vec<&str> = prices.iter().map(|p| p["what"].as_str().unwrap()).collect();
    assert_eq!(what, ["Images", "Image edits", "Upscaling", "Videos", "Chat (LLM)"]);
    assert_eq!(prices[0]["model"], "FLUX.1 [schnell]");
    assert_eq!(prices[0]["unit_price"], 3_000);
    assert_eq!(prices[0]["unit"], "image");
    assert_eq!(prices[3]["model"], "Kling 1.0 Standard");
    assert_eq!(prices[3]["unit_price"], 100_000);
}

async fn server_functions_refuse_other_methods(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.get("/api/service_status").await;
    assert_eq!(res.status(), 405);
}
