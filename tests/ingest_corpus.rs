//! Every file of the shared real-telemetry corpus is read with zero unexpected rejects; the
//! deliberately malformed Falco trace file is named and skipped; every format yields events.

mod common;

use std::path::{Path, PathBuf};

use blastdoor::ingest::{self, Format};

pub fn corpus() -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).to_path_buf();
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the corpus folder {} is missing (CI=true)", p.display());
    }
    eprintln!("SKIP: corpus folder {} is absent", p.display());
    None
}

/// Rejects that are expected, with why.
fn expected(problem: &str) -> bool {
    // Deliberately malformed upstream fixture.
    problem.contains("fal_01_003.json")
        // Azure AD / Microsoft 365 audit (OTRF GoldenSAML): not a format blastdoor reads yet.
        || problem.contains("GoldenSAMLADFSMailAccess/")
        // Panther IOC rule fixtures that hold only enrichment fields and no event at all
        // (`{"operation": {"producer": "k8s.io"}, "p_enrichment": …}`, an Azure Monitor stub).
        || problem.contains("kubernetes_rule_tests.jsonl: line 26:")
        || problem.contains("kubernetes_rule_tests.jsonl: line 27:")
        || problem.contains("kubernetes_rule_tests.jsonl: line 109:")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_corpus_reads_with_no_unexpected_rejects() {
    let Some(dir) = corpus() else { return };
    let engine = common::replay(&dir).await;
    let problems = engine.problems();
    let unexpected: Vec<&String> = problems.iter().filter(|p| !expected(p)).collect();
    assert!(unexpected.is_empty(), "unexpected rejects: {unexpected:#?}");
    let fal = problems
        .iter()
        .find(|p| p.contains("fal_01_003.json"))
        .expect("the malformed fal_01_003.json is named");
    assert!(fal.contains("line 1"), "{fal}");
    let stats = engine.stats();
    assert!(stats.ingested > 3_000, "ingested {}", stats.ingested);
    let st = &stats.sources[0];
    let (done, total) = st.progress.expect("progress is reported");
    assert_eq!(done, total);
    let n = engine.read(|c| c.len());
    assert!(n > 100, "identities {n}");
}

fn lines_of(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Each panther rule-test record (the `log` inside the wrapper) decodes, and is detected as
/// the format its `log_types` says.
#[test]
fn panther_rule_test_records_decode_as_their_log_type() {
    let Some(dir) = corpus() else { return };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for f in std::fs::read_dir(dir.join("panther-analysis")).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for (i, rec) in lines_of(&path).into_iter().enumerate() {
            let log = rec["log"].clone();
            if log.get("p_enrichment").is_some() && log.as_object().is_some_and(|m| m.len() <= 4) {
                continue; // an enrichment-only IOC fixture: no event in it (see `expected`)
            }
            let types = rec["log_types"].to_string();
            let fmt = ingest::detect(&log);
            let mut want: Vec<Format> = Vec::new();
            for (needle, f) in [
                ("CloudTrail", Format::CloudTrail),
                ("GuardDuty", Format::GuardDuty),
                ("GitHub", Format::GitHub),
                ("GCP", Format::Gcp),
                ("GCP", Format::K8sAudit),
                ("Azure", Format::EmbeddedJson("properties", "log")),
                ("Azure", Format::K8sAudit),
                ("EKS", Format::K8sAudit),
                ("Kubernetes", Format::K8sAudit),
            ] {
                if types.contains(needle) {
                    want.push(f);
                }
            }
            assert!(
                fmt.is_some_and(|f| want.contains(&f)),
                "{}:{} ({types}) detected as {fmt:?}",
                path.display(),
                i + 1
            );
            let d = ingest::decode_value(log, &mut Default::default());
            assert!(d.is_ok(), "{}:{}: {d:?}", path.display(), i + 1);
            *counts.entry(format!("{:?}", fmt.unwrap())).or_default() += 1;
        }
    }
    assert!(counts.len() >= 5, "{counts:?}");
}

#[test]
fn cloudtrail_in_every_shape_gives_the_same_identity() {
    let rec = serde_json::json!({"eventVersion": "1.08", "userIdentity": {"type": "AssumedRole",
        "principalId": "AROA:i-0123456789abcdef0", "arn": "arn:aws:sts::1:assumed-role/web/i-0123456789abcdef0",
        "accountId": "1", "accessKeyId": "ASIAXXX", "sessionContext": {"sessionIssuer": {"type": "Role",
        "arn": "arn:aws:iam::1:role/web", "userName": "web"}}},
        "eventTime": "2023-07-10T11:45:00Z", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
        "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2 Darwin/22"});
    let mut logstash = rec.clone();
    let t = logstash
        .as_object_mut()
        .unwrap()
        .remove("eventTime")
        .unwrap();
    logstash["@timestamp"] = t;
    let shapes = [
        serde_json::json!({"Records": [rec.clone()]}).to_string(),
        serde_json::json!([rec.clone()]).to_string(),
        serde_json::json!({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": rec.clone()}).to_string(),
        rec.to_string(),
        logstash.to_string(),
    ];
    for text in shapes {
        let d = ingest::decode_document(&text).unwrap();
        assert_eq!(d.events.len(), 1, "{text}");
        let e = &d.events[0];
        assert_eq!(
            e.actor.key(),
            "aws:arn:aws:sts::1:assumed-role/web/i-0123456789abcdef0"
        );
        assert_eq!(e.time, 1688989500000);
        assert_eq!(e.credential.as_ref().unwrap().id.as_str(), "ASIAXXX");
        assert!(
            e.actor
                .tags
                .iter()
                .any(|t| t.as_str() == "assumed_from=arn:aws:iam::1:role/web")
        );
        assert!(e.actor.tags.iter().any(|t| t.starts_with("workload=ec2:")));
        assert!(!e.raw.is_null(), "the original record is kept");
        // The tool and region the core's baseline judges the call by (an instance credential
        // used from a laptop: tests/triage_lineage.rs).
        assert_eq!(e.user_agent.as_deref(), Some("aws-cli/2 Darwin/22"));
        assert_eq!(e.src_ip.as_deref(), Some("203.0.113.7"));
    }
}

#[test]
fn every_user_identity_type_maps_to_an_identity() {
    let cases = [
        (
            serde_json::json!({"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "userName": "a", "accessKeyId": "AKIA1"}),
            "aws:arn:aws:iam::1:user/a",
            "iam_user",
        ),
        (
            serde_json::json!({"type": "Root", "arn": "arn:aws:iam::1:root", "accountId": "1"}),
            "aws:arn:aws:iam::1:root",
            "root",
        ),
        (
            serde_json::json!({"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/bob", "principalId": "1:bob"}),
            "aws:arn:aws:sts::1:federated-user/bob",
            "federated_user",
        ),
        (
            serde_json::json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}),
            "aws:ec2.amazonaws.com",
            "aws_service",
        ),
        (
            serde_json::json!({"type": "SAMLUser", "principalId": "x", "userName": "alice@corp", "identityProvider": "arn:aws:iam::1:saml-provider/okta"}),
            "aws:samluser:arn:aws:iam::1:saml-provider/okta:alice@corp",
            "federated_user",
        ),
        (
            serde_json::json!({"type": "WebIdentityUser", "userName": "sub", "identityProvider": "accounts.google.com"}),
            "aws:webidentityuser:accounts.google.com:sub",
            "federated_user",
        ),
    ];
    for (ui, key, kind) in cases {
        let rec = serde_json::json!({"eventName": "GetCallerIdentity", "eventSource": "sts.amazonaws.com",
            "eventTime": "2023-01-01T00:00:00Z", "userIdentity": ui});
        let d = ingest::decode_record(&rec.to_string()).unwrap();
        assert_eq!(d.events[0].actor.key(), key);
        assert_eq!(d.events[0].actor.kind.as_str(), kind);
    }
}

#[test]
fn kubernetes_service_account_token_pod_and_decision() {
    let rec = serde_json::json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
        "verb": "list", "user": {"username": "system:serviceaccount:prod:api",
        "extra": {"authentication.kubernetes.io/credential-id": ["JTI=abc"],
                  "authentication.kubernetes.io/pod-name": ["api-7f9"],
                  "authentication.kubernetes.io/node-name": ["node-1"]}},
        "sourceIPs": ["10.0.0.5"], "objectRef": {"resource": "secrets", "namespace": "prod"},
        "annotations": {"authorization.k8s.io/decision": "forbid"},
        "responseStatus": {"code": 403}, "stageTimestamp": "2024-01-01T00:00:00.000000Z"});
    let d = ingest::decode_record(&rec.to_string()).unwrap();
    let e = &d.events[0];
    assert_eq!(e.actor.key(), "k8s:system:serviceaccount:prod:api");
    assert_eq!(e.credential.as_ref().unwrap().id.as_str(), "JTI=abc");
    assert!(
        e.actor
            .tags
            .iter()
            .any(|t| t.as_str() == "pod=prod/api-7f9")
    );
    assert!(e.actor.tags.iter().any(|t| t.as_str() == "node=node-1"));
    assert_eq!(e.status, blastdoor::core::Status::Failure);
}

#[test]
fn malformed_records_are_errors_not_panics() {
    for bad in [
        "",
        "{",
        "[1,2",
        "{\"kind\": 0}",
        "null",
        "42",
        "\"x\"",
        "[[]]",
        "{\"Records\": 5}",
        "{\"eventName\": 5, \"eventSource\": 1}",
        "{\"process_exec\": 1}",
        "{\"type\": \"response\", \"auth\": 7}",
    ] {
        let _ = ingest::decode_record(bad);
        let _ = ingest::decode_document(bad);
    }
    assert!(ingest::decode_record("{\"kind\": 0}").is_err());
}

#[test]
fn vault_ocsf_github_and_tetragon_samples() {
    let vault = r#"{"time":"2024-05-01T10:00:00Z","type":"response","auth":{"accessor":"hmac-sha256:abc","display_name":"approle-ci","entity_id":"e-1","policies":["default","ci"]},"request":{"operation":"read","path":"secret/data/prod/db","remote_address":"10.1.2.3"},"response":{}}"#;
    let d = ingest::decode_record(vault).unwrap();
    assert_eq!(d.events[0].actor.key(), "vault:entity:e-1");
    assert_eq!(
        d.events[0].credential.as_ref().unwrap().id.as_str(),
        "hmac-sha256:abc"
    );
    assert!(
        blastdoor::core::score::event_signals(&d.events[0])
            .contains(&blastdoor::core::Signal::SecretRead)
    );
    let req = r#"{"time":"2024-05-01T10:00:00Z","type":"request","auth":{"accessor":"x"},"request":{"operation":"read","path":"secret/data/a"}}"#;
    assert!(
        ingest::decode_record(req).unwrap().events.is_empty(),
        "the response entry carries the outcome"
    );
    // OCSF with trailing commas, as in published samples.
    let ocsf = r#"{"class_uid": 6003, "time": 1700000000000, "actor": {"user": {"uid": "arn:aws:iam::1:user/x", "name": "x", "credential_uid": "AKIAX",},}, "api": {"service": {"name": "iam",}, "operation": "CreateAccessKey",}, "src_endpoint": {"ip": "1.2.3.4"}, "cloud": {"provider": "AWS"},}"#;
    let d = ingest::decode_record(ocsf).unwrap();
    assert_eq!(d.events[0].actor.key(), "aws:arn:aws:iam::1:user/x");
    let gh = r#"{"action":"personal_access_token.request_created","actor":"octocat","programmatic_access_type":"Fine-grained personal access token","token_id":123,"created_at":1700000000000,"org":"acme"}"#;
    let d = ingest::decode_record(gh).unwrap();
    assert_eq!(d.events[0].actor.key(), "github:octocat");
    assert_eq!(d.events[0].credential.as_ref().unwrap().id.as_str(), "123");
}

/// Every JSON value of the corpus, as compact text: each line of a JSON Lines file, each item of
/// a document's array (and the document itself).
fn corpus_values(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for path in blastdoor::engine::sources::files_under(dir).unwrap() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let docs: Vec<serde_json::Value> = if lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        {
            out.extend(lines.iter().map(|l| l.trim().to_string()));
            lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        } else {
            serde_json::from_str(&text).into_iter().collect()
        };
        for d in docs {
            if let serde_json::Value::Array(items) = &d {
                out.extend(items.iter().map(|i| i.to_string()));
            }
            if let Some(serde_json::Value::Array(items)) = d.get("Records") {
                out.extend(items.iter().map(|i| i.to_string()));
            }
            out.push(d.to_string());
        }
    }
    out
}

