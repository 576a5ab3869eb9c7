//! The "Get started" dialog is offered once per account, remembered on the server.

use tollgate::server::infra::db::Backend;

use crate::helpers::spawn_app;

backend_tests!(onboarding_is_offered_until_dismissed_on_any_device);

async fn onboarding(app: &crate::helpers::TestApp, client: &reqwest::Client) -> bool {
    let res = app.call(client, "account", &[]).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["onboarding"].as_bool().expect("an onboarding flag")
}

async fn onboarding_is_offered_until_dismissed_on_any_device(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    assert!(onboarding(&app, &ada).await, "a new account is offered it");
    assert!(onboarding(&app, &ada).await, "still offered until dismissed");
    assert_eq!(app.call(&ada, "onboarding_done", &[]).await.status(), 200);
    assert!(!onboarding(&app, &ada).await);
    // Another device: a new session for the same person.
    let laptop = app.browser();
    let res =
        app.call(&laptop, "sign_in", &[("email", "ada@example.com"), ("password", "correct horse battery")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    assert!(!onboarding(&app, &laptop).await, "dismissed everywhere");
    // Twice is harmless.
    assert_eq!(app.call(&ada, "onboarding_done", &[]).await.status(), 200);
    // Choosing "Connect OpenRouter" also counts as having seen it.
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    let _ = bob.get(app.url("/connect/openrouter")).send().await.unwrap();
    assert!(!onboarding(&app, &bob).await);
}
