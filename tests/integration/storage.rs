use tollgate::server::infra::db::{Backend, Db};
use tollgate::server::infra::installation;
use tollgate::server::web::app_server::AppServer;

use crate::helpers::{TestDatabase, test_config};

backend_tests!(migrating_twice_applies_nothing_the_second_time, two_instances_on_one_database_share_one_installation,);

async fn migrating_twice_applies_nothing_the_second_time(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let config = test_config(&database, &[]);
    let db = Db::connect(&config.database, 2).await.unwrap();
    assert_eq!(db.backend(), backend);
    let first = db.migrate().await.unwrap();
    assert_eq!((first.applied_before, first.latest_version), (0, crate::helpers::LATEST_SCHEMA_VERSION));
    assert!(first.applied_now >= 1);
    let second = db.migrate().await.unwrap();
    assert_eq!(second.applied_now, 0);
    assert_eq!(second.applied_before, first.applied_now);
    db.close().await;
}

async fn two_instances_on_one_database_share_one_installation(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let (a, b) = tokio::join!(
        AppServer::build(test_config(&database, &[]), tollgate::ui::app::web_app()),
        AppServer::build(test_config(&database, &[]), tollgate::ui::app::web_app())
    );
    let (a, b) = (a.expect("first instance starts"), b.expect("second instance starts"));
    assert_ne!(a.local_addr(), b.local_addr());
    assert_eq!(a.state().installation, b.state().installation);
    let again = installation::ensure(&a.state().db).await.unwrap();
    assert_eq!(again, a.state().installation);
    let rows: i64 =
        sqlx::query_scalar("select count(*) from installation").fetch_one(a.state().db.pool()).await.unwrap();
    assert_eq!(rows, 1);
}

/// The migration that adds transfer codes rebuilds SQLite's transfer table: money written
/// before it (transfers, the lots they made, the draws that refer to them) comes through
/// whole, and the books still balance.
#[tokio::test]
async fn an_existing_sqlite_ledger_keeps_its_money_through_the_transfer_table_rebuild() {
    use sqlx::Row;
    let database = TestDatabase::new(Backend::Sqlite).await;
    let config = test_config(&database, &[]);
    let db = Db::connect(&config.database, 1).await.unwrap();
    let all = sqlx::migrate!("migrations/sqlite");
    let before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(all.migrations.iter().filter(|m| m.version <= 13).cloned().collect()),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    };
    before.run(db.pool()).await.unwrap();
    let run = |sql: &'static str| async { sqlx::query(sql).execute(db.pool()).await.unwrap() };
    run("insert into account (kind, code, owner_id, posted_micros, created_at_ms) values ('wallet', 'wallet:ada', 'ada', 3000000, 1)").await;
    run("insert into transfer (id, debit_account_id, credit_account_id, amount_micros, code, idempotency_key, description, \
         wallet_id, wallet_balance_after_micros, created_at_ms) select 1, p.id, w.id, 5000000, 'purchase', 'buy', 'Bought', \
         w.id, 5000000, 1 from account p, account w where p.code = 'system:payments_clearing' and w.code = 'wallet:ada'").await;
    run("insert into transfer (id, debit_account_id, credit_account_id, amount_micros, code, idempotency_key, description, \
         wallet_id, wallet_balance_after_micros, created_at_ms) select 2, w.id, u.id, 2000000, 'usage', 'use', 'Used', \
         w.id, 3000000, 2 from account u, account w where u.code = 'system:usage_revenue' and w.code = 'wallet:ada'").await;
    run("insert into credit_lot (id, wallet_id, transfer_id, source, promotional, original_micros, remaining_micros, \
         created_at_ms) select 1, id, 1, 'purchase', 0, 5000000, 3000000, 1 from account where code = 'wallet:ada'")
    .await;
    run("insert into lot_draw (transfer_id, lot_id, amount_micros) values (2, 1, 2000000)").await;

    let applied = db.migrate().await.unwrap();
    assert_eq!((applied.applied_before, applied.latest_version), (13, crate::helpers::LATEST_SCHEMA_VERSION));
    let rows =
        sqlx::query("select id, code, amount_micros from transfer order by id").fetch_all(db.pool()).await.unwrap();
    let rows: Vec<(i64, String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(rows, vec![(1, "purchase".into(), 5_000_000), (2, "usage".into(), 2_000_000)]);
    let broken = sqlx::query("pragma foreign_key_check").fetch_all(db.pool()).await.unwrap();
    assert!(broken.is_empty(), "every reference still points at a transfer");
    // Still immutable, and the new codes are accepted.
    assert!(sqlx::query("delete from transfer").execute(db.pool()).await.is_err());
    let ledger =
        tollgate::server::ledger::Ledger::new(db.clone(), tollgate::server::ledger::Clock::System).await.unwrap();
    let report = ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    let wallet = ledger.find_wallet("ada").await.unwrap().unwrap();
    ledger.set_credit_limit(wallet, tollgate::shared::money::Micros::from_usd(10)).await.unwrap();
    let spend = crate::ledger_helpers::usage("more", wallet, "4");
    ledger.debit(&spend).await.unwrap();
    assert!(ledger.audit().await.unwrap().is_clean());
    db.close().await;
}
