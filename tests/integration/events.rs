//! Money events: written with the ledger change, numbered per wallet, listed by
//! `GET /api/v1/events` and streamed by `GET /api/v1/events/stream` (SSE), across
//! instances.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::shared::money::Micros;

use crate::helpers::{TestApp, spawn_app};

backend_tests!(
    every_money_movement_writes_one_event_in_order,
    a_change_reaches_a_stream_on_another_instance_within_a_second,
    a_change_the_command_line_makes_reaches_a_stream_within_a_second,
    a_stream_resumes_after_its_last_event_id,
    a_reader_that_stops_reading_is_dropped_with_a_bounded_backlog,
    notices_on_the_balance_tab_come_from_money_events,
    open_streams_end_when_the_server_stops,
);

async fn events(app: &TestApp, client: &reqwest::Client, after: i64) -> Vec<Value> {
    let res = client.get(app.url(&format!("/api/v1/events?after={after}&limit=1000"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["events"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

async fn run(app: &TestApp, client: &reqwest::Client, id: &str, input: Value) -> u16 {
    let url = app.url("/api/v1/run/fal-ai/flux/schnell");
    client.post(url).header("x-request-id", id).json(&input).send().await.unwrap().status().as_u16()
}

async fn buy(app: &TestApp, client: &reqwest::Client, dollars: &str) {
    let res = app.call(client, "checkout_start", &[("amount", dollars)]).await;
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let session = location.strip_prefix("/sandbox/checkout/").unwrap().to_string();
    assert_eq!(app.call(client, "sandbox_pay", &[("session", &session)]).await.status(), 200);
}

async fn every_money_movement_writes_one_event_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    assert_eq!(run(&app, &ada, "one", json!({"prompt": "a fox"})).await, 200);
    assert_eq!(run(&app, &ada, "two", json!({"prompt": "a fox", "sandbox_failure": "server_error"})).await, 502);
    // A retry moves nothing, so it writes nothing.
    assert_eq!(run(&app, &ada, "one", json!({"prompt": "a fox"})).await, 200);
    buy(&app, &ada, "10").await;
    // $14.997 is left: with the threshold at $14.996, the next charge takes it under, once
    // (a hold alone does not: held money is still the wallet's).
    app.state.ledger.set_low_balance(Micros(14_996_000)).await.unwrap();
    assert_eq!(run(&app, &ada, "three", json!({"prompt": "a fox"})).await, 200);
    assert_eq!(run(&app, &ada, "four", json!({"prompt": "a fox"})).await, 200);

    let list = events(&app, &ada, 0).await;
    assert_eq!(
        kinds(&list),
        [
            "credits.granted",
            "hold.placed",
            "usage.charged",
            "hold.placed",
            "hold.voided",
            "purchase.credited",
            "hold.placed",
            "usage.charged",
            "balance.low",
            "hold.placed",
            "usage.charged",
        ]
    );
    let seqs: Vec<i64> = list.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=list.len() as i64).collect::<Vec<_>>(), "numbered 1, 2, 3 ... without gaps");
    // Each carries the balance after it; the last one is the wallet's balance now.
    let me = app.me(&ada).await.1;
    assert_eq!(list.last().unwrap()["data"]["balance"]["available_micros"], me["balance"]["available_micros"]);
    assert_eq!(list[2]["data"]["amount_micros"], -3_000);
    assert_eq!(list[5]["data"]["amount_micros"], 10_000_000);
    assert_eq!(list[8]["data"]["threshold_micros"], 14_996_000);
    assert_eq!(list[8]["data"]["balance"]["available_micros"], 14_994_000);
    // Paging: after the fifth.
    assert_eq!(kinds(&events(&app, &ada, 5).await)[0], "purchase.credited");

    // Another account sees only its own.
    app.state.ledger.set_low_balance(Micros::from_usd(1)).await.unwrap();
    let bob = app.signed_up("bob@example.com", "correct horse battery").await;
    assert_eq!(kinds(&events(&app, &bob, 0).await), ["credits.granted"]);
    let bad = bob.get(app.url("/api/v1/events?after=-1")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"]["field"], "after");
    let anonymous = app.client.get(app.url("/api/v1/events")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// An SSE stream read as it arrives: (id, data) per event.
struct Stream {
    res: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, client: &reqwest::Client, last_event_id: Option<&str>) -> Self {
        let mut req = client.get(app.url("/api/v1/events/stream"));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        Self { res, buffer: String::new() }
    }

    async fn next(&mut self) -> (i64, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if let Some(id) = id {
                    return (id, serde_json::from_str(&data).unwrap());
                }
                continue; // a keep-alive comment
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.res.chunk()).await.unwrap().unwrap();
            self.buffer.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
        }
    }
}

async fn a_change_reaches_a_stream_on_another_instance_within_a_second(backend: Backend) {
    let a = spawn_app(backend).await;
    let ada = a.signed_up("ada@example.com", "correct horse battery").await;
    let b = a.second_instance().await;
    let on_b = b.signed_in("ada@example.com", "correct horse battery").await;
    let mut stream = Stream::open(&b, &on_b, None).await;
    let mut latencies = Vec::new();
    let mut last = 1; // the sign-up credit
    for n in 0..20 {
        let started = Instant::now();
        assert_eq!(run(&a, &ada, &format!("call-{n}"), json!({"prompt": "a fox"})).await, 200);
        let answered = started.elapsed();
        // hold.placed, then usage.charged: both, in order.
        for kind in ["hold.placed", "usage.charged"] {
            let (id, event) = stream.next().await;
            assert_eq!((id, event["kind"].as_str().unwrap()), (last + 1, kind));
            last = id;
        }
        let arrived = started.elapsed();
        assert!(arrived < answered + Duration::from_secs(1), "reached the other instance within a second");
        latencies.push(arrived.saturating_sub(answered).as_millis());
    }
    latencies.sort_unstable();
    eprintln!(
        "{backend:?}: event reached the other instance's stream {} ms (p50) / {} ms (p99) after the call answered",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
}

/// A process that is not a server (the command line) writes money events and stops: on
/// PostgreSQL it announces them before it closes the database, on SQLite servers read the
/// table for other processes' writes. Either way a stream hears of it well within the
/// 15 s a follower waits before looking again on its own.
async fn a_change_the_command_line_makes_reaches_a_stream_within_a_second(backend: Backend) {
    use tollgate::server::ledger::{Clock, CreditKind, CreditRequest, Ledger};
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    let mut stream = Stream::open(&app, &ada, Some("1")).await;
    let other = tollgate::server::infra::db::Db::connect(&app.state.config.database, 2).await.unwrap();
    let ledger = Ledger::new(other.clone(), Clock::System).await.unwrap();
    let wallet = ledger.find_wallet(&id).await.unwrap().unwrap();
    let started = Instant::now();
    let grant = CreditRequest {
        idempotency_key: "from-the-command-line".into(),
        wallet,
        amount: Micros::from_usd(3),
        kind: CreditKind::Adjustment,
        description: "made elsewhere".into(),
        metadata: json!({}),
        expires_at_ms: None,
    };
    ledger.credit(&grant).await.unwrap();
    tollgate::server::infra::event_bus::announce_recent(&other).await;
    other.close().await;
    let (seq, event) = stream.next().await;
    assert_eq!((seq, event["kind"].as_str().unwrap()), (2, "balance.adjusted"));
    assert!(started.elapsed() < Duration::from_secs(1), "heard after {:?}", started.elapsed());
}

async fn a_stream_resumes_after_its_last_event_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    for n in 0..3 {
        assert_eq!(run(&app, &ada, &format!("call-{n}"), json!({"prompt": "a fox"})).await, 200);
    }
    // 7 events so far; a client that saw 4 gets 5, 6, 7, then what comes next.
    let mut stream = Stream::open(&app, &ada, Some("4")).await;
    for want in 5..=7 {
        assert_eq!(stream.next().await.0, want);
    }
    assert_eq!(run(&app, &ada, "call-3", json!({"prompt": "a fox"})).await, 200);
    assert_eq!(stream.next().await.0, 8);
    assert_eq!(stream.next().await.0, 9);
    // A new stream without an id starts after the latest event.
    let mut fresh = Stream::open(&app, &ada, None).await;
    assert_eq!(run(&app, &ada, "call-4", json!({"prompt": "a fox"})).await, 200);
    assert_eq!(fresh.next().await.0, 10);
    let bad = ada.get(app.url("/api/v1/events/stream")).header("last-event-id", "x").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"]["field"], "Last-Event-ID");
}

async fn a_reader_that_stops_reading_is_dropped_with_a_bounded_backlog(backend: Backend) {
    use tollgate::server::ledger::{CreditKind, CreditRequest};
    use tollgate::server::services::events::{BUFFER, follow_for};
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let id = app.me(&ada).await.1["id"].as_str().unwrap().to_string();
    let wallet = app.state.ledger.find_wallet(&id).await.unwrap().unwrap();
    // A reader that takes nothing while 100 events happen.
    let mut reader = follow_for(&app.state, &id, 0, Duration::from_millis(300));
    for n in 0..100 {
        let grant = CreditRequest {
            idempotency_key: format!("grant-{n}"),
            wallet,
            amount: Micros(1),
            kind: CreditKind::Adjustment,
            description: "one".into(),
            metadata: json!({}),
            expires_at_ms: None,
        };
        app.state.ledger.credit(&grant).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // What waited for it is at most the buffer, in order from the first; then it is gone.
    let mut got = Vec::new();
    while let Some(event) = reader.recv().await {
        got.push(event.seq);
    }
    assert!(!got.is_empty() && got.len() <= BUFFER, "{} events waited", got.len());
    assert_eq!(got, (1..=got.len() as i64).collect::<Vec<_>>());
    // A reader that keeps up gets all 101 (the sign-up credit and the grants).
    let mut reader = follow_for(&app.state, &id, 0, Duration::from_millis(300));
    for want in 1..=101 {
        assert_eq!(reader.recv().await.unwrap().seq, want);
    }
}

async fn notices_on_the_balance_tab_come_from_money_events(backend: Backend) {
    let app = spawn_app(backend).await;
    // A $10 threshold: the $5 sign-up credit is under it from the start.
    app.state.ledger.set_low_balance(Micros::from_usd(10)).await.unwrap();
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let notices: Value = app.call(&ada, "notices", &[]).await.json().await.unwrap();
    let list = notices.as_array().unwrap();
    assert_eq!(list.len(), 1, "{notices}");
    assert_eq!(list[0]["kind"], "balance.low");
    let text = list[0]["text"].as_str().unwrap();
    assert_eq!(text, "Your available balance fell to $5.00, under $10.00. Add credits, or turn on auto top-up.");
    // On the page itself, in its first HTML.
    let page = ada.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    assert!(crate::helpers::visible(&page).contains(text), "the notice is on the Balance tab");
    // Calls, holds and the like are not notices; someone else's are not shown.
    assert_eq!(run(&app, &ada, "one", json!({"prompt": "a fox"})).await, 200);
    let notices: Value = app.call(&ada, "notices", &[]).await.json().await.unwrap();
    assert_eq!(notices.as_array().unwrap().len(), 1);
    let anonymous = app.call(&app.client, "notices", &[]).await;
    assert_eq!(anonymous.status(), 401);
}

async fn open_streams_end_when_the_server_stops(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let mut stream = Stream::open(&app, &ada, Some("0")).await;
    assert_eq!(stream.next().await.0, 1);
    let started = Instant::now();
    app.begin_stop();
    // The stream ends (its body completes) instead of holding the stop for its 30 s grace.
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.res.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(_) => break,
            Err(_) => panic!("the stream is still open 5 s after the stop began"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}
