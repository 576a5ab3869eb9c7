//! The usage and billing JSON API, and the `tollgate` client commands against a server.

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::shared::format::utc_date;

use crate::helpers::{TestApp, spawn_app, visible};
use crate::provider_standin::FAL_KEY;

backend_tests!(
    usage_reports_count_credit_spend_and_calls,
    bad_parameters_are_refused_naming_the_field,
    the_cli_reports_usage_and_billing,
    the_credits_page_shows_usage_a_chart_and_the_history,
);

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, Value) {
    let res = client.get(app.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Ada's calls: 1 and 2 images with credits, a failure, and 1 image with her own key.
async fn some_calls(app: &TestApp) -> reqwest::Client {
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    for input in
        [json!({"prompt": "a"}), json!({"prompt": "b", "num_images": 2}), json!({"sandbox_failure": "server_error"})]
    {
        ada.post(app.url("/api/v1/run/fal-ai/flux/schnell")).json(&input).send().await.unwrap();
    }
    assert_eq!(app.call(&ada, "provider_key_save", &[("provider", "fal"), ("key", FAL_KEY)]).await.status(), 200);
    let res =
        ada.post(app.url("/api/v1/run/fal-ai/flux/schnell")).json(&json!({"prompt": "own"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    ada
}

async fn usage_reports_count_credit_spend_and_calls(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = some_calls(&app).await;
    let today = utc_date(tollgate::server::infra::installation::now_ms());

    let (status, usage) = get(&app, &ada, "/api/v1/usage?days=7").await;
    assert_eq!(status, 200, "{usage}");
    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 7, "every day, with zeros");
    assert_eq!(days[6]["date"], today.as_str());
    assert_eq!((days[6]["cost_micros"].as_i64(), days[6]["requests"].as_i64()), (Some(9_000), Some(4)));
    assert_eq!(days[6]["own_key_cost_micros"], 3_000, "shown, but not credit spend");
    assert_eq!((days[0]["cost_micros"].as_i64(), days[0]["requests"].as_i64()), (Some(0), Some(0)));
    assert_eq!((usage["total_micros"].as_i64(), usage["total"].as_f64()), (Some(9_000), Some(0.009)));
    assert_eq!(usage["balance"]["balance_micros"], 4_991_000);

    let (_, history) = get(&app, &ada, "/api/v1/usage/history?limit=2").await;
    let records = history["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!((records[0]["route"].as_str(), records[0]["paid_with"].as_str()), (Some("fal.ai"), Some("own_key")));
    assert_eq!((records[0]["cost"].as_i64(), records[0]["charged"].as_i64()), (Some(3_000), Some(0)));
    assert_eq!(
        (records[1]["status"].as_str(), records[1]["failure"].as_str()),
        (Some("failed"), Some("provider_error"))
    );
    let (_, all) = get(&app, &ada, "/api/v1/usage/history").await;
    let all = all["records"].as_array().unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!((all[3]["route"].as_str(), all[3]["model"].as_str()), (Some("tollgate"), Some("fal-ai/flux/schnell")));

    let (_, analytics) = get(&app, &ada, "/api/v1/usage/analytics?group_by=operation&bucket=hour").await;
    let series = analytics["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{analytics}");
    assert_eq!((series[0]["key"].as_str(), series[0]["cost_micros"].as_i64()), (Some("generateImage"), Some(9_000)));
    assert_eq!(series[0]["requests"], 4);
    let (_, by_day) = get(&app, &ada, &format!("/api/v1/usage/analytics?from={today}&to={today}")).await;
    assert_eq!(by_day["series"][0]["start"], today.as_str(), "{by_day}");
    assert_eq!(by_day["series"][0]["key"], "fal-ai/flux/schnell");

    // Someone else's usage is their own.
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    assert_eq!(get(&app, &bob, "/api/v1/usage").await.1["total_micros"], 0);
    assert_eq!(get(&app, &bob, "/api/v1/usage/history").await.1["records"], json!([]));

    let (_, balance) = get(&app, &ada, "/api/v1/balance").await;
    assert_eq!((balance["balance_micros"].as_i64(), balance["low_balance"].as_bool()), (Some(4_991_000), Some(false)));
    let (_, billing) = get(&app, &ada, "/api/v1/billing").await;
    assert_eq!(billing["purchases"], json!([]));

    // A checkout: its address and bonus; too small an amount is refused, nothing opened.
    let res = ada.post(app.url("/api/v1/billing/checkout")).json(&json!({"amount_usd": 25})).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let checkout: Value = res.json().await.unwrap();
    assert!(
        checkout["checkout_url"].as_str().unwrap().starts_with(&app.url("/sandbox/checkout/cs_sandbox_")),
        "{checkout}"
    );
    assert_eq!(checkout["amount_micros"], 25_000_000);
    let res = ada.post(app.url("/api/v1/billing/checkout")).json(&json!({"amount_usd": 4})).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "amount_usd");

    let (status, doc) = get(&app, &app.browser(), "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/v1/balance", "/api/v1/billing/checkout", "/api/v1/usage/analytics", "/api/v1/jobs/{job_id}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}

async fn bad_parameters_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    for (path, field) in [
        ("/api/v1/usage?days=0", "days"),
        ("/api/v1/usage?days=x", "days"),
        ("/api/v1/usage/history?limit=501", "limit"),
        ("/api/v1/usage/history?days=-1", "days"),
        ("/api/v1/usage/analytics?bucket=week", "bucket"),
        ("/api/v1/usage/analytics?group_by=user", "group_by"),
        ("/api/v1/usage/analytics?from=2026-02-31", "from"),
        ("/api/v1/usage/analytics?from=2026-02-02&to=2026-02-01", "from"),
        ("/api/v1/billing?limit=0", "limit"),
    ] {
        let (status, body) = get(&app, &ada, path).await;
        assert_eq!((status, body["error"]["field"].as_str()), (400, Some(field)), "{path}: {body}");
        assert_eq!(body["error"]["kind"], "validation");
    }
    for path in
        ["/api/v1/balance", "/api/v1/billing", "/api/v1/usage", "/api/v1/usage/history", "/api/v1/usage/analytics"]
    {
        assert_eq!(get(&app, &app.browser(), path).await.0, 401, "{path}");
    }
}

/// Runs the CLI against the app with a token; returns (exit status, stdout, stderr).
pub(crate) fn cli(app: &TestApp, home: &std::path::Path, token: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("TOLLGATE_URL", app.url("/"))
        .env("TOLLGATE_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_cli_reports_usage_and_billing(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = some_calls(&app).await;
    let token: Value = app.call(&ada, "tokens_create", &[("name", "cli")]).await.json().await.unwrap();
    let token = token["secret"].as_str().unwrap().to_string();
    // From here on her credits pay.
    assert_eq!(app.call(&ada, "provider_key_remove", &[("provider", "fal")]).await.status(), 200);
    let home = tempfile::tempdir().unwrap();
    let today = utc_date(tollgate::server::infra::installation::now_ms());

    let run = |args: &[&str]| cli(&app, home.path(), &token, args);
    let (code, out, err) = tokio::task::block_in_place(|| run(&["usage"]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "  Balance: $4.9910");
    assert_eq!(lines[2], "  Last 7 days:");
    assert_eq!(lines[4], "  Date         Cost       Requests");
    assert_eq!(lines[11], format!("  {today}   $0.0090    4"));
    assert_eq!(lines.last().copied(), Some("  Total: $0.0090"));
    assert!(!out.contains("Low balance"));

    let (code, out, _) = tokio::task::block_in_place(|| run(&["usage", "history", "--limit", "4", "--days", "1"]));
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("  Date         Provider   Model"), "{out}");
    assert!(lines[1].contains("fal.ai") && lines[1].ends_with("$0.0030 (own key)"), "{out}");
    assert!(lines[2].ends_with("$0.0000 (failed)"), "{out}");
    assert!(
        lines[4].contains("tollgate") && lines[4].contains("generateImage") && lines[4].ends_with("$0.0030"),
        "{out}"
    );

    let (code, out, _) = tokio::task::block_in_place(|| run(&["usage", "--json"]));
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["total_micros"], 9_000);

    let (code, out, _) = tokio::task::block_in_place(|| run(&["billing"]));
    assert_eq!(code, 0);
    assert!(out.contains("No purchases yet."), "{out}");
    let (code, out, _) = tokio::task::block_in_place(|| run(&["billing", "buy", "--amount", "25", "--no-browser"]));
    assert_eq!(code, 0);
    assert!(out.contains("/sandbox/checkout/cs_sandbox_"), "{out}");
    let (code, _, err) = tokio::task::block_in_place(|| run(&["billing", "buy", "--amount", "4", "--no-browser"]));
    assert_eq!((code, err.trim()), (1, "tollgate: amount_usd: The smallest purchase is $5.00. (400)"));

    // Runs: a dry run, a run, and 402 once credits are short.
    let (code, out, _) = tokio::task::block_in_place(|| {
        run(&["run", "fal-ai/flux/schnell", "--input", r#"{"prompt":"x","num_images":4}"#, "--dry-run"])
    });
    assert_eq!((code, out.trim()), (0, "Estimated cost: $0.0120 (4 image at $0.0030 each), from your credits."));
    let (code, out, err) =
        tokio::task::block_in_place(|| run(&["run", "fal-ai/flux/schnell", "--input", r#"{"prompt":"x"}"#, "--json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["metadata"]["charged_micros"], 3_000);
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    tollgate::server::services::gateway::pricing::set_account_price(
        &app.db,
        &id,
        &crate::helpers::endpoint("fal-ai/flux/dev"),
        tollgate::shared::money::Micros::from_usd(6),
        "t",
    )
    .await
    .unwrap();
    // Set outside the server: seen once cached prices expire; dropped at once here.
    app.state.caches.account_prices.clear();
    let (code, _, err) = tokio::task::block_in_place(|| run(&["run", "fal-ai/flux/dev", "--input", "{}"]));
    assert_eq!(
        (code, err.trim()),
        (5, "tollgate: insufficient credits: this needs $6.0000 and $4.9880 is available (402)")
    );

    // Her own fal key for one call: not charged, not stored. A run cap for the session.
    let with_env = |extra: &[(&str, &str)], args: &[&str]| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("TOLLGATE_URL", app.url("/"))
            .env("TOLLGATE_TOKEN", &token);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = tokio::task::block_in_place(|| {
        with_env(&[("TOLLGATE_FAL_KEY", FAL_KEY)], &["run", "fal-ai/flux/dev", "--input", "{}", "--json"])
    });
    assert_eq!(code, 0, "{err}");
    let meta = &serde_json::from_str::<Value>(&out).unwrap()["metadata"];
    assert_eq!((meta["paid_with"].as_str(), meta["charged_micros"].as_i64()), (Some("own_key"), Some(0)));
    let stored: i64 = sqlx::query_scalar("select count(*) from provider_key").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(stored, 0, "a key sent with one call is never stored");
    let capped = [("TOLLGATE_MAX_USD_PER_RUN", "0.005"), ("TOLLGATE_RUN_ID", "cli-test-run")];
    let one = ["run", "fal-ai/flux/schnell", "--input", "{}", "--json"];
    assert_eq!(tokio::task::block_in_place(|| with_env(&capped, &one)).0, 0);
    let (code, _, err) = tokio::task::block_in_place(|| with_env(&capped, &one));
    assert_eq!(
        (code, err.trim()),
        (
            5,
            "tollgate: over the run's cap (TOLLGATE_MAX_USD_PER_RUN): this needs $0.0030 and $0.0020 is available (402)"
        )
    );

    // One-line failures: a bad token, no server, bad input.
    let (code, _, err) = tokio::task::block_in_place(|| cli(&app, home.path(), "tg_wrong", &["usage"]));
    assert_eq!(code, 4, "{err}");
    assert_eq!(err.lines().count(), 1);
    let (code, _, err) = tokio::task::block_in_place(|| run(&["run", "fal-ai/flux/schnell", "--input", "{oops"]));
    assert_eq!(code, 2, "{err}");
    let out = std::process::Command::new(BIN)
        .args(["usage"])
        .env_clear()
        .env("HOME", home.path())
        .env("TOLLGATE_URL", "http://127.0.0.1:9/")
        .env("TOLLGATE_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("tollgate: cannot reach the server at http://127.0.0.1:9/")
    );

    // Login stores the address and token for later commands, readable only by the owner.
    let out = std::process::Command::new(BIN)
        .args(["login", "--url", &app.url("/")])
        .env_clear()
        .env("HOME", home.path())
        .env("TOLLGATE_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let file = home.path().join(".config/tollgate/cli.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let out = std::process::Command::new(BIN)
        .args(["billing", "--json"])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let billing: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(billing["balance_micros"], 4_985_000);

    // Under $1 the warning shows on usage and billing.
    tollgate::server::services::gateway::pricing::set_account_price(
        &app.db,
        &id,
        &crate::helpers::endpoint("fal-ai/flux/dev"),
        tollgate::shared::money::Micros::from_usd(4),
        "t",
    )
    .await
    .unwrap();
    app.state.caches.account_prices.clear();
    let res = ada.post(app.url("/api/v1/run/fal-ai/flux/dev")).json(&json!({"prompt": "big"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    for args in [&["usage"][..], &["billing"][..]] {
        let (code, out, _) = tokio::task::block_in_place(|| cli(&app, home.path(), &token, args));
        assert_eq!(code, 0);
        assert_eq!(
            out.lines().last(),
            Some("  ⚠ Low balance — run tollgate billing buy to add credits"),
            "{args:?}: {out}"
        );
    }
}

async fn the_credits_page_shows_usage_a_chart_and_the_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = some_calls(&app).await;
    let today = utc_date(tollgate::server::infra::installation::now_ms());
    let page = |path: &'static str| {
        let ada = ada.clone();
        let url = app.url(path);
        async move {
            let res = ada.get(url).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };

    let html = page("/credits").await;
    // The section, the balance, and today's spend in the table (own-key calls not counted).
    assert!(html.contains(r#"data-testid="usage""#), "{html}");
    let html = visible(&html);
    let balance = &html[html.find(r#"data-testid="usage-balance""#).unwrap()..];
    assert!(balance[..200].contains("$4.9910"), "{balance}");
    assert!(html.contains(&format!("<td>{today}</td>")), "today is a row");
    assert!(html.contains(r#"data-testid="usage-total" class="num">$0.0090<"#), "{html}");
    assert!(html.contains("Paid with your keys"), "own-key prices get their own column");
    // The chart is drawn on the server: one bar for the one day with spend, labelled.
    let svg = &html[html.find("<svg").expect("a server-rendered chart")..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<rect").count(), 1, "{svg}");
    assert!(svg.contains(&format!(r#"data-date="{today}" data-cost-micros="9000""#)), "{svg}");
    assert!(svg.contains(r#"aria-labelledby="usage-chart-caption""#));
    assert!(html.contains(&format!("(UTC): $0.0090 in all; the most was $0.0090 on {today}.")), "the text alternative");
    // History: four calls, the own-key one and the failure saying so.
    assert_eq!(html.matches(r#"data-paid-with="#).count(), 4);
    assert!(html.contains("Paid with your key, not from credits"));
    assert!(html.contains("Not charged: provider error"));
    assert!(!html.contains("Low balance: add credits"));

    // The controls are in the address; other values fall back to the defaults.
    let two = page("/credits?tab=balance&limit=20&days=7").await;
    assert!(selected(&two, "7") && !selected(&two, "30"), "{two}");
    assert_eq!(two.matches(r#"data-paid-with="#).count(), 4);
    let odd = page("/credits?limit=3&days=-1").await;
    assert!(selected(&odd, "20") && selected(&odd, "30") && !selected(&odd, "50"), "{odd}");

    // Someone new sees empty usage, and the low-balance badge once their credits run low.
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    let html = bob.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("No calls in the last 30 days."), "{html}");
    // One sentence, not a chart and seven rows of nothing.
    assert!(html.contains("Nothing spent in the last 7 days."), "{html}");
    assert!(!html.contains("<svg") && !html.contains(r#"data-testid="usage-summary""#), "{html}");
    crate::credits_page::spend(&app, "bob@example.com", 1, tollgate::shared::money::Micros(4_500_000)).await;
    let html = bob.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Low balance: add credits"), "{html}");
}

/// Whether the `<option value="{value}">` is selected.
fn selected(html: &str, value: &str) -> bool {
    let at = html.find(&format!(r#"<option value="{value}""#)).expect("the option is there");
    let tag = &html[at..];
    tag[..tag.find('>').unwrap()].contains("selected")
}
