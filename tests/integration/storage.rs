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
