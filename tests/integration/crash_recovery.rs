//! Calls cut off by a crash, and retries under the same request id.
//!
//! A crash is played in process by stopping a call's task where it stands (after the
//! hold, during the provider call, before the capture) and then the app itself with
//! nothing cleaned up; another app started on the same database must settle every such
//! call within seconds, charge nothing twice, and leave live instances' calls alone.
//! Retries get the first answer byte for byte.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::server::services::gateway::jobs::{JOB_DEADLINE_MS, NewJob};
use tollgate::server::services::gateway::recovery::{RECOVER_EVERY, settle_cut_off};
use tollgate::server::services::gateway::request::CallRequest;
use tollgate::server::services::gateway::{call, replay, run};
use tollgate::shared::endpoint::EndpointId;

use crate::helpers::{TestApp, spawn_app, spawn_app_on};

backend_tests!(
    calls_cut_off_by_a_crash_are_settled_when_another_instance_starts,
    a_retry_gets_the_first_answer_byte_for_byte,
    concurrent_retries_run_the_call_once,
);

const FLUX: &str = "fal-ai/flux/schnell";

async fn user_id(app: &TestApp, client: &reqwest::Client) -> String {
    app.me(client).await.1["id"].as_str().unwrap().to_string()
}

async fn wallet(app: &TestApp, client: &reqwest::Client) -> (i64, i64) {
    let me = app.me(client).await.1;
    (me["balance"]["available_micros"].as_i64().unwrap(), me["balance"]["reserved_micros"].as_i64().unwrap())
}

/// A call as the API would make it for `input` under `request_id`.
async fn request(app: &TestApp, user: &str, request_id: &str, route: &str, input: Value) -> CallRequest {
    let endpoint = EndpointId::parse(FLUX).unwrap();
    let digest = replay::digest(route, &endpoint, &input);
    let person = tollgate::server::services::accounts::users::find_by_id(&app.db, user).await.unwrap().unwrap();
    let acting = tollgate::server::services::wallets::Acting::personal(person);
    let mut request =
        CallRequest::prepare(&app.state, &acting, request_id.to_string(), &endpoint, input).await.unwrap();
    request.digest = Some(digest);
    request
}

/// Status, failure and charge of the call under `request_id`.
async fn record(app: &TestApp, user: &str, request_id: &str) -> (String, Option<String>, i64) {
    let row: (String, Option<String>, i64) = sqlx::query_as(
        "select status, failure, charged_micros from usage_record where user_id = $1 and request_id = $2",
    )
    .bind(user)
    .bind(request_id)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    row
}

async fn running(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from usage_record where status = 'running'")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

async fn wait_until_running(app: &TestApp, user: &str, request_id: &str) {
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from usage_record where user_id = $1 and request_id = $2 and status = 'running'",
        )
        .bind(user)
        .bind(request_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        if n == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{request_id} never started");
}

async fn audit_clean(app: &TestApp) {
    let audit = app.state.ledger.audit().await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.findings);
}

async fn post(app: &TestApp, client: &reqwest::Client, path: &str, id: &str, body: &Value) -> (u16, String, bool) {
    let res = client.post(app.url(path)).header("x-request-id", id).json(body).send().await.unwrap();
    let status = res.status().as_u16();
    let replayed = res.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (status, res.text().await.unwrap(), replayed)
}

