//! CloudTrail as it is shipped (issue #18), through the real binary and the file reader: the
//! console's event-history CSV export, EventBridge events (`detail`) one by one and in a batch,
//! CloudWatch Logs subscription records (the Lambda's `awslogs` base64 gzip, the decoded
//! message, Firehose's concatenated gzip members) and Datadog Logs (its renamed attributes,
//! nested or flattened). Each must give the identity, source address and user agent that the
//! plain CloudTrail record gives.
//!
//! The fixtures in tests/fixtures/formats/ were written for these tests from documented shapes:
//! - cloudtrail.ndjson: two records in the shape of the AWS CloudTrail User Guide's log file
//!   examples (docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html):
//!   an IAM user starting an instance with the CLI, a role session listing buckets.
//! - event-history.csv: the console's Event history → Download events → CSV, with the event
//!   history's columns and LookupEvents' `CloudTrailEvent` JSON column
//!   (docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events-console.html,
//!   docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_Event.html); UTF-8 with a byte
//!   order mark, CRLF rows, the first JSON column pretty-printed over many lines.
//! - eventbridge-batch.json: "AWS API Call via CloudTrail" events as EventBridge delivers them
//!   (docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudtrail.html): version, id,
//!   detail-type, source, account, time, region, resources, detail = the record.
//! - cwl-data-message.json and awslogs-lambda.ndjson: the subscription message CloudWatch Logs
//!   sends (messageType, owner, logGroup, logStream, subscriptionFilters, logEvents of id,
//!   timestamp, message) decoded, and as a Lambda receives it, `{"awslogs": {"data": base64 of
//!   gzip}}`, after a CONTROL_MESSAGE (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/
//!   SubscriptionFilters.html; AWS Lambda Powertools' CloudWatchLogsSchema example).
//! - datadog-logs-api.json and datadog-flattened.ndjson: Datadog's Logs API page
//!   (`{"data": [{"type": "log", "attributes": {"attributes": {…}, "timestamp"}}]}`) and
//!   logs with their attributes flattened with dots, named as Datadog's CloudTrail pipeline
//!   names them: `evt.name`, `network.client.ip`, `http.useragent`, `usr.account_id` (the
//!   attributes its default Cloud SIEM CloudTrail rules query, e.g. `source:cloudtrail
//!   @evt.name:AssumeRole`, `@network.client.ip`).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use blastdoor::ingest::{self, Limits};

mod common;
use common::bd;

const MATEO: &str = "arn:aws:iam::123456789012:user/Mateo";
const SESSION: &str = "arn:aws:sts::123456789012:assumed-role/ci-deploy/build-7";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name)
}

