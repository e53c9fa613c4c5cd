//! A cut tail is caught: `audit verify` remembers the newest checkpoint it verified in the
//! responder's own data dir, and afterwards proves the log consistent with it (an RFC 6962
//! consistency proof). Deleting the newest records together with their checkpoints, or forking
//! the log, verifies on its own but not against a remembered (or exported) checkpoint. A
//! truncated database is exit 3 too.

mod common;

use std::path::Path;

use blastdoor::store::Store;
use blastdoor::store::audit::AuditEvent;
use common::*;
use serde_json::json;

const T0: i64 = 1_764_136_800_000;

fn ev(i: usize) -> AuditEvent {
    AuditEvent {
        kind: "proposed".into(),
        actor: "alice".into(),
        via: "cli".into(),
        action_id: Some(format!("act_{i}")),
        detail: json!({"reason": format!("record {i}")}),
    }
}

/// `n` records in the state at `dir`, a checkpoint over them at the end.
fn append(dir: &Path, from: usize, n: usize) {
    let store = Store::open(dir).unwrap();
    for i in from..from + n {
        store.audit_append(&ev(i), T0 + i as i64 * 10).unwrap();
    }
    store.audit_checkpoint(T0 + (from + n) as i64 * 10).unwrap();
}

/// Drop the newest records and every checkpoint over them, as someone who can write the
/// database (or a lost WAL) would: the append-only triggers are no obstacle to a writer.
fn cut_to(dir: &Path, keep: i64) {
    let db = rusqlite::Connection::open(dir.join("blastdoor.db")).unwrap();
    let triggers: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in triggers {
        db.execute_batch(&format!("DROP TRIGGER \"{t}\"")).unwrap();
    }
    db.execute("DELETE FROM audit_log WHERE seq > ?1", [keep])
        .unwrap();
    db.execute("DELETE FROM audit_checkpoint WHERE tree_size > ?1", [keep])
        .unwrap();
}

fn verify(home: &Path, state: &Path, extra: &[&str]) -> std::process::Output {
    run(bd_in(home)
        .arg("--state")
        .arg(state)
        .args(["audit", "verify"])
        .args(extra))
}

#[test]
fn a_tail_cut_with_its_checkpoints_is_caught_by_the_checkpoint_remembered() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, home, stranger) = (
        tmp.path().join("state"),
        tmp.path().join("home"),
        tmp.path().join("other"),
    );
    append(&state, 1, 30);
    let o = verify(&home, &state, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // More records, verified again: the remembered checkpoint moves forward.
    append(&state, 31, 20);
    let o = verify(&home, &state, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("consistent with checkpoint"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    cut_to(&state, 35);
    // On its own the cut log still verifies: every record left is chained and signed…
    let o = verify(&stranger, &state, &[]);
    assert_eq!(
        code(&o),
        0,
        "a log cut with its checkpoints verifies alone: {}",
        stderr(&o)
    );
    // …but not for the responder who saw the longer one.
    let o = verify(&home, &state, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("the log has 35 records") && e.contains("covered 50"),
        "{e}"
    );
    assert!(e.contains("remembered in"), "{e}");
}

#[test]
fn a_checkpoint_kept_elsewhere_catches_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, home) = (tmp.path().join("state"), tmp.path().join("home"));
    append(&state, 1, 12);
    let o = run(bd_in(&home)
        .arg("--state")
        .arg(&state)
        .args(["audit", "checkpoint"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let kept = tmp.path().join("ticket-4711.json");
    std::fs::write(&kept, &o.stdout).unwrap();
    let kept_arg = kept.display().to_string();

    // The log is cut back and grows again with other records, re-signed by the state's own key:
    // the same length and more, but another history.
    cut_to(&state, 8);
    append(&state, 100, 10);
    let fresh = tmp.path().join("fresh-home");
    let o = verify(&fresh, &state, &[]);
    assert_eq!(code(&o), 0, "the forked log verifies alone: {}", stderr(&o));
    let o = verify(&fresh, &state, &["--checkpoint", &kept_arg]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("records 1..=12 are not those checkpoint"), "{e}");
    assert!(
        e.contains("ticket-4711.json"),
        "the checkpoint it contradicts is named: {e}"
    );

    // An export checked against the same checkpoint fails the same way.
    let o = run(bd_in(&fresh)
        .arg("--state")
        .arg(&state)
        .args(["audit", "export"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let export = tmp.path().join("audit.jsonl");
    std::fs::write(&export, &o.stdout).unwrap();
    let o = verify(
        &fresh,
        &state,
        &[
            "--file",
            &export.display().to_string(),
            "--checkpoint",
            &kept_arg,
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

#[test]
fn a_checkpoint_from_another_log_or_with_a_bad_signature_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, home) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("home"),
    );
    append(&a, 1, 5);
    append(&b, 1, 5);
    let o = run(bd_in(&home)
        .arg("--state")
        .arg(&a)
        .args(["audit", "checkpoint"]));
    let kept = tmp.path().join("a.json");
    std::fs::write(&kept, &o.stdout).unwrap();
    let o = verify(&home, &b, &["--checkpoint", &kept.display().to_string()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("signing key was replaced, or this is another log"),
        "{}",
        stderr(&o)
    );
    let mut cp: serde_json::Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    cp["tree_size"] = 4.into();
    std::fs::write(&kept, cp.to_string()).unwrap();
    let o = verify(
        &tmp.path().join("home2"),
        &a,
        &["--checkpoint", &kept.display().to_string()],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("signature does not verify"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_truncated_database_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, home) = (tmp.path().join("state"), tmp.path().join("home"));
    append(&state, 1, 400);
    // Fold the WAL into the database so the file holds everything, then cut the file.
    {
        let db = rusqlite::Connection::open(state.join("blastdoor.db")).unwrap();
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    }
    let db = state.join("blastdoor.db");
    let len = std::fs::metadata(&db).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let o = verify(&home, &state, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // Not a database at all.
    std::fs::write(
        &db,
        b"this is not a database, just some bytes of garbage text.....",
    )
    .unwrap();
    let _ = std::fs::remove_file(state.join("blastdoor.db-wal"));
    let o = verify(&home, &state, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("truncated or damaged"),
        "{}",
        stderr(&o)
    );
}
