//! Sign-up, sign-in, sessions, throttling, CSRF and sign-up credits, over HTTP.

use tollgate::server::infra::db::Backend;
use tollgate::server::services::accounts::users;

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
    parallel_guesses_cannot_outrun_the_limit,
    a_sign_in_posted_from_another_site_is_refused_even_without_a_cookie,
    sign_ups_from_one_address_are_limited,
    turning_the_sign_up_credit_on_later_pays_no_existing_account,
    an_active_session_is_kept_alive_past_its_idle_timeout,
    behind_a_proxy_the_forwarded_address_is_the_one_limited,
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
    let grants: i64 = sqlx::query_scalar("select count(*) from transfer where code = 'signup_grant'")
        .fetch_one(history)
        .await
        .unwrap();
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
    let res =
        app.call(&app.browser(), "sign_up", &[("email", "BOB@example.com"), ("password", "another long pw")]).await;
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
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after));
    let body: serde_json::Value = res.json().await.unwrap();
    let wait = body["retry_after_secs"].as_u64().unwrap();
    assert!((1..=30).contains(&wait), "{body}");
    // Other accounts are not affected.
    app.signed_up("other@example.com", "other password").await;
    let ok =
        app.call(&app.browser(), "sign_in", &[("email", "other@example.com"), ("password", "other password")]).await;
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
    let evil = client
        .post(app.url("/api/tokens_create"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    assert_eq!(app.me(&client).await.0, 200, "still signed in");
    let own =
        client.post(app.url("/api/sign_out")).header("origin", format!("http://{}", app.addr)).send().await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(app.me(&client).await.0, 401);
}

async fn the_sign_up_credit_is_granted_exactly_once_under_concurrent_retries(backend: Backend) {
    let app = spawn_app(backend).await;
    let five = tollgate::shared::money::Micros::from_usd(5);
    let user = users::create(&app.db, "grant@example.com", "a good password", users::Role::User, five).await.unwrap();
    let ledger =
        tollgate::server::ledger::Ledger::new(app.db.clone(), tollgate::server::ledger::Clock::System).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (ledger, user) = (ledger.clone(), user.clone());
            tokio::spawn(async move { users::ensure_signup_grant(&ledger, &user, Some(90)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for _ in 0..2 {
        let res = app
            .call(&app.browser(), "sign_in", &[("email", "grant@example.com"), ("password", "a good password")])
            .await;
        assert_eq!(res.status(), 200);
    }
    let wallet = ledger.find_wallet(&user.id).await.unwrap().unwrap();
    assert_eq!(ledger.balance(wallet).await.unwrap().posted, tollgate::shared::money::Micros::from_usd(5));
    let lot_expiry: Option<i64> =
        sqlx::query_scalar("select expires_at_ms from credit_lot").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(lot_expiry, Some(user.created_at_ms + 90 * 86_400_000), "a promotional lot that expires");
}

async fn session_cookies_are_http_only_same_site_lax_and_secure_on_https(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.call(&app.browser(), "sign_up", &[("email", "c@example.com"), ("password", "a good password")]).await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| v.to_str().ok().filter(|c| c.starts_with("tollgate_session=")))
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");

    let https = spawn_app_with(backend, &[("TOLLGATE_PUBLIC_URL", "https://billing.example.com")]).await;
    let res =
        https.call(&https.browser(), "sign_up", &[("email", "c@example.com"), ("password", "a good password")]).await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| v.to_str().ok().filter(|c| c.starts_with("tollgate_session=")))
        .unwrap()
        .to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
}

async fn sessions_end_at_their_absolute_lifetime(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("old@example.com", "a good password").await;
    assert_eq!(app.me(&client).await.0, 200);
    // Pretend the sign-in happened 31 days ago (the limit is 30).
    let (id, data): (String, String) =
        sqlx::query_as("select id, data from session").fetch_one(app.db.pool()).await.unwrap();
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
    data["signed_in_at_ms"] = serde_json::json!(tollgate::server::infra::installation::now_ms() - 31 * 86_400_000);
    sqlx::query("update session set data = $1 where id = $2")
        .bind(data.to_string())
        .bind(&id)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(app.me(&client).await.0, 401);
}

async fn pages_that_need_an_account_send_visitors_to_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    for (page, next) in [
        ("/credits", "/credits"),
        ("/settings/api-tokens", "/settings/api-tokens"),
        ("/studio", "/studio"),
        ("/credits?tab=gift-codes&x=1", "/credits?tab=gift-codes%26x=1"),
    ] {
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

async fn parallel_guesses_cannot_outrun_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("burst@example.com", "the real password").await;
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let client = app.browser();
            let url = app.url("/api/sign_in");
            tokio::spawn(async move {
                let guess = format!("guess number {i}");
                let form = [("email", "burst@example.com"), ("password", guess.as_str())];
                client.post(url).form(&form).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            422 => checked += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(checked, 6, "five free attempts and the one that sets the block; the rest refused unchecked");
}

async fn a_sign_in_posted_from_another_site_is_refused_even_without_a_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("attacker@example.com", "attacker password").await;
    let victim = app.browser();
    let res = victim
        .post(app.url("/api/sign_in"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "attacker@example.com"), ("password", "attacker password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.me(&victim).await.0, 401, "the victim was not signed in to the attacker's account");
}

async fn sign_ups_from_one_address_are_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..11 {
        app.signed_up(&format!("farm{i}@example.com"), "a good password").await;
    }
    let res =
        app.call(&app.browser(), "sign_up", &[("email", "farm11@example.com"), ("password", "a good password")]).await;
    assert_eq!(res.status(), 429);
    let users: i64 = sqlx::query_scalar("select count(*) from app_user").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(users, 11);
}

async fn turning_the_sign_up_credit_on_later_pays_no_existing_account(backend: Backend) {
    let app = spawn_app_with(backend, &[("TOLLGATE_SIGNUP_CREDIT_USD", "0")]).await;
    app.signed_up("early@example.com", "a good password").await;
    // The same database, now served with the credit turned on.
    let later = crate::helpers::AppServer::build(
        crate::helpers::test_config(app.database_handle(), &[]),
        tollgate::ui::app::web_app(),
    )
    .await
    .unwrap();
    assert_eq!(later.state().config.signup_credit, tollgate::shared::money::Micros::from_usd(5));
    let user = users::find_by_email(&app.db, "early@example.com").await.unwrap().unwrap();
    users::ensure_signup_grant(&later.state().ledger, &user, Some(90)).await.unwrap();
    let transfers: i64 = sqlx::query_scalar("select count(*) from transfer").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(transfers, 0);
}

async fn an_active_session_is_kept_alive_past_its_idle_timeout(backend: Backend) {
    let app = spawn_app_with(backend, &[("TOLLGATE_SESSION_IDLE_HOURS", "1")]).await;
    let client = app.signed_up("active@example.com", "a good password").await;
    // Forty minutes later (seen long enough ago to be written back), still active.
    let (id, data): (String, String) =
        sqlx::query_as("select id, data from session").fetch_one(app.db.pool()).await.unwrap();
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
    let now = tollgate::server::infra::installation::now_ms();
    data["seen_at_ms"] = serde_json::json!(now - 40 * 60_000);
    sqlx::query("update session set data = $1, expires_at_ms = $2 where id = $3")
        .bind(data.to_string())
        .bind(now + 20 * 60_000)
        .bind(&id)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(app.me(&client).await.0, 200);
    let expires: i64 = sqlx::query_scalar("select expires_at_ms from session").fetch_one(app.db.pool()).await.unwrap();
    assert!(expires > now + 50 * 60_000, "the idle expiry moved forward");
}

async fn behind_a_proxy_the_forwarded_address_is_the_one_limited(backend: Backend) {
    let app = spawn_app_with(backend, &[("TOLLGATE_BEHIND_PROXY", "true")]).await;
    let client = app.browser();
    for i in 0..21 {
        let email = format!("p{i}@example.com");
        let res = client
            .post(app.url("/api/sign_in"))
            .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
            .form(&[("email", email.as_str()), ("password", "wrong guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
    }
    let blocked = client
        .post(app.url("/api/sign_in"))
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[("email", "new@example.com"), ("password", "wrong guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429, "the proxy-appended address is the client");
    let other = client
        .post(app.url("/api/sign_in"))
        .header("x-forwarded-for", "203.0.113.10")
        .form(&[("email", "new@example.com"), ("password", "wrong guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 422, "another client is not affected");
}