/// `blastdoor rank --format json --source FILE`: the identities ranked, and stderr.
fn rank(path: &Path) -> (Vec<serde_json::Value>, String) {
    let out = bd()
        .args(["rank", "--format", "json", "--source"])
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rank {}: {stderr}", path.display());
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

/// What `blastdoor explain ID --format json --source FILE` shows of one identity: its
/// credentials, and each call's (operation, source IP, user agent).
fn explain(path: &Path, id: &str) -> (Vec<String>, Vec<(String, String, String)>) {
    let out = bd()
        .args(["explain", id, "--format", "json", "--source"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "explain {id} on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let x: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let creds = x["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let calls = x["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            (s("operation"), s("source_ip"), s("user_agent"))
        })
        .collect();
    (creds, calls)
}

fn identities(ranked: &[serde_json::Value]) -> Vec<String> {
    let mut ids: Vec<String> = ranked
        .iter()
        .map(|r| r["identity"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The file read as a file source reads it: what it decoded to, and the rejects.
fn read(path: &Path) -> (Vec<blastdoor::core::Event>, Vec<String>) {
    let (decoded, rejects) =
        blastdoor::engine::sources::read_collect(path, &Limits::default(), u64::MAX, 1);
    let events = decoded.into_iter().flat_map(|d| d.events).collect();
    (events, rejects)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    g.write_all(bytes).unwrap();
    g.finish().unwrap()
}

fn awslogs(message: &serde_json::Value) -> String {
    let data =
        base64::engine::general_purpose::STANDARD.encode(gzip(message.to_string().as_bytes()));
    serde_json::json!({"awslogs": {"data": data}}).to_string()
}

#[test]
fn every_shipped_shape_ranks_and_explains_as_the_plain_record_does() {
    let plain = fixture("cloudtrail.ndjson");
    let (want_ranked, _) = rank(&plain);
    let want_ids = identities(&want_ranked);
    assert_eq!(want_ids, [format!("aws:{MATEO}"), format!("aws:{SESSION}")]);
    let want_mateo = explain(&plain, MATEO);
    let want_session = explain(&plain, SESSION);
    assert_eq!(want_mateo.1[0].1, "192.0.2.44");
    assert!(want_session.1[0].2.starts_with("[Boto3/1.34.0"));
    // A Firehose object: CloudWatch Logs' gzipped messages, one gzip member after another, a
    // control message first, and no extension on the name.
    let dir = tempfile::tempdir().unwrap();
    let firehose = dir
        .path()
        .join("to-blastdoor-1-2024-03-05-10-30-00-0a1b2c3d");
    let msg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cwl-data-message.json")).unwrap())
            .unwrap();
    let control = serde_json::json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs",
        "logGroup": "", "logStream": "", "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1709634000000u64,
                       "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]});
    let mut body = gzip(control.to_string().as_bytes());
    body.extend(gzip(msg.to_string().as_bytes()));
    std::fs::write(&firehose, body).unwrap();
    // EventBridge events one a line, as a rule's target writes them.
    let eb_lines = dir.path().join("eventbridge.ndjson");
    let batch: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("eventbridge-batch.json")).unwrap())
            .unwrap();
    let lines: Vec<String> = batch.iter().map(|e| e.to_string()).collect();
    std::fs::write(&eb_lines, lines.join("\n") + "\n").unwrap();
    for path in [
        fixture("event-history.csv"),
        fixture("eventbridge-batch.json"),
        eb_lines,
        fixture("cwl-data-message.json"),
        fixture("awslogs-lambda.ndjson"),
        firehose,
        fixture("datadog-logs-api.json"),
        fixture("datadog-flattened.ndjson"),
    ] {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (ranked, stderr) = rank(&path);
        let ids = identities(&ranked);
        for want in &want_ids {
            assert!(ids.contains(want), "{name}: {want} missing from {ids:?}");
        }
        if !name.ends_with(".csv") {
            assert_eq!(ids, want_ids, "{name}");
            assert!(!stderr.contains("skipped"), "{name}: {stderr}");
        }
        let (creds, calls) = explain(&path, SESSION);
        assert_eq!(creds, want_session.0, "{name}: the session's credential");
        assert_eq!(calls, want_session.1, "{name}: the session's calls");
        let (creds, calls) = explain(&path, MATEO);
        assert_eq!(creds, want_mateo.0, "{name}: the user's credential");
        for c in &want_mateo.1 {
            assert!(calls.contains(c), "{name}: {c:?} not among {calls:?}");
        }
    }
}

#[test]
fn a_csv_export_keeps_good_rows_names_bad_ones_and_sanitises_fields() {
    let path = fixture("event-history.csv");
    let (events, rejects) = read(&path);
    // Row 4 (line 37: row 1's JSON spans lines 2-34) has a time that is not one.
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(
        rejects[0].contains("event-history.csv: line 37 (row 4)")
            && rejects[0].contains("\"yesterday-ish\" is not a time"),
        "{rejects:?}"
    );
    let ops: Vec<&str> = events.iter().map(|e| e.api.operation.as_str()).collect();
    assert_eq!(
        ops,
        [
            "StartInstances",
            "ListBuckets",
            "CreateAccessKey",
            "GetCallerIdentity"
        ]
    );
    // A row without its JSON column, built from the columns: its key's identity is the one an
    // earlier row's JSON gave that key, its denial is a failure, its address and key are read.
    let denied = &events[2];
    assert_eq!(denied.actor.principal.as_str(), MATEO);
    assert_eq!(denied.status, blastdoor::core::Status::Failure);
    assert_eq!(denied.src_ip.as_ref().unwrap().as_str(), "198.51.100.23");
    assert_eq!(
        denied.credential.as_ref().unwrap().id.as_str(),
        "AKIAIOSFODNN7EXAMPLE"
    );
    assert_eq!(denied.resources[0].name.as_str(), "AKIAI44QH8DHBEXAMPLE");
    // A user name carrying terminal escapes (an OSC 52 clipboard write, a screen clear) is kept
    // as visible text, never as control bytes.
    let eve = &events[3];
    let p = eve.actor.principal.as_str();
    assert!(
        p.contains("eve") && p.starts_with("arn:aws:iam::123456789012:user/"),
        "{p}"
    );
    assert!(!p.chars().any(|c| c.is_control()), "{p:?}");
    let (ranked, _) = rank(&path);
    let out = serde_json::to_string(&ranked).unwrap();
    assert!(!out.contains('\u{1b}') && !out.contains("\\u001b"), "{out}");
}

#[test]
fn a_quoted_csv_field_may_span_lines_and_a_huge_row_stops_the_file_not_the_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.csv");
    let plain = std::fs::read_to_string(fixture("cloudtrail.ndjson")).unwrap();
    let first = plain.lines().next().unwrap();
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(first).unwrap())
            .unwrap();
    let mut text = String::from("Event name,Event time,CloudTrail event\n");
    text.push_str(&format!(
        "StartInstances,2024-03-05T10:20:30Z,\"{}\"\n",
        pretty.replace('"', "\"\"")
    ));
    // An unterminated quote and 12 MiB after it: one row over max_record (8 MiB).
    text.push_str("GetObject,2024-03-05T10:21:00Z,\"");
    text.push_str(&"x".repeat(12 << 20));
    std::fs::write(&path, text).unwrap();
    let (events, rejects) = read(&path);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.principal.as_str(), MATEO);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let line = 2 + pretty.lines().count();
    assert!(
        rejects[0].contains(&format!("history.csv: line {line} (row 2)"))
            && rejects[0].contains("max_record")
            && rejects[0].contains("the rows before are kept"),
        "{rejects:?}"
    );
}

