use tollgate::server::infra::db::Backend;

use crate::helpers::spawn_app;

backend_tests!(
    healthz_answers_while_the_process_is_up,
    readyz_answers_ready_when_the_database_answers,
    readyz_answers_503_when_the_database_is_gone,
    every_response_carries_a_request_id,
    a_plain_request_id_from_the_caller_is_kept_and_an_unsafe_one_replaced,
);

async fn healthz_answers_while_the_process_is_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

async fn readyz_answers_ready_when_the_database_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], backend.label());
}

async fn readyz_answers_503_when_the_database_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.db.close().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    // The process itself is still up.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.get("/healthz").await;
    let second = app.get("/no-such-page").await;
    let id = |r: &reqwest::Response| r.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
    let (a, b) = (id(&first), id(&second));
    assert_eq!(a.len(), 36, "a generated id is a UUID: {a}");
    assert_ne!(a, b);
}

async fn a_plain_request_id_from_the_caller_is_kept_and_an_unsafe_one_replaced(backend: Backend) {
    let app = spawn_app(backend).await;
    let kept = app.client.get(app.url("/healthz")).header("x-request-id", "edge-42.a_b").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "edge-42.a_b");
    let replaced = app.client.get(app.url("/healthz")).header("x-request-id", "x y<script>").send().await.unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "x y<script>");
}
