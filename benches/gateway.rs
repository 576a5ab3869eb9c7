//! Gateway overhead beside a bare axum handler in the same process.
//!
//!     cargo bench --features ssr --bench gateway
//!
//! For each backend (SQLite always; PostgreSQL when BENCH_DATABASE_URL or
//! TEST_DATABASE_URL is set) one process serves the full app twice (sandbox provider with
//! no added latency), once with group commit and once committing each call on its own,
//! and, on another port, a bare axum handler that reads a JSON body and answers JSON. 64
//! connections send requests to each in turn: the bare handler, gateway dry runs
//! (`POST /api/v1/run/fal-ai/flux/schnell?dryRun=true`) and gateway runs (the same
//! without dryRun: hold, sandbox call, capture, usage record) on both apps. They
//! alternate in rounds so machine noise hits all of them. Prints requests/s and p50/p99
//! latency for each, the p99 overhead and throughput ratio against the bare handler, and
//! writes target/bench/gateway.json (`run_vs_bare_ratio` and `dry_run_vs_bare_ratio` are
//! SQLite's; every backend's figures are under `backends`). BENCH_REQUESTS sets the requests per round for the bare
//! handler and dry runs (default 30,000, about a second each, so percentiles are not
//! dominated by each round's start), BENCH_RUN_REQUESTS for runs (default 3,000: they
//! are slower); BENCH_SKIP_RUNS=1 leaves runs out.

use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use tollgate::server::infra::config::Config;
use tollgate::server::web::app_server::AppServer;

mod support;

const CONNECTIONS: usize = 64;
const ROUNDS: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    Bare,
    DryRun,
    Run,
    RunAlone,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare axum handler",
            Self::DryRun => "gateway dry run",
            Self::Run => "gateway run (group commit)",
            Self::RunAlone => "gateway run (commit per call)",
        }
    }

    /// The scenario's name in the JSON report's ratios.
    fn key(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::DryRun => "dry_run",
            Self::Run => "run",
            Self::RunAlone => "run_alone",
        }
    }

    fn is_run(self) -> bool {
        matches!(self, Self::Run | Self::RunAlone)
    }
}

#[derive(Default)]
struct Totals {
    latencies_us: Vec<u64>,
    elapsed: Duration,
    errors: usize,
}

impl Totals {
    fn per_sec(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

async fn bare(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({ "ok": true, "echo": body["prompt"] }))
}

async fn round(client: &reqwest::Client, url: &str, token: &str, requests: usize, into: &mut Totals) {
    let per_task = requests / CONNECTIONS;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (client, url, token) = (client.clone(), url.to_string(), token.to_string());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            let mut errors = 0;
            for _ in 0..per_task {
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "prompt": "a lighthouse", "num_images": 1 }))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                latencies.push(t.elapsed().as_micros() as u64);
            }
            (latencies, errors)
        });
    }
    for (latencies, errors) in tasks.join_all().await {
        into.latencies_us.extend(latencies);
        into.errors += errors;
    }
    into.elapsed += started.elapsed();
}

/// One app server on `database` with group commit on or off.
async fn app(data_dir: &std::path::Path, database: Option<&str>, group_commit: bool) -> (AppServer, String) {
    let data = data_dir.display().to_string();
    let database = database.unwrap_or_default().to_string();
    let env = move |k: &str| match k {
        "TOLLGATE_SITE_ADDR" => Some("127.0.0.1:0".to_string()),
        "TOLLGATE_DATA_DIR" => Some(data.clone()),
        "TOLLGATE_LOG_LEVEL" => Some("error".to_string()),
        "TOLLGATE_DATABASE_URL" => Some(database.clone()),
        // 64 connections need more than the default pool on PostgreSQL.
        "TOLLGATE_DATABASE_MAX_CONNECTIONS" => Some("32".to_string()),
        "TOLLGATE_GROUP_COMMIT" => Some(group_commit.to_string()),
        // PostgreSQL needs these set (instances sharing a database must share them).
        "TOLLGATE_SECRET_KEY" => Some("bench-secret-key-0123456789abcdef0123456789".to_string()),
        "TOLLGATE_MASTER_KEY" => Some("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".to_string()),
        // One account fires every call: the limit on calls at once must not be what is measured.
        "TOLLGATE_CALLS_IN_FLIGHT_TIERS" => Some("0:100000".to_string()),
        _ => None,
    };
    let config = Config::load(None, &env).expect("settings");
    let server = AppServer::build(config, tollgate::ui::app::web_app()).await.expect("the app starts");
    // A caller with a token and plenty of credit.
    let (token, _) = support::funded_caller(server.state()).await;
    (server, token)
}

