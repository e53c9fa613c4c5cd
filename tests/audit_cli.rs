//! `blastdoor audit verify|export|tail` as scripts call them: exit 0 on a good log or export,
//! exit 3 naming the bad record on a tampered one, exit 2 on a wrong path. Every run gets its
//! own HOME and XDG dirs so the user's real state is never read or written.

use std::path::Path;
use std::process::{Command, Output};

use blastdoor::store::Store;
use blastdoor::store::audit::AuditEvent;
use serde_json::{Value, json};

const T0: i64 = 1_764_136_800_000;

fn bd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_blastdoor"));
    c.env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("BLASTDOOR_STATE")
        .env_remove("BLASTDOOR_CONFIG")
        .env_remove("BLASTDOOR_POLICY")
        .env("NO_COLOR", "1");
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A state with the records of one staged, refused, approved, executed and rolled back action.
fn populate(state: &Path) {
    let store = Store::open(state).unwrap();
    let e = |kind: &str, actor: &str, detail: Value| AuditEvent {
        kind: kind.into(),
        actor: actor.into(),
        via: "cli".into(),
        action_id: Some("act_1".into()),
        detail,
    };
    let evs = [
        e(
            "proposed",
            "alice",
            json!({"reason": "suspected theft: contain"}),
        ),
        e(
            "refused",
            "alice",
            json!({"why": "the proposer never approves"}),
        ),
        e("approved", "bob", json!({"signature": "U1NIU0lH"})),
        e(
            "intent",
            "blastdoor",
            json!({"agent": "http://127.0.0.1:1"}),
        ),
        e(
            "executed",
            "blastdoor",
            json!({"status": 202, "threat": 91.30000000000001}),
        ),
        e("rolled_back", "bob", json!({})),
    ];
    for (i, ev) in evs.iter().enumerate() {
        store.audit_append(ev, T0 + i as i64 * 700).unwrap();
    }
}

#[test]
fn verify_on_a_good_state_exits_0_and_counts() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    populate(&state);
    let (code, out, err) = run(bd(home.path())
        .args(["audit", "verify", "--state"])
        .arg(&state));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("audit: 6 records, ") && out.contains("chain and signatures valid"),
        "{out}"
    );
}

#[test]
fn a_row_edited_in_sqlite_fails_verify_with_exit_3_naming_it() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    populate(&state);
    {
        let db = rusqlite::Connection::open(state.join("blastdoor.db")).unwrap();
        // The append-only triggers stop honest mistakes; a tamperer drops them first.
        db.execute_batch(
            "DROP TRIGGER audit_log_no_update;
             UPDATE audit_log SET detail = '{\"signature\":\"Rk9SR0VE\"}' WHERE seq = 3;",
        )
        .unwrap();
    }
    let (code, _, err) = run(bd(home.path())
        .args(["audit", "verify", "--state"])
        .arg(&state));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("record 3") && err.contains("edited"), "{err}");
}

#[test]
fn a_row_deleted_in_sqlite_fails_verify_with_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    populate(&state);
    {
        let db = rusqlite::Connection::open(state.join("blastdoor.db")).unwrap();
        db.execute_batch(
            "DROP TRIGGER audit_log_no_delete;
             DELETE FROM audit_log WHERE seq = 6;",
        )
        .unwrap();
    }
    let (code, _, err) = run(bd(home.path())
        .args(["audit", "verify", "--state"])
        .arg(&state));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("deleted from the end"), "{err}");
}

#[test]
fn export_verifies_and_the_acceptance_edits_give_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    populate(&state);
    // BLASTDOOR_STATE stands for --state.
    let (code, export, err) = run(bd(home.path())
        .args(["audit", "export"])
        .env("BLASTDOOR_STATE", &state));
    assert_eq!(code, 0, "{err}");
    let file = home.path().join("audit.jsonl");
    std::fs::write(&file, &export).unwrap();
    let (code, out, err) = run(bd(home.path())
        .args(["audit", "verify", "--file"])
        .arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("6 records"), "{out}");

    let lines: Vec<&str> = export.lines().collect();
    for i in 0..lines.len() {
        // What response-workflow does: edit the middle line, or delete it.
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[i] = if edited[i].contains("suspected theft: contain") {
            edited[i].replace("suspected theft: contain", "suspected theft: cont4in")
        } else {
            edited[i].replacen('"', "\"x", 1)
        };
        let mut cut: Vec<&str> = lines.clone();
        cut.remove(i);
        for (what, text) in [("edited", edited.join("\n")), ("cut", cut.join("\n"))] {
            let f = home.path().join(format!("{what}-{i}.jsonl"));
            std::fs::write(&f, text + "\n").unwrap();
            let (code, _, err) = run(bd(home.path()).args(["audit", "verify", "--file"]).arg(&f));
            assert_eq!(code, 3, "{what} line {}: {err}", i + 1);
            assert!(err.contains("line "), "{err}");
        }
    }
}

#[test]
fn tail_prints_the_newest_records_as_json_ndjson_and_table() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    populate(&state);
    let tail = |args: &[&str]| {
        let (code, out, err) = run(bd(home.path())
            .args(["audit", "tail", "--state"])
            .arg(&state)
            .args(args));
        assert_eq!(code, 0, "{err}");
        out
    };
    let v: Value = serde_json::from_str(&tail(&["-n", "2", "--format", "json"])).unwrap();
    let seqs: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [5, 6]);
    assert_eq!(v[1]["kind"], "rolled_back");
    let nd = tail(&["--format", "ndjson"]);
    assert_eq!(nd.lines().count(), 6);
    let table = tail(&["--format", "table"]);
    assert!(table.lines().next().unwrap().contains("seq"), "{table}");
    assert!(table.contains("suspected theft"), "{table}");
}

#[test]
fn wrong_paths_are_usage_errors_and_the_real_state_is_untouched() {
    let home = tempfile::tempdir().unwrap();
    // No --state: the default under this test's XDG_DATA_HOME, which holds nothing yet.
    let (code, _, err) = run(bd(home.path()).args(["audit", "verify"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no blastdoor.db"), "{err}");
    let (code, _, err) = run(bd(home.path())
        .args(["audit", "verify", "--file"])
        .arg(home.path().join("nope.jsonl")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope.jsonl"), "{err}");
    let (code, _, err) =
        run(bd(home.path()).args(["audit", "verify", "--state", "postgres://db/blastdoor"]));
    assert_eq!(code, 2, "{err}");
    // Verifying created nothing anywhere.
    assert!(!home.path().join("data").exists());
}
