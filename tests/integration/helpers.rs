use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::oneshot;
use tollgate::server::infra::config::Config;
use tollgate::server::infra::db::{Backend, Db};
pub use tollgate::server::web::app_server::AppServer;

/// Declares tests that take a `Backend` and runs each on SQLite and on PostgreSQL.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tollgate::server::infra::db::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !crate::helpers::postgres_configured() {
                        eprintln!("skipped: TEST_DATABASE_URL is not set");
                        return;
                    }
                    super::$name(tollgate::server::infra::db::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// The newest migration under migrations/.
pub const LATEST_SCHEMA_VERSION: i64 = 24;

pub fn postgres_configured() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.trim().is_empty())
}

/// A database of its own for one test, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>, // (admin url, database name)
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
                Self { url, _dir: dir, postgres: None }
            }
            Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
                let name = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
                admin_exec(&admin, &format!("create database {name}")).await;
                let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                Self { url: url.to_string(), _dir: dir, postgres: Some((admin, name)) }
            }
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

async fn admin_exec(admin_url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("connect to TEST_DATABASE_URL");
    conn.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime; a separate thread may block on its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(admin_exec(&admin, &format!("drop database if exists {name} with (force)")));
            })
            .join();
        }
    }
}

/// No request to a test instance may take longer than this: a response that never
/// finishes fails its test with the request named instead of stalling the whole run.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The master key test instances seal provider keys with.
pub const TEST_MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Settings as a test instance uses them: the project's Leptos.toml, then these overrides.
pub fn test_config(db: &TestDatabase, extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::from([
        ("TOLLGATE_SITE_ADDR".into(), "127.0.0.1:0".into()),
        ("TOLLGATE_DATA_DIR".into(), db.data_dir().display().to_string()),
        ("TOLLGATE_DATABASE_URL".into(), db.url.clone()),
        ("TOLLGATE_LOG_LEVEL".into(), "warn".into()),
        ("TOLLGATE_DATABASE_MAX_CONNECTIONS".into(), "4".into()),
        ("TOLLGATE_SECRET_KEY".into(), "test-secret-key-0123456789abcdef0123456789".into()),
        ("TOLLGATE_MASTER_KEY".into(), TEST_MASTER_KEY.into()),
        // Tests fire many calls from one account; the limit on calls at once is tested
        // where it is set lower.
        ("TOLLGATE_CALLS_IN_FLIGHT_TIERS".into(), "0:10000".into()),
    ]);
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    Config::load(None, &|k| env.get(k).cloned()).expect("test settings are valid")
}

/// A running app and what a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: Db,
    /// What the running app's handlers see (its cipher, providers, settings).
    pub state: tollgate::server::infra::state::AppState,
    // Dropped after the app: removes the PostgreSQL database the test used.
    database: Option<TestDatabase>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// The app's database, to start another instance on it.
    pub fn database_handle(&self) -> &TestDatabase {
        self.database.as_ref().expect("the app has its database")
    }

    /// Starts a graceful stop, as a shutdown signal would: no new connections, requests in
    /// flight may finish.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the app as a crash would: the server and its background work (its lease
    /// included) end where they are, with nothing finished or cleaned up. The database
    /// stays, for another app to start on.
    pub async fn crash(mut self) -> TestDatabase {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
        self.stop.take();
        self.database.take().expect("the app has its database")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// Calls a server function the way the browser does (URL-encoded POST, JSON answer).
    pub async fn server_fn(&self, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(&format!("/api/{name}"))).form(form).send().await.expect("request")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_on(TestDatabase::new(backend).await, extra).await
}

/// An app on a database an earlier app used (see [`TestApp::crash`]).
pub async fn spawn_app_on(database: TestDatabase, extra: &[(&str, &str)]) -> TestApp {
    let config = test_config(&database, extra);
    serve(config, Some(database)).await
}

/// Starts an app with `config` and what a test needs to talk to it; `database` is kept
/// (and removed) with it when the app owns it.
async fn serve(config: Config, database: Option<TestDatabase>) -> TestApp {
    let server = AppServer::build(config, tollgate::ui::app::web_app()).await.expect("the app starts");
    let addr = server.local_addr();
    let db = server.state().db.clone();
    let state = server.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("http client");
    TestApp { addr, client, db, state, database, stop: Some(stop), server: Some(server) }
}