#[test]
fn a_gzip_bomb_inside_an_awslogs_record_is_named_and_the_next_record_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lambda-events.ndjson");
    // 64 MiB of zeros gzip to about 64 KiB: over max_record once opened.
    let zeros = vec![b' '; 64 << 20];
    let data = base64::engine::general_purpose::STANDARD.encode(gzip(&zeros));
    let bomb = serde_json::json!({"awslogs": {"data": data}}).to_string();
    let msg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cwl-data-message.json")).unwrap())
            .unwrap();
    std::fs::write(&path, format!("{bomb}\n{}\n", awslogs(&msg))).unwrap();
    let (events, rejects) = read(&path);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(
        rejects[0].contains("lambda-events.ndjson: line 1")
            && rejects[0].contains("decompresses to more than 8 MiB")
            && rejects[0].contains("max_record"),
        "{rejects:?}"
    );
    assert_eq!(events.len(), 2, "the record after the bomb is read");
}

#[test]
fn control_messages_are_skipped_silently_and_a_bad_log_event_is_named_by_index() {
    let control = serde_json::json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs",
        "logGroup": "", "logStream": "", "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]});
    let d = ingest::decode_record(&awslogs(&control)).unwrap();
    assert!(d.is_empty());
    let d = ingest::decode_record(&control.to_string()).unwrap();
    assert!(d.is_empty());
    let mut msg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cwl-data-message.json")).unwrap())
            .unwrap();
    // The record AWS Lambda Powertools' example shows, cut short: not JSON.
    msg["logEvents"][1]["message"] =
        r#"{"eventVersion":"1.03","userIdentity":{"type":"Root"}"#.into();
    let d = ingest::decode_record(&awslogs(&msg)).unwrap();
    assert_eq!(d.events.len(), 1, "the good log event is kept");
    msg["logEvents"][0]["message"] = "not json".into();
    let e = ingest::decode_record(&awslogs(&msg))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("record 0: CloudWatch Logs record: logEvents: not JSON"),
        "{e}"
    );
    let not_b64 = r#"{"awslogs": {"data": "%%% not base64 %%%"}}"#;
    let e = ingest::decode_record(not_b64).unwrap_err().to_string();
    assert!(e.contains("awslogs.data is not base64"), "{e}");
}

