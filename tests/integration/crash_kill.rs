//! The server as a child process, killed with SIGKILL while calls run, restarted on the
//! same database: clients retrying each call under its own request id get one answer per
//! call, byte for byte on every retry; nothing is lost or charged twice; calls cut off are
//! settled within seconds of the restart; the audit stays clean.
//!
//! On PostgreSQL two instances share the database and clients fail over to the other one
//! while theirs is down, so retries land on a live instance while the call they repeat is
//! still recorded as running on the dead one. `CRASH_TEST_KILLS` and `CRASH_TEST_CALLS`
//! (calls per client) make the run longer.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate::server::infra::db::{Backend, Db};
use tollgate::server::ledger::{Clock, CreditKind, CreditRequest, Ledger};
use tollgate::shared::money::Micros;

use crate::helpers::{TEST_MASTER_KEY, TestDatabase, spawn_app, test_config};

backend_tests!(killed_under_load_nothing_is_lost_or_charged_twice);

const CLIENTS: usize = 6;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(database: &TestDatabase, port: u16) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOLLGATE_")) {
        cmd.env_remove(k);
    }
    cmd.arg("serve")
        .current_dir(database.data_dir())
        .env("TOLLGATE_DATABASE_URL", &database.url)
        .env("TOLLGATE_DATA_DIR", database.data_dir())
        .env("TOLLGATE_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_SECRET_KEY", "test-secret-key-0123456789abcdef0123456789")
        .env("TOLLGATE_MASTER_KEY", TEST_MASTER_KEY)
        .env("TOLLGATE_LOG_LEVEL", "error")
        .env("TOLLGATE_CALLS_IN_FLIGHT_TIERS", "0:10000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts")
}

async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(res) = client.get(format!("{base}/readyz")).timeout(Duration::from_secs(1)).send().await
            && res.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not get ready");
}

