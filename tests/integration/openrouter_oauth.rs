//! Connecting OpenRouter with OAuth PKCE, against a stand-in that speaks OpenRouter's
//! wire format, and against the built-in sandbox.

use std::collections::HashMap;

use tollgate::server::infra::db::Backend;
use tollgate::server::services::keys;
use tollgate::shared::dto::keys::Provider;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::provider_standin::{Consent, ProviderStandIn};

backend_tests!(
    connecting_stores_the_key_openrouter_issues_and_returns_where_the_person_was,
    a_tampered_state_stores_nothing_and_the_attempt_cannot_be_replayed,
    a_denied_consent_stores_nothing,
    a_failed_exchange_stores_nothing,
    connecting_needs_a_signed_in_person,
    the_sandbox_consent_page_connects_without_leaving_the_machine,
);

async fn app_with_standin(backend: Backend) -> (TestApp, ProviderStandIn) {
    let standin = ProviderStandIn::start().await;
    let settings = standin.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (spawn_app_with(backend, &pairs).await, standin)
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|v| v.to_str().ok()).expect("a redirect").to_string()
}

fn query_of(url: &str) -> HashMap<String, String> {
    let parsed = url::Url::parse(url).or_else(|_| url::Url::parse(&format!("http://x{url}"))).unwrap();
    parsed.query_pairs().into_owned().collect()
}

/// Starts connecting and follows the browser to the consent page; returns the consent
/// page address.
async fn start(app: &TestApp, client: &reqwest::Client, next: &str) -> String {
    let res = client.get(app.url(&format!("/connect/openrouter?next={next}"))).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    location(&res)
}

/// Visits the consent page (the stand-in answers at once) and returns the callback address.
async fn consent(client: &reqwest::Client, consent_url: &str) -> String {
    let res = client.get(consent_url).send().await.unwrap();
    assert!(res.status().is_redirection(), "consent: {}", res.status());
    location(&res)
}

async fn stored_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from provider_key").fetch_one(app.db.pool()).await.unwrap()
}

async fn connecting_stores_the_key_openrouter_issues_and_returns_where_the_person_was(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let consent_url = start(&app, &ada, "/credits%3Ftab%3Dgift-codes").await;
    assert!(consent_url.starts_with(&format!("{}auth?", standin.url())), "{consent_url}");
    let q = query_of(&consent_url);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "base64url of a SHA-256");
    let callback = url::Url::parse(&q["callback_url"]).unwrap();
    assert_eq!(callback.path(), "/connect/openrouter/callback");
    assert_eq!(callback.port(), Some(app.addr.port()), "the callback is this server");
    assert!(query_of(callback.as_str()).contains_key("state"));

    let back = consent(&ada, &consent_url).await;
    let res = ada.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/credits?tab=gift-codes&notice=openrouter_connected");

    // The exchange sent the verifier behind the challenge, and the issued key is stored.
    let exchanges = standin.exchanges();
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0]["code_challenge_method"], "S256");
    assert_eq!(
        tollgate::server::adapters::providers::s256(exchanges[0]["code_verifier"].as_str().unwrap()),
        q["code_challenge"]
    );
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    let key = keys::usable_key(&app.state, &id, Provider::OpenRouter).await.unwrap();
    assert_eq!(key.as_deref(), Some(standin.issued()[0].as_str()));
    let listed: serde_json::Value = app.call(&ada, "provider_keys", &[]).await.json().await.unwrap();
    assert_eq!(listed[1]["key"]["source"], "oauth");
    assert_eq!(listed[1]["key"]["status"], "valid");

    // The same callback again: the attempt is spent.
    let res = ada.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_used");
    assert_eq!(standin.exchanges().len(), 1, "no second exchange");
}

