use super::*;
use std::collections::HashMap;
use std::io::Write;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

const MASTER: (&str, &str) =
    ("TOLLGATE_MASTER_KEY", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");

#[test]
fn a_run_outside_the_sandbox_needs_a_master_key_and_it_is_never_printed() {
    let err = Config::load(Some(file_with("sandbox = false").path()), &env_of(&[])).unwrap_err();
    assert_eq!(err.setting, "TOLLGATE_MASTER_KEY");
    assert!(err.problem.contains("openssl rand -hex 32"), "{}", err.problem);
    for bad in ["short", "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"] {
        let err = Config::load(Some(file_with("").path()), &env_of(&[("TOLLGATE_MASTER_KEY", bad)])).unwrap_err();
        assert_eq!(err.setting, "TOLLGATE_MASTER_KEY");
        assert!(err.problem.contains("64 hexadecimal digits"));
    }
    let cfg = Config::load(Some(file_with("sandbox = false").path()), &env_of(&[MASTER])).unwrap();
    let key = cfg.load_master_key().unwrap();
    assert_eq!(key[0], 0xff);
    assert_eq!(key[31], 0x00);
    assert!(!format!("{cfg:?}").contains("ffeeddcc"), "the master key must never be printed");
}

#[test]
fn the_sandbox_keeps_a_master_key_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pairs = [("TOLLGATE_DATA_DIR", data.to_str().unwrap())];
    let env = env_of(&pairs);
    let cfg = Config::load(Some(file_with("").path()), &env).unwrap();
    let first = cfg.load_master_key().unwrap();
    assert_eq!(cfg.load_master_key().unwrap(), first, "kept, not made again");
    let path = data.join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    std::fs::write(&path, "damaged").unwrap();
    let err = cfg.load_master_key().unwrap_err();
    assert!(err.problem.contains("damaged"), "a damaged key file is never silently replaced: {}", err.problem);
}

#[test]
fn provider_base_urls_are_checked() {
    let err = Config::load(Some(file_with("fal_api_base = \"ftp://x\"").path()), &env_of(&[])).unwrap_err();
    assert!(err.setting.starts_with("fal_api_base"));
    let cfg = Config::load(Some(file_with("").path()), &env_of(&[("TOLLGATE_OPENROUTER_BASE", "http://127.0.0.1:9/")]))
        .unwrap();
    assert_eq!(cfg.openrouter_base.unwrap().as_str(), "http://127.0.0.1:9/");
    assert!(cfg.fal_api_base.is_none());
}

#[test]
fn defaults_use_the_embedded_sqlite_database_under_the_data_dir() {
    let cfg = Config::load(Some(file_with("").path()), &env_of(&[])).unwrap();
    assert_eq!(cfg.site_addr.to_string(), "127.0.0.1:3000");
    assert_eq!(cfg.database, DatabaseSetting::Sqlite { url: "sqlite://data/tollgate.db".into() });
    assert!(cfg.sandbox);
    assert_eq!(cfg.log_format, LogFormat::Pretty);
    assert!(!cfg.is_https());
}

#[test]
fn environment_overrides_the_settings_file() {
    let f = file_with("site_addr = \"127.0.0.1:4000\"\nsandbox = true\n");
    let env = env_of(&[("TOLLGATE_SITE_ADDR", "0.0.0.0:5000"), ("TOLLGATE_SANDBOX", "false"), MASTER]);
    let cfg = Config::load(Some(f.path()), &env).unwrap();
    assert_eq!(cfg.site_addr.to_string(), "0.0.0.0:5000");
    assert!(!cfg.sandbox);
}

#[test]
fn a_postgres_url_selects_postgres_and_needs_a_shared_secret_key() {
    let url = ("TOLLGATE_DATABASE_URL", "postgres://u:secret@localhost:5432/tollgate");
    let err = Config::load(Some(file_with("").path()), &env_of(&[url])).unwrap_err();
    assert_eq!(err.setting, "TOLLGATE_SECRET_KEY");
    let key = ("TOLLGATE_SECRET_KEY", "0123456789abcdef0123456789abcdef");
    let err = Config::load(Some(file_with("").path()), &env_of(&[url, key])).unwrap_err();
    assert_eq!(err.setting, "TOLLGATE_MASTER_KEY", "instances sharing PostgreSQL must share the master key");
    let cfg = Config::load(Some(file_with("").path()), &env_of(&[url, key, MASTER])).unwrap();
    assert!(cfg.database.is_postgres());
    assert_eq!(cfg.database.to_string(), "postgres://u:***@localhost:5432/tollgate");
    let shown = format!("{cfg:?}");
    assert!(!shown.contains(":secret@"), "the password must never be printed");
    assert!(!shown.contains("0123456789abcdef"), "nor the secret key");
}

