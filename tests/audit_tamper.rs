//! Tampering with an audit export or with the state's database is caught, with exit code 3 and
//! a message that names the first bad line and record. Includes a property test that mutates
//! random bytes of a valid export.

use std::sync::OnceLock;

use blastdoor::exit::code_of;
use blastdoor::store::Store;
use blastdoor::store::audit::{self, AuditEvent};
use blastdoor::store::canonical::canonical;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use serde_json::{Value, json};

const T0: i64 = 1_764_136_800_000;

fn events() -> Vec<AuditEvent> {
    let e = |kind: &str, actor: &str, via: &str, id: Option<&str>, detail: Value| AuditEvent {
        kind: kind.into(),
        actor: actor.into(),
        via: via.into(),
        action_id: id.map(String::from),
        detail,
    };
    vec![
        e(
            "proposed",
            "alice",
            "cli",
            Some("act_1"),
            json!({"reason": "suspected theft: contain", "hash": "sha256:ab12", "threat": 91.30000000000001}),
        ),
        e(
            "refused",
            "blastdoor",
            "cli",
            Some("act_1"),
            json!({"who": "alice", "why": "the proposer never counts as an approver"}),
        ),
        e(
            "approved",
            "bob",
            "cli",
            Some("act_1"),
            json!({"signature": "U1NIU0lH", "n": [1, 2.5, -3e-9]}),
        ),
        e("intent", "blastdoor", "engine", Some("act_1"), json!({})),
        e(
            "executed",
            "blastdoor",
            "engine",
            Some("act_1"),
            json!({"agent": "http://127.0.0.1:7878", "status": 202, "nested": {"z": null, "a": true}}),
        ),
        e(
            "agent_refused",
            "triage-bot",
            "mcp",
            None,
            json!({"text": "esc\u{1b}[2J bidi\u{202e} quote\" back\\slash 雪"}),
        ),
        e("rolled_back", "bob", "tui", Some("act_1"), json!(null)),
        e(
            "playbook",
            "blastdoor",
            "playbook",
            Some("act_2"),
            json!("a bare string"),
        ),
    ]
}

/// A valid export with several checkpoints inside it, built once.
fn export() -> &'static [u8] {
    static EXPORT: OnceLock<Vec<u8>> = OnceLock::new();
    EXPORT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for (i, ev) in events().iter().enumerate() {
            // 600 ms apart: some appends sign a checkpoint, some do not.
            store.audit_append(ev, T0 + i as i64 * 600).unwrap();
        }
        let mut out = Vec::new();
        store.audit_export(&mut out, T0 + 60_000).unwrap();
        out
    })
}

