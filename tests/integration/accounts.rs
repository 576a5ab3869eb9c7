//! Sign-up, sign-in, sessions, throttling, CSRF and sign-up credits, over HTTP.

use tollgate::server::auth::users;
use tollgate::server::db::Backend;

use crate::helpers::{spawn_app, spawn_app_with};

backend_tests!(
    signing_up_creates_an_account_with_five_dollars_and_signs_in,
    sign_up_refuses_bad_input_and_taken_emails_and_writes_nothing,
    signing_in_checks_the_password_and_cycles_the_session_id,
    signing_out_destroys_the_session,
    failed_sign_ins_are_slowed_then_refused_with_429_but_not_forever,
    cross_site_state_changes_are_refused,
    the_sign_up_credit_is_granted_exactly_once_under_concurrent_retries,
    session_cookies_are_http_only_same_site_lax_and_secure_on_https,
    sessions_end_at_their_absolute_lifetime,
    pages_that_need_an_account_send_visitors_to_sign_in,
    many_failures_from_one_address_are_refused_across_emails,
    sign_up_credit_can_be_turned_off,
);

async fn signing_up_creates_an_account_with_five_dollars_and_signs_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("  Ada@Example.com ", "correct horse battery").await;
    let (status, me) = app.me(&client).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["balance"]["available_micros"], 5_000_000);
    assert_eq!(me["balance"]["available"], "$5.00");
    let history = app.db.pool();
    let grants: i64 = sqlx::query_scalar("select count(*) from transfer where code = 'signup_grant'").fetch_one(history).await.unwrap();
    assert_eq!(grants, 1);
}

async fn sign_up_refuses_bad_input_and_taken_emails_and_writes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.browser();
    let cases = [
        ("not-an-email", "long enough pw", "email"),
        ("", "long enough pw", "email"),
        ("bob@example.com", "short", "password"),
        ("bob@example.com", &"x".repeat(129), "password"),
    ];
    for (email, password, field) in cases {
        let res = app.call(&client, "sign_up", &[("email", email), ("password", password)]).await;
        assert_eq!(res.status(), 422, "{email:?}/{password:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["field"], field, "{body}");
    }
    let users: i64 = sqlx::query_scalar("select count(*) from app_user").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(users, 0);

    app.signed_up("bob@example.com", "long enough pw").await;
    let res = app.call(&app.browser(), "sign_up", &[("email", "BOB@example.com"), ("password", "another long pw")]).await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("already exists"), "{body}");
    let users: i64 = sqlx::query_scalar("select count(*) from app_user").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(users, 1);
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tollgate_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

async fn signing_in_checks_the_password_and_cycles_the_session_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.browser();
    let res = app.call(&client, "sign_up", &[("email", "cy@example.com"), ("password", "first password")]).await;
    let first = session_cookie(&res).expect("sign-up starts a session");

    for (email, password) in [("cy@example.com", "wrong password"), ("nobody@example.com", "first password")] {
        let res = app.call(&app.browser(), "sign_in", &[("email", email), ("password", password)]).await;
        assert_eq!(res.status(), 422);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["message"], "Wrong email or password.", "the same answer for both");
    }

    let res = app.call(&client, "sign_in", &[("email", "CY@example.com"), ("password", "first password")]).await;
    assert_eq!(res.status(), 200);
    let second = session_cookie(&res).expect("signing in sets a new session cookie");
    assert_ne!(first, second, "the session id changes at sign-in");
    assert_eq!(app.me(&client).await.0, 200);
    // The id from before sign-in no longer works.
    let stale = app.client.get(app.url("/api/v1/me")).header("cookie", &first).send().await.unwrap();
    assert_eq!(stale.status(), 401);
}

async fn signing_out_destroys_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.browser();
    let res = app.call(&client, "sign_up", &[("email", "out@example.com"), ("password", "a good password")]).await;
    let cookie = session_cookie(&res).unwrap();
    assert_eq!(app.call(&client, "sign_out", &[]).await.status(), 200);
    assert_eq!(app.me(&client).await.0, 401);
    let replay = app.client.get(app.url("/api/v1/me")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(replay.status(), 401, "a copied cookie is dead too");
    let sessions: i64 = sqlx::query_scalar("select count(*) from session").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(sessions, 0);
}

async fn failed_sign_ins_are_slowed_then_refused_with_429_but_not_forever(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("victim@example.com", "the real password").await;
    let client = app.browser();
    for attempt in 1..=6 {
        let res = app.call(&client, "sign_in", &[("email", "victim@example.com"), ("password", "guess")]).await;
        assert_eq!(res.status(), 422, "attempt {attempt}");
    }
    let res = app.call(&client, "sign_in", &[("email", "victim@example.com"), ("password", "the real password")]).await;
    assert_eq!(res.status(), 429, "blocked, even with the right password");
    let body: serde_json::Value = res.json().await.unwrap();
    let wait = body["retry_after_secs"].as_u64().unwrap();
    assert!((1..=30).contains(&wait), "{body}");
    // Other accounts are not affected.
    app.signed_up("other@example.com", "other password").await;
    let ok = app.call(&app.browser(), "sign_in", &[("email", "other@example.com"), ("password", "other password")]).await;
    assert_eq!(ok.status(), 200);
    // When the block runs out, the owner gets in.
    sqlx::query("update auth_throttle set blocked_until_ms = 0").execute(app.db.pool()).await.unwrap();
    let res = app.call(&client, "sign_in", &[("email", "victim@example.com"), ("password", "the real password")]).await;
    assert_eq!(res.status(), 200);
}