#[test]
fn a_bad_database_url_names_the_variable_and_hides_the_password() {
    let err =
        Config::load(Some(file_with("").path()), &env_of(&[("TOLLGATE_DATABASE_URL", "mysql://root:hunter2@db/x")]))
            .unwrap_err();
    assert_eq!(err.setting, "TOLLGATE_DATABASE_URL");
    assert!(err.problem.contains("unsupported database `mysql`"), "{}", err.problem);
    assert!(!err.to_string().contains("hunter2"));
    assert!(!err.to_string().contains('\n'), "errors are one line");
}

#[test]
fn database_urls_without_a_scheme_host_or_name_are_refused() {
    for bad in ["not a url", "postgres://", "postgres://localhost:5432", "postgres://localhost/", "sqlite:"] {
        assert!(parse_database_url(bad).is_err(), "{bad} should be refused");
    }
    assert!(parse_database_url("postgresql://localhost/db").is_ok());
    assert!(parse_database_url("sqlite://data/x.db?mode=rwc").is_ok());
}

#[test]
fn a_malformed_value_in_the_file_names_the_key_and_file() {
    let f = file_with("site_addr = \"nowhere\"\n");
    let err = Config::load(Some(f.path()), &env_of(&[])).unwrap_err();
    assert_eq!(err.setting, format!("site_addr in {}", f.path().display()));
    assert!(err.problem.contains("host:port"));
}

#[test]
fn unknown_keys_in_the_file_are_refused() {
    let f = file_with("databse_url = \"postgres://x/y\"\n");
    let err = Config::load(Some(f.path()), &env_of(&[])).unwrap_err();
    assert!(err.setting.starts_with("databse_url in "));
    assert!(err.problem.contains("unknown setting"));
}