/// One call, retried under its request id until it gets an answer, each attempt at the
/// next instance: (status, body, attempts).
async fn call_until_answered(
    client: &reqwest::Client,
    urls: &[String],
    token: &str,
    id: &str,
    input: &Value,
) -> (u16, String, u32) {
    let mut attempts = 0;
    loop {
        let url = &urls[attempts as usize % urls.len()];
        attempts += 1;
        assert!(attempts < 400, "{id} never got an answer");
        let sent = client.post(url).bearer_auth(token).header("x-request-id", id).json(input).send().await;
        if let Ok(res) = sent {
            let status = res.status().as_u16();
            if let Ok(body) = res.text().await
                && status != 202
            {
                return (status, body, attempts);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn running_ids(db: &Db) -> Vec<String> {
    sqlx::query_scalar("select id from usage_record where status = 'running'").fetch_all(db.pool()).await.unwrap()
}

async fn killed_under_load_nothing_is_lost_or_charged_twice(backend: Backend) {
    // An account with a token and $100, made through an app that then goes away.
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let token: Value = app.call(&ada, "tokens_create", &[("name", "load")]).await.json().await.unwrap();
    let token = token["secret"].as_str().unwrap().to_string();
    let user_id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    let wallet = app.state.ledger.find_wallet(&user_id).await.unwrap().unwrap();
    let grant = CreditRequest {
        idempotency_key: "load-test".into(),
        wallet,
        amount: Micros::from_usd(100),
        kind: CreditKind::Adjustment,
        description: "for the load".into(),
        metadata: json!({}),
        expires_at_ms: None,
    };
    app.state.ledger.credit(&grant).await.unwrap();
    let database = app.crash().await;
    let db = Db::connect(&test_config(&database, &[]).database, 4).await.unwrap();
    let ledger = Ledger::new(db.clone(), Clock::System).await.unwrap();
    let before = ledger.balance(wallet).await.unwrap().available.get();

    let (kills, calls_each) = (setting("CRASH_TEST_KILLS", 4), setting("CRASH_TEST_CALLS", 5));
    let instances = if backend == Backend::Postgres { 2 } else { 1 };
    let ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
    let mut servers: Vec<Child> = ports.iter().map(|port| start(&database, *port)).collect();
    for port in &ports {
        wait_ready(&format!("http://127.0.0.1:{port}")).await;
    }
    let urls: Vec<String> =
        ports.iter().map(|port| format!("http://127.0.0.1:{port}/api/v1/run/fal-ai/flux/schnell")).collect();

    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let token = token.clone();
        // Each client starts at an instance of its own.
        let mut urls = urls.clone();
        urls.rotate_left(c % instances);
        clients.spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(45)).build().unwrap();
            let mut answers = Vec::new();
            for n in 0..calls_each {
                let id = format!("load-{c}-{n}");
                let input = json!({"prompt": format!("call {c}.{n}"), "sandbox_delay_ms": 300 + 150 * ((c + n) % 5)});
                let (status, body, attempts) = call_until_answered(&client, &urls, &token, &id, &input).await;
                answers.push((id, input, status, body, attempts));
            }
            answers
        });
    }

    // Kill an instance while calls run, and start it again on the same database.
    let mut settle_ms = Vec::new();
    let mut cut_off_total = 0i64;
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(700 + 100 * (k % 5) as u64)).await;
        let victim = k % instances;
        servers[victim].kill().unwrap();
        servers[victim].wait().unwrap();
        // The victim's calls are among these (the others are the live instance's).
        let running = running_ids(&db).await;
        let restarted = Instant::now();
        servers[victim] = start(&database, ports[victim]);
        loop {
            let still: Vec<String> = running_ids(&db).await.into_iter().filter(|id| running.contains(id)).collect();
            if still.is_empty() {
                break;
            }
            assert!(restarted.elapsed() < Duration::from_secs(5), "{} calls cut off still running", still.len());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let cut_off: i64 = sqlx::query_scalar(&format!(
            "select count(*) from usage_record where failure = 'interrupted' and id in ({})",
            running.iter().map(|id| format!("'{id}'")).chain(["''".to_string()]).collect::<Vec<_>>().join(", ")
        ))
        .fetch_one(db.pool())
        .await
        .unwrap();
        cut_off_total += cut_off;
        settle_ms.push(restarted.elapsed().as_millis());
        wait_ready(&format!("http://127.0.0.1:{}", ports[victim])).await;
    }
    let answers: Vec<_> = clients.join_all().await.into_iter().flatten().collect();

    // Every call got one answer, and a retry now gets the same bytes.
    let client = reqwest::Client::new();
    let mut charged_in_answers = 0;
    let mut retries = 0;
    for (i, (id, input, status, body, attempts)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "{id}: {body}");
        retries += attempts - 1;
        let res = client
            .post(&urls[i % instances])
            .bearer_auth(&token)
            .header("x-request-id", id)
            .json(input)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["idempotent-replayed"], "true");
        assert_eq!(&res.text().await.unwrap(), body, "{id}: the retry's answer is the first, byte for byte");
        let body: Value = serde_json::from_str(body).unwrap();
        charged_in_answers += body["metadata"]["charged_micros"].as_i64().unwrap();
    }
    assert_eq!(answers.len(), CLIENTS * calls_each);

    // One charged call per request id; the ones cut off are in the history, not charged.
    let rows: Vec<(String, String, Option<String>, i64)> =
        sqlx::query_as("select request_id, status, failure, charged_micros from usage_record")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    let mut interrupted = 0i64;
    for (request_id, status, failure, charged) in &rows {
        match status.as_str() {
            "succeeded" => *per_id.entry(request_id.as_str()).or_default() += 1,
            "failed" => {
                assert_eq!(failure.as_deref(), Some("interrupted"), "{request_id}");
                assert_eq!(*charged, 0);
                assert!(request_id.contains('#'), "a call cut off gives up its request id: {request_id}");
                interrupted += 1;
            }
            other => panic!("{request_id} is {other}"),
        }
    }
    assert_eq!(per_id.len(), answers.len());
    assert_eq!(interrupted, cut_off_total, "calls were settled as interrupted only when their instance died");
    assert!(per_id.values().all(|n| *n == 1), "one call per request id");
    let charged_in_records: i64 = rows.iter().map(|r| r.3).sum();
    let balance = ledger.balance(wallet).await.unwrap();
    assert_eq!(balance.reserved.get(), 0, "no money left held");
    assert_eq!(before - balance.available.get(), charged_in_records);
    assert_eq!(charged_in_records, charged_in_answers);
    let audit = ledger.audit().await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.findings);

    for server in &mut servers {
        server.kill().unwrap();
        server.wait().unwrap();
    }
    settle_ms.sort_unstable();
    eprintln!(
        "{backend:?}, {instances} instance(s): {} calls, {kills} kills, {cut_off_total} calls cut off \
         ({interrupted} recorded as interrupted), {retries} retries; settled after the restart in \
         {} ms at the median, {} ms at most",
        answers.len(),
        settle_ms.get(settle_ms.len() / 2).copied().unwrap_or(0),
        settle_ms.last().copied().unwrap_or(0),
    );
    db.close().await;
}