async fn calls_cut_off_by_a_crash_are_settled_when_another_instance_starts(backend: Backend) {
    let a = spawn_app(backend).await;
    let ada = a.signed_up("ada@example.com", "correct horse battery").await;
    let ada_id = user_id(&a, &ada).await;
    let (before, _) = wallet(&a, &ada).await;

    // 1. Cut off after the hold, before the provider was called.
    let held = request(&a, &ada_id, "after-hold", "run", json!({"prompt": "a fox"})).await;
    let Ok(_) = call::begin(&a.state, &held, 15 * 60 * 1000, None).await.unwrap() else { panic!("refused") };

    // 2. Cut off while the provider works.
    let owl = json!({"prompt": "an owl", "sandbox_delay_ms": 3_000});
    let slow = request(&a, &ada_id, "in-provider", "run", owl.clone()).await;
    let state = a.state.clone();
    let task = tokio::spawn(async move { run::execute_here(&state, &slow).await });
    wait_until_running(&a, &ada_id, "in-provider").await;
    task.abort();

    // 3. Cut off after the provider answered, before the capture committed: the test holds
    //    the record, so the settling transaction waits, and dies waiting.
    let quick =
        request(&a, &ada_id, "before-capture", "run", json!({"prompt": "a cat", "sandbox_delay_ms": 200})).await;
    let state = a.state.clone();
    let task = tokio::spawn(async move { run::execute_here(&state, &quick).await });
    wait_until_running(&a, &ada_id, "before-capture").await;
    let mut blocker = a.db.begin_write().await.unwrap();
    sqlx::query("update usage_record set status = status where request_id = 'before-capture'")
        .execute(&mut **blocker)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!task.is_finished(), "the capture waits for the record");
    task.abort();
    let _ = task.await;
    blocker.rollback().await.unwrap();

    // 4. A queued call cut off before the provider confirmed the job: its job is there.
    let video = request(&a, &ada_id, "queued", "queue", json!({"prompt": "a river"})).await;
    let job = NewJob { deadline_ms: JOB_DEADLINE_MS };
    let Ok(queued) = call::begin(&a.state, &video, 3 * 3600 * 1000, Some(&job)).await.unwrap() else { panic!() };
    let res = ada.get(a.url(&format!("/api/v1/jobs/{}", queued.id))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "submitting");

    // A second instance that stays up, with a call of its own under way.
    let c = a.second_instance().await;
    let live = request(&c, &ada_id, "live", "run", json!({"prompt": "a hare"})).await;
    let Ok(live_call) = call::begin(&c.state, &live, 15 * 60 * 1000, None).await.unwrap() else { panic!() };

    let (_, reserved) = wallet(&a, &ada).await;
    assert!(reserved > 0);
    assert_eq!(running(&a).await, 5);

    // The crash, and a new instance on the same database.
    let database = a.crash().await;
    let started = Instant::now();
    let b = spawn_app_on(database, &[]).await;
    // Both live instances settle at once (and b's own upkeep too): each call once.
    let (on_b, on_c) = tokio::join!(settle_cut_off(&b.state), settle_cut_off(&c.state));
    assert!(on_b.unwrap().calls + on_c.unwrap().calls <= 4);
    loop {
        if running(&b).await == 1 {
            break;
        }
        if started.elapsed() > Duration::from_secs(5) {
            let rows: Vec<(String, Option<String>, Option<String>)> =
                sqlx::query_as("select request_id, instance_id, failure from usage_record where status = 'running'")
                    .fetch_all(b.db.pool())
                    .await
                    .unwrap();
            let tried = settle_cut_off(&b.state).await;
            panic!(
                "calls cut off are not settled within 5 s of the restart: {rows:?}; {tried:?}; b is {}",
                b.state.instance
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("settled 4 calls cut off by a crash {} ms after the restart", started.elapsed().as_millis());
    for id in ["after-hold", "in-provider", "before-capture", "queued"] {
        assert_eq!(record(&b, &ada_id, id).await, ("failed".into(), Some("interrupted".into()), 0), "{id}");
    }
    let ada_b = b.signed_in("ada@example.com", "correct horse battery").await;
    let res = ada_b.get(b.url(&format!("/api/v1/jobs/{}", queued.id))).send().await.unwrap();
    let job: Value = res.json().await.unwrap();
    assert_eq!((job["status"].as_str(), job["error"]["kind"].as_str()), (Some("failed"), Some("interrupted")));

    // The live instance's call was left alone, through more rounds than it takes.
    tokio::time::sleep(RECOVER_EVERY * 2).await;
    assert_eq!(record(&b, &ada_id, "live").await.0, "running");
    let output = json!({"images": [{"url": "https://fal.media/x.png", "width": 1024, "height": 1024}]});
    let settled = call::finish_ok(&c.state, &live_call, &output, None).await.unwrap().expect("settled once");
    assert!(settled.charged.is_positive());

    // Only the live call was charged; every hold cut off is released.
    assert_eq!(wallet(&b, &ada_b).await, (before - settled.charged.get(), 0));
    audit_clean(&b).await;

    // A retry of a call cut off runs it again, and a retry of that gets its answer.
    let run_url = format!("/api/v1/run/{FLUX}");
    let retry = || post(&b, &ada_b, &run_url, "in-provider", &owl);
    let (status, first, replayed) = retry().await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let (status, again, replayed) = retry().await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first, "byte for byte");
    let cut_off: i64 = sqlx::query_scalar(
        "select count(*) from usage_record where request_id like 'in-provider#%' and failure = 'interrupted'",
    )
    .fetch_one(b.db.pool())
    .await
    .unwrap();
    assert_eq!(cut_off, 1, "the call cut off stays in the history under a request id of its own");
    audit_clean(&b).await;
}

async fn a_retry_gets_the_first_answer_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let run_url = format!("/api/v1/run/{FLUX}");
    let input = json!({"prompt": "a fox", "num_images": 2});

    let (status, first, replayed) = post(&app, &ada, &run_url, "r-1", &input).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let charged = serde_json::from_str::<Value>(&first).unwrap()["metadata"]["charged_micros"].as_i64().unwrap();
    assert!(charged > 0);
    let after_first = wallet(&app, &ada).await;

    // The same request again: the same answer, nothing run or charged.
    let (status, again, replayed) = post(&app, &ada, &run_url, "r-1", &input).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    // The same input written another way is the same request.
    let reordered: Value = serde_json::from_str(r#"{"num_images": 2, "prompt": "a fox"}"#).unwrap();
    assert_eq!(post(&app, &ada, &run_url, "r-1", &reordered).await.1, first);
    assert_eq!(wallet(&app, &ada).await, after_first);

    // Something else under the same id is refused, naming the header, and changes nothing.
    let (status, body, _) = post(&app, &ada, &run_url, "r-1", &json!({"prompt": "a bear"})).await;
    assert_eq!(status, 409, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["field"], "X-Request-Id");
    assert!(body["message"].as_str().unwrap().contains("different request"), "{body}");
    let (status, _, _) = post(&app, &ada, &format!("/api/v1/queue/{FLUX}"), "r-1", &input).await;
    assert_eq!(status, 409, "another route is another request");
    assert_eq!(wallet(&app, &ada).await, after_first);

    // A provider failure is an answer too: the retry gets it, and nothing is charged.
    let failing = json!({"prompt": "a fox", "sandbox_failure": "server_error"});
    let (status, failed, _) = post(&app, &ada, &run_url, "r-2", &failing).await;
    assert_eq!(status, 502, "{failed}");
    assert_eq!(post(&app, &ada, &run_url, "r-2", &failing).await, (502, failed, true));

    // A queued call's retry gets the answer it got when it was queued.
    let video = json!({"prompt": "a river"});
    let queue_url = "/api/v1/queue/fal-ai/kling-video/v1/standard/text-to-video";
    let (status, queued, _) = post(&app, &ada, queue_url, "r-3", &video).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(post(&app, &ada, queue_url, "r-3", &video).await, (202, queued, true));

    // With the wallet empty, a retry still gets its answer, not a 402.
    let id = user_id(&app, &ada).await;
    let w = app.state.ledger.find_wallet(&id).await.unwrap().unwrap();
    let (available, _) = wallet(&app, &ada).await;
    let debit = tollgate::server::ledger::DebitRequest {
        idempotency_key: "empty-it".into(),
        wallet: w,
        amount: tollgate::shared::money::Micros(available),
        kind: tollgate::server::ledger::DebitKind::Adjustment,
        description: "emptied".into(),
        metadata: json!({}),
    };
    app.state.ledger.debit(&debit).await.unwrap();
    assert_eq!(post(&app, &ada, &run_url, "r-1", &input).await, (200, first, true));
    assert_eq!(post(&app, &ada, &run_url, "r-4", &input).await.0, 402, "a new request is refused");

    // An id that cannot be kept (too long, or not plain) is refused rather than replaced:
    // a retry under a replaced id would run and charge the call again.
    for bad in ["has spaces", "a/b:c", &"x".repeat(65)] {
        let res = ada.post(app.url(&run_url)).header("x-request-id", bad).json(&input).send().await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "X-Request-Id");
    }
    assert_eq!(wallet(&app, &ada).await.0, 0, "nothing ran");

    // The same id in another account is another call.
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    let (status, _, replayed) = post(&app, &bob, &run_url, "r-1", &input).await;
    assert_eq!((status, replayed), (200, false));
    audit_clean(&app).await;
}

