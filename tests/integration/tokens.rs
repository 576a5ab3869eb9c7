//! API tokens and who may touch what.

use tollgate::server::infra::db::Backend;
use tollgate::server::services::accounts::users;

use crate::helpers::spawn_app;

backend_tests!(
    a_token_authenticates_the_json_api_until_revoked,
    people_cannot_see_or_revoke_each_others_tokens,
    server_functions_and_api_routes_refuse_anonymous_callers,
    admin_routes_check_the_role,
);

async fn create_token(app: &crate::helpers::TestApp, client: &reqwest::Client, name: &str) -> serde_json::Value {
    let res = app.call(client, "tokens_create", &[("name", name)]).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn a_token_authenticates_the_json_api_until_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("tok@example.com", "a good password").await;
    let made = create_token(&app, &client, "build server").await;
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("tg_") && secret.len() == 67, "{secret}");
    let stored: String = sqlx::query_scalar("select token_hash from api_token").fetch_one(app.db.pool()).await.unwrap();
    assert!(!stored.contains(&secret[3..]), "only a hash is stored");

    let me = app.client.get(app.url("/api/v1/me")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<serde_json::Value>().await.unwrap()["email"], "tok@example.com");

    let list: serde_json::Value = app.call(&client, "tokens_list", &[]).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "build server");
    assert!(list[0]["last_used_at_ms"].as_i64().is_some(), "use is recorded");
    assert!(list.to_string().find(&secret).is_none(), "the list never shows the secret");

    let id = made["info"]["id"].as_str().unwrap();
    assert_eq!(app.call(&client, "tokens_revoke", &[("id", id)]).await.status(), 200);
    let after = app.client.get(app.url("/api/v1/me")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(after.status(), 401);
    assert_eq!(after.headers()["www-authenticate"], "Bearer");
    let wrong = app.client.get(app.url("/api/v1/me")).bearer_auth("tg_0000").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(app.call(&client, "tokens_revoke", &[("id", id)]).await.status(), 404, "revoked once");
}

async fn people_cannot_see_or_revoke_each_others_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_up("alice@example.com", "alice password").await;
    let bob = app.signed_up("bob@example.com", "bob's password").await;
    let made = create_token(&app, &alice, "alice laptop").await;
    let id = made["info"]["id"].as_str().unwrap();
    assert_eq!(app.call(&bob, "tokens_revoke", &[("id", id)]).await.status(), 404);
    let bobs: serde_json::Value = app.call(&bob, "tokens_list", &[]).await.json().await.unwrap();
    assert_eq!(bobs, serde_json::json!([]));
    let secret = made["secret"].as_str().unwrap();
    let me = app.client.get(app.url("/api/v1/me")).bearer_auth(secret).send().await.unwrap();
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["email"],
        "alice@example.com",
        "still Alice's, still working"
    );
    // A token for one user never reads another's balance.
    let (_, bob_me) = app.me(&bob).await;
    assert_eq!(bob_me["email"], "bob@example.com");
}

async fn server_functions_and_api_routes_refuse_anonymous_callers(backend: Backend) {
    let app = spawn_app(backend).await;
    let anon = app.browser();
    for name in ["tokens_list", "tokens_create", "tokens_revoke"] {
        let res = app.call(&anon, name, &[("name", "x"), ("id", "x")]).await;
        assert_eq!(res.status(), 401, "{name}");
    }
    assert_eq!(app.me(&anon).await.0, 401);
    assert_eq!(app.get("/api/v1/admin/audit").await.status(), 401);
    let account: serde_json::Value = app.call(&anon, "account", &[]).await.json().await.unwrap();
    assert_eq!(account, serde_json::Value::Null);
}

async fn admin_routes_check_the_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("admin@example.com", "a good password").await;
    assert_eq!(client.get(app.url("/api/v1/admin/audit")).send().await.unwrap().status(), 403);
    let user = users::find_by_email(&app.db, "admin@example.com").await.unwrap().unwrap();
    users::set_role(&app.db, &user.id, users::Role::Admin).await.unwrap();
    let res = client.get(app.url("/api/v1/admin/audit")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["clean"], true);
    assert_eq!(body["wallets"], 1);
}
