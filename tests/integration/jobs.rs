//! Queued calls: `POST /api/v1/queue/{endpoint_id}` and `GET /api/v1/jobs/{job_id}`,
//! through the real fal queue adapter against the stand-in, and through the sandbox.

use std::time::Duration;

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::server::services::gateway::pricing;
use tollgate::shared::money::Micros;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::provider_standin::{FAL_KEY, PLATFORM_FAL_KEY, ProviderStandIn};

backend_tests!(
    a_queued_video_is_held_then_charged_on_completion,
    a_job_the_provider_fails_charges_nothing,
    running_work_finishes_when_the_balance_runs_out_meanwhile,
    gpu_second_prices_charge_the_machine_time_reported,
    a_job_paid_with_the_callers_own_key_is_followed_with_it_and_free,
    sandbox_jobs_queue_run_and_render_a_video,
    a_job_past_its_deadline_fails_and_releases_its_hold,
    many_pollers_settle_a_job_once,
);

const KLING: &str = "fal-ai/kling-video/v1/standard/text-to-video";

async fn with_queue(backend: Backend, extra: &[(&str, &str)]) -> (TestApp, ProviderStandIn) {
    let standin = ProviderStandIn::start().await;
    let settings = standin.queue_settings();
    let mut pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend_from_slice(extra);
    (spawn_app_with(backend, &pairs).await, standin)
}

