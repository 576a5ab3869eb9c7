//! What an attacker tries: provider keys sent to another host, framing, cached secrets,
//! malformed input, error text planted in a link, and request ids that reveal other
//! accounts.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate::server::infra::db::Backend;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::provider_standin::{PLATFORM_FAL_KEY, PLATFORM_OPENROUTER_KEY, ProviderStandIn};

backend_tests!(
    an_endpoint_id_cannot_send_the_platform_key_to_another_host,
    request_ids_belong_to_the_account_that_chose_them,
);

/// A host that must hear nothing: it records every request that reaches it.
struct Bystander {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Bystander {
    async fn start() -> Self {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let log = log.clone();
            async move {
                let auth = req.headers().get("authorization").map(|v| v.to_str().unwrap_or("?").to_string());
                log.lock().unwrap().push(format!("{} {} auth={auth:?}", req.method(), req.uri()));
                "stolen"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn token_for(app: &TestApp, client: &reqwest::Client) -> String {
    let res = app.call(client, "tokens_create", &[("name", "script")]).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_string()
}

async fn an_endpoint_id_cannot_send_the_platform_key_to_another_host(backend: Backend) {
    let fal = ProviderStandIn::start().await;
    let bystander = Bystander::start().await;
    let queue = format!("{}queue/", fal.url());
    let settings = [
        ("TOLLGATE_FAL_RUN_BASE", fal.url()),
        ("TOLLGATE_FAL_QUEUE_BASE", queue),
        ("TOLLGATE_FAL_API_BASE", fal.url()),
        ("TOLLGATE_OPENROUTER_BASE", fal.url()),
        ("TOLLGATE_FAL_PLATFORM_KEY", PLATFORM_FAL_KEY.to_string()),
        ("TOLLGATE_OPENROUTER_PLATFORM_KEY", PLATFORM_OPENROUTER_KEY.to_string()),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(backend, &settings).await;
    let browser = app.signed_up("mallory@example.com", "correct horse battery").await;
    let token = token_for(&app, &browser).await;
    let port = bystander.port;

    let hostile = [
        format!("http://127.0.0.1:{port}/steal"),
        format!("http:%2F%2F127.0.0.1:{port}%2Fsteal"),
        format!("http:/127.0.0.1:{port}/steal"),
        format!("//127.0.0.1:{port}/steal"),
        format!("127.0.0.1:{port}/steal"),
        "fal-ai/flux/schnell%3Fx=1".to_string(),
        "fal-ai/%2e%2e%2F%2e%2e%2Fsteal".to_string(),
        "fal-ai/flux%00/schnell".to_string(),
        "openrouter/http:%2F%2Fevil".to_string(),
    ];
    for id in &hostile {
        for route in ["run", "queue"] {
            for dry in ["", "?dryRun=true"] {
                let res = app
                    .client
                    .post(app.url(&format!("/api/v1/{route}/{id}{dry}")))
                    .bearer_auth(&token)
                    .json(&json!({"prompt": "p"}))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 400, "{route} {id}{dry}: {body}");
                assert_eq!(body["error"]["field"], "endpoint_id", "{route} {id}: {body}");
            }
        }
        // The pricing API and the Studio refuse it the same way.
        let res = app
            .client
            .get(app.url("/api/v1/models/pricing"))
            .query(&[("endpoint_id", id.replace("%2F", "/").as_str())])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "pricing {id}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "endpoint_id");
        let decoded = id.replace("%2F", "/");
        for (name, form) in [
            ("studio_run", vec![("endpoint_id", decoded.as_str()), ("prompt", "p"), ("num_images", "1")]),
            ("studio_submit", vec![("endpoint_id", decoded.as_str()), ("prompt", "p")]),
            ("studio_estimate", vec![("endpoint_id", decoded.as_str()), ("num_images", "1")]),
        ] {
            let res = app.call(&browser, name, &form).await;
            assert_eq!(res.status(), 422, "{name} {id}");
            assert_eq!(res.json::<Value>().await.unwrap()["field"], "endpoint_id", "{name} {id}");
        }
    }

    assert_eq!(bystander.seen(), Vec::<String>::new(), "the other host heard from us");
    assert_eq!(fal.runs(), Vec::<String>::new(), "nothing ran");
    assert_eq!(app.me(&browser).await.1["balance"]["available_micros"], 5_000_000, "nothing was charged");
    let count = |table: &'static str| {
        let db = app.db.clone();
        async move { sqlx::query_scalar::<_, i64>(&format!("select count(*) from {table}")).fetch_one(db.pool()).await }
    };
    assert_eq!(count("usage_record").await.unwrap(), 0, "no usage row");
    assert_eq!(count("hold").await.unwrap(), 0, "nothing held");

    // The same token, a real model: reaches the configured host with the platform key.
    let res = app
        .client
        .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
        .bearer_auth(&token)
        .json(&json!({"prompt": "a fox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(fal.runs(), vec![PLATFORM_FAL_KEY.to_string()]);
    assert!(bystander.seen().is_empty());
}

async fn request_ids_belong_to_the_account_that_chose_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    let run = |client: &reqwest::Client, id: &'static str| {
        client
            .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
            .header("x-request-id", id)
            .json(&json!({"prompt": "p", "sandbox_delay_ms": 50}))
            .send()
    };
    let first = run(&ada, "shared-id-1").await.unwrap();
    assert_eq!(first.status(), 200);
    // Bob picks the same id: his call runs, and nothing says Ada used it.
    let theirs = run(&bob, "shared-id-1").await.unwrap();
    assert_eq!(theirs.status(), 200, "{}", theirs.text().await.unwrap());
    assert_eq!(app.me(&bob).await.1["balance"]["available_micros"], 4_997_000);

    // Ada's own retries, all at once: one more call runs, none twice, and every retry is
    // answered with that call's answer.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let req = ada
            .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
            .header("x-request-id", "retry-7")
            .json(&json!({"prompt": "p", "sandbox_delay_ms": 50}));
        set.spawn(async move {
            let res = req.send().await.unwrap();
            let replayed = res.headers().contains_key("idempotent-replayed");
            (res.status().as_u16(), replayed, res.text().await.unwrap())
        });
    }
    let answers = set.join_all().await;
    assert!(answers.iter().all(|(s, _, body)| *s == 200 && *body == answers[0].2), "{answers:?}");
    assert_eq!(answers.iter().filter(|(_, replayed, _)| !replayed).count(), 1, "one ran: {answers:?}");
    assert!(!answers[0].2.contains("idempotency") && !answers[0].2.contains("run:"));
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"], 5_000_000 - 2 * 3_000);
    // The same id for another request is refused, and says nothing of anyone else.
    let other = ada
        .post(app.url("/api/v1/run/fal-ai/flux/schnell"))
        .header("x-request-id", "shared-id-1")
        .json(&json!({"prompt": "something else"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 409);

    // Queued jobs get ids of their own; the caller's id is per account there too.
    let queue = |client: &reqwest::Client| {
        client
            .post(app.url("/api/v1/queue/fal-ai/veo2"))
            .header("x-request-id", "video-1")
            .json(&json!({"prompt": "p", "sandbox_queue_ms": 0, "sandbox_delay_ms": 0}))
            .send()
    };
    let a: Value = queue(&ada).await.unwrap().json().await.unwrap();
    let b: Value = queue(&bob).await.unwrap().json().await.unwrap();
    assert_ne!(a["job_id"], b["job_id"], "{a} {b}");
    assert_ne!(a["job_id"], "video-1");
    let peek = bob.get(app.url(&format!("/api/v1/jobs/{}", a["job_id"].as_str().unwrap()))).send().await.unwrap();
    assert_eq!(peek.status(), 404, "another account's job stays hidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_forbids_framing_and_sniffing_and_pages_allow_only_their_own_scripts() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = app.signed_up("ada@example.com", "correct horse battery").await;
    let page = browser.get(app.url("/credits")).send().await.unwrap();
    let api = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    let server_fn = app.call(&browser, "tokens_list", &[]).await;
    let missing = app.get("/no-such-page").await;
    for (what, res) in [("page", &page), ("api", &api), ("server fn", &server_fn), ("404", &missing)] {
        let h = res.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["referrer-policy"], "same-origin", "{what}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    }
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce").to_string();
    assert!(nonce.len() >= 16, "{csp}");
    assert!(!csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"), "{csp}");
    let html = page.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "every script carries the nonce");
    // Another page load, another nonce.
    let again = browser.get(app.url("/credits")).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(&nonce));
}

/// A page's answer: its policy names one nonce, and every script on it carries that nonce.
async fn assert_page_runs_its_own_scripts(what: &str, res: reqwest::Response) {
    let csp = res.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_string());
    let csp = csp.unwrap_or_else(|| panic!("{what}: no policy"));
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next());
    let nonce = nonce.unwrap_or_else(|| panic!("{what}: answered with a policy for no scripts: {csp}")).to_string();
    let html = res.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "{what}");
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{what}: every script carries the nonce");
}

/// Pages drawn while other answers are sent beside them keep their own policy, and the
/// others never carry a page's. One thread serves everything here, as a busy worker thread
/// does: the icon's answer once took the headers of a page being drawn on the same thread,
/// and the page went out without its policy (drawn with no style and no scripts).
#[tokio::test(flavor = "current_thread")]
async fn pages_keep_their_policy_while_files_are_served_beside_them() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("favicon.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let site_root = site.path().display().to_string();
    let app = spawn_app_with(Backend::Sqlite, &[("TOLLGATE_SITE_ROOT", site_root.as_str())]).await;
    let browser = app.signed_up("ada@example.com", "correct horse battery").await;
    for round in 0..25 {
        let mut answers = tokio::task::JoinSet::new();
        let paths = ["/credits", "/studio", "/settings/teams", "/no-such-page"].into_iter().chain(["/favicon.svg"; 6]);
        for path in paths {
            let request = browser.get(app.url(path));
            answers.spawn(async move { (path, request.send().await.unwrap()) });
        }
        while let Some(answer) = answers.join_next().await {
            let (path, res) = answer.unwrap();
            let what = format!("round {round}, {path}");
            if path == "/favicon.svg" {
                assert_eq!(res.status(), 200, "{what}");
                assert_eq!(res.headers()["content-type"], "image/svg+xml", "{what}");
                let csp = res.headers()["content-security-policy"].to_str().unwrap();
                assert!(csp.starts_with("default-src 'none'") && !csp.contains("nonce-"), "{what}: {csp}");
            } else {
                assert_eq!(res.status(), if path == "/no-such-page" { 404 } else { 200 }, "{what}");
                assert_page_runs_its_own_scripts(&what, res).await;
            }
        }
    }
    // Only what the site holds is served: no directory listings, no way out of it.
    assert_eq!(browser.get(app.url("/%2e%2e/Cargo.toml")).send().await.unwrap().status(), 404);
    assert_eq!(browser.post(app.url("/favicon.svg")).send().await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_signed_in_pages_are_never_cached() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = app.signed_up("ada@example.com", "correct horse battery").await;
    let created = app.call(&browser, "tokens_create", &[("name", "cli")]).await;
    assert_eq!(created.status(), 200);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let token = created.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_string();
    for path in ["/credits", "/settings/api-tokens", "/studio", "/api/v1/me", "/api/v1/transactions.csv"] {
        let res = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    let api = app.client.get(app.url("/api/v1/balance")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(api.headers()["cache-control"], "no-store");
    // The static bundle may be kept (whether or not this test instance has it built).
    for path in ["/favicon.svg", "/pkg/tollgate.css"] {
        let res = app.get(path).await;
        assert_ne!(res.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    }
}

/// A server function's JSON error: its status and body.
async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_to_server_functions_is_a_4xx_naming_the_field() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = app.signed_up("ada@example.com", "correct horse battery").await;
    let form = [("endpoint_id", "fal-ai/flux/schnell"), ("prompt", "a fox"), ("num_images", "abc")];
    let (status, body) = answer(app.call(&browser, "studio_run", &form).await).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("num_images")), "{body}");
    let (status, body) =
        answer(app.call(&browser, "studio_estimate", &[("endpoint_id", "a/b"), ("num_images", "99")]).await).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("num_images")), "{body}");
    let (status, body) =
        answer(app.call(&browser, "transactions", &[("filter", "all"), ("before", "notanumber")]).await).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("before")), "{body}");
    let (status, body) = answer(app.call(&browser, "usage_history", &[("limit", "-1"), ("days", "30")]).await).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("limit")), "{body}");
    // A filter that names no kind of transaction is refused, not read as "all".
    let (status, body) = answer(app.call(&browser, "transactions", &[("filter", "everything")]).await).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("type")), "{body}");
    let res = browser.get(app.url("/api/v1/transactions?type=everything")).send().await.unwrap();
    let (status, body) = answer(res).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("type")), "{body}");
    let res = browser.get(app.url("/api/v1/transactions.csv?type=Usage")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 422, "words are exact");
    assert_eq!(app.me(&browser).await.1["balance"]["available_micros"], 5_000_000, "nothing ran");

    // A body that is not UTF-8: read as a bad request, not an internal error.
    let res = app
        .client
        .post(app.url("/api/sign_in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"email=a%FF%FE@example.com&password=\xff\xfe\xfd".to_vec())
        .send()
        .await
        .unwrap();
    let (status, body) = answer(res).await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body["field"].is_string(), "{body}");

    // Too large: 413 before it is read, whether its length is declared or not.
    let form = "content-type: application/x-www-form-urlencoded";
    let declared = format!("content-length: {}\r\n\r\n", 64 * 1024 * 1024).into_bytes();
    assert!(raw_post(&app, form, &declared).await.starts_with("HTTP/1.1 413"));
    let limit = tollgate::server::web::middleware::SERVER_FN_BODY_LIMIT;
    let mut chunked = format!("transfer-encoding: chunked\r\n\r\n{:x}\r\n", limit + 1).into_bytes();
    chunked.extend(std::iter::repeat_n(b'a', limit + 1));
    chunked.extend(b"\r\n0\r\n\r\n");
    let reply = raw_post(&app, form, &chunked).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains(r#""field":"request""#), "{reply}");
}

/// A POST to `sign_in` written by hand (`rest` is the last headers and the body), and the
/// start of the answer.
async fn raw_post(app: &TestApp, header: &str, rest: &[u8]) -> String {
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!("POST /api/sign_in HTTP/1.1\r\nhost: {}\r\n{header}\r\n", app.addr);
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(rest).await.unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.windows(4).any(|w| w == b"\r\n\r\n") && reply.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_text_in_a_link_is_never_shown_on_the_page() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = app.signed_up("ada@example.com", "correct horse battery").await;
    let planted = json!({"kind": "validation", "field": "code", "message": "Call +1-555-0100 to claim your refund"});
    let err = base64::engine::general_purpose::URL_SAFE.encode(planted.to_string());
    let link = format!("/credits?tab=gift-codes&__path=/api/gift_redeem&__err={err}");
    let res = browser.get(app.url(&link)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/credits?tab=gift-codes");
    let page = browser.get(app.url("/credits?tab=gift-codes")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("555-0100"));
    // An error alone, without the function it claims to come from.
    let only_err = browser.get(app.url(&format!("/credits?__err={err}"))).send().await.unwrap();
    assert_eq!(only_err.status(), 303);
    assert_eq!(only_err.headers()["location"], "/credits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_pages_and_json_are_compressed_when_asked_and_the_bundle_is_revalidated() {
    use std::io::Read;
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let wasm: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    std::fs::write(site.path().join("pkg/tollgate.wasm"), &wasm).unwrap();
    let root = site.path().display().to_string();
    let app = spawn_app_with(Backend::Sqlite, &[("TOLLGATE_SITE_ROOT", &root)]).await;
    let fetch = |path: &str, encodings: Option<&str>| {
        let mut req = app.client.get(app.url(path));
        if let Some(e) = encodings {
            req = req.header("accept-encoding", e);
        }
        req.send()
    };

    // Asked for gzip: gzip, and the same bytes once decoded.
    let res = fetch("/pkg/tollgate.wasm", Some("gzip")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.headers()["vary"].to_str().unwrap().to_ascii_lowercase().contains("accept-encoding"));
    let last_modified = res.headers()["last-modified"].to_str().unwrap().to_string();
    let sent = res.bytes().await.unwrap();
    assert!(sent.len() < wasm.len() / 4, "{} of {} bytes", sent.len(), wasm.len());
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&sent[..]).read_to_end(&mut decoded).unwrap();
    assert_eq!(decoded, wasm);

    // Brotli is preferred when both are accepted; nothing asked, nothing compressed.
    let res = fetch("/pkg/tollgate.wasm", Some("gzip, deflate, br")).await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "br");
    assert!(res.bytes().await.unwrap().len() < wasm.len() / 4);
    let res = fetch("/pkg/tollgate.wasm", None).await.unwrap();
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.bytes().await.unwrap(), wasm);

    // A browser that has it asks again before use, and is told it is unchanged.
    let res =
        app.client.get(app.url("/pkg/tollgate.wasm")).header("if-modified-since", &last_modified).send().await.unwrap();
    assert_eq!(res.status(), 304);

    // A file named after its content is kept for good, its precompressed copy sent as it
    // is; a missing one is not cached at all.
    let hashed = "/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGhIw.wasm";
    std::fs::write(site.path().join(&hashed[1..]), &wasm).unwrap();
    let precompressed = b"not really brotli, but served as the .br copy".to_vec();
    std::fs::write(site.path().join(format!("{}.br", &hashed[1..])), &precompressed).unwrap();
    let res = fetch(hashed, None).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.bytes().await.unwrap(), wasm);
    let res = fetch(hashed, Some("br")).await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "br");
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.bytes().await.unwrap(), precompressed);
    let res = fetch("/pkg/tollgate.AAAAAAAAAAAAAAAAAAAAAA.wasm", Some("br")).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_ne!(res.headers()["cache-control"], "public, max-age=31536000, immutable");

    // Pages and JSON answers are compressed too; the event stream is not.
    let browser = app.signed_up("ada@example.com", "correct horse battery").await;
    for path in ["/", "/credits", "/api/v1/me", "/api/v1/events"] {
        let res = browser.get(app.url(path)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"), "{path}");
    }
    let res = browser.get(app.url("/api/v1/events/stream")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(res.headers().get("content-encoding").is_none());
}
