//! Group commit changes when commits happen, nothing else: the same concurrent calls
//! (charged, refused by a run's cap, failed by the provider, repeated) end the same with
//! it on and off, and with it on they did share transactions.

use std::collections::BTreeMap;

use serde_json::json;
use tollgate::server::infra::db::Backend;

use crate::helpers::{TestApp, spawn_app_with};

backend_tests!(concurrent_calls_end_the_same_with_and_without_group_commit);

/// What an app ends with after the calls: the answers' statuses (counted), the balance,
/// and the usage records (status, failure, estimate, cost, charged; counted).
type Ending = (BTreeMap<u16, usize>, i64, BTreeMap<String, usize>);

async fn concurrent_calls_end_the_same_with_and_without_group_commit(backend: Backend) {
    let grouped = spawn_app_with(backend, &[("TOLLGATE_GROUP_COMMIT", "true")]).await;
    let alone = spawn_app_with(backend, &[("TOLLGATE_GROUP_COMMIT", "false")]).await;
    assert!(grouped.db.group_stats().is_some());
    assert!(alone.db.group_stats().is_none());

    let with_groups = fire(&grouped).await;
    let without = fire(&alone).await;
    assert_eq!(with_groups, without);
    let (statuses, available, _) = &with_groups;
    // Ten $0.003 images fit the run's $0.03; the provider's failures and the repeats
    // are not charged.
    assert_eq!(statuses.get(&200), Some(&(10 + 1)), "{statuses:?}");
    assert_eq!(statuses.get(&402), Some(&30), "{statuses:?}");
    assert_eq!(statuses.get(&502), Some(&8), "{statuses:?}");
    assert_eq!(*available, 5_000_000 - 30_000 - 3_000);

    for app in [&grouped, &alone] {
        let report = app.state.ledger.audit().await.unwrap();
        assert!(report.is_clean(), "audit findings: {:#?}", report.findings);
    }
    let stats = grouped.db.group_stats().unwrap();
    assert!(stats.pieces > stats.batches, "calls shared transactions ({stats:?})");
}

/// Sends, all at once: 40 calls in one capped run, 8 the provider fails, and 8 copies of
/// one request id.
async fn fire(app: &TestApp) -> Ending {
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let send = |req: reqwest::RequestBuilder| async move { req.send().await.unwrap().status().as_u16() };
    let url = app.url("/api/v1/run/fal-ai/flux/schnell");
    let (mut calls, mut copies) = (tokio::task::JoinSet::new(), tokio::task::JoinSet::new());
    for _ in 0..40 {
        let req = ada
            .post(&url)
            .header("Tollgate-Run-Id", "capped")
            .header("Tollgate-Max-USD-Per-Run", "0.03")
            .json(&json!({"prompt": "a fox"}));
        calls.spawn(send(req));
    }
    for _ in 0..8 {
        calls.spawn(send(ada.post(&url).json(&json!({"prompt": "an owl", "sandbox_failure": "server_error"}))));
    }
    for _ in 0..8 {
        copies.spawn(send(ada.post(&url).header("x-request-id", "the-one-hare").json(&json!({"prompt": "a hare"}))));
    }
    let mut statuses = BTreeMap::new();
    for status in calls.join_all().await {
        *statuses.entry(status).or_insert(0) += 1;
    }
    // Copies of one request: one ran; each other was answered as it (200, replayed) or
    // told it is still running (409), whichever it met. It counts as one call.
    let copies = copies.join_all().await;
    assert!(copies.iter().all(|s| *s == 200 || *s == 409), "{copies:?} (grouped: {})", app.db.group_stats().is_some());
    assert!(copies.contains(&200), "{copies:?}");
    *statuses.entry(200).or_insert(0) += 1;
    let (_, me) = app.me(&ada).await;
    let available = me["balance"]["available_micros"].as_i64().unwrap();
    let mut records = BTreeMap::new();
    for row in usage(app).await {
        *records.entry(row).or_insert(0) += 1;
    }
    (statuses, available, records)
}

async fn usage(app: &TestApp) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(
        "select status, coalesce(failure, ''), cost_estimate_micros, coalesce(cost_micros, -1), charged_micros \
         from usage_record",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let (status, failure): (String, String) = (r.get(0), r.get(1));
        let (estimate, cost, charged): (i64, i64, i64) = (r.get(2), r.get(3), r.get(4));
        format!("{status} {failure} {estimate} {cost} {charged}")
    })
    .collect()
}