async fn concurrent_retries_run_the_call_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (before, _) = wallet(&app, &ada).await;
    let input = json!({"prompt": "a fox", "sandbox_delay_ms": 500});
    let url = format!("/api/v1/run/{FLUX}");
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, url, input) = (ada.clone(), app.url(&url), input.clone());
        sends.spawn(async move {
            let res = client.post(url).header("x-request-id", "same").json(&input).send().await.unwrap();
            let status = res.status().as_u16();
            let replayed = res.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
            (status, res.text().await.unwrap(), replayed)
        });
    }
    let answers = sends.join_all().await;
    let first = &answers[0].1;
    for (status, body, _) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, first, "every retry gets the one call's answer");
    }
    assert_eq!(answers.iter().filter(|a| !a.2).count(), 1, "one of them ran it");
    let charged = serde_json::from_str::<Value>(first).unwrap()["metadata"]["charged_micros"].as_i64().unwrap();
    assert_eq!(wallet(&app, &ada).await, (before - charged, 0), "charged once");
    let calls: i64 = sqlx::query_scalar("select count(*) from usage_record").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(calls, 1);
    audit_clean(&app).await;
}

/// `tollgate run` sends its call again, under the same request id, while the server is
/// down (a restart), and gets its answer once the server is back: one call, one charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_retries_a_call_under_its_request_id_until_the_server_is_back() {
    let app = spawn_app(Backend::Sqlite).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let token: Value = app.call(&ada, "tokens_create", &[("name", "cli")]).await.json().await.unwrap();
    let token = token["secret"].as_str().unwrap().to_string();
    let database = app.crash().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let home = tempfile::tempdir().unwrap();
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["run", FLUX, "--input", r#"{"prompt":"a fox"}"#, "--json"])
        .env_clear()
        .env("HOME", home.path())
        .env("TOLLGATE_URL", format!("http://127.0.0.1:{port}/"))
        .env("TOLLGATE_TOKEN", &token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The server comes back after the first attempt failed.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let addr = format!("127.0.0.1:{port}");
    let app = spawn_app_on(database, &[("TOLLGATE_SITE_ADDR", addr.as_str())]).await;
    let out = tokio::task::spawn_blocking(move || cli.wait_with_output().unwrap()).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("trying again with the same request id"), "{err}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls: Vec<(String, i64)> =
        sqlx::query_as("select request_id, charged_micros from usage_record").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(answer["metadata"]["request_id"], calls[0].0.as_str());
    assert_eq!(answer["metadata"]["charged_micros"], calls[0].1);
}
