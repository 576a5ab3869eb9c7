//! Settings > API keys: saving, checking, sealing and removing people's own provider keys.

use serde_json::Value;
use tollgate::server::infra::cipher;
use tollgate::server::infra::db::Backend;
use tollgate::server::services::keys;
use tollgate::shared::dto::keys::Provider;

use crate::helpers::{TEST_MASTER_KEY, TestApp, spawn_app_with};
use crate::provider_standin::{FAL_KEY, OPENROUTER_KEY, ProviderStandIn};

backend_tests!(
    a_saved_key_is_sealed_at_rest_and_shown_only_by_its_last_four,
    a_key_the_provider_refuses_is_not_saved,
    malformed_keys_are_refused_before_the_provider_is_asked,
    a_key_that_could_not_be_checked_pays_for_nothing_until_a_test_passes,
    testing_a_revoked_key_stops_it_paying,
    removing_a_key_deletes_it_and_only_for_its_owner,
    key_functions_need_a_signed_in_caller,
    a_working_key_pays_and_anything_else_leaves_it_to_credits,
    provider_checks_are_limited_per_person,
);

async fn provider_checks_are_limited_per_person(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let unknown = "sk-or-v1-ffffffffffffffffffffffffffffffffffffffffffffffff";
    // 20 free checks; the one past them is answered and starts a block.
    for _ in 0..21 {
        assert_eq!(save(&app, &ada, "openrouter", unknown).await.0, 422);
    }
    let (status, body) = save(&app, &ada, "openrouter", unknown).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(standin.key_checks(), 21, "the blocked attempt was not sent to the provider");
    // Someone else is not slowed by Ada's attempts.
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    assert_eq!(save(&app, &bob, "fal", FAL_KEY).await.0, 200);
}

async fn app_with_standin(backend: Backend) -> (TestApp, ProviderStandIn) {
    let standin = ProviderStandIn::start().await;
    let settings = standin.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (spawn_app_with(backend, &pairs).await, standin)
}

async fn save(app: &TestApp, client: &reqwest::Client, provider: &str, key: &str) -> (u16, Value) {
    let res = app.call(client, "provider_key_save", &[("provider", provider), ("key", key)]).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn slots(app: &TestApp, client: &reqwest::Client) -> Value {
    let res = app.call(client, "provider_keys", &[]).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn master() -> cipher::KeyCipher {
    let key = tollgate::server::infra::config::parse_master_key(TEST_MASTER_KEY).unwrap();
    cipher::KeyCipher::new(&key)
}

async fn user_id(app: &TestApp, client: &reqwest::Client) -> String {
    app.me(client).await.1["id"].as_str().expect("an id").to_string()
}

async fn a_saved_key_is_sealed_at_rest_and_shown_only_by_its_last_four(backend: Backend) {
    let (app, _standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (status, body) = save(&app, &ada, "fal", &format!("  {FAL_KEY}\n")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key"]["status"], "valid");
    assert_eq!(body["key"]["last4"], "1234");
    assert!(!body.to_string().contains(&FAL_KEY[10..]), "the key never comes back");
    let listed = slots(&app, &ada).await;
    assert_eq!(listed[0]["provider"], "fal");
    assert_eq!(listed[0]["key"]["last4"], "1234");
    assert_eq!(listed[1]["provider"], "openrouter");
    assert!(listed[1]["key"].is_null());
    assert!(!listed.to_string().contains(&FAL_KEY[10..]));

    // At rest: sealed, bound to its owner, and it opens back to exactly what was pasted.
    let id = user_id(&app, &ada).await;
    let sealed: String = sqlx::query_scalar("select sealed_key from provider_key where user_id = $1")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(!sealed.contains(&FAL_KEY[10..]));
    let bound = cipher::binding(&id, "fal");
    assert_eq!(master().open(&sealed, &bound).unwrap(), FAL_KEY);
    assert!(master().open(&sealed, &cipher::binding("someone-else", "fal")).is_err());
    assert_eq!(keys::usable_key(&app.state, &id, Provider::Fal).await.unwrap().as_deref(), Some(FAL_KEY));
    assert_eq!(keys::usable_key(&app.state, &id, Provider::OpenRouter).await.unwrap(), None);

    if backend == Backend::Sqlite {
        // Nowhere in the database files, the write-ahead log included.
        let dir = app.database_handle().data_dir();
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
            let secret = &FAL_KEY.as_bytes()[37..];
            assert!(!bytes.windows(secret.len()).any(|w| w == secret), "plaintext key found in a database file");
        }
    }

    // Replacing keeps one row, with the new key.
    let (status, body) = save(&app, &ada, "openrouter", OPENROUTER_KEY).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["message"].as_str().unwrap().contains("cost no credits"));
    let count: i64 = sqlx::query_scalar("select count(*) from provider_key").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(count, 2);
}

async fn a_key_the_provider_refuses_is_not_saved(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let unknown = "sk-or-v1-ffffffffffffffffffffffffffffffffffffffffffffffff";
    let (status, body) = save(&app, &ada, "openrouter", unknown).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "key");
    assert!(body["message"].as_str().unwrap().contains("refused this key"), "{body}");
    assert_eq!(standin.key_checks(), 1);
    let count: i64 = sqlx::query_scalar("select count(*) from provider_key").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(count, 0, "nothing stored");
}

async fn malformed_keys_are_refused_before_the_provider_is_asked(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    for (provider, key, expect) in [
        ("openrouter", "sk-proj-0123456789abcdef0123", "start with sk-or-"),
        ("fal", "0123456789abcdef0123456789abcdef", "an id, a colon"),
        ("fal", "", "Paste your fal.ai key"),
    ] {
        let (status, body) = save(&app, &ada, provider, key).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["message"].as_str().unwrap().contains(expect), "{body}");
    }
    let (status, body) = save(&app, &ada, "stripe", FAL_KEY).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("provider")));
    assert_eq!(standin.key_checks(), 0, "no request for a key that cannot be right");
}

