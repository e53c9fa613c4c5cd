//! Did containment hold? A key is disabled through the desk; when CloudTrail then shows that key
//! making a successful call after the change, `watch` raises a containment leak and the audit log
//! records it once.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const ID: &str = "aws:arn:aws:iam::123456789012:user/ci-bot";
const KEY: &str = "AKIAEXAMPLELEAK00001";

fn cloudtrail(at: chrono::DateTime<chrono::Utc>, event: &str, error: Option<&str>) -> Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::123456789012:user/ci-bot",
                         "accountId": "123456789012", "accessKeyId": KEY, "userName": "ci-bot"},
        "eventTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "iam.amazonaws.com", "eventName": event, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15",
        "requestParameters": null, "responseElements": null,
        "eventID": format!("ev-{event}"), "eventType": "AwsApiCall", "recipientAccountId": "123456789012",
    });
    if let Some(e) = error {
        r["errorCode"] = json!(e);
        r["errorMessage"] = json!("The security token included in the request is invalid.");
    }
    r
}

fn watch(t: &Team, file: &std::path::Path) -> (Vec<Value>, String) {
    let o = run(t.bd(None, None).args([
        "watch",
        "--source",
        file.to_str().unwrap(),
        "--duration",
        "3",
        "--interval",
        "1",
    ]));
    assert_eq!(code(&o), 0, "watch: {}", stderr(&o));
    let lines = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, stderr(&o))
}

fn leak_records(t: &Team) -> Vec<Value> {
    let o = run(t
        .bd(None, None)
        .args(["audit", "tail", "-n", "200", "--format", "json"]));
    assert_eq!(code(&o), 0, "audit tail: {}", stderr(&o));
    json(&o)
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "containment_leak")
        .cloned()
        .collect()
}

#[test]
fn a_disabled_key_seen_acting_again_raises_a_containment_leak_in_watch_and_the_audit_log() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, _agent) = agent(Duration::ZERO);
    let before = chrono::Utc::now() - chrono::Duration::minutes(5);
    let mut args = stage_args(ID, "agent.revoke_token");
    args.extend(["--param".into(), format!("access_key_id={KEY}")]);
    let o = run(t.bd(Some("alice"), Some(addr)).args(&args));
    assert_eq!(code(&o), 0, "stage: {}", stderr(&o));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    for verb in ["approve", "execute"] {
        let o = run(t.bd(Some("bob"), Some(addr)).args(["action", verb, &id]));
        assert_eq!(code(&o), 0, "{verb}: {}", stderr(&o));
    }

    // Before the change, and a call refused after it: containment holding, no alert.
    let quiet = t.path("quiet.json");
    let after = chrono::Utc::now() + chrono::Duration::minutes(2);
    std::fs::write(
        &quiet,
        json!({"Records": [cloudtrail(before, "ListUsers", None),
                           cloudtrail(after, "GetUser", Some("InvalidClientTokenId"))]})
        .to_string(),
    )
    .unwrap();
    let (lines, err) = watch(&t, &quiet);
    assert!(
        lines
            .iter()
            .all(|l| l["containment_leaks"].as_array().unwrap().is_empty()),
        "{lines:?}"
    );
    assert!(!err.contains("containment leak"), "{err}");
    assert!(leak_records(&t).is_empty());

    // The key succeeds after the change took effect: a leak.
    let leaky = t.path("leaky.json");
    std::fs::write(
        &leaky,
        json!({"Records": [cloudtrail(after, "CreateAccessKey", None)]}).to_string(),
    )
    .unwrap();
    let (lines, err) = watch(&t, &leaky);
    let last = lines.last().expect("a snapshot");
    let leaks = last["containment_leaks"].as_array().unwrap();
    assert_eq!(leaks.len(), 1, "{last}");
    assert_eq!(leaks[0]["alert"], "containment_leak");
    assert_eq!(leaks[0]["action_id"], id.as_str());
    assert_eq!(leaks[0]["credential"], KEY);
    assert!(
        leaks[0]["call"]
            .as_str()
            .unwrap()
            .contains("CreateAccessKey"),
        "{leaks:?}"
    );
    assert!(
        err.contains("containment leak") && err.contains(KEY),
        "said on stderr too: {err}"
    );
    let recs = leak_records(&t);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["action_id"], id.as_str());

    // Watching again does not record the same leak twice.
    let _ = watch(&t, &leaky);
    assert_eq!(
        leak_records(&t).len(),
        1,
        "one containment_leak record per action"
    );
}
