//! Gift codes: redemption rules, races for the last use, guessing limits, admin views.

use tollgate::server::infra::config::SecretKey;
use tollgate::server::infra::db::Backend;
use tollgate::server::infra::installation::now_ms;
use tollgate::server::services::accounts::users;
use tollgate::server::services::gifts::{NewBatch, create_batch};
use tollgate::shared::money::Micros;

use crate::helpers::{TestApp, spawn_app};

backend_tests!(
    a_code_adds_its_credit_once_per_person_and_every_refusal_says_why,
    two_people_taking_the_last_use_at_once_exactly_one_wins,
    failed_redemptions_are_limited_per_person,
    codes_are_stored_only_as_keyed_hashes_and_admins_see_batches,
);

fn key() -> SecretKey {
    SecretKey(b"test-secret-key-0123456789abcdef0123456789".to_vec())
}

async fn make(app: &TestApp, amount: i64, count: u32, max_uses: u32, expires_at_ms: Option<i64>) -> Vec<String> {
    let batch = NewBatch {
        amount: Micros::from_usd(amount),
        count,
        max_uses,
        expires_at_ms,
        note: "test".into(),
        created_by: "test".into(),
    };
    create_batch(&app.db, &key(), &batch, now_ms()).await.unwrap()
}

async fn redeem(app: &TestApp, client: &reqwest::Client, code: &str) -> (u16, serde_json::Value) {
    let res = app.call(client, "gift_redeem", &[("code", code)]).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn a_code_adds_its_credit_once_per_person_and_every_refusal_says_why(backend: Backend) {
    let app = spawn_app(backend).await;
    let code = make(&app, 10, 1, 2, None).await.remove(0);
    assert!(code.starts_with("TG-") && code.len() == 17, "{code}");
    let alice = app.signed_up("alice@example.com", "a good password").await;
    let bob = app.signed_up("bob@example.com", "a good password").await;
    let carol = app.signed_up("carol@example.com", "a good password").await;

    let typed = format!("  {}  ", code.to_lowercase().replace('-', " "));
    assert_eq!(redeem(&app, &alice, &typed).await, (200, serde_json::json!(10_000_000)));
    let (status, body) = redeem(&app, &alice, &code).await;
    assert_eq!((status, body["message"].as_str().unwrap()), (422, "You have already redeemed this code."));
    assert_eq!(redeem(&app, &bob, &code).await.0, 200);
    let (status, body) = redeem(&app, &carol, &code).await;
    assert_eq!((status, body["message"].as_str().unwrap()), (422, "This code has been fully used."));
    let (status, body) = redeem(&app, &carol, "TG-0000-0000-0000").await;
    assert_eq!((status, body["message"].as_str().unwrap()), (422, "This code is not valid. Check it and try again."));
    let (_, body) = redeem(&app, &carol, "").await;
    assert_eq!(body["message"], "Enter a gift code.");

    let expired = make(&app, 5, 1, 1, Some(now_ms() + 1_000)).await.remove(0);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, body) = redeem(&app, &carol, &expired).await;
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().starts_with("This code expired on "), "{body}");

    let (_, me) = app.me(&alice).await;
    assert_eq!(me["balance"]["available_micros"], 15_000_000, "five to start, ten from the code");
    let gifts: serde_json::Value = app.call(&alice, "transactions", &[("filter", "gifts")]).await.json().await.unwrap();
    assert_eq!(gifts["rows"][0]["amount"], 10_000_000);
    assert_eq!(gifts["rows"][0]["code"], "gift_code");
    let (_, me) = app.me(&carol).await;
    assert_eq!(me["balance"]["available_micros"], 5_000_000, "refusals add nothing");
    assert!(app.client.get(app.url("/api/v1/admin/audit")).send().await.unwrap().status().is_client_error());
}

async fn two_people_taking_the_last_use_at_once_exactly_one_wins(backend: Backend) {
    let app = spawn_app(backend).await;
    let codes = make(&app, 3, 4, 1, None).await;
    let mut clients = Vec::new();
    for i in 0..8 {
        clients.push(app.signed_up(&format!("racer{i}@example.com"), "a good password").await);
    }
    for code in &codes {
        let attempts: Vec<_> = clients
            .iter()
            .map(|c| {
                let (c, url, code) = (c.clone(), app.url("/api/gift_redeem"), code.clone());
                tokio::spawn(async move {
                    c.post(url).form(&[("code", code.as_str())]).send().await.unwrap().status().as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for a in attempts {
            statuses.push(a.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{code}: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 7, "{code}: {statuses:?}");
    }
    let total: i64 = sqlx::query_scalar(
        "select coalesce(cast(sum(amount_micros) as bigint), 0) from transfer where code = 'gift_code'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(total, 4 * 3_000_000, "four codes, four credits");
    let ledger =
        tollgate::server::ledger::Ledger::new(app.db.clone(), tollgate::server::ledger::Clock::System).await.unwrap();
    assert!(ledger.audit().await.unwrap().is_clean());
}

async fn failed_redemptions_are_limited_per_person(backend: Backend) {
    let app = spawn_app(backend).await;
    let guesser = app.signed_up("guesser@example.com", "a good password").await;
    for i in 0..11 {
        let (status, _) = redeem(&app, &guesser, &format!("TG-AAAA-AAAA-{i:04}")).await;
        assert_eq!(status, 422, "guess {i}");
    }
    let (status, body) = redeem(&app, &guesser, "TG-AAAA-AAAA-9999").await;
    assert_eq!(status, 429, "{body}");
    // Someone else is not affected.
    let other = app.signed_up("other@example.com", "a good password").await;
    let code = make(&app, 1, 1, 1, None).await.remove(0);
    assert_eq!(redeem(&app, &other, &code).await.0, 200);
}

async fn codes_are_stored_only_as_keyed_hashes_and_admins_see_batches(backend: Backend) {
    let app = spawn_app(backend).await;
    let codes = make(&app, 10, 3, 1, None).await;
    let stored: Vec<(String, String)> =
        sqlx::query_as("select code_hash, display_suffix from gift_code").fetch_all(app.db.pool()).await.unwrap();
    for code in &codes {
        let bare = code.replace("TG-", "").replace('-', "");
        assert!(stored.iter().all(|(hash, _)| !hash.contains(&bare)), "no plaintext code in the database");
        assert!(stored.iter().any(|(_, suffix)| bare.ends_with(suffix.as_str())));
    }
    let client = app.signed_up("admin@example.com", "a good password").await;
    assert_eq!(app.call(&client, "admin_gift_batches", &[]).await.status(), 403);
    let user = users::find_by_email(&app.db, "admin@example.com").await.unwrap().unwrap();
    users::set_role(&app.db, &user.id, users::Role::Admin).await.unwrap();
    redeem(&app, &client, &codes[0]).await;
    let batches: serde_json::Value = app.call(&client, "admin_gift_batches", &[]).await.json().await.unwrap();
    assert_eq!(batches[0]["codes"], 3);
    assert_eq!(batches[0]["redemptions"], 1);
    let html = client.get(app.url("/admin/gift-codes")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("1 of 3"), "the admin page lists the batch");
}