#[test]
fn a_datadog_log_that_kept_event_name_keeps_its_address_and_agent() {
    // Datadog's remapper can keep the source attribute: eventName stays beside evt.name, while
    // sourceIPAddress and userAgent are gone to network.client.ip and http.useragent. Before,
    // this read as plain CloudTrail and lost the address and the user agent.
    let rec = serde_json::json!({
        "eventName": "GetCallerIdentity", "evt": {"name": "GetCallerIdentity"},
        "eventSource": "sts.amazonaws.com", "eventTime": "2024-03-05T11:00:00Z",
        "userIdentity": {"type": "IAMUser", "arn": MATEO, "accountId": "123456789012",
                         "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "Mateo"},
        "network": {"client": {"ip": "198.51.100.200", "geoip": {"country": {"iso_code": "NL"}}}},
        "http": {"useragent": "curl/8.4.0"},
        "error": {"kind": "AccessDenied"}
    });
    let d = ingest::decode_record(&rec.to_string()).unwrap();
    let e = &d.events[0];
    assert_eq!(e.actor.principal.as_str(), MATEO);
    assert_eq!(e.src_ip.as_ref().unwrap().as_str(), "198.51.100.200");
    assert_eq!(e.raw.value()["userAgent"], "curl/8.4.0");
    assert_eq!(e.status, blastdoor::core::Status::Failure);
}

#[test]
fn a_firehose_object_larger_than_max_record_is_read_message_by_message() {
    // Firehose concatenates CloudWatch Logs' messages with nothing between them: an object of
    // many messages is one "line" far over max_record, yet each message is small.
    let msg = std::fs::read_to_string(fixture("cwl-data-message.json")).unwrap();
    let one: serde_json::Value = serde_json::from_str(&msg).unwrap();
    let one = one.to_string();
    let limits = Limits {
        max_record: 8 << 10,
        ..Limits::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("firehose-object");
    let mut body = Vec::new();
    for _ in 0..50 {
        body.extend(gzip(one.as_bytes()));
    }
    // Then a message over the limit: named, and the reading stops there.
    let mut big: serde_json::Value = serde_json::from_str(&one).unwrap();
    big["logEvents"][0]["message"] = "x".repeat(16 << 10).into();
    body.extend(gzip(big.to_string().as_bytes()));
    body.extend(gzip(one.as_bytes()));
    std::fs::write(&path, body).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 0);
    let (decoded, rejects) = blastdoor::engine::sources::read_collect(&path, &limits, u64::MAX, 1);
    let events: Vec<_> = decoded.into_iter().flat_map(|d| d.events).collect();
    assert_eq!(events.len(), 100, "{rejects:?}");
    assert!(
        events
            .iter()
            .all(|e| [MATEO, SESSION].contains(&e.actor.principal.as_str()))
    );
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(
        rejects[0].contains("firehose-object: record 50: longer than [limits] max_record = 8 KiB"),
        "{rejects:?}"
    );
}

#[test]
fn eventbridge_batches_one_a_line_are_read_item_by_item() {
    let batch: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("eventbridge-batch.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batches.ndjson");
    // A batch of which nothing reads is named by its place in the file and its first bad item
    // (as a delivery file is, a batch with some good items keeps them).
    let bad =
        serde_json::json!([{"detail-type": "AWS API Call via CloudTrail", "detail": {"what": 1}}]);
    std::fs::write(&path, format!("{batch}\n{bad}\n{batch}\n")).unwrap();
    let (events, rejects) = read(&path);
    let who: Vec<&str> = events.iter().map(|e| e.actor.principal.as_str()).collect();
    assert_eq!(who, [MATEO, SESSION, MATEO, SESSION]);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(
        rejects[0].contains("batches.ndjson: record 1: record 0: unrecognised record format"),
        "{rejects:?}"
    );
}