async fn a_tampered_state_stores_nothing_and_the_attempt_cannot_be_replayed(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let back = consent(&ada, &start(&app, &ada, "/credits").await).await;
    let state = query_of(&back)["state"].clone();
    let tampered = back.replace(&state, &format!("{state}x"));
    let res = ada.get(&tampered).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_state");
    // The genuine callback after a tampered one: the attempt was used up.
    let res = ada.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_used");
    assert!(standin.exchanges().is_empty(), "no code was exchanged");
    assert_eq!(stored_count(&app).await, 0);

    // Another person's callback (their state, this session): refused too.
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    let bobs_back = consent(&bob, &start(&app, &bob, "/credits").await).await;
    let _adas_attempt = start(&app, &ada, "/credits").await;
    let res = ada.get(&bobs_back).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_state");
    assert_eq!(stored_count(&app).await, 0);
}

async fn a_denied_consent_stores_nothing(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    standin.set_consent(Consent::Deny);
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let back = consent(&ada, &start(&app, &ada, "/credits").await).await;
    assert_eq!(query_of(&back)["error"], "access_denied");
    let res = ada.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_denied");
    assert!(standin.exchanges().is_empty());
    assert_eq!(stored_count(&app).await, 0);
}

async fn a_failed_exchange_stores_nothing(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    standin.set_consent(Consent::FailExchange);
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let back = consent(&ada, &start(&app, &ada, "/credits").await).await;
    let res = ada.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_exchange");
    assert_eq!(standin.exchanges().len(), 1);
    assert_eq!(stored_count(&app).await, 0);

    // A code the provider does not know (403) ends the same way.
    standin.set_consent(Consent::Approve);
    let back = consent(&ada, &start(&app, &ada, "/credits").await).await;
    let code = query_of(&back)["code"].clone();
    let res = ada.get(back.replace(&code, "code-unknown")).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_exchange");
    assert_eq!(stored_count(&app).await, 0);
}

async fn connecting_needs_a_signed_in_person(backend: Backend) {
    let (app, standin) = app_with_standin(backend).await;
    let stranger = app.browser();
    let res = stranger.get(app.url("/connect/openrouter?next=/credits")).send().await.unwrap();
    let to = location(&res);
    assert!(to.starts_with("/signin?next=%2Fconnect%2Fopenrouter"), "{to}");
    let res = stranger.get(app.url("/connect/openrouter/callback?state=x&code=y")).send().await.unwrap();
    assert!(location(&res).starts_with("/signin"));
    assert!(standin.exchanges().is_empty());
    // An address outside this site is never where the flow returns.
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let back = consent(&ada, &start(&app, &ada, "https://evil.example/").await).await;
    let res = ada.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/credits?notice=openrouter_connected");
}

async fn the_sandbox_consent_page_connects_without_leaving_the_machine(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let consent_url = start(&app, &ada, "/settings/api-keys").await;
    assert!(consent_url.starts_with(&format!("http://{}/sandbox/openrouter/auth?", app.addr)), "{consent_url}");
    let q = query_of(&consent_url);
    // The page asks the server for its two ways out.
    let form = [
        ("callback_url", q["callback_url"].as_str()),
        ("code_challenge", q["code_challenge"].as_str()),
        ("code_challenge_method", "S256"),
    ];
    let res = app.call(&ada, "sandbox_openrouter_consent", &form).await;
    assert_eq!(res.status(), 200);
    let ways: serde_json::Value = res.json().await.unwrap();
    let res = ada.get(ways["allow_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=openrouter_connected");
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    assert!(keys::usable_key(&app.state, &id, Provider::OpenRouter).await.unwrap().unwrap().starts_with("sk-or-v1-"));

    // The sandbox sends codes only to this site's own callback.
    let foreign = [("callback_url", "https://evil.example/connect/openrouter/callback"), form[1], form[2]];
    let res = app.call(&ada, "sandbox_openrouter_consent", &foreign).await;
    assert_eq!(res.status(), 422);
    let plain = [form[0], form[1], ("code_challenge_method", "plain")];
    assert_eq!(app.call(&ada, "sandbox_openrouter_consent", &plain).await.status(), 422);
}
