//! The `tollgate` binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

fn tollgate(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    // Only what the test sets: no settings leak in from the developer's shell.
    for (k, _) in std::env::vars() {
        if k.starts_with("TOLLGATE_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn help_lists_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(dir.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for word in ["serve", "migrate", "config", "admin", "--config", "TOLLGATE_"] {
        assert!(help.contains(word), "--help should mention {word}:\n{help}");
    }
}

#[test]
fn a_broken_database_url_stops_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        tollgate(dir.path()).env("TOLLGATE_DATABASE_URL", "mysql://root:hunter2@localhost/tollgate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line, got: {err}");
    assert!(err.starts_with("tollgate: TOLLGATE_DATABASE_URL: unsupported database `mysql`"), "{err}");
    assert!(!err.contains("hunter2"));
}

#[test]
fn an_unreachable_database_stops_with_one_line_and_no_password() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 on loopback: nothing listens there, the connection is refused at once.
    let out = tollgate(dir.path())
        .args(["migrate"])
        .env("TOLLGATE_DATABASE_URL", "postgres://tollgate:s3cret@127.0.0.1:9/tollgate")
        .env("TOLLGATE_SECRET_KEY", "0123456789abcdef0123456789abcdef")
        .env("TOLLGATE_MASTER_KEY", crate::helpers::TEST_MASTER_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line, got: {err}");
    assert!(err.contains("database: cannot connect to postgres://tollgate:***@127.0.0.1:9/tollgate"), "{err}");
    assert!(!err.contains("s3cret"));
}

#[test]
fn an_unreadable_settings_file_stops_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Leptos.toml"), "site_addr = [1, 2\n").unwrap();
    let out = tollgate(dir.path()).arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tollgate: Leptos.toml: not valid TOML"), "{err}");

    let out = tollgate(dir.path()).args(["--config", "missing.toml", "config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().starts_with("tollgate: missing.toml: cannot read"));
}

#[test]
fn dot_env_overrides_the_file_and_the_environment_overrides_dot_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Leptos.toml"), "log_level = \"info\"\nsandbox = true\n").unwrap();
    std::fs::write(dir.path().join(".env"), "TOLLGATE_LOG_LEVEL=debug\nTOLLGATE_SANDBOX=false\n").unwrap();
    let out = tollgate(dir.path()).arg("config").env("TOLLGATE_SANDBOX", "true").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("log_level                 debug"), "{text}");
    assert!(text.contains("sandbox                   true"), "{text}");
}

#[test]
fn migrate_creates_the_embedded_database_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let first = tollgate(dir.path()).arg("migrate").output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(dir.path().join("data/tollgate.db").is_file(), "the SQLite file is under the data directory");
    let text = String::from_utf8(first.stdout).unwrap();
    assert!(
        text.contains("SQLite database")
            && text.contains(&format!("schema version {}", crate::helpers::LATEST_SCHEMA_VERSION)),
        "{text}"
    );
    let second = tollgate(dir.path()).arg("migrate").output().unwrap();
    assert!(String::from_utf8(second.stdout).unwrap().contains("0 migration(s) applied now"));
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tollgate(dir.path())
        .env("TOLLGATE_SITE_ADDR", "127.0.0.1:0")
        .env("TOLLGATE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        assert!(Instant::now() < deadline, "the server did not start");
        let line = lines.next().expect("the server printed its address").unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
        if let Some(addr) = event.get("addr").and_then(|a| a.as_str()) {
            break addr.to_string();
        }
    };
    let health = std::net::TcpStream::connect(&addr);
    assert!(health.is_ok(), "listening on {addr}");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shutdown requested")), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
}

#[tokio::test]
async fn admin_audit_passes_on_good_books_and_fails_precisely_on_tampered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let clean = tollgate(dir.path()).args(["admin", "audit"]).output().unwrap();
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
    let text = String::from_utf8(clean.stdout).unwrap();
    assert!(text.starts_with("ledger audit: OK, 12 checks passed (0 wallets, 0 transfers)"), "{text}");

    // Money moved through the ledger, then a balance changed behind its back.
    let setting = tollgate::server::infra::config::DatabaseSetting::Sqlite {
        url: format!("sqlite://{}", dir.path().join("data/tollgate.db").display()),
    };
    let db = tollgate::server::infra::db::Db::connect(&setting, 1).await.unwrap();
    let ledger =
        tollgate::server::ledger::Ledger::new(db.clone(), tollgate::server::ledger::Clock::System).await.unwrap();
    let w = ledger.open_wallet("someone").await.unwrap();
    ledger.credit(&crate::ledger_helpers::purchase("p", w, "5")).await.unwrap();
    sqlx::query("update account set posted_micros = 1 where id = $1").bind(w.0).execute(db.pool()).await.unwrap();
    // A debt with no history behind it.
    sqlx::query("update account set owed_micros = 7 where id = $1").bind(w.0).execute(db.pool()).await.unwrap();
    db.close().await;

    let dirty = tollgate(dir.path()).args(["admin", "audit"]).output().unwrap();
    assert_eq!(dirty.status.code(), Some(1));
    let text = String::from_utf8(dirty.stdout).unwrap();
    assert!(text.starts_with("ledger audit: FAILED, 4 problem(s):"), "{text}");
    assert!(
        text.contains(&format!("[what is owed equals its journal] wallet {}: owes 7 but its journal sums to 0", w.0)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "[wallet balance equals its transfers] wallet {}: posted 1 but transfers sum to 5000000",
            w.0
        )),
        "{text}"
    );
}