async fn cross_site_state_changes_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("csrf@example.com", "a good password").await;
    let evil = client.post(app.url("/api/sign_out")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(evil.status(), 403);
    let evil = client.post(app.url("/api/tokens_create")).header("sec-fetch-site", "cross-site").form(&[("name", "x")]).send().await.unwrap();
    assert_eq!(evil.status(), 403);
    assert_eq!(app.me(&client).await.0, 200, "still signed in");
    let own = client.post(app.url("/api/sign_out")).header("origin", format!("http://{}", app.addr)).send().await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(app.me(&client).await.0, 401);
}

async fn the_sign_up_credit_is_granted_exactly_once_under_concurrent_retries(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = users::create(&app.db, "grant@example.com", "a good password", users::Role::User).await.unwrap();
    let ledger = tollgate::server::ledger::Ledger::new(app.db.clone(), tollgate::server::ledger::Clock::System).await.unwrap();
    let grant = users::SignupGrant { amount: tollgate::money::Micros::from_usd(5), expires_after_days: Some(90) };
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (ledger, user) = (ledger.clone(), user.clone());
            tokio::spawn(async move { users::ensure_signup_grant(&ledger, &user, grant).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for _ in 0..2 {
        let res = app.call(&app.browser(), "sign_in", &[("email", "grant@example.com"), ("password", "a good password")]).await;
        assert_eq!(res.status(), 200);
    }
    let wallet = ledger.find_wallet(&user.id).await.unwrap().unwrap();
    assert_eq!(ledger.balance(wallet).await.unwrap().posted, tollgate::money::Micros::from_usd(5));
    let lot_expiry: Option<i64> = sqlx::query_scalar("select expires_at_ms from credit_lot").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(lot_expiry, Some(user.created_at_ms + 90 * 86_400_000), "a promotional lot that expires");
}

async fn session_cookies_are_http_only_same_site_lax_and_secure_on_https(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.call(&app.browser(), "sign_up", &[("email", "c@example.com"), ("password", "a good password")]).await;
    let cookie = res.headers().get_all("set-cookie").iter().find_map(|v| v.to_str().ok().filter(|c| c.starts_with("tollgate_session="))).unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");

    let https = spawn_app_with(backend, &[("TOLLGATE_PUBLIC_URL", "https://billing.example.com")]).await;
    let res = https.call(&https.browser(), "sign_up", &[("email", "c@example.com"), ("password", "a good password")]).await;
    let cookie = res.headers().get_all("set-cookie").iter().find_map(|v| v.to_str().ok().filter(|c| c.starts_with("tollgate_session="))).unwrap().to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
}

async fn sessions_end_at_their_absolute_lifetime(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("old@example.com", "a good password").await;
    assert_eq!(app.me(&client).await.0, 200);
    // Pretend the sign-in happened 31 days ago (the limit is 30).
    let (id, data): (String, String) = sqlx::query_as("select id, data from session").fetch_one(app.db.pool()).await.unwrap();
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
    data["signed_in_at_ms"] = serde_json::json!(tollgate::server::installation::now_ms() - 31 * 86_400_000);
    sqlx::query("update session set data = $1 where id = $2").bind(data.to_string()).bind(&id).execute(app.db.pool()).await.unwrap();
    assert_eq!(app.me(&client).await.0, 401);
}

async fn pages_that_need_an_account_send_visitors_to_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    for (page, next) in [("/credits", "/credits"), ("/settings/api-tokens", "/settings/api-tokens")] {
        let res = app.client.get(app.url(page)).header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.status(), 302, "{page}");
        assert_eq!(res.headers()["location"], format!("/signin?next={next}"));
    }
    let client = app.signed_up("page@example.com", "a good password").await;
    let res = client.get(app.url("/credits")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("$5.00") && html.contains("page@example.com"), "balance and email are rendered");
}

async fn many_failures_from_one_address_are_refused_across_emails(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.browser();
    // 20 failures from one address are free; the 21st blocks the address.
    for i in 0..21 {
        let email = format!("guess{i}@example.com");
        let res = app.call(&client, "sign_in", &[("email", email.as_str()), ("password", "wrong guess")]).await;
        assert_eq!(res.status(), 422, "attempt {i}");
    }
    let res = app.call(&client, "sign_in", &[("email", "fresh@example.com"), ("password", "any password")]).await;
    assert_eq!(res.status(), 429);
}

async fn sign_up_credit_can_be_turned_off(backend: Backend) {
    let app = spawn_app_with(backend, &[("TOLLGATE_SIGNUP_CREDIT_USD", "0")]).await;
    let client = app.signed_up("nocredit@example.com", "a good password").await;
    let (_, me) = app.me(&client).await;
    assert_eq!(me["balance"]["available_micros"], 0);
    let transfers: i64 = sqlx::query_scalar("select count(*) from transfer").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(transfers, 0);
}
