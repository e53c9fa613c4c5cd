//! The headless face through the real binary: `rank` on files, `watch` on the demo fleet and on
//! a separately started `blastdoor agent --demo`, and the exit codes scripts rely on.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

mod common;
use common::{KillOnDrop, bd, free_port};
use std::time::{Duration, Instant};

fn native_event(principal: &str, op: &str, t: i64, status: &str) -> String {
    serde_json::json!({
        "time": t,
        "actor": {"provider": "aws", "principal": principal, "kind": "iam_user"},
        "api": {"service": "iam", "operation": op},
        "src_ip": "10.1.2.3",
        "status": status,
    })
    .to_string()
}

#[test]
fn rank_reads_a_file_to_its_end_and_names_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..30 {
        writeln!(
            f,
            "{}",
            native_event(
                &format!("arn:aws:iam::1:user/svc{i}"),
                "GetObject",
                1_000 + i,
                "success"
            )
        )
        .unwrap();
    }
    writeln!(f, "{{ this is not json").unwrap();
    for op in [
        "StopLogging",
        "DeleteTrail",
        "AttachUserPolicy",
        "CreateAccessKey",
    ] {
        writeln!(
            f,
            "{}",
            native_event("arn:aws:iam::1:user/ci-bot", op, 5_000, "success")
        )
        .unwrap();
    }
    drop(f);
    let out = bd()
        .args(["rank", "--format", "json", "--top", "5", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rank failed: {stderr}");
    assert!(
        stderr.contains("events.ndjson: line 31"),
        "the bad line is not named: {stderr}"
    );
    let ranked: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ranked.len(), 5);
    assert_eq!(ranked[0]["identity"], "aws:arn:aws:iam::1:user/ci-bot");
    assert_eq!(ranked[0]["rank"], 1);
    let why = ranked[0]["why"].to_string();
    assert!(
        why.contains("defence evasion"),
        "why does not explain: {why}"
    );
}

#[test]
fn rank_table_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.ndjson");
    std::fs::write(
        &path,
        native_event("arn:aws:iam::1:user/ci-bot", "StopLogging", 1, "success") + "\n",
    )
    .unwrap();
    let out = bd()
        .args(["rank", "--format", "table", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("RANK"), "{text}");
    assert!(
        text.contains("ci-bot") && text.contains("defence evasion"),
        "{text}"
    );
}

#[test]
fn rank_with_nothing_to_read_is_a_usage_error() {
    let out = bd().arg("rank").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--source"));
}

#[test]
fn a_missing_source_path_is_named_with_exit_2() {
    let out = bd()
        .args(["rank", "--source", "/no/such/trail.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/trail.json"));
}