fn lines() -> Vec<String> {
    String::from_utf8(export().to_vec())
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

/// Verification must fail with exit 3 and a message containing each of `needles`.
#[track_caller]
fn rejected(bytes: &[u8], needles: &[&str]) {
    match audit::verify_export(bytes) {
        Ok(r) => panic!(
            "tampered export verified ({r}):\n{}",
            String::from_utf8_lossy(bytes)
        ),
        Err(e) => {
            assert_eq!(code_of(&e), 3, "{e:#}");
            let msg = format!("{e:#}");
            for n in needles {
                assert!(msg.contains(n), "{msg:?} does not mention {n:?}");
            }
        }
    }
}

fn line_type(l: &str) -> String {
    serde_json::from_str::<Value>(l).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_untouched_export_verifies_and_has_interleaved_checkpoints() {
    let r = audit::verify_export(export()).unwrap();
    assert_eq!(r.records, events().len() as u64);
    assert!(r.checkpoints >= 3, "{r}");
    let types: Vec<String> = lines().iter().map(|l| line_type(l)).collect();
    assert_eq!(types[0], "header");
    assert_eq!(types.last().unwrap(), "checkpoint");
    assert!(types[1..types.len() - 1].contains(&"checkpoint".to_string()));
}

#[test]
fn every_edited_record_field_is_caught_naming_the_record() {
    let lines = lines();
    for (i, l) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(l).unwrap();
        if v["type"] != "record" {
            continue;
        }
        let seq = v["seq"].as_u64().unwrap();
        let edits: Vec<(&str, Value)> = vec![
            ("kind", json!("approved_x")),
            ("actor", json!("mallory")),
            ("via", json!("tui ")),
            ("action_id", json!("act_9")),
            ("action_id", Value::Null),
            ("detail", json!({"reason": "nothing to see"})),
            ("at", json!(v["at"].as_i64().unwrap() + 1)),
            ("prev", json!("00".repeat(32))),
            ("hash", json!("ab".repeat(32))),
            ("seq", json!(seq + 100)),
            ("extra", json!(1)),
        ];
        for (field, value) in edits {
            let mut e = v.clone();
            if e[field] == value {
                continue;
            }
            e[field] = value;
            let mut edited = lines.clone();
            edited[i] = serde_json::to_string(&e).unwrap();
            rejected(&join(&edited), &[&format!("line {}", i + 1)]);
        }
        // A removed field too.
        let mut e = v.clone();
        e.as_object_mut().unwrap().remove("detail");
        let mut edited = lines.clone();
        edited[i] = serde_json::to_string(&e).unwrap();
        rejected(
            &join(&edited),
            &[&format!("line {}", i + 1), &format!("record {seq}")],
        );
    }
}

#[test]
fn edited_content_names_line_and_seq() {
    let mut lines = lines();
    let i = lines
        .iter()
        .position(|l| l.contains("suspected theft"))
        .unwrap();
    lines[i] = lines[i].replace("suspected theft: contain", "suspected theft: cont4in");
    rejected(
        &join(&lines),
        &[&format!("line {}", i + 1), "record 1:", "edited"],
    );
}

#[test]
fn every_edited_checkpoint_field_is_caught() {
    let lines = lines();
    for (i, l) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(l).unwrap();
        if v["type"] != "checkpoint" {
            continue;
        }
        for (field, value) in [
            ("n", json!(v["n"].as_u64().unwrap() + 1)),
            ("tree_size", json!(v["tree_size"].as_u64().unwrap() - 1)),
            ("root", json!("00".repeat(32))),
            ("at", json!(v["at"].as_i64().unwrap() - 1)),
            ("signature", json!("00".repeat(64))),
            ("type", json!("record")),
            ("final", json!(false)),
            ("final", json!(!v["final"].as_bool().unwrap_or(false))),
        ] {
            let mut e = v.clone();
            e[field] = value;
            let mut edited = lines.clone();
            edited[i] = serde_json::to_string(&e).unwrap();
            rejected(&join(&edited), &[&format!("line {}", i + 1)]);
        }
        // Without its "final" mark the last checkpoint is an ordinary one, and no longer verifies.
        if v.get("final").is_some() {
            let mut e = v.clone();
            e.as_object_mut().unwrap().remove("final");
            let mut edited = lines.clone();
            edited[i] = serde_json::to_string(&e).unwrap();
            rejected(&join(&edited), &[&format!("line {}", i + 1)]);
        }
    }
}

#[test]
fn the_acceptance_checks_edit_of_each_line_is_caught() {
    // response-workflow turns the first `"` of a line into `"x` when it has no reason to edit.
    let lines = lines();
    for i in 0..lines.len() {
        let mut edited = lines.clone();
        edited[i] = edited[i].replacen('"', "\"x", 1);
        rejected(&join(&edited), &[&format!("line {}", i + 1)]);
    }
}

#[test]
fn deleting_any_single_line_is_caught() {
    let lines = lines();
    for i in 0..lines.len() {
        let mut cut = lines.clone();
        cut.remove(i);
        rejected(&join(&cut), &[]);
    }
}

#[test]
fn a_deleted_record_is_named() {
    let lines = lines();
    let i = lines
        .iter()
        .position(|l| l.contains("\"type\":\"record\",\"seq\":3,"))
        .unwrap();
    let mut cut = lines.clone();
    cut.remove(i);
    rejected(&join(&cut), &[&format!("line {}", i + 1), "record 3"]);
}

