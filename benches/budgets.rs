//! Budgets under concurrency: 64 calls at once against a token budget that fits exactly
//! K of them, round after round, and the same calls without a budget.
//!
//!     cargo bench --features ssr --bench budgets
//!
//! Runs on SQLite (one instance) and, when BENCH_DATABASE_URL or TEST_DATABASE_URL names
//! a PostgreSQL server, on a fresh database there with two instances taking the calls in
//! turn. Each round sets the budget to K calls' worth, sends 64 calls with the token at
//! once, and counts the calls that ran: more than K is an overshoot. Prints the overshoot
//! (it must be 0), and calls/s with and without the budget (every call answered, admitted
//! or refused), and writes target/bench/budgets.json. BENCH_ROUNDS sets the rounds
//! (default 100), BENCH_FITS sets K (default 16).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate::server::infra::config::Config;
use tollgate::server::infra::state::AppState;
use tollgate::server::web::app_server::AppServer;

mod support;

const CALLS: usize = 64;
/// The sandbox price of one fal-ai/flux/schnell image.
const IMAGE: i64 = 3_000;

struct Instance {
    state: AppState,
    base: String,
}

async fn start(database_url: &str, data: &str) -> Instance {
    let (url, data) = (database_url.to_string(), data.to_string());
    let env = move |k: &str| match k {
        "TOLLGATE_SITE_ADDR" => Some("127.0.0.1:0".to_string()),
        "TOLLGATE_DATA_DIR" => Some(data.clone()),
        "TOLLGATE_LOG_LEVEL" => Some("error".to_string()),
        "TOLLGATE_DATABASE_URL" => Some(url.clone()),
        "TOLLGATE_SECRET_KEY" => Some("bench-secret-key-0123456789abcdef0123456789".to_string()),
        "TOLLGATE_DATABASE_MAX_CONNECTIONS" => Some("16".to_string()),
        // One account fires every call: the limit on calls at once must not be what is measured.
        "TOLLGATE_CALLS_IN_FLIGHT_TIERS" => Some("0:100000".to_string()),
        // Shared by the instances (the provider-key cipher); no keys are stored here.
        "TOLLGATE_MASTER_KEY" => Some("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".to_string()),
        _ => None,
    };
    let config = Config::load(None, &env).expect("settings");
    let server = AppServer::build(config, tollgate::ui::app::web_app()).await.expect("the app starts");
    let state = server.state().clone();
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run_until(std::future::pending()));
    Instance { state, base }
}

/// Sends 64 calls at once, spread over `bases`; how many ran, and how long all took.
async fn burst(client: &reqwest::Client, bases: &[String], secret: &str, round: &str) -> (usize, usize, Duration) {
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let url = format!("{}/api/v1/run/fal-ai/flux/schnell", bases[i % bases.len()]);
        let (client, secret, id) = (client.clone(), secret.to_string(), format!("{round}-{i}"));
        calls.spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(secret)
                .header("x-request-id", id)
                .json(&json!({ "prompt": "a lighthouse" }))
                .send()
                .await
                .expect("an answer");
            res.status().as_u16()
        });
    }
    let statuses = calls.join_all().await;
    let ran = statuses.iter().filter(|s| **s == 200).count();
    let other = statuses.iter().filter(|s| **s != 200 && **s != 402).count();
    (ran, other, started.elapsed())
}

async fn measure(name: &str, instances: &[Instance], rounds: usize, fits: usize) -> Value {
    let state = &instances[0].state;
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let (secret, token_id) = support::funded_caller(state).await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(CALLS).build().unwrap();
    let limit = format!("{}", (fits as i64 * IMAGE) as f64 / 1e6);
    let put = client
        .put(format!("{}/api/v1/budgets/tokens/{token_id}", bases[0]))
        .bearer_auth(&secret)
        .json(&json!({ "limit_usd": limit, "period": "total" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "the budget is set");
    let (mut overshoot, mut ran_total, mut errors) = (0usize, 0usize, 0usize);
    let (mut with_budget, mut without) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        // The budget starts each round empty: exactly `fits` calls may run.
        sqlx::query("update budget set spent_micros = 0").execute(state.db.pool()).await.unwrap();
        let (ran, other, took) = burst(&client, &bases, &secret, &format!("b{round}")).await;
        overshoot += ran.saturating_sub(fits);
        ran_total += ran;
        errors += other;
        with_budget += took;
        let spent: i64 =
            sqlx::query_scalar("select spent_micros from budget").fetch_one(state.db.pool()).await.unwrap();
        if spent > fits as i64 * IMAGE {
            overshoot += 1;
        }
    }
    // The same calls with no budget on the token.
    let removed = client
        .delete(format!("{}/api/v1/budgets/tokens/{token_id}", bases[0]))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    for round in 0..rounds {
        let (_, other, took) = burst(&client, &bases, &secret, &format!("n{round}")).await;
        errors += other;
        without += took;
    }
    let per_sec = |d: Duration| (rounds * CALLS) as f64 / d.as_secs_f64();
    println!(
        "{name:<34} overshoot {overshoot:>3}   admitted {ran_total:>6} of {:>6} (K = {fits} a round)   \
         calls/s with budget {:>7.0}   without {:>7.0}   errors {errors}",
        rounds * CALLS,
        per_sec(with_budget),
        per_sec(without)
    );
    json!({
        "backend": name, "rounds": rounds, "calls_per_round": CALLS, "fits": fits,
        "overshoot": overshoot, "admitted": ran_total, "errors": errors,
        "calls_per_sec_with_budget": per_sec(with_budget), "calls_per_sec_without": per_sec(without),
    })
}

/// A fresh PostgreSQL database on the server `server_url` names; its URL.
async fn fresh_postgres(server_url: &str) -> (String, String) {
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(server_url).await.expect("PostgreSQL");
    let name = format!("tollgate_bench_{}", std::process::id());
    sqlx::query(&format!("drop database if exists {name}")).execute(&mut conn).await.unwrap();
    sqlx::query(&format!("create database {name}")).execute(&mut conn).await.unwrap();
    let mut url = url::Url::parse(server_url).expect("a database URL");
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (rounds, fits) = (count("BENCH_ROUNDS", 100), count("BENCH_FITS", 16));
    println!("\nBudgets: {CALLS} concurrent calls a round against a token budget that fits {fits}, {rounds} rounds\n");
    let mut report = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let sqlite = start("", &data).await;
    report.push(measure("SQLite, one instance", &[sqlite], rounds, fits).await);

    let server = std::env::var("BENCH_DATABASE_URL").or_else(|_| std::env::var("TEST_DATABASE_URL")).ok();
    match server {
        Some(server) => {
            let (url, name) = fresh_postgres(&server).await;
            let pg_dir = tempfile::tempdir().unwrap();
            let pg_data = pg_dir.path().display().to_string();
            let a = start(&url, &pg_data).await;
            let b = start(&url, &pg_data).await;
            report.push(measure("PostgreSQL, two instances", &[a, b], rounds, fits).await);
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&server).await {
                let _ = sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&mut conn).await;
            }
        }
        None => println!("PostgreSQL skipped: set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a server"),
    }
    std::fs::create_dir_all("target/bench").unwrap();
    std::fs::write("target/bench/budgets.json", serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("\nwritten to target/bench/budgets.json");
    // Instances keep serving in background tasks; end here.
    std::process::exit(0);
}