#[test]
fn create_admin_makes_a_new_administrator_or_promotes_an_existing_account() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tollgate(dir.path())
        .args(["admin", "create-admin", "--email", " Root@Example.com "])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"an admin password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "created administrator root@example.com");

    let again = tollgate(dir.path()).args(["admin", "create-admin", "--email", "root@example.com"]).output().unwrap();
    assert!(again.status.success());
    assert_eq!(String::from_utf8(again.stdout).unwrap().trim(), "root@example.com is now an administrator");

    let mut weak = tollgate(dir.path())
        .args(["admin", "create-admin", "--email", "other@example.com"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    weak.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = weak.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim(), "tollgate: create-admin: Use at least 8 characters.");
}

#[test]
fn gift_codes_are_made_from_the_command_line_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(dir.path())
        .args([
            "admin",
            "gift-codes",
            "create",
            "--amount",
            "10",
            "--count",
            "3",
            "--max-uses",
            "2",
            "--expires",
            "2099-01-01",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "code,amount_usd,max_uses,expires");
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("TG-") && lines[1].ends_with(",10.00,2,2099-01-01"), "{}", lines[1]);
    assert!(dir.path().join("data/secret.key").is_file(), "the key that hashes the codes was made");

    let bad = tollgate(dir.path())
        .args(["admin", "gift-codes", "create", "--amount", "10", "--expires", "2027-02-30"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(String::from_utf8(bad.stderr).unwrap().trim(), "tollgate: --expires: use a date like 2027-01-01");
}

#[test]
fn administrators_set_list_and_unset_an_accounts_own_prices() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tollgate(dir.path())
        .args(["admin", "create-admin", "--email", "ops@example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    assert!(child.wait().unwrap().success());

    let run = |args: &[&str]| {
        let out = tollgate(dir.path()).args(["admin", "prices"]).args(args).output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, out, err) =
        run(&["set", "--email", "OPS@example.com", "--endpoint", "fal-ai/flux/dev", "--usd", "0.02"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "ops@example.com now pays $0.02 per image for fal-ai/flux/dev (catalog: $0.0250)");
    let (_, out, _) = run(&["list", "--email", "ops@example.com"]);
    assert_eq!(out.trim(), "endpoint_id,unit,account_price_usd,catalog_price_usd\nfal-ai/flux/dev,image,0.02,0.0250");

    let (code, _, err) = run(&["set", "--email", "ops@example.com", "--endpoint", "fal-ai/flux/dev", "--usd", "0"]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("tollgate: prices: --usd:"), "{err}");
    // An id that is not a model path is refused before anything is stored.
    for bad in ["http://127.0.0.1:9/steal", "fal-ai/../x", "fal-ai//flux"] {
        let (code, _, err) = run(&["set", "--email", "ops@example.com", "--endpoint", bad, "--usd", "1"]);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains("--endpoint"), "{err}");
    }
    let (code, _, err) = run(&["set", "--email", "nobody@example.com", "--endpoint", "fal-ai/flux/dev", "--usd", "1"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nobody@example.com was not found"), "{err}");

    let (code, out, _) = run(&["unset", "--email", "ops@example.com", "--endpoint", "fal-ai/flux/dev"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("catalog price"), "{out}");
    let (code, _, _) = run(&["unset", "--email", "ops@example.com", "--endpoint", "fal-ai/flux/dev"]);
    assert_eq!(code, Some(1), "nothing left to remove");
}

#[test]
fn a_price_catalog_with_a_bad_price_stops_start_up_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prices.csv"),
        "endpoint_id,provider,unit,unit_price_usd,operation,category,default\n\
         fal-ai/a,fal,image,0.01,generateImage,image,\n\
         fal-ai/b,fal,image,0,generateImage,image,\n",
    )
    .unwrap();
    let out = tollgate(dir.path())
        .arg("serve")
        .env("TOLLGATE_SITE_ADDR", "127.0.0.1:0")
        .env("TOLLGATE_PRICE_CATALOG", "prices.csv")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.lines().last().unwrap_or_default();
    assert_eq!(last, "tollgate: price_catalog: prices.csv line 3: price `0` must be more than zero", "{err}");
}