async fn admin_exec(admin_url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
    conn.execute(sql).await.unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let requests: usize = count("BENCH_REQUESTS", 30_000);
    let run_requests: usize = count("BENCH_RUN_REQUESTS", 3_000);
    // BENCH_SKIP_RUNS=1 leaves out runs, e.g. to profile the dry-run path on its own.
    let skip_runs = std::env::var("BENCH_SKIP_RUNS").is_ok_and(|v| v == "1");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().route("/bare", post(bare))).await.unwrap() });
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS * 2).build().unwrap();

    let mut backends: Vec<(&str, Option<String>)> = vec![("SQLite", None)];
    let pg_admin = std::env::var("BENCH_DATABASE_URL").or_else(|_| std::env::var("TEST_DATABASE_URL")).ok();
    let pg_names = ["grouped", "alone"].map(|which| format!("tollgate_gateway_bench_{which}_{}", std::process::id()));
    match &pg_admin {
        Some(admin) => {
            for name in &pg_names {
                admin_exec(admin, &format!("create database {name}")).await;
            }
            backends.push(("PostgreSQL", Some(admin.clone())));
        }
        None => println!("PostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL to include it)"),
    }

    let mut report = serde_json::Map::new();
    let mut per_backend = Vec::new();
    for (label, admin) in &backends {
        let url_of = |name: &str| {
            admin.as_ref().map(|a| {
                let mut url = url::Url::parse(a).unwrap();
                url.set_path(name);
                url.to_string()
            })
        };
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (grouped, grouped_token) = app(dir_a.path(), url_of(&pg_names[0]).as_deref(), true).await;
        let (alone, alone_token) = app(dir_b.path(), url_of(&pg_names[1]).as_deref(), false).await;
        let (grouped_addr, alone_addr) = (grouped.local_addr(), alone.local_addr());
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        for server in [grouped, alone] {
            let stop = stop.clone();
            tokio::spawn(server.run_until(async move { stop.notified().await }));
        }
        let all = [
            (Scenario::Bare, format!("http://{bare_addr}/bare"), grouped_token.clone()),
            (
                Scenario::DryRun,
                format!("http://{grouped_addr}/api/v1/run/fal-ai/flux/schnell?dryRun=true"),
                grouped_token.clone(),
            ),
            (Scenario::Run, format!("http://{grouped_addr}/api/v1/run/fal-ai/flux/schnell"), grouped_token.clone()),
            (Scenario::RunAlone, format!("http://{alone_addr}/api/v1/run/fal-ai/flux/schnell"), alone_token.clone()),
        ];
        let urls: Vec<_> = all.into_iter().filter(|(s, _, _)| !(skip_runs && s.is_run())).collect();
        // Warm up connections, caches and the database.
        for (_, url, token) in &urls {
            round(&client, url, token, CONNECTIONS * 4, &mut Totals::default()).await;
        }
        let mut totals: Vec<Totals> = urls.iter().map(|_| Totals::default()).collect();
        for _ in 0..ROUNDS {
            for (i, (scenario, url, token)) in urls.iter().enumerate() {
                let n = if scenario.is_run() { run_requests } else { requests };
                round(&client, url, token, n, &mut totals[i]).await;
            }
        }
        stop.notify_waiters();

        println!(
            "\nGateway overhead: {label}, sandbox provider (no latency), {CONNECTIONS} connections, {ROUNDS} rounds of {requests} ({run_requests} for runs)\n"
        );
        println!(
            "{:<32} {:>9} {:>10} {:>9} {:>9} {:>8}",
            "scenario", "requests", "req/s", "p50 ms", "p99 ms", "errors"
        );
        let mut rows = Vec::new();
        let (mut bare_p99, mut bare_rps) = (0.0, 0.0);
        for (i, (scenario, _, _)) in urls.iter().enumerate() {
            let t = &mut totals[i];
            let (rps, p50, p99) = (t.per_sec(), t.percentile_ms(0.5), t.percentile_ms(0.99));
            if *scenario == Scenario::Bare {
                (bare_p99, bare_rps) = (p99, rps);
            }
            println!(
                "{:<32} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>8}",
                scenario.name(),
                t.latencies_us.len(),
                rps,
                p50,
                p99,
                t.errors
            );
            rows.push((*scenario, rps, p50, p99, t.errors));
        }
        println!();
        let mut scenarios = Vec::new();
        let mut backend = serde_json::Map::new();
        backend.insert("backend".into(), json!(label));
        for (scenario, rps, p50, p99, errors) in &rows {
            let ratio = rps / bare_rps;
            if *scenario != Scenario::Bare {
                println!(
                    "{}: p99 overhead {:.2} ms, throughput {:.1}% of bare",
                    scenario.name(),
                    p99 - bare_p99,
                    ratio * 100.0
                );
                backend.insert(format!("{}_vs_bare_ratio", scenario.key()), json!(ratio));
            }
            scenarios.push(json!({
                "scenario": scenario.name(), "requests_per_sec": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors,
                "p99_overhead_ms": p99 - bare_p99, "throughput_ratio": ratio,
            }));
        }
        if let (Some(run), Some(alone)) =
            (rows.iter().find(|r| r.0 == Scenario::Run), rows.iter().find(|r| r.0 == Scenario::RunAlone))
        {
            let speedup = run.1 / alone.1;
            println!("group commit: runs {speedup:.1}x as many per second as one commit per call");
            backend.insert("group_commit_speedup".into(), json!(speedup));
        }
        backend.insert("scenarios".into(), json!(scenarios));
        if *label == "SQLite" {
            // The headline figures are SQLite's, the embedded default.
            for key in ["run_vs_bare_ratio", "dry_run_vs_bare_ratio", "run_alone_vs_bare_ratio"] {
                if let Some(v) = backend.get(key) {
                    report.insert(key.into(), v.clone());
                }
            }
        }
        per_backend.push(serde_json::Value::Object(backend));
    }
    if let Some(admin) = &pg_admin {
        // Let the servers' pools close before their databases are dropped.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for name in &pg_names {
            admin_exec(admin, &format!("drop database if exists {name} with (force)")).await;
        }
    }
    report.insert("backends".into(), json!(per_backend));
    std::fs::create_dir_all("target/bench").unwrap();
    std::fs::write("target/bench/gateway.json", serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("\nwritten to target/bench/gateway.json");
}