/// CloudTrail is read from the text into typed fields, without a `Value` tree: for every value
/// of the corpus, that reads exactly what parsing it and detecting its format reads.
#[test]
fn the_typed_cloudtrail_read_gives_what_the_general_path_gives_on_the_whole_corpus() {
    let Some(dir) = corpus() else { return };
    let (mut compared, mut typed) = (0, 0);
    for text in corpus_values(&dir) {
        let fast = ingest::decode_record(&text);
        let general = ingest::parse_json(&text).and_then(|v| {
            let mut out = ingest::Decoded::default();
            ingest::decode_value(v, &mut out).map(|_| out)
        });
        match (fast, general) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.events, b.events, "{text}");
                assert_eq!(a.changes, b.changes, "{text}");
                assert_eq!(a.inventory, b.inventory, "{text}");
                typed += a
                    .events
                    .iter()
                    .filter(|e| matches!(e.raw, blastdoor::core::Raw::Text(_)))
                    .count();
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            (a, b) => panic!("{text}: typed {:?} general {:?}", a.err(), b.err()),
        }
        compared += 1;
    }
    eprintln!("compared {compared}, typed {typed}");
    assert!(compared > 4_000, "compared {compared}");
    // The delivery files' records, and the corpus's other CloudTrail, took the typed read.
    assert!(typed > 5_000, "typed {typed}");
}