/// Waits (bounded by `within`) until `check` gives a value: for work the app does in the
/// background (a top-up after a call, an email).
pub async fn wait_for<T>(what: &str, within: std::time::Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "{what} did not happen within {} s", within.as_secs());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A migrated database and a ledger on it with a hand-moved clock.
pub struct TestLedger {
    pub ledger: tollgate::server::ledger::Ledger,
    pub clock: tollgate::server::ledger::Clock,
    pub database: TestDatabase,
}

/// When the manual clock starts: 2026-01-01T00:00:00Z.
pub const T0_MS: i64 = 1_767_225_600_000;
pub const DAY_MS: i64 = 86_400_000;

impl TestLedger {
    pub async fn new(backend: Backend) -> Self {
        let database = TestDatabase::new(backend).await;
        let clock = tollgate::server::ledger::Clock::manual(T0_MS);
        let ledger = Self::open(&database, &clock, 8).await;
        Self { ledger, clock, database }
    }

    /// Another ledger on the same database through its own connection pool, as a second
    /// app instance would have.
    pub async fn second_instance(&self) -> tollgate::server::ledger::Ledger {
        Self::open(&self.database, &self.clock, 8).await
    }

    async fn open(
        database: &TestDatabase,
        clock: &tollgate::server::ledger::Clock,
        pool: u32,
    ) -> tollgate::server::ledger::Ledger {
        let config = test_config(database, &[]);
        let db = Db::connect(&config.database, pool).await.expect("connect");
        db.migrate().await.expect("migrate");
        tollgate::server::ledger::Ledger::new(db, clock.clone()).await.expect("ledger")
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(self.ledger.db().pool()).await.unwrap()
    }

    /// Asserts every invariant `tollgate admin audit` checks.
    pub async fn assert_audit_clean(&self) {
        let report = self.ledger.audit().await.expect("audit runs");
        assert!(report.is_clean(), "audit findings: {:#?}", report.findings);
    }
}

impl TestApp {
    /// A client that keeps cookies, like a browser (but sends no Origin header).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client")
    }

    pub async fn call(&self, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
        client.post(self.url(&format!("/api/{name}"))).form(form).send().await.expect("request")
    }

    /// The kinds of the money events `client`'s account has had, oldest first.
    pub async fn event_kinds(&self, client: &reqwest::Client) -> Vec<String> {
        let res = client.get(self.url("/api/v1/events?limit=1000")).send().await.expect("request");
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.expect("JSON");
        body["events"].as_array().expect("events").iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
    }

    /// Signs in through the server function and returns the signed-in client.
    pub async fn signed_in(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.browser();
        let res = self.call(&client, "sign_in", &[("email", email), ("password", password)]).await;
        assert_eq!(res.status(), 200, "sign in: {}", res.text().await.unwrap_or_default());
        client
    }

    /// Another app on this app's database, as a second process would be. It is stopped
    /// when dropped; the database stays this app's.
    pub async fn second_instance(&self) -> TestApp {
        self.second_instance_with(&[]).await
    }

    /// Another instance on this app's database, with settings of its own.
    pub async fn second_instance_with(&self, extra: &[(&str, &str)]) -> TestApp {
        serve(test_config(self.database_handle(), extra), None).await
    }

    /// Signs up through the server function and returns the signed-in client.
    pub async fn signed_up(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.browser();
        let res = self.call(&client, "sign_up", &[("email", email), ("password", password)]).await;
        assert_eq!(res.status(), 200, "sign up: {}", res.text().await.unwrap_or_default());
        client
    }

    pub async fn me(&self, client: &reqwest::Client) -> (u16, serde_json::Value) {
        let res = client.get(self.url("/api/v1/me")).send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// A page's HTML without the markers the renderer puts between text nodes.
pub fn visible(html: &str) -> String {
    html.replace("<!---->", "").replace("<!>", "")
}

/// An endpoint id, parsed as the API parses it.
pub fn endpoint(raw: &str) -> tollgate::shared::endpoint::EndpointId {
    tollgate::shared::endpoint::EndpointId::parse(raw).expect("a valid endpoint id")
}
