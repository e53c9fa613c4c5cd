//! Text an attacker wrote (a staged reason, evidence, a param, a row planted in the shared state)
//! never leaves blastdoor raw: not in tables, not in JSON (which stays valid), not in what a
//! `jq -r` of that JSON prints, not in the audit export (which still verifies).

mod common;

use common::*;
use serde_json::Value;

/// A clipboard write (OSC 52), a screen clear, an OSC 8 link, BEL, a bidi override, C1 CSI and an
/// invisible tag character.
const HOSTILE: &str = "stolen\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\\u{202e}gnp.exe\u{9b}31m\u{e0041}";

fn inert(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\n' || blastdoor::core::text::is_inert(c))
}

/// Every byte of `out` is inert text.
fn assert_inert(what: &str, out: &[u8]) {
    let text = std::str::from_utf8(out).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    assert!(inert(text), "{what} printed raw bytes: {text:?}");
}

/// Every string in `v`, as `jq -r` would print it, is inert.
fn assert_strings_inert(what: &str, v: &Value) {
    match v {
        Value::String(s) => assert!(inert(s), "{what}: jq -r would print {s:?}"),
        Value::Array(a) => a.iter().for_each(|x| assert_strings_inert(what, x)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            assert!(inert(k), "{what}: key {k:?}");
            assert_strings_inert(what, x)
        }),
        _ => {}
    }
}

/// Run `args`, expect exit 0, check stdout is inert (and, for JSON, each line or the whole
/// output parses and holds inert strings).
fn check(t: &Team, args: &[&str], json: bool) -> Vec<u8> {
    let o = run(t.bd(Some("alice"), None).args(args));
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    let what = args.join(" ");
    assert_inert(&what, &o.stdout);
    assert_inert(&format!("{what} (stderr)"), &o.stderr);
    if json {
        let text = String::from_utf8(o.stdout.clone()).unwrap();
        let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {e}: {l}")))
                .collect(),
        };
        for v in &values {
            assert_strings_inert(&what, v);
        }
    }
    o.stdout
}

fn every_output(t: &Team, id: &str) {
    for (args, json) in [
        (vec!["action", "show", id, "--format", "table"], false),
        (vec!["action", "show", id, "--format", "json"], true),
        (vec!["action", "list", "--format", "table"], false),
        (vec!["action", "list", "--format", "json"], true),
        (vec!["action", "list", "--format", "ndjson"], true),
        (vec!["audit", "tail", "--format", "table"], false),
        (vec!["audit", "tail", "--format", "json"], true),
        (vec!["audit", "export"], true),
    ] {
        check(t, &args, json);
    }
    let export = check(t, &["audit", "export"], true);
    let file = t.path("export.jsonl");
    std::fs::write(&file, export).unwrap();
    let o = run(t
        .bd(None, None)
        .args(["audit", "verify", "--file"])
        .arg(&file));
    assert_eq!(code(&o), 0, "the export still verifies: {}", stderr(&o));
}

#[test]
fn a_hostile_reason_evidence_and_param_staged_from_the_cli_never_leave_raw() {
    let t = Team::new(&["alice"], &[], 1);
    let param = format!("note={HOSTILE}");
    let o = run(t.bd(Some("alice"), None).args([
        "action",
        "stage",
        "--identity",
        &format!("ci:github:acme/{HOSTILE}"),
        "--kind",
        "agent.isolate_workload",
        "--param",
        &param,
        "--reason",
        HOSTILE,
        "--evidence",
        HOSTILE,
        "--format",
        "json",
    ]));
    assert_eq!(code(&o), 0, "stage: {}", stderr(&o));
    assert_inert("stage", &o.stdout);
    let a = json(&o);
    // Kept, made visible: the responder still reads what was written.
    assert!(
        a["reason"].as_str().unwrap().contains("\\u{1b}]52;c;"),
        "{a}"
    );
    every_output(&t, a["id"].as_str().unwrap());
}

#[test]
fn hostile_text_planted_in_the_shared_state_is_escaped_when_read_back() {
    let t = Team::new(&["alice"], &[], 1);
    let o = run(t.bd(Some("alice"), None).args(stage_args(
        "ci:github:acme/deploy",
        "agent.isolate_workload",
    )));
    assert_eq!(code(&o), 0, "stage: {}", stderr(&o));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    // Someone with write access to the database edits the row, bypassing every check of the
    // desk; and a record with raw text is appended through the store, as older code could.
    let db = rusqlite::Connection::open(t.state().join("blastdoor.db")).unwrap();
    let planted = serde_json::to_string(HOSTILE).unwrap();
    let n = db
        .execute(
            "UPDATE actions SET body = replace(body, '\"suspected theft: contain\"', ?1)",
            [&planted],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let store = blastdoor::store::Store::open(&t.state()).unwrap();
    store
        .audit_append(
            &blastdoor::store::audit::AuditEvent {
                kind: "note".into(),
                actor: HOSTILE.into(),
                via: "cli".into(),
                action_id: Some(id.clone()),
                detail: serde_json::json!({"reason": HOSTILE}),
            },
            1_800_000_000_000,
        )
        .unwrap();
    store.audit_checkpoint(1_800_000_000_001).unwrap();
    drop(store);
    every_output(&t, &id);
}
