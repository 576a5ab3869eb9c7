use tollgate::server::infra::db::Backend;

use crate::helpers::spawn_app;

backend_tests!(
    the_status_server_function_answers_from_the_database,
    site_info_reports_sandbox_mode,
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

async fn server_functions_refuse_other_methods(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.get("/api/service_status").await;
    assert_eq!(res.status(), 405);
}