/// `rank`, `watch` and the console read the same folder with the options `main` gives them and
/// must show every identity with the same scores: one scoring path, as of the data's own time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rank_watch_and_the_console_score_the_invictus_folder_alike() {
    use blastdoor::core::SortKey;
    use blastdoor::engine::{Engine, EngineOptions, SourceSpec};
    use blastdoor::headless::{Format, rank, watch};
    let Some(dir) = corpus() else { return };
    let opts = EngineOptions {
        sources: vec![SourceSpec::Path(dir.join("invictus-ir-aws-dataset"))],
        ..Default::default()
    };
    let mut out = Vec::new();
    rank::run(
        rank::RankOptions {
            engine: opts.clone(),
            top: 10_000,
            by: SortKey::Risk,
            format: Format::Json,
            live_for: std::time::Duration::ZERO,
            store: None,
        },
        &mut out,
    )
    .await
    .unwrap();
    let ranked: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    let by_rank: std::collections::BTreeMap<String, f64> = ranked
        .iter()
        .map(|r| {
            (
                r["identity"].as_str().unwrap().to_string(),
                r["risk"].as_f64().unwrap(),
            )
        })
        .collect();
    assert!(by_rank.len() > 20, "{} identities", by_rank.len());

    let engine = Engine::start(opts).await.unwrap();
    engine.finished().await;
    let snap = watch::snapshot(&engine, 10_000, SortKey::Risk);
    let by_watch: std::collections::BTreeMap<String, f64> = snap
        .top
        .iter()
        .map(|r| (r.identity.clone(), r.risk))
        .collect();
    assert_eq!(by_watch, by_rank, "watch and rank disagree");

    let mut app = blastdoor::tui::App::new(blastdoor::tui::Keymap::default(), false);
    app.set_size(ratatui::layout::Size::new(80, 200));
    let view = engine.read(|c| {
        blastdoor::tui::ViewData::build(c, &engine.stats(), &app, blastdoor::engine::now_ms())
    });
    assert!(view.rows.len() > 20);
    for row in &view.rows {
        assert_eq!(
            Some(&row.risk),
            by_rank.get(row.key.as_str()),
            "the console and rank disagree on {}",
            row.key
        );
    }
}