#[test]
fn truncation_at_every_point_is_caught() {
    let bytes = export();
    let lines = lines();
    for keep in 0..lines.len() {
        rejected(&join(&lines[..keep]), &[]);
    }
    // Cut mid-line, too, and without the final newline.
    for cut in [1, 10, bytes.len() / 2, bytes.len() - 2] {
        rejected(&bytes[..cut], &[]);
    }
    assert!(audit::verify_export(&bytes[..bytes.len() - 1]).is_ok());
}

#[test]
fn a_missing_final_checkpoint_is_named_as_truncation() {
    let mut lines = lines();
    lines.pop();
    rejected(&join(&lines), &["truncated"]);
}

#[test]
fn reordering_lines_is_caught() {
    let lines = lines();
    for i in 1..lines.len() - 1 {
        let mut swapped = lines.clone();
        swapped.swap(i, i + 1);
        if swapped == lines {
            continue;
        }
        rejected(&join(&swapped), &[]);
    }
    // Swapping two records names the first one out of place.
    let a = lines.iter().position(|l| l.contains("\"seq\":2,")).unwrap();
    let b = lines.iter().position(|l| l.contains("\"seq\":5,")).unwrap();
    let mut swapped = lines.clone();
    swapped.swap(a, b);
    rejected(
        &join(&swapped),
        &[
            &format!("line {}", a + 1),
            "record 5 where record 2 belongs",
        ],
    );
}

#[test]
fn a_duplicated_line_is_caught() {
    let lines = lines();
    for i in 0..lines.len() {
        let mut dup = lines.clone();
        dup.insert(i, lines[i].clone());
        rejected(&join(&dup), &[]);
    }
}

/// Re-sign every checkpoint of an export with `key` (its Merkle roots stay right).
fn resign(lines: &[String], key: &SigningKey, header_key: bool) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["type"] == "header" && header_key {
                v["public_key"] = json!(hex::encode(key.verifying_key().as_bytes()));
            }
            if v["type"] == "checkpoint" {
                let root: [u8; 32] = hex::decode(v["root"].as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap();
                let (n, size, at) = (
                    v["n"].as_u64().unwrap(),
                    v["tree_size"].as_u64().unwrap(),
                    v["at"].as_i64().unwrap(),
                );
                let msg = if v["final"] == true {
                    audit::final_checkpoint_message(n, size, &root, at)
                } else {
                    audit::checkpoint_message(n, size, &root, at)
                };
                v["signature"] = json!(hex::encode(key.sign(msg.as_bytes()).to_bytes()));
            }
            // Rebuild the line in the export's field order so only the signature differs.
            if v["type"] == "checkpoint" {
                format!(
                    "{{\"type\":\"checkpoint\",{}\"n\":{},\"tree_size\":{},\"root\":{},\"at\":{},\"signature\":{}}}",
                    if v["final"] == true { "\"final\":true," } else { "" },
                    v["n"], v["tree_size"], v["root"], v["at"], v["signature"]
                )
            } else if v["type"] == "header" {
                format!(
                    "{{\"type\":\"header\",\"format\":{},\"public_key\":{}}}",
                    v["format"], v["public_key"]
                )
            } else {
                l.clone()
            }
        })
        .collect()
}

#[test]
fn checkpoints_signed_with_another_key_fail() {
    let lines = lines();
    let other = SigningKey::from_bytes(&[42; 32]);
    let forged = resign(&lines, &other, false);
    rejected(&join(&forged), &["signature is not valid"]);
    // The same re-signing with the header's key swapped too verifies: this shows the forgery
    // above failed on the key alone, and that a wholesale re-signing is only visible in the
    // public key the verifier prints (the module doc of store::audit says so).
    let consistent = resign(&lines, &other, true);
    let r = audit::verify_export(&join(&consistent)).unwrap();
    assert_eq!(
        r.public_key.unwrap(),
        hex::encode(other.verifying_key().as_bytes())
    );
}

/// An export record line with `detail` kept as text (a float would not survive a `Value`).
#[derive(serde::Deserialize)]
struct RecordLine<'a> {
    seq: u64,
    at: i64,
    kind: String,
    actor: String,
    via: String,
    action_id: Option<String>,
    #[serde(borrow)]
    detail: &'a serde_json::value::RawValue,
    prev: String,
    hash: String,
}

