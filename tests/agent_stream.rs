//! The agent protocol end to end over real HTTP: the reference agent (with the demo fleet) runs
//! in-process on a loopback port and is read with reqwest, as the engine and third-party
//! collectors read it. The last tests drive the engine's `demo` source, which goes through the
//! same server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use blastdoor::agent::{self, AgentState, Fleet, Health};
use blastdoor::engine::{Engine, EngineOptions, SourceSpec};
use blastdoor::ingest::native::{Inventory, NativeLine, decode_line};
use futures_util::StreamExt;

const T0: i64 = 1_790_000_000_000;

/// Serve `state` on an ephemeral loopback port.
async fn serve(state: Arc<AgentState>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(agent::serve(listener, state));
    addr
}

/// The demo agent with its minute of history, not advancing (so cursors are predictable).
async fn demo() -> (SocketAddr, Arc<AgentState>) {
    let (_fleet, state) = agent::demo_state(42, T0, agent::server::DEFAULT_CAPACITY);
    (serve(state.clone()).await, state)
}

/// Read non-empty lines from a streaming body until `n` arrived (or fail after 10 s).
async fn lines(resp: reqwest::Response, n: usize) -> Vec<String> {
    let mut body = resp.bytes_stream();
    let mut pending = Vec::new();
    let mut out = Vec::new();
    let read = async {
        while out.len() < n {
            let Some(chunk) = body.next().await else {
                break;
            };
            pending.extend_from_slice(&chunk.expect("body chunk"));
            while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=nl).collect();
                let text = String::from_utf8(line).expect("UTF-8 line");
                let text = text.trim_end();
                if !text.is_empty() {
                    out.push(text.to_string());
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("stream stalled");
    out.truncate(n);
    out
}

fn decode_all(lines: &[String]) -> Vec<NativeLine> {
    lines
        .iter()
        .map(|l| decode_line(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn cursors(lines: &[NativeLine]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| l.cursor.expect("every line carries its cursor"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_lines_decode_and_carry_increasing_cursors() {
    let (addr, state) = demo().await;
    assert!(
        state.len() > 1000,
        "a minute of history is buffered: {}",
        state.len()
    );
    let resp = reqwest::get(format!("http://{addr}/v1/events"))
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let got = decode_all(&lines(resp, 500).await);
    let cs = cursors(&got);
    assert_eq!(
        cs[0], 1,
        "with no since the stream starts at the oldest buffered event"
    );
    assert!(
        cs.windows(2).all(|w| w[1] == w[0] + 1),
        "cursors increase one by one"
    );
    assert!(
        got.iter()
            .all(|l| l.event.time < T0 && !l.event.raw.is_null())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_resumes_after_the_cursor_without_duplicates() {
    let (addr, _state) = demo().await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/v1/events");
    let first = decode_all(
        &lines(
            client
                .get(&url)
                .query(&[("since", 0)])
                .send()
                .await
                .unwrap(),
            100,
        )
        .await,
    );
    let last = *cursors(&first).last().unwrap();
    assert_eq!(last, 100);
    let second = decode_all(
        &lines(
            client
                .get(&url)
                .query(&[("since", last)])
                .send()
                .await
                .unwrap(),
            100,
        )
        .await,
    );
    let cs = cursors(&second);
    assert_eq!(cs.first(), Some(&101), "resumes right after the cursor");
    assert_eq!(cs.last(), Some(&200));
    assert!(cs.iter().all(|c| *c > last), "no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_resumes_from_last_event_id() {
    let (addr, _state) = demo().await;
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}/v1/events?since=10"))
        .header("Accept", "text/event-stream")
        .header("Last-Event-ID", "50")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let frames = lines(resp, 41).await;
    // `retry:` first, then `id:` / `data:` pairs.
    assert!(frames[0].starts_with("retry:"), "{}", frames[0]);
    for (expect, pair) in (51..).zip(frames[1..].chunks(2)) {
        let id: u64 = pair[0]
            .strip_prefix("id: ")
            .expect("id line")
            .parse()
            .unwrap();
        let data = pair[1].strip_prefix("data: ").expect("data line");
        assert_eq!(
            id, expect,
            "Last-Event-ID wins over since and resumes after it"
        );
        assert_eq!(decode_line(data).unwrap().cursor, Some(id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_follows_new_events_live() {
    let mut fleet = Fleet::new(5);
    let state = Arc::new(AgentState::new("test"));
    state.push(fleet.step(T0));
    let addr = serve(state.clone()).await;
    let since = state.latest_cursor();
    let resp = reqwest::get(format!("http://{addr}/v1/events?since={since}"))
        .await
        .unwrap();
    let reader = tokio::spawn(lines(resp, 20));
    let mut t = T0;
    while !reader.is_finished() {
        t += 200;
        state.push(fleet.step(t));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = decode_all(&reader.await.unwrap());
    assert_eq!(cursors(&got)[0], since + 1);
    assert!(
        got.iter().all(|l| l.event.time > T0),
        "only events pushed after connecting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_leaves_no_stream_behind() {
    let mut state = AgentState::new("test");
    state.keepalive = Duration::from_millis(50);
    let state = Arc::new(state);
    state.push(Fleet::new(1).step(T0));
    let addr = serve(state.clone()).await;
    let resp = reqwest::get(format!("http://{addr}/v1/events"))
        .await
        .unwrap();
    assert_eq!(state.active_streams(), 1, "the open stream is counted");
    let got = lines(resp, 1).await; // `lines` drops the body when done
    assert_eq!(got.len(), 1);
    for _ in 0..200 {
        if state.active_streams() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{} streams still open after the client left",
        state.active_streams()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_inventory_answer() {
    let (addr, _state) = demo().await;
    let health: Health = reqwest::get(format!("http://{addr}/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert!(!health.name.is_empty());
    assert_eq!(
        health.capabilities.first().map(String::as_str),
        Some("agent.isolate_workload"),
        "the demo agent offers its agent.* actions, the reversible one first"
    );
    // And the built-in kinds that fit its fleet, each described (whether it can be undone).
    for k in [
        "aws.disable_access_key",
        "k8s.quarantine_pod",
        "vault.disable_entity",
    ] {
        assert!(
            health.capabilities.iter().any(|c| c == k),
            "{k}: {health:?}"
        );
    }
    assert_eq!(health.actions.len(), health.capabilities.len());
    let inv: Inventory = reqwest::get(format!("http://{addr}/v1/inventory"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        inv.identities.len() >= 500,
        "{} identities",
        inv.identities.len()
    );
    let bad = reqwest::get(format!("http://{addr}/v1/events?since=yesterday"))
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        400,
        "a cursor that is not a number is refused, with a reason"
    );
    assert!(bad.text().await.unwrap().contains("since"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_without_a_fleet_serves_nothing_but_answers() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = tokio::spawn(blastdoor::headless::agent::run(
        blastdoor::headless::agent::AgentOptions {
            listen: free,
            demo: false,
            seed: 0,
            token_env: None,
            tls: None,
            policy: None,
            allowed_signers: None,
            engine: EngineOptions::default(),
            providers: Default::default(),
        },
    ));
    let client = reqwest::Client::new();
    let mut health = None;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("http://{free}/v1/health")).send().await {
            health = Some(r.json::<Health>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(health.is_some(), "the agent came up on {free}");
    let inv: Inventory = client
        .get(format!("http://{free}/v1/inventory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(inv.identities.is_empty());
    let resp = client
        .get(format!("http://{free}/v1/events"))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let nothing = tokio::time::timeout(Duration::from_millis(300), body.next()).await;
    assert!(nothing.is_err(), "no events, and the stream stays open");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_ingests_the_demo_fleet_over_http() {
    let engine = Engine::start(EngineOptions {
        sources: vec![SourceSpec::Demo],
        ..Default::default()
    })
    .await
    .expect("engine starts");
    let mut first = None;
    for _ in 0..100 {
        let ingested = engine.stats().ingested;
        let first = *first.get_or_insert(ingested);
        if ingested > first && engine.read(|c| c.len()) >= 500 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "after 10 s: ingested {}, identities {}, problems {:?}",
        engine.stats().ingested,
        engine.read(|c| c.len()),
        engine.problems()
    );
}
