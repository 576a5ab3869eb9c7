//! The Credits page's tabs and its transactions, as the page, the JSON API and CSV.

use tollgate::server::infra::db::Backend;
use tollgate::server::ledger::{Clock, DebitKind, DebitRequest, Ledger};
use tollgate::server::services::accounts::users;
use tollgate::shared::money::Micros;

use crate::helpers::{TestApp, spawn_app};

backend_tests!(
    each_tab_has_its_own_address_and_aria_roles,
    transactions_page_newest_first_filter_by_type_and_carry_usage_details,
    transactions_download_as_csv_for_the_caller_only,
    the_balance_tab_warns_when_the_balance_is_low,
    every_page_has_its_data_in_place_in_the_first_html,
);

/// The part of a page a browser without scripts shows: up to the end of `<main>`.
/// (Streamed sections would come after it, for a script to move into place.)
fn main_part(html: &str) -> &str {
    let end = html.find("</main>").expect("a <main> element");
    &html[..end]
}

async fn every_page_has_its_data_in_place_in_the_first_html(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("plain@example.com", "a good password").await;
    for i in 0..2 {
        let res = client
            .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
            .header("x-request-id", format!("plain-{i}"))
            .json(&serde_json::json!({"prompt": "a fox"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    spend(&app, "plain@example.com", 30, Micros(3_000)).await;
    let get = async |path: &str| {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        crate::helpers::visible(&res.text().await.unwrap())
    };

    // Balance: the balance, the 7-day table with today's two calls, and the call history.
    let html = get("/credits").await;
    let page = main_part(&html);
    assert!(!page.contains("Loading…"), "nothing waits for a script: {page}");
    assert!(page.contains(r#"data-testid="balance""#));
    assert!(page.contains(r#"data-testid="usage-summary""#), "the 7-day table");
    assert!(page.contains(r#"data-testid="usage-total""#));
    assert!(page.contains("fal-ai/flux/schnell"), "the call history");

    // Transactions: the first page, and a plain link to the next one.
    let html = get("/credits?tab=transactions").await;
    let page = main_part(&html);
    assert!(!page.contains("Loading…"));
    assert_eq!(page.matches("<tr data-code=").count(), 25, "the first page of rows");
    let href_at = page.find("/credits?tab=transactions&amp;type=all&amp;before=").expect("a link to older rows");
    let href = &page[href_at..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let older = get(&href).await;
    let older = main_part(&older);
    assert!(older.contains(r#"<tr data-code="signup_grant""#), "the oldest row is on the next page");
    assert!(older.contains("Back to the newest"));
    assert!(!older.contains("&amp;before="), "no link past the last page");

    // Every signed-in page the same.
    for path in ["/credits?tab=gift-codes", "/studio", "/settings/api-keys", "/settings/api-tokens"] {
        let html = get(path).await;
        assert!(!main_part(&html).contains("Loading…"), "{path}: {html}");
    }
    assert!(main_part(&get("/studio").await).contains(r#"data-testid="studio-balance""#));
}

/// `n` usage debits of `amount` from the person's wallet, as if spent on generations.
pub async fn spend(app: &TestApp, email: &str, n: usize, amount: Micros) {
    let user = users::find_by_email(&app.db, email).await.unwrap().unwrap();
    let ledger = Ledger::new(app.db.clone(), Clock::System).await.unwrap();
    let wallet = ledger.find_wallet(&user.id).await.unwrap().unwrap();
    for i in 0..n {
        ledger
            .debit(&DebitRequest {
                idempotency_key: format!("{email}-job-{i}"),
                wallet,
                amount,
                kind: DebitKind::Usage,
                description: "A red fox, watercolor".into(),
                metadata: serde_json::json!({ "provider": "fal.ai", "model": "fal-ai/flux/schnell", "operation": "generateImage" }),
            })
            .await
            .unwrap();
    }
}

async fn each_tab_has_its_own_address_and_aria_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("tabs@example.com", "a good password").await;
    for (tab, marker) in
        [("balance", "Available balance"), ("transactions", "Download CSV"), ("gift-codes", "Gift codes")]
    {
        let html = client.get(app.url(&format!("/credits?tab={tab}"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(r#"role="tablist""#), "{tab}");
        assert!(html.contains(&format!(r#"id="tab-{tab}""#)), "{tab}");
        assert!(
            html.contains(&format!(r#"role="tabpanel" id="panel-{tab}""#)),
            "{tab}: the panel is the selected tab's"
        );
        assert!(html.contains(marker), "{tab} shows {marker}");
        assert_eq!(html.matches(r#"aria-selected="true""#).count(), 1, "{tab}: one selected tab");
    }
    let html = client.get(app.url("/credits?tab=nonsense")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"id="panel-balance""#), "an unknown tab shows the balance");
}

async fn transactions_page_newest_first_filter_by_type_and_carry_usage_details(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("tx@example.com", "a good password").await;
    spend(&app, "tx@example.com", 30, Micros(3_000)).await;

    let first: serde_json::Value = app.call(&client, "transactions", &[("filter", "all")]).await.json().await.unwrap();
    let rows = first["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 25, "one page");
    assert_eq!(rows[0]["code"], "usage");
    assert_eq!(rows[0]["amount"], -3_000);
    assert_eq!(rows[0]["model"], "fal-ai/flux/schnell");
    assert_eq!(rows[0]["balance_after"], 5_000_000 - 30 * 3_000);
    let before = first["next_before"].as_i64().expect("more pages");
    let second: serde_json::Value = app
        .call(&client, "transactions", &[("filter", "all"), ("before", &before.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let rows2 = second["rows"].as_array().unwrap();
    assert_eq!(rows2.len(), 6, "five more usages and the sign-up credit");
    assert_eq!(rows2.last().unwrap()["code"], "signup_grant");
    assert!(second["next_before"].is_null());

    let grants: serde_json::Value =
        app.call(&client, "transactions", &[("filter", "grants")]).await.json().await.unwrap();
    assert_eq!(grants["rows"].as_array().unwrap().len(), 1);
    let purchases: serde_json::Value =
        app.call(&client, "transactions", &[("filter", "purchases")]).await.json().await.unwrap();
    assert_eq!(purchases["rows"], serde_json::json!([]));

    // The JSON API says the same, with a bearer token.
    let token: serde_json::Value = app.call(&client, "tokens_create", &[("name", "cli")]).await.json().await.unwrap();
    let api: serde_json::Value = app
        .client
        .get(app.url("/api/v1/transactions?type=usage&limit=3"))
        .bearer_auth(token["secret"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["transactions"].as_array().unwrap().len(), 3);
    assert!(api["next_before"].is_i64());

    let html = client.get(app.url("/credits?tab=transactions&type=usage")).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("fal.ai · FLUX.1 [schnell] · Image generation"),
        "usage rows show provider, model and operation in words"
    );
    assert!(html.contains("\u{2212}$0.0030"), "amounts carry a sign, not only a colour");
}

async fn transactions_download_as_csv_for_the_caller_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("csv@example.com", "a good password").await;
    spend(&app, "csv@example.com", 2, Micros(25_000)).await;
    let other = app.signed_up("other@example.com", "a good password").await;

    let res = client.get(app.url("/api/v1/transactions.csv?type=usage")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("tollgate-transactions-usage.csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "date_utc,type,description,provider,model,operation,amount_usd,balance_after_usd,transaction_id"
    );
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].contains(",Usage,\"A red fox, watercolor\",fal.ai,fal-ai/flux/schnell,generateImage,-0.025,4.95,"),
        "{}",
        lines[1]
    );

    let theirs = other.get(app.url("/api/v1/transactions.csv")).send().await.unwrap().text().await.unwrap();
    assert!(!theirs.contains("red fox"), "another person's export has only their own rows");
    assert_eq!(app.get("/api/v1/transactions.csv").await.status(), 401);
}

async fn the_balance_tab_warns_when_the_balance_is_low(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("low@example.com", "a good password").await;
    let html = client.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("Your balance is under $1.00"));
    spend(&app, "low@example.com", 1, Micros(4_500_000)).await;
    let html = client.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    let html = crate::helpers::visible(&html);
    assert!(html.contains("Your balance is under $1.00"), "{html}");
    assert!(html.contains("$0.50"));
}
