//! Gateway overhead beside a bare axum handler in the same process.
//!
//!     cargo bench --features ssr --bench gateway
//!
//! One process serves the full app (SQLite, sandbox provider with no added latency) and,
//! on another port, a bare axum handler that reads a JSON body and answers JSON. 64
//! connections send requests to each in turn: the bare handler, gateway dry runs
//! (`POST /api/v1/run/fal-ai/flux/schnell?dryRun=true`) and gateway runs (the same
//! without dryRun: hold, sandbox call, capture, usage record). The three alternate in
//! rounds so machine noise hits all of them. Prints requests/s and p50/p99 latency for
//! each, the p99 overhead and throughput ratio against the bare handler, and writes
//! target/bench/gateway.json. BENCH_REQUESTS sets the requests per round for the bare
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
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare axum handler",
            Self::DryRun => "gateway dry run",
            Self::Run => "gateway run (sandbox)",
        }
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let requests: usize = count("BENCH_REQUESTS", 30_000);
    let run_requests: usize = count("BENCH_RUN_REQUESTS", 3_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let env = move |k: &str| match k {
        "TOLLGATE_SITE_ADDR" => Some("127.0.0.1:0".to_string()),
        "TOLLGATE_DATA_DIR" => Some(data.clone()),
        "TOLLGATE_LOG_LEVEL" => Some("error".to_string()),
        "TOLLGATE_DATABASE_URL" => Some(String::new()),
        // One account fires every call: the limit on calls at once must not be what is measured.
        "TOLLGATE_CALLS_IN_FLIGHT_TIERS" => Some("0:100000".to_string()),
        _ => None,
    };
    let config = Config::load(None, &env).expect("settings");
    let server = AppServer::build(config, tollgate::ui::app::web_app()).await.expect("the app starts");
    let state = server.state().clone();
    let app_addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));

    // A caller with a token and plenty of credit.
    let (token, _) = support::funded_caller(&state).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().route("/bare", post(bare))).await.unwrap() });

    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().unwrap();
    let all = [
        (Scenario::Bare, format!("http://{bare_addr}/bare")),
        (Scenario::DryRun, format!("http://{app_addr}/api/v1/run/fal-ai/flux/schnell?dryRun=true")),
        (Scenario::Run, format!("http://{app_addr}/api/v1/run/fal-ai/flux/schnell")),
    ];
    // BENCH_SKIP_RUNS=1 leaves out runs, e.g. to profile the dry-run path on its own.
    let skip_runs = std::env::var("BENCH_SKIP_RUNS").is_ok_and(|v| v == "1");
    let urls: Vec<_> = all.into_iter().filter(|(s, _)| !(skip_runs && *s == Scenario::Run)).collect();
    // Warm up connections, caches and the database.
    for (_, url) in &urls {
        round(&client, url, &token, CONNECTIONS * 4, &mut Totals::default()).await;
    }
    let mut totals: Vec<Totals> = urls.iter().map(|_| Totals::default()).collect();
    for _ in 0..ROUNDS {
        for (i, (_, url)) in urls.iter().enumerate() {
            let n = if urls[i].0 == Scenario::Run { run_requests } else { requests };
            round(&client, url, &token, n, &mut totals[i]).await;
        }
    }

    println!(
        "\nGateway overhead: SQLite, sandbox provider (no latency), {CONNECTIONS} connections, {ROUNDS} rounds of {requests} ({run_requests} for runs)\n"
    );
    println!("{:<24} {:>9} {:>10} {:>9} {:>9} {:>8}", "scenario", "requests", "req/s", "p50 ms", "p99 ms", "errors");
    let mut rows = Vec::new();
    let mut bare_p99 = 0.0;
    let mut bare_rps = 0.0;
    for (i, (scenario, _)) in urls.iter().enumerate() {
        let t = &mut totals[i];
        let (rps, p50, p99) = (t.per_sec(), t.percentile_ms(0.5), t.percentile_ms(0.99));
        if *scenario == Scenario::Bare {
            (bare_p99, bare_rps) = (p99, rps);
        }
        println!(
            "{:<24} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>8}",
            scenario.name(),
            t.latencies_us.len(),
            rps,
            p50,
            p99,
            t.errors
        );
        rows.push((scenario.name(), rps, p50, p99, t.errors));
    }
    println!();
    let mut report = Vec::new();
    for (name, rps, p50, p99, errors) in &rows[1..] {
        let overhead = p99 - bare_p99;
        let ratio = rps / bare_rps;
        println!(
            "{name}: p99 overhead {overhead:.2} ms (target < 2 ms), throughput {:.0}% of bare (target >= 50%)",
            ratio * 100.0
        );
        report.push(json!({
            "scenario": name, "requests_per_sec": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors,
            "p99_overhead_ms": overhead, "throughput_ratio": ratio,
        }));
    }
    report.insert(
        0,
        json!({ "scenario": rows[0].0, "requests_per_sec": bare_rps, "p50_ms": rows[0].2, "p99_ms": bare_p99 }),
    );
    std::fs::create_dir_all("target/bench").unwrap();
    std::fs::write("target/bench/gateway.json", serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("\nwritten to target/bench/gateway.json");
}