#[test]
fn global_options_are_accepted_after_the_subcommand_and_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.ndjson");
    std::fs::write(
        &path,
        native_event("arn:aws:iam::1:user/a", "GetObject", 1, "success") + "\n",
    )
    .unwrap();
    let before = bd()
        .arg("--source")
        .arg(&path)
        .args(["--format", "json", "rank"])
        .output()
        .unwrap();
    let after = bd()
        .args(["rank", "--format", "json", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(before.status.success() && after.status.success());
    assert_eq!(before.stdout, after.stdout);
}

#[test]
fn watch_on_the_demo_prints_growing_snapshots() {
    let out = bd()
        .args([
            "watch",
            "--source",
            "demo",
            "--duration",
            "3",
            "--interval",
            "1",
            "--format",
            "ndjson",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{} snapshots", lines.len());
    let ing: Vec<u64> = lines
        .iter()
        .map(|l| l["ingested"].as_u64().unwrap())
        .collect();
    assert!(
        ing.windows(2).all(|w| w[1] > w[0]),
        "ingested does not grow: {ing:?}"
    );
    let last = lines.last().unwrap();
    assert!(last["top"].as_array().unwrap().len() >= 10);
    assert_eq!(last["sources"][0]["health"], "up");
    for k in ["at", "dropped", "sources", "top"] {
        assert!(last.get(k).is_some(), "snapshot lacks {k}");
    }
}

/// Start `blastdoor agent --demo` as its own process and read its stream over HTTP, as a
/// remote console would.
#[test]
fn a_separately_started_demo_agent_streams_over_http() {
    let port = free_port();
    let agent = bd()
        .args(["agent", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(agent);
    let deadline = Instant::now() + Duration::from_secs(20);
    let stream = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("the agent never listened: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    write!(
        w,
        "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/x-ndjson\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(stream);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    assert!(status.contains("200"), "{status}");
    // Skip headers, then read NDJSON lines out of the chunked body.
    let mut cursors = Vec::new();
    let mut line = String::new();
    while cursors.len() < 20 {
        line.clear();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim())
            && let Some(c) = v["cursor"].as_u64()
        {
            assert!(v["actor"]["principal"].is_string());
            cursors.push(c);
        }
    }
    assert!(cursors.len() >= 20, "read {} events", cursors.len());
    assert!(
        cursors.windows(2).all(|w| w[1] > w[0]),
        "cursors not increasing: {cursors:?}"
    );

    let url = format!("http://127.0.0.1:{port}/v1/events");
    let out = bd()
        .args([
            "watch",
            "--duration",
            "2",
            "--interval",
            "1",
            "--source",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert!(last["ingested"].as_u64().unwrap() > 0);
    assert!(last["top"].as_array().unwrap().len() >= 10);
}

#[test]
fn a_dead_agent_shows_as_retrying_not_a_crash() {
    let port = free_port();
    let out = bd()
        .args(["watch", "--duration", "2", "--interval", "1", "--source"])
        .arg(format!("http://127.0.0.1:{port}/v1/events"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["sources"][0]["health"], "retrying");
    assert!(
        last["sources"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
}

#[test]
fn a_permission_seen_in_use_is_explained_once_not_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.ndjson");
    let rec = serde_json::json!({
        "eventVersion": "1.08",
        "eventTime": "2026-12-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/deployer",
                         "accountId": "111122223333", "userName": "deployer"},
        "requestParameters": {"userName": "deployer"},
        "eventID": "e-1", "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    });
    std::fs::write(&path, format!("{rec}\n")).unwrap();
    let out = bd()
        .args(["rank", "--format", "json", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ranked: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let why = ranked[0]["why"].to_string();
    assert!(
        why.contains("iam:CreateAccessKey (observed in use)"),
        "the permission seen in use is not named: {why}"
    );
    assert!(
        !why.contains("on (observed in use)") && !why.contains("via observed in use"),
        "said twice: {why}"
    );
}

/// Kubernetes audit through `rank --format json`: a kubelet's token request and anonymous
/// health probes carry the baseline rule that lowered them (`factor: "baseline"`), and an
/// impersonated call names the impersonator on the impersonated identity and the other way
/// round.
#[test]
fn rank_json_shows_control_plane_baselines_and_both_sides_of_an_impersonation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    let rec =
        |user: &str, verb: &str, obj: serde_json::Value, uri: &str, more: serde_json::Value| {
            let mut r = serde_json::json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1",
            "stage": "ResponseComplete", "verb": verb, "user": {"username": user},
            "requestURI": uri, "sourceIPs": ["10.0.0.5"],
            "stageTimestamp": "2026-12-01T10:00:00Z", "responseStatus": {"code": 201}});
            if !obj.is_null() {
                r["objectRef"] = obj;
            }
            for (k, v) in more.as_object().unwrap() {
                r[k] = v.clone();
            }
            r.to_string()
        };
    let token = serde_json::json!({"resource": "serviceaccounts", "subresource": "token",
        "namespace": "prod", "name": "api"});
    writeln!(
        f,
        "{}",
        rec(
            "system:node:n1",
            "create",
            token,
            "/api/v1/namespaces/prod/serviceaccounts/api/token",
            serde_json::json!({})
        )
    )
    .unwrap();
    for _ in 0..5 {
        writeln!(
            f,
            "{}",
            rec(
                "system:anonymous",
                "get",
                serde_json::Value::Null,
                "/readyz",
                serde_json::json!({})
            )
        )
        .unwrap();
    }
    let secret = serde_json::json!({"resource": "secrets", "namespace": "prod", "name": "db"});
    writeln!(
        f,
        "{}",
        rec(
            "alice",
            "get",
            secret,
            "/api/v1/namespaces/prod/secrets/db",
            serde_json::json!({"impersonatedUser": {"username": "system:serviceaccount:prod:api"}})
        )
    )
    .unwrap();
    drop(f);
    let out = bd()
        .args(["rank", "--format", "json", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ranked: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let row = |key: &str| {
        ranked
            .iter()
            .find(|r| r["identity"] == key)
            .unwrap_or_else(|| panic!("{key} not ranked: {ranked:#?}"))
    };
    let has = |r: &serde_json::Value, factor: &str, text: &str| {
        r["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["factor"] == factor && w["detail"].as_str().unwrap().contains(text))
    };
    let node = row("k8s:system:node:n1");
    assert!(
        has(
            node,
            "baseline",
            "kubelet requesting its pods' service-account tokens is routine"
        ),
        "{node}"
    );
    assert_eq!(node["threat"], 0.0, "{node}");
    let anon = row("k8s:system:anonymous");
    assert!(
        has(
            anon,
            "baseline",
            "anonymous health, version and discovery probes are routine"
        ),
        "{anon}"
    );
    assert_eq!(anon["threat"], 0.0, "{anon}");
    let api = row("k8s:system:serviceaccount:prod:api");
    assert!(
        has(
            api,
            "change",
            "impersonated by alice (secrets:get on prod/db)"
        ),
        "{api}"
    );
    let alice = row("k8s:alice");
    assert!(
        has(
            alice,
            "change",
            "impersonated system:serviceaccount:prod:api"
        ),
        "{alice}"
    );
    assert!(
        has(alice, "signal", "privilege-escalation calls"),
        "{alice}"
    );
}
