//! Ledger throughput against the raw ceiling of the same database writes.
//!
//!     cargo bench --features ssr --bench ledger
//!
//! For each backend (SQLite always; PostgreSQL when BENCH_DATABASE_URL or
//! TEST_DATABASE_URL is set) and 1, 8 and 64 concurrent tasks, each task with a wallet
//! of its own, it measures direct debits/s and hold+capture pairs/s through the ledger,
//! and beside them the same number of transactions writing the same rows with
//! hand-written SQL and no ledger logic. Ledger and raw runs alternate in one process so
//! machine noise hits both. Both sides take write transactions the same way (on SQLite,
//! through the in-process writer queue), so the ratio is the cost of the ledger's logic.
//! Each backend runs as the app runs it by default (SQLite grouping commits, PostgreSQL
//! committing each write alone); PostgreSQL runs grouped too ("PostgreSQL grouped").
//! Prints a table and writes target/bench/ledger.json.

use std::time::{Duration, Instant};

use serde_json::json;
use tollgate::server::infra::config::DatabaseSetting;
use tollgate::server::infra::db::Db;
use tollgate::server::ledger::*;
use tollgate::shared::money::Micros;

const LEVELS: [usize; 3] = [1, 8, 64];

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Debit,
    HoldCapture,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Debit => "debit",
            Op::HoldCapture => "hold+capture",
        }
    }
}

struct Sample {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Wallet {
    id: AccountId,
    lot: i64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let ops_per_level: usize = std::env::var("BENCH_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let mut backends: Vec<(&str, DatabaseSetting, Option<(String, String)>)> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    backends.push((
        "SQLite",
        DatabaseSetting::Sqlite { url: format!("sqlite://{}", dir.path().join("bench.db").display()) },
        None,
    ));
    let pg = std::env::var("BENCH_DATABASE_URL").or_else(|_| std::env::var("TEST_DATABASE_URL")).ok();
    match &pg {
        Some(admin) => {
            let name = format!("tollgate_bench_{}", std::process::id());
            admin_exec(admin, &format!("create database {name}")).await;
            let mut url = url::Url::parse(admin).unwrap();
            url.set_path(&name);
            backends.push((
                "PostgreSQL",
                DatabaseSetting::Postgres { url: url.to_string() },
                Some((admin.clone(), name)),
            ));
        }
        None => println!("PostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL to include it)"),
    }