async fn a_key_that_could_not_be_checked_pays_for_nothing_until_a_test_passes(backend: Backend) {
    // A provider address where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(backend, &[("TOLLGATE_FAL_API_BASE", &nowhere)]).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (status, body) = save(&app, &ada, "fal", FAL_KEY).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key"]["status"], "unchecked");
    assert!(body["message"].as_str().unwrap().contains("could not be checked"), "{body}");
    let id = user_id(&app, &ada).await;
    assert_eq!(keys::usable_key(&app.state, &id, Provider::Fal).await.unwrap(), None, "credits still pay");
    let res = app.call(&ada, "provider_key_test", &[("provider", "fal")]).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["key"]["status"], "unchecked", "not knowing is not a verdict: {body}");
}

async fn testing_a_revoked_key_stops_it_paying(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    assert_eq!(save(&app, &ada, "fal", FAL_KEY).await.0, 200);
    let id = user_id(&app, &ada).await;
    assert!(keys::usable_key(&app.state, &id, Provider::Fal).await.unwrap().is_some());

    let res = app.call(&ada, "provider_key_test", &[("provider", "fal")]).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["key"]["status"], "valid", "{body}");

    standin.revoke(FAL_KEY);
    let res = app.call(&ada, "provider_key_test", &[("provider", "fal")]).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["key"]["status"], "rejected", "{body}");
    assert!(body["message"].as_str().unwrap().contains("refused"), "{body}");
    assert_eq!(keys::usable_key(&app.state, &id, Provider::Fal).await.unwrap(), None, "a refused key pays for nothing");
    assert_eq!(slots(&app, &ada).await[0]["key"]["status"], "rejected");

    let res = app.call(&ada, "provider_key_test", &[("provider", "openrouter")]).await;
    assert_eq!(res.status(), 404, "no OpenRouter key to test");
}

async fn removing_a_key_deletes_it_and_only_for_its_owner(backend: Backend) {
    let (app, _standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    assert_eq!(save(&app, &ada, "fal", FAL_KEY).await.0, 200);
    let res = app.call(&bob, "provider_key_remove", &[("provider", "fal")]).await;
    assert_eq!(res.status(), 404, "Bob has no key; Ada's is untouched");
    assert!(slots(&app, &bob).await[0]["key"].is_null(), "Bob does not see Ada's key");
    assert!(!slots(&app, &ada).await[0]["key"].is_null());
    let res = app.call(&ada, "provider_key_remove", &[("provider", "fal")]).await;
    assert_eq!(res.status(), 200);
    assert!(slots(&app, &ada).await[0]["key"].is_null());
    let count: i64 = sqlx::query_scalar("select count(*) from provider_key").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(count, 0);
}

async fn key_functions_need_a_signed_in_caller(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let stranger = app.browser();
    for (name, form) in [
        ("provider_keys", vec![]),
        ("provider_key_save", vec![("provider", "fal"), ("key", FAL_KEY)]),
        ("provider_key_test", vec![("provider", "fal")]),
        ("provider_key_remove", vec![("provider", "fal")]),
        ("onboarding_done", vec![]),
    ] {
        let res = app.call(&stranger, name, &form).await;
        assert_eq!(res.status(), 401, "{name}");
    }
    assert_eq!(standin.key_checks(), 0);
}

async fn a_working_key_pays_and_anything_else_leaves_it_to_credits(backend: Backend) {
    use tollgate::server::services::billing::{Payer, payer_for};
    use tollgate::shared::error::AppError;
    use tollgate::shared::money::Micros;
    let (app, standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let id = user_id(&app, &ada).await;
    let (one, ten) = (Micros::from_usd(1), Micros::from_usd(10));
    // $5.00 of sign-up credit, no keys.
    assert_eq!(payer_for(&app.state, &id, Provider::Fal, one).await.unwrap(), Payer::Credits);
    let short = payer_for(&app.state, &id, Provider::Fal, ten).await.unwrap_err();
    assert_eq!(short, AppError::InsufficientCredits { needed_micros: 10_000_000, available_micros: 5_000_000 });
    assert_eq!(short.status_code(), 402);

    // A working fal key pays for fal, whatever the balance; OpenRouter still needs credits.
    assert_eq!(save(&app, &ada, "fal", FAL_KEY).await.0, 200);
    assert_eq!(payer_for(&app.state, &id, Provider::Fal, ten).await.unwrap(), Payer::OwnKey(FAL_KEY.into()));
    assert!(payer_for(&app.state, &id, Provider::OpenRouter, ten).await.is_err());

    // Once the provider refuses it, credits pay again and the check is back.
    standin.revoke(FAL_KEY);
    let _ = app.call(&ada, "provider_key_test", &[("provider", "fal")]).await;
    assert!(matches!(payer_for(&app.state, &id, Provider::Fal, ten).await, Err(AppError::InsufficientCredits { .. })));
    assert_eq!(payer_for(&app.state, &id, Provider::Fal, one).await.unwrap(), Payer::Credits);
}