#[test]
fn a_file_that_is_not_toml_is_reported_on_one_line() {
    let f = file_with("site_addr = \n[[[");
    let err = Config::load(Some(f.path()), &env_of(&[])).unwrap_err();
    assert!(err.problem.starts_with("not valid TOML"));
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn a_named_settings_file_must_exist_but_the_default_may_be_absent() {
    let missing = Path::new("/nonexistent/tollgate/Leptos.toml");
    let err = Config::load(Some(missing), &env_of(&[])).unwrap_err();
    assert_eq!(err.setting, missing.display().to_string());
    assert!(err.problem.contains("cannot read"));
}

#[test]
fn bad_numbers_booleans_formats_and_filters_are_refused() {
    let cases = [
        ("TOLLGATE_DATABASE_MAX_CONNECTIONS", "0"),
        ("TOLLGATE_DATABASE_MAX_CONNECTIONS", "ten"),
        ("TOLLGATE_SANDBOX", "maybe"),
        ("TOLLGATE_LOG_FORMAT", "xml"),
        ("TOLLGATE_LOG_LEVEL", "info,[[["),
        ("TOLLGATE_PUBLIC_URL", "ftp://example.com"),
        ("TOLLGATE_PUBLIC_URL", "https://example.com/?a=b"),
        ("TOLLGATE_DATA_DIR", ""),
        ("TOLLGATE_SIGNUP_CREDIT_USD", "-1"),
        ("TOLLGATE_SIGNUP_CREDIT_USD", "lots"),
        ("TOLLGATE_SESSION_MAX_DAYS", "0"),
        ("TOLLGATE_BEHIND_PROXY", "perhaps"),
    ];
    for (var, value) in cases {
        let err = Config::load(Some(file_with("").path()), &env_of(&[(var, value)])).unwrap_err();
        assert_eq!(err.setting, var, "{var}={value}");
    }
}

#[test]
fn an_https_public_url_means_secure_cookies() {
    let cfg =
        Config::load(Some(file_with("public_url = \"https://billing.example.com\"").path()), &env_of(&[])).unwrap();
    assert!(cfg.is_https());
}

#[test]
fn redaction_hides_passwords_even_in_urls_that_do_not_parse() {
    assert_eq!(redact_url("postgres://a:b@h/d"), "postgres://a:***@h/d");
    assert_eq!(redact_url("postgres://a:b@h:notaport/d"), "postgres://***");
    assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    assert_eq!(
        redact_url("postgres://h/d?sslmode=require&password=hunter2"),
        "postgres://h/d?sslmode=require&password=***"
    );
}

#[test]
fn email_is_off_by_default_and_its_sender_is_a_valid_address() {
    let cfg = Config::load(Some(file_with("").path()), &env_of(&[])).unwrap();
    assert!(cfg.smtp_url.is_none());
    assert_eq!(cfg.smtp_from, "Tollgate <notices@localhost>");
    assert!(cfg.smtp_from.parse::<lettre::message::Mailbox>().is_ok());
    let env = env_of(&[
        ("TOLLGATE_PUBLIC_URL", "https://credits.example.com"),
        ("TOLLGATE_SMTP_URL", "smtps://ana:pw@mail.example.com"),
    ]);
    let cfg = Config::load(Some(file_with("").path()), &env).unwrap();
    assert_eq!(cfg.smtp_from, "Tollgate <notices@credits.example.com>");
    assert!(cfg.smtp_from.parse::<lettre::message::Mailbox>().is_ok());
    assert_eq!(cfg.smtp_url.unwrap().server(), "smtps://mail.example.com");
    let err =
        Config::load(Some(file_with("").path()), &env_of(&[("TOLLGATE_SMTP_FROM", "not an address")])).unwrap_err();
    assert_eq!(err.setting, "TOLLGATE_SMTP_FROM");
}

#[test]
fn calls_in_flight_tiers_grow_with_what_was_paid_and_bad_tiers_are_named() {
    use crate::shared::money::Micros;
    let cfg = Config::load(Some(file_with("").path()), &env_of(&[])).unwrap();
    let tiers = &cfg.calls_in_flight;
    assert_eq!(tiers.to_string(), "0:2,10:10,100:40");
    assert_eq!(tiers.limit_for(Micros::ZERO), 2);
    assert_eq!(tiers.limit_for(Micros(9_999_999)), 2);
    assert_eq!(tiers.limit_for(Micros::from_usd(10)), 10);
    assert_eq!(tiers.limit_for(Micros::from_usd(5_000)), 40);
    assert_eq!(tiers.next_above(Micros::from_usd(10)), Some((Micros::from_usd(100), 40)));
    assert_eq!(tiers.next_above(Micros::from_usd(100)), None);
    let cfg = Config::load(Some(file_with("calls_in_flight_tiers = \"0:1, $25:5\"").path()), &env_of(&[])).unwrap();
    assert_eq!(cfg.calls_in_flight.limit_for(Micros::from_usd(25)), 5);
    for bad in ["", "5:2", "0:2,0:3", "0:5,10:2", "0:0", "0:two", "0-2", "-1:2,0:2"] {
        let err =
            Config::load(Some(file_with("").path()), &env_of(&[("TOLLGATE_CALLS_IN_FLIGHT_TIERS", bad)])).unwrap_err();
        assert_eq!(err.setting, "TOLLGATE_CALLS_IN_FLIGHT_TIERS", "{bad}");
    }
}

#[test]
fn group_commit_is_on_for_sqlite_off_for_postgres_unless_set_and_a_bad_value_is_named() {
    let cfg = Config::load(Some(file_with("").path()), &env_of(&[])).unwrap();
    assert!(cfg.group_commit, "SQLite groups commits by default");
    let url = ("TOLLGATE_DATABASE_URL", "postgres://u:secret@localhost:5432/tollgate");
    let key = ("TOLLGATE_SECRET_KEY", "0123456789abcdef0123456789abcdef");
    let cfg = Config::load(Some(file_with("").path()), &env_of(&[url, key, MASTER])).unwrap();
    assert!(!cfg.group_commit, "PostgreSQL commits each call alone by default");
    let on = ("TOLLGATE_GROUP_COMMIT", "true");
    assert!(Config::load(Some(file_with("").path()), &env_of(&[url, key, MASTER, on])).unwrap().group_commit);
    let cfg = Config::load(Some(file_with("group_commit = false").path()), &env_of(&[])).unwrap();
    assert!(!cfg.group_commit);
    let err = Config::load(Some(file_with("").path()), &env_of(&[("TOLLGATE_GROUP_COMMIT", "sometimes")])).unwrap_err();
    assert_eq!(err.setting, "TOLLGATE_GROUP_COMMIT");
}