    let mut rows = Vec::new();
    println!(
        "\n{:<19} {:>5}  {:<13} {:>12} {:>12} {:>7}   {:>17}   {:>17}",
        "backend", "tasks", "operation", "ledger ops/s", "raw ops/s", "ratio", "ledger p50/p99 ms", "raw p50/p99 ms"
    );
    // Each backend as the app runs it (SQLite grouping commits, PostgreSQL committing each
    // write alone), and PostgreSQL grouped as well.
    let mut modes = Vec::new();
    for (label, setting, cleanup) in &backends {
        match setting {
            DatabaseSetting::Sqlite { .. } => modes.push((label.to_string(), setting, true, cleanup)),
            DatabaseSetting::Postgres { .. } => {
                modes.push((label.to_string(), setting, false, &None));
                modes.push((format!("{label} grouped"), setting, true, cleanup));
            }
        }
    }
    for (label, setting, grouped, cleanup) in &modes {
        for &tasks in &LEVELS {
            let connections = tasks.min(32) as u32;
            let db = Db::connect(setting, connections).await.unwrap().grouping_writes(*grouped, connections);
            db.migrate().await.unwrap();
            let ledger = Ledger::new(db.clone(), Clock::System).await.unwrap();
            for op in [Op::Debit, Op::HoldCapture] {
                let per_task = (ops_per_level / tasks).max(if op == Op::Debit { 20 } else { 10 });
                let per_task = if op == Op::HoldCapture { per_task / 2 } else { per_task };
                let ledger_run = run(&ledger, tasks, per_task, op, false).await;
                let raw_run = run(&ledger, tasks, per_task, op, true).await;
                let ratio = ledger_run.per_sec / raw_run.per_sec;
                println!(
                    "{:<19} {:>5}  {:<13} {:>12.0} {:>12.0} {:>6.0}%   {:>7.2} / {:>7.2}   {:>7.2} / {:>7.2}",
                    label,
                    tasks,
                    op.name(),
                    ledger_run.per_sec,
                    raw_run.per_sec,
                    ratio * 100.0,
                    ledger_run.p50_ms,
                    ledger_run.p99_ms,
                    raw_run.p50_ms,
                    raw_run.p99_ms
                );
                rows.push(json!({
                    "backend": label, "grouped": grouped, "tasks": tasks, "operation": op.name(), "operations": per_task * tasks,
                    "ledger": { "per_sec": ledger_run.per_sec, "p50_ms": ledger_run.p50_ms, "p99_ms": ledger_run.p99_ms },
                    "raw": { "per_sec": raw_run.per_sec, "p50_ms": raw_run.p50_ms, "p99_ms": raw_run.p99_ms },
                    "ratio": ratio, "meets_target": ratio >= 0.5,
                }));
            }
            db.close().await;
        }
        if let Some((admin, name)) = cleanup {
            admin_exec(admin, &format!("drop database if exists {name} with (force)")).await;
        }
    }
    let all_met = rows.iter().all(|r| r["meets_target"].as_bool() == Some(true));
    println!("\ntarget (ledger at least 50% of raw at every level): {}", if all_met { "met" } else { "NOT met" });
    std::fs::create_dir_all("target/bench").unwrap();
    let report = json!({ "ops_per_level": ops_per_level, "results": rows, "target_met": all_met });
    std::fs::write("target/bench/ledger.json", serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote target/bench/ledger.json");
}

async fn admin_exec(admin_url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
    conn.execute(sql).await.unwrap();
}

/// Opens one funded wallet per task and times `per_task` operations on each, all at once.
async fn run(ledger: &Ledger, tasks: usize, per_task: usize, op: Op, raw: bool) -> Sample {
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let mut wallets = Vec::new();
    for t in 0..tasks {
        let id = ledger.open_wallet(&format!("bench-{run_id}-{t}")).await.unwrap();
        let funded = ledger
            .credit(&CreditRequest {
                idempotency_key: format!("fund-{run_id}-{t}"),
                wallet: id,
                amount: Micros::from_usd(1_000_000),
                kind: CreditKind::Purchase,
                description: "bench".into(),
                metadata: json!({}),
                expires_at_ms: None,
            })
            .await
            .unwrap();
        let lot: i64 = sqlx::query_scalar("select id from credit_lot where transfer_id = $1")
            .bind(funded.transfer_id)
            .fetch_one(ledger.db().pool())
            .await
            .unwrap();
        wallets.push(Wallet { id, lot });
    }
    let start = Instant::now();
    let handles: Vec<_> = wallets
        .into_iter()
        .enumerate()
        .map(|(t, wallet)| {
            let ledger = ledger.clone();
            let run_id = run_id.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_task);
                for i in 0..per_task {
                    let key = format!("{run_id}-{t}-{i}");
                    let began = Instant::now();
                    match (op, raw) {
                        (Op::Debit, false) => ledger_debit(&ledger, &wallet, &key).await,
                        (Op::Debit, true) => raw_debit(&ledger, &wallet, &key).await,
                        (Op::HoldCapture, false) => ledger_hold_capture(&ledger, &wallet, &key).await,
                        (Op::HoldCapture, true) => raw_hold_capture(&ledger, &wallet, &key).await,
                    }
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    for h in handles {
        latencies.extend(h.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    Sample { per_sec: latencies.len() as f64 / elapsed.as_secs_f64(), p50_ms: pct(0.50), p99_ms: pct(0.99) }
}

const COST: i64 = 3_000;

async fn ledger_debit(ledger: &Ledger, w: &Wallet, key: &str) {
    ledger
        .debit(&DebitRequest {
            idempotency_key: key.into(),
            wallet: w.id,
            amount: Micros(COST),
            kind: DebitKind::Usage,
            description: "fal-ai/flux/schnell".into(),
            metadata: json!({}),
        })
        .await
        .unwrap();
}

async fn ledger_hold_capture(ledger: &Ledger, w: &Wallet, key: &str) {
    let hold = ledger
        .create_hold(&HoldRequest {
            idempotency_key: format!("h-{key}"),
            wallet: w.id,
            amount: Micros(COST * 2),
            ttl_ms: 600_000,
            description: "fal-ai/flux/dev".into(),
            metadata: json!({}),
        })
        .await
        .unwrap();
    ledger
        .capture_hold(&CaptureRequest {
            idempotency_key: format!("c-{key}"),
            hold_id: hold.id,
            actual: Micros(COST),
            description: "fal-ai/flux/dev".into(),
            metadata: json!({}),
        })
        .await
        .unwrap();
}

/// The writes a debit makes, with none of the ledger's checks, lookups or bookkeeping.
async fn raw_debit(ledger: &Ledger, w: &Wallet, key: &str) {
    let revenue = ledger.system_account(SystemAccount::UsageRevenue);
    let mut tx = ledger.db().begin_write().await.unwrap();
    raw_key(&mut tx, key).await;
    let after: i64 = sqlx::query_scalar(
        "update account set posted_micros = posted_micros - $1 where id = $2 and posted_micros - reserved_micros >= $1 \
         returning posted_micros",
    )
    .bind(COST)
    .bind(w.id.0)
    .fetch_one(&mut **tx)
    .await
    .unwrap();
    let transfer = raw_transfer(&mut tx, w, revenue, key, after, None).await;
    raw_draw(&mut tx, w, transfer).await;
    tx.commit().await.unwrap();
}

async fn raw_hold_capture(ledger: &Ledger, w: &Wallet, key: &str) {
    let revenue = ledger.system_account(SystemAccount::UsageRevenue);
    let mut tx = ledger.db().begin_write().await.unwrap();
    raw_key(&mut tx, &format!("h-{key}")).await;
    sqlx::query("update account set reserved_micros = reserved_micros + $1 where id = $2 and posted_micros - reserved_micros >= $1")
        .bind(COST * 2)
        .bind(w.id.0)
        .execute(&mut **tx)
        .await
        .unwrap();
    let hold: i64 = sqlx::query_scalar(
        "insert into hold (wallet_id, amount_micros, status, description, metadata, expires_at_ms, created_at_ms) \
         values ($1, $2, 'open', 'raw', '{}', $3, 0) returning id",
    )
    .bind(w.id.0)
    .bind(COST * 2)
    .bind(i64::MAX)
    .fetch_one(&mut **tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = ledger.db().begin_write().await.unwrap();
    raw_key(&mut tx, &format!("c-{key}")).await;
    sqlx::query("update hold set status = 'captured', captured_micros = $1, uncollected_micros = 0, closed_at_ms = 0 where id = $2")
        .bind(COST)
        .bind(hold)
        .execute(&mut **tx)
        .await
        .unwrap();
    let after: i64 = sqlx::query_scalar(
        "update account set reserved_micros = reserved_micros - $1, posted_micros = posted_micros - $2 where id = $3 \
         returning posted_micros",
    )
    .bind(COST * 2)
    .bind(COST)
    .bind(w.id.0)
    .fetch_one(&mut **tx)
    .await
    .unwrap();
    let transfer = raw_transfer(&mut tx, w, revenue, &format!("c-{key}"), after, Some(hold)).await;
    raw_draw(&mut tx, w, transfer).await;
    tx.commit().await.unwrap();
}

async fn raw_key(tx: &mut sqlx::Transaction<'static, sqlx::Any>, key: &str) {
    sqlx::query("insert into idempotency_key (key, operation, request, result, created_at_ms) values ($1, 'raw', '{}', '{}', 0)")
        .bind(key)
        .execute(&mut **tx)
        .await
        .unwrap();
}

async fn raw_transfer(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    w: &Wallet,
    revenue: AccountId,
    key: &str,
    after: i64,
    hold: Option<i64>,
) -> i64 {
    sqlx::query_scalar(
        "insert into transfer (debit_account_id, credit_account_id, amount_micros, code, idempotency_key, description, \
         metadata, wallet_id, wallet_balance_after_micros, hold_id, created_at_ms) \
         values ($1, $2, $3, 'usage', $4, 'raw', '{}', $1, $5, $6, 0) returning id",
    )
    .bind(w.id.0)
    .bind(revenue.0)
    .bind(COST)
    .bind(key)
    .bind(after)
    .bind(hold)
    .fetch_one(&mut **tx)
    .await
    .unwrap()
}

async fn raw_draw(tx: &mut sqlx::Transaction<'_, sqlx::Any>, w: &Wallet, transfer: i64) {
    sqlx::query("update credit_lot set remaining_micros = remaining_micros - $1 where id = $2")
        .bind(COST)
        .bind(w.lot)
        .execute(&mut **tx)
        .await
        .unwrap();
    sqlx::query("insert into lot_draw (transfer_id, lot_id, amount_micros) values ($1, $2, $3)")
        .bind(transfer)
        .bind(w.lot)
        .bind(COST)
        .execute(&mut **tx)
        .await
        .unwrap();
}