#[test]
fn a_rewritten_chain_is_caught_by_the_signed_roots() {
    // Edit record 2 and recompute every hash after it, as someone without the key would.
    let lines = lines();
    let mut prev = [0u8; 32];
    let mut out = Vec::new();
    for l in &lines {
        if line_type(l) != "record" {
            out.push(l.clone());
            continue;
        }
        let r: RecordLine = serde_json::from_str(l).unwrap();
        let detail = if r.seq == 2 {
            r#"{"why":"approved by policy"}"#
        } else {
            r.detail.get()
        };
        let text = audit::RecordText {
            seq: r.seq,
            at: r.at,
            kind: &r.kind,
            actor: &r.actor,
            via: &r.via,
            action_id: r.action_id.as_deref(),
            detail,
        };
        let h = audit::record_hash(&text, &prev).unwrap();
        let line = l
            .replace(r.detail.get(), detail)
            .replace(&r.prev, &hex::encode(prev))
            .replace(&r.hash, &hex::encode(h));
        prev = h;
        out.push(line);
    }
    // Only record 2 changed in substance, and every link and hash is right: just the signed
    // Merkle root tells.
    assert_ne!(out, lines);
    rejected(&join(&out), &["Merkle root does not match", "records 2..="]);
}

/// Spaces after every `:` and `,` outside strings, and the `type` member moved to the end.
fn relayout(line: &str) -> String {
    let (mut out, mut in_str, mut esc) = (String::new(), false, false);
    for c in line.chars() {
        out.push(c);
        match c {
            _ if esc => esc = false,
            '\\' if in_str => esc = true,
            '"' => in_str = !in_str,
            ':' | ',' if !in_str => out.push_str(" \t"),
            _ => {}
        }
    }
    // out = `{"type": \t"record", \tREST}`: move the first member behind the others.
    let (head, rest) = out.split_once(", \t").unwrap();
    format!("  {{{} ,\r {}}} ", &rest[..rest.len() - 1], &head[1..])
}

#[test]
fn whitespace_and_key_order_do_not_change_a_record() {
    let lines = lines();
    let relaid: Vec<String> = lines.iter().map(|l| relayout(l)).collect();
    assert_ne!(relaid, lines);
    assert!(relaid[1].starts_with("  {\"seq\": \t1"), "{}", relaid[1]);
    audit::verify_export(&join(&relaid)).unwrap();
}

/// Whether `a` and `b` are the same export up to JSON layout (whitespace, key order, escapes).
fn semantically_identical(a: &[u8], b: &[u8]) -> bool {
    let split = |x: &[u8]| -> Option<Vec<String>> {
        let s = std::str::from_utf8(x).ok()?;
        let mut ls: Vec<&str> = s.split('\n').collect();
        if ls.last() == Some(&"") {
            ls.pop();
        }
        ls.into_iter().map(|l| canonical(l).ok()).collect()
    };
    match (split(a), split(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Set { at: usize, byte: u8 },
    Delete { at: usize },
    Insert { at: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let len = export().len();
    prop_oneof![
        (0..len, 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (
            0..len,
            prop::sample::select(b" \t\r\n\"\\{}[],:0123456789abcdefxAE-.".to_vec())
        )
            .prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (0..len).prop_map(|at| Mutation::Delete { at }),
        (0..=len, any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_mutation_of_an_export_fails_unless_it_means_the_same(m in mutation()) {
        let mut bytes = export().to_vec();
        match m {
            Mutation::Flip { at, mask } => bytes[at] ^= mask,
            Mutation::Set { at, byte } => bytes[at] = byte,
            Mutation::Delete { at } => { bytes.remove(at); }
            Mutation::Insert { at, byte } => bytes.insert(at, byte),
        }
        let result = audit::verify_export(&bytes);
        if semantically_identical(&bytes, export()) {
            prop_assert!(result.is_ok(), "a layout-only change was rejected: {:?}", result.err());
        } else {
            let err = match result {
                Ok(r) => return Err(TestCaseError::fail(format!(
                    "mutation {m:?} verified ({r})"))),
                Err(e) => e,
            };
            prop_assert_eq!(code_of(&err), 3);
            prop_assert!(format!("{err:#}").contains("line "), "{err:#}");
        }
    }
}
