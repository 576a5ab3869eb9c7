//! Notice emails: sent through a real SMTP exchange to a local stand-in when `smtp_url`
//! is set, once per notice however many instances run, retried when the mail server
//! refuses, and not at all by default.

use std::time::Duration;

use tollgate::server::infra::db::Backend;
use tollgate::shared::money::Micros;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const WITHIN: Duration = Duration::from_secs(15);

async fn wait_for<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    crate::helpers::wait_for(what, WITHIN, check).await
}
use crate::smtp_standin::{Received, SmtpStandIn};

backend_tests!(
    a_notice_is_mailed_once_to_its_owner_by_two_instances,
    a_refused_email_is_tried_again,
    no_email_is_sent_without_an_smtp_url,
);

async fn delivery(app: &TestApp) -> Vec<(String, i64, Option<String>)> {
    sqlx::query_as("select status, attempts, last_error from email_delivery order by event_id")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
}

async fn a_notice_is_mailed_once_to_its_owner_by_two_instances(backend: Backend) {
    let smtp = SmtpStandIn::start().await;
    let url = smtp.url();
    let settings = [("TOLLGATE_SMTP_URL", url.as_str()), ("TOLLGATE_SMTP_FROM", "Billing <billing@example.com>")];
    let a = spawn_app_with(backend, &settings).await;
    let b = a.second_instance_with(&settings).await;
    // A $10 threshold: the $5 sign-up credit is under it from the start (`balance.low`).
    a.state.ledger.set_low_balance(Micros::from_usd(10)).await.unwrap();
    a.signed_up("ada@example.com", "correct horse battery").await;
    b.signed_up("bo@example.com", "correct horse battery").await;

    let got: Vec<Received> = wait_for("two emails", async || {
        let got = smtp.received();
        (got.len() >= 2).then_some(got)
    })
    .await;
    // Both instances had time to take them up: still one each.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got_later = smtp.received();
    assert_eq!(got_later.len(), 2, "each notice is mailed once: {got_later:#?}");
    let mut to: Vec<String> = got.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["ada@example.com", "bo@example.com"]);
    for m in &got {
        assert_eq!(m.from, "billing@example.com");
        assert_eq!(m.header("Subject").as_deref(), Some("Tollgate: Your balance is low"));
        assert!(m.header("From").unwrap().contains("billing@example.com"));
        let body = m.body();
        assert!(
            body.contains("Your available balance fell to $5.00, under $10.00. Add credits, or turn on auto top-up."),
            "{body}"
        );
        assert!(body.contains(&a.url("/credits")) || body.contains("/credits"), "{body}");
    }
    let rows = delivery(&a).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(status, attempts, _)| status == "sent" && *attempts == 1), "{rows:?}");
    // Calls and purchases are not notices: nothing more is mailed.
    let ada = a.signed_in("ada@example.com", "correct horse battery").await;
    let res = ada
        .post(a.url("/api/v1/run/fal-ai/flux/schnell"))
        .json(&serde_json::json!({"prompt": "a fox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(smtp.received().len(), 2);
}

async fn a_refused_email_is_tried_again(backend: Backend) {
    let smtp = SmtpStandIn::start().await;
    smtp.refuse_next(1);
    let url = smtp.url();
    let app = spawn_app_with(backend, &[("TOLLGATE_SMTP_URL", url.as_str())]).await;
    app.state.ledger.set_low_balance(Micros::from_usd(10)).await.unwrap();
    app.signed_up("ada@example.com", "correct horse battery").await;
    // The first attempt is refused: kept, with why, for a later attempt.
    let (attempts, error) = wait_for("the refused attempt", async || {
        delivery(&app).await.into_iter().find(|(s, a, _)| s == "pending" && *a == 1).map(|(_, a, e)| (a, e))
    })
    .await;
    assert_eq!(attempts, 1);
    let error = error.unwrap();
    assert!(error.contains("451") || error.contains("Try again later"), "{error}");
    assert!(smtp.received().is_empty());
    // Its pause is over (as if 10 s passed): it goes out, once.
    sqlx::query("update email_delivery set next_attempt_at_ms = 0").execute(app.db.pool()).await.unwrap();
    let got = wait_for("the email", async || {
        let got = smtp.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["ada@example.com"]);
    let rows = delivery(&app).await;
    assert_eq!(rows, [("sent".to_string(), 2, None)]);
}

async fn no_email_is_sent_without_an_smtp_url(backend: Backend) {
    let app = spawn_app(backend).await;
    assert!(app.state.config.smtp_url.is_none(), "off by default");
    app.state.ledger.set_low_balance(Micros::from_usd(10)).await.unwrap();
    app.signed_up("ada@example.com", "correct horse battery").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(delivery(&app).await.is_empty());
    // A bad address is refused when the settings load, naming the setting, without
    // repeating the password.
    let env = |k: &str| (k == "TOLLGATE_SMTP_URL").then(|| "imap://ana:hunter2@mail.example.com".to_string());
    let err = tollgate::server::infra::config::Config::load(None, &env).unwrap_err().to_string();
    assert!(err.contains("smtp_url") && err.contains("imap"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let err = tollgate::server::infra::config::SmtpUrl::parse("mail.example.com:hunter2").unwrap_err();
    assert!(!err.contains("hunter2"), "{err}");
    let url = tollgate::server::infra::config::SmtpUrl::parse("smtps://ana:hunter2@mail.example.com:465").unwrap();
    assert!(!format!("{url:?}").contains("hunter2"));
    assert_eq!(url.server(), "smtps://mail.example.com:465");
}