async fn submit(app: &TestApp, client: &reqwest::Client, endpoint: &str, input: &Value) -> (u16, Value) {
    let res = client.post(app.url(&format!("/api/v1/queue/{endpoint}"))).json(input).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn job(app: &TestApp, client: &reqwest::Client, id: &str) -> (u16, Value) {
    let res = client.get(app.url(&format!("/api/v1/jobs/{id}"))).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Follows a job until it is finished; returns every status seen and the last answer.
async fn follow(app: &TestApp, client: &reqwest::Client, id: &str) -> (Vec<String>, Value) {
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..300 {
        let (status, body) = job(app, client, id).await;
        assert_eq!(status, 200, "{body}");
        let state = body["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if state == "succeeded" || state == "failed" {
            return (seen, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not finish; saw {seen:?}");
}

async fn balance(app: &TestApp, client: &reqwest::Client) -> (i64, i64) {
    let me = app.me(client).await.1;
    (me["balance"]["available_micros"].as_i64().unwrap(), me["balance"]["reserved_micros"].as_i64().unwrap())
}

async fn audit_clean(app: &TestApp) {
    let audit = app.state.ledger.audit().await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.findings);
}

async fn a_queued_video_is_held_then_charged_on_completion(backend: Backend) {
    let (app, standin) = with_queue(backend, &[]).await;
    // The first status checks fail upstream: the poller asks again, nothing is lost.
    standin.fail_status_checks(2);
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (status, body) = submit(&app, &ada, KLING, &json!({"prompt": "a fox running", "duration": "5"})).await;
    assert_eq!(status, 202, "{body}");
    let id = body["job_id"].as_str().unwrap().to_string();
    assert_eq!(body["status"], "queued");
    assert_eq!((body["cost_estimate_micros"].as_i64(), body["cost_estimate"].as_f64()), (Some(100_000), Some(0.1)));
    assert_eq!(body["status_url"], format!("/api/v1/jobs/{id}"));
    assert!(body.get("cost").is_none(), "no cost before it is done: {body}");
    // The estimate is held while the job runs.
    assert_eq!(balance(&app, &ada).await, (4_900_000, 100_000));

    let (seen, done) = follow(&app, &ada, &id).await;
    assert_eq!(seen.first().map(String::as_str), Some("queued"));
    assert!(seen.contains(&"running".to_string()), "progress is reported: {seen:?}");
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!((done["cost_micros"].as_i64(), done["charged"].as_bool()), (Some(100_000), Some(true)));
    assert_eq!(done["output"]["video"]["content_type"], "video/mp4");
    assert_eq!(done["progress"], "Generating frames 40%");
    assert_eq!(balance(&app, &ada).await, (4_900_000, 0));
    assert_eq!(standin.runs(), vec![PLATFORM_FAL_KEY.to_string()]);
    assert!(standin.queue_reads().iter().all(|k| k == PLATFORM_FAL_KEY));

    // It shows in Transactions as usage of the model.
    let tx: Value = ada.get(app.url("/api/v1/transactions?type=usage")).send().await.unwrap().json().await.unwrap();
    assert_eq!(tx["transactions"][0]["model"], KLING);
    assert_eq!(tx["transactions"][0]["amount"], -100_000);

    // Only its owner sees it; strangers are asked who they are.
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    assert_eq!(job(&app, &bob, &id).await.0, 404);
    assert_eq!(job(&app, &app.browser(), &id).await.0, 401);
    assert_eq!(submit(&app, &app.browser(), KLING, &json!({})).await.0, 401);
    audit_clean(&app).await;
}

async fn a_job_the_provider_fails_charges_nothing(backend: Backend) {
    let (app, _standin) = with_queue(backend, &[]).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (status, body) = submit(&app, &ada, KLING, &json!({"prompt": "x", "fail": true})).await;
    assert_eq!(status, 202, "{body}");
    let (_, done) = follow(&app, &ada, body["job_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["kind"], "provider_error");
    assert_eq!(done["charged"], false);
    assert!(done["message"].as_str().unwrap().ends_with("Nothing was charged."));
    assert_eq!(balance(&app, &ada).await, (5_000_000, 0));
    let failure: Option<String> =
        sqlx::query_scalar("select failure from usage_record").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(failure.as_deref(), Some("provider_error"));

    // Bad input is refused before anything is queued or held.
    let (status, body) = submit(&app, &ada, KLING, &json!({"duration": 600})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("duration")), "{body}");
    let (status, body) =
        submit(&app, &ada, "openrouter/openai/gpt-4o-mini", &json!({"messages": [{"role": "user", "content": "hi"}]}))
            .await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("endpoint_id")), "{body}");
    // A key sent with one call cannot follow a job: refused before any record is made.
    let res = ada
        .post(app.url(&format!("/api/v1/queue/{KLING}")))
        .header("Tollgate-Fal-Key", FAL_KEY)
        .json(&json!({"prompt": "x"}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("Tollgate-Fal-Key")), "{body}");
    let records: i64 = sqlx::query_scalar("select count(*) from usage_record").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(records, 1, "only the failed job above is recorded");
    assert_eq!(balance(&app, &ada).await, (5_000_000, 0));
    audit_clean(&app).await;
}

async fn running_work_finishes_when_the_balance_runs_out_meanwhile(backend: Backend) {
    let (app, _standin) = with_queue(backend, &[]).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    pricing::set_account_price(&app.db, &id, &crate::helpers::endpoint(KLING), Micros::from_usd(4), "test")
        .await
        .unwrap();
    let (status, body) = submit(&app, &ada, KLING, &json!({"prompt": "x"})).await;
    assert_eq!(status, 202, "{body}");
    let job_id = body["job_id"].as_str().unwrap().to_string();
    // $1.00 left to spend while the $4.00 job runs: a second one gets 402, nothing held.
    let (status, body) = submit(&app, &ada, KLING, &json!({"prompt": "y"})).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["limit"], "balance");
    assert_eq!((body["needed_micros"].as_i64(), body["available_micros"].as_i64()), (Some(4_000_000), Some(1_000_000)));
    // Spending the rest meanwhile does not stop the running job.
    let res = ada.post(app.url("/api/v1/run/fal-ai/flux/schnell")).json(&json!({"prompt": "z"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (_, done) = follow(&app, &ada, &job_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["charged_micros"], 4_000_000);
    assert_eq!(balance(&app, &ada).await, (997_000, 0));
    audit_clean(&app).await;
}

async fn gpu_second_prices_charge_the_machine_time_reported(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("prices.csv");
    std::fs::write(
        &catalog,
        "endpoint_id,provider,unit,unit_price_usd,operation,category,default\n\
         fal-ai/custom-workflow,fal,gpu_second,0.001,run,other,default\n\
         fal-ai/flux/schnell,fal,image,0.003,generateImage,image-generation,default\n",
    )
    .unwrap();
    let path = catalog.display().to_string();
    let (app, _standin) = with_queue(backend, &[("TOLLGATE_PRICE_CATALOG", path.as_str())]).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let (status, body) =
        submit(&app, &ada, "fal-ai/custom-workflow", &json!({"prompt": "x", "machine_seconds": 4.25})).await;
    assert_eq!(status, 202, "{body}");
    // Ten GPU seconds are held until the provider says how long it ran.
    assert_eq!(body["cost_estimate_micros"], 10_000);
    let (seen, done) = follow(&app, &ada, body["job_id"].as_str().unwrap()).await;
    assert!(seen.contains(&"queued".to_string()), "{seen:?}");
    assert_eq!(done["status"], "succeeded", "{done}");
    // 4.25 s of machine time at $0.001 a second; the time spent queued is not billed.
    assert_eq!(done["cost_micros"], 4_250);
    assert_eq!(balance(&app, &ada).await, (4_995_750, 0));
    let units: i64 = sqlx::query_scalar("select units_milli from usage_record").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(units, 4_250);
    audit_clean(&app).await;
}

async fn a_job_paid_with_the_callers_own_key_is_followed_with_it_and_free(backend: Backend) {
    let (app, standin) = with_queue(backend, &[]).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    assert_eq!(app.call(&ada, "provider_key_save", &[("provider", "fal"), ("key", FAL_KEY)]).await.status(), 200);
    let (status, body) = submit(&app, &ada, KLING, &json!({"prompt": "x"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["paid_with"], "own_key");
    assert_eq!(balance(&app, &ada).await, (5_000_000, 0), "nothing held");
    let (_, done) = follow(&app, &ada, body["job_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!((done["cost_micros"].as_i64(), done["charged"].as_bool()), (Some(100_000), Some(false)));
    assert_eq!(standin.runs(), vec![FAL_KEY.to_string()]);
    assert!(!standin.queue_reads().is_empty() && standin.queue_reads().iter().all(|k| k == FAL_KEY));
    assert_eq!(balance(&app, &ada).await, (5_000_000, 0));
}

async fn sandbox_jobs_queue_run_and_render_a_video(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let input = json!({"prompt": "waves at night", "sandbox_queue_ms": 300, "sandbox_delay_ms": 1500});
    let (status, body) = submit(&app, &ada, "fal-ai/veo2", &input).await;
    assert_eq!(status, 202, "{body}");
    let (seen, done) = follow(&app, &ada, body["job_id"].as_str().unwrap()).await;
    assert!(seen.contains(&"running".to_string()), "{seen:?}");
    assert_eq!(done["status"], "succeeded", "{done}");
    let url = done["output"]["video"]["url"].as_str().unwrap();
    assert!(url.starts_with("data:image/svg+xml;base64,"), "{url}");
    assert_eq!(done["charged_micros"], 500_000);
    assert_eq!(balance(&app, &ada).await, (4_500_000, 0));

    // A sandbox failure on request: nothing charged.
    let input =
        json!({"prompt": "x", "sandbox_queue_ms": 0, "sandbox_delay_ms": 100, "sandbox_failure": "server_error"});
    let (_, body) = submit(&app, &ada, "fal-ai/veo2", &input).await;
    let (_, done) = follow(&app, &ada, body["job_id"].as_str().unwrap()).await;
    assert_eq!((done["status"].as_str(), done["charged"].as_bool()), (Some("failed"), Some(false)), "{done}");
    assert_eq!(balance(&app, &ada).await, (4_500_000, 0));
    audit_clean(&app).await;
}

async fn a_job_past_its_deadline_fails_and_releases_its_hold(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let input = json!({"prompt": "slow", "sandbox_queue_ms": 60_000});
    let (status, body) = submit(&app, &ada, "fal-ai/veo2", &input).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(balance(&app, &ada).await, (4_500_000, 500_000));
    sqlx::query("update provider_job set deadline_at_ms = 0").execute(app.db.pool()).await.unwrap();
    let (_, done) = follow(&app, &ada, body["job_id"].as_str().unwrap()).await;
    assert_eq!((done["status"].as_str(), done["error"]["kind"].as_str()), (Some("failed"), Some("provider_timeout")));
    assert_eq!(balance(&app, &ada).await, (5_000_000, 0));
    audit_clean(&app).await;
}

async fn many_pollers_settle_a_job_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let input = json!({"prompt": "x", "sandbox_queue_ms": 0, "sandbox_delay_ms": 300});
    let (_, body) = submit(&app, &ada, "fal-ai/veo2", &input).await;
    let id = body["job_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // As if several instances polled at once: leases and the settle guard keep it single.
    sqlx::query("update provider_job set next_poll_at_ms = 0").execute(app.db.pool()).await.unwrap();
    let rounds: Vec<_> = (0..8)
        .map(|_| {
            let state = app.state.clone();
            tokio::spawn(async move { tollgate::server::services::gateway::jobs::poll_due(&state).await.unwrap() })
        })
        .collect();
    let mut advanced = 0;
    for round in rounds {
        advanced += round.await.unwrap();
    }
    assert!(advanced <= 1, "one poller at a time per job, saw {advanced}");
    let (_, done) = follow(&app, &ada, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let usage: i64 = sqlx::query_scalar("select count(*) from transfer where code = 'usage'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(usage, 1, "charged once");
    assert_eq!(balance(&app, &ada).await, (4_500_000, 0));
    audit_clean(&app).await;
}
