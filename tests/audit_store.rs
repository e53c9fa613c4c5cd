//! The audit chain in the shared state: appends, checkpoints, verification, export, and what
//! several writers on one database produce.

use blastdoor::exit::code_of;
use blastdoor::store::audit::{self, AuditEvent};
use blastdoor::store::{Store, append_in};
use serde_json::json;

fn ev(kind: &str, n: usize) -> AuditEvent {
    AuditEvent {
        kind: kind.into(),
        actor: "alice".into(),
        via: "cli".into(),
        action_id: Some(format!("act_{n}")),
        detail: json!({"reason": "suspected theft: contain", "n": n, "score": 0.1 + 0.2,
            "text": "esc\u{1b}[31m bidi\u{202e}"}),
    }
}

const T0: i64 = 1_764_136_800_000;

#[test]
fn appends_are_numbered_from_one_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.audit_append(&ev("proposed", 0), T0).unwrap(), 1);
    assert_eq!(
        store
            .audit_append_batch(&[ev("approved", 1), ev("executed", 2)], T0 + 10)
            .unwrap(),
        vec![2, 3]
    );
    let recs = store.audit_records(2, 10).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].seq, 2);
    // Read back as logged: with its escape and bidi characters made inert.
    assert_eq!(recs[0].event, *ev("approved", 1).inert());
    assert_eq!(recs[0].event.detail["text"], "esc\\u{1b}[31m bidi\\u{202e}");
    assert_eq!(recs[1].prev, recs[0].hash);
    assert_eq!(store.audit_len().unwrap(), 3);
    let report = store.audit_verify().unwrap();
    assert_eq!(report.records, 3);
    // The first append signed a checkpoint (none existed); the next ones came within a second.
    assert_eq!(report.checkpoints, 1);
    assert_eq!(report.uncovered, 2);
}

#[test]
fn a_checkpoint_is_signed_when_the_last_is_a_second_old_and_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.audit_append(&ev("proposed", 0), T0).unwrap();
        store.audit_append(&ev("approved", 1), T0 + 500).unwrap();
        assert_eq!(store.audit_checkpoints().unwrap().len(), 1);
        store.audit_append(&ev("executed", 2), T0 + 1500).unwrap();
        let cps = store.audit_checkpoints().unwrap();
        assert_eq!(cps.len(), 2);
        assert_eq!(cps[1].tree_size, 3);
        store
            .audit_append(&ev("rolled_back", 3), T0 + 1600)
            .unwrap();
    }
    let store = Store::open_existing(dir.path()).unwrap();
    let report = store.audit_verify().unwrap();
    assert_eq!(
        (report.records, report.checkpoints, report.uncovered),
        (4, 3, 0)
    );
    // Nothing uncovered: an explicit checkpoint adds nothing.
    store.audit_checkpoint(T0 + 9000).unwrap();
    assert_eq!(store.audit_checkpoints().unwrap().len(), 3);
}

#[test]
fn the_key_file_is_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path())
        .unwrap()
        .audit_append(&ev("proposed", 0), T0)
        .unwrap();
    let key = dir.path().join("audit.key");
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(text.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    Store::open(dir.path())
        .unwrap()
        .audit_append(&ev("approved", 1), T0 + 5000)
        .unwrap();
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);
    assert!(Store::open(dir.path()).unwrap().audit_verify().is_ok());
}

#[test]
fn a_replaced_key_file_is_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path())
        .unwrap()
        .audit_append(&ev("proposed", 0), T0)
        .unwrap();
    std::fs::write(dir.path().join("audit.key"), "11".repeat(32)).unwrap();
    let store = Store::open(dir.path()).unwrap();
    // The record is kept even though no checkpoint can be signed for it.
    store.audit_append(&ev("approved", 1), T0 + 5000).unwrap();
    let err = store.audit_checkpoint(T0 + 6000).unwrap_err();
    assert!(format!("{err:#}").contains("not the key"), "{err:#}");
    let err = store.audit_verify().unwrap_err();
    assert_eq!(code_of(&err), 3, "{err:#}");
}

#[test]
fn workflow_transactions_append_atomically_with_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Committed: both the state's own row and the record.
    let seq = store
        .write(|tx| {
            tx.set_cursor("cloudtrail", "1", T0)?;
            append_in(tx, &ev("proposed", 1), T0)
        })
        .unwrap();
    assert_eq!(seq, 1);
    // Rolled back: neither.
    let r: anyhow::Result<()> = store.write(|tx| {
        tx.set_cursor("cloudtrail", "2", T0)?;
        append_in(tx, &ev("proposed", 2), T0)?;
        anyhow::bail!("the policy said no")
    });
    assert!(r.is_err());
    assert_eq!(store.audit_len().unwrap(), 1);
    let cursor = store.read(|tx| tx.cursor("cloudtrail")).unwrap();
    assert_eq!(cursor.as_deref(), Some("1"));
    store.audit_append(&ev("approved", 1), T0 + 1).unwrap();
    assert_eq!(store.audit_verify().unwrap().records, 2);
}

#[test]
fn concurrent_writers_on_one_state_make_one_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let path = dir.path().to_path_buf();
            s.spawn(move || {
                let store = Store::open(&path).unwrap();
                for i in 0..50 {
                    let at = T0 + (i as i64) * 300;
                    if i % 5 == 0 {
                        store
                            .audit_append_batch(&[ev("intent", t * 100 + i), ev("executed", i)], at)
                            .unwrap();
                    } else {
                        store
                            .audit_append(&ev("approved", t * 100 + i), at)
                            .unwrap();
                    }
                }
            });
        }
    });
    let store = Store::open(dir.path()).unwrap();
    let report = store.audit_verify().unwrap();
    assert_eq!(report.records, 4 * 60);
    assert_eq!(report.uncovered, 0);
    let mut out = Vec::new();
    assert_eq!(store.audit_export(&mut out, T0 + 99_000).unwrap(), 240);
    assert_eq!(audit::verify_export(&out).unwrap().records, 240);
}

#[test]
fn export_round_trips_and_ends_with_a_covering_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for i in 0..7 {
        store
            .audit_append(&ev("proposed", i), T0 + i as i64 * 700)
            .unwrap();
    }
    let mut out = Vec::new();
    store.audit_export(&mut out, T0 + 10_000).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["format"], "blastdoor-audit-v1");
    assert_eq!(lines[1]["type"], "record");
    assert_eq!(lines[1]["detail"]["reason"], "suspected theft: contain");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "checkpoint");
    assert_eq!(last["tree_size"], 7);
    let report = audit::verify_export(&out).unwrap();
    assert_eq!(report.records, 7);
    assert_eq!(
        report.public_key.as_deref(),
        lines[0]["public_key"].as_str()
    );
    assert_eq!(last["final"], true);
    // The checkpoint signed for the export is in the state too: a second export differs only in
    // its final line, signed at its own time.
    let mut again = Vec::new();
    store.audit_export(&mut again, T0 + 20_000).unwrap();
    let again = String::from_utf8(again).unwrap();
    let (a, b): (Vec<&str>, Vec<&str>) = (text.lines().collect(), again.lines().collect());
    assert_eq!(a[..a.len() - 1], b[..b.len() - 1]);
    assert_ne!(a.last(), b.last());
}

#[test]
fn an_empty_log_has_nothing_to_export_but_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.audit_export(&mut Vec::new(), T0).is_err());
    assert_eq!(store.audit_verify().unwrap().records, 0);
}

#[test]
fn reading_the_state_needs_no_key_and_no_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.audit_append(&ev("proposed", 0), T0).unwrap();
    std::fs::remove_file(dir.path().join("audit.key")).unwrap();
    // Another process holds the write lock; a queue read must not wait for it.
    let other = rusqlite::Connection::open(dir.path().join("blastdoor.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let n = store.read(|tx| tx.audit_last_seq()).unwrap();
    assert_eq!(n, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    other.execute_batch("ROLLBACK").unwrap();
    drop(store);
    // Nothing was uncovered, so nothing needed the (now missing) key.
    assert!(!dir.path().join("audit.key").exists());
}

/// A log long enough that `verify` hashes it on several threads, in chunks of 8192 records.
fn long_log(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let store = Store::open(&state).unwrap();
    let batch: Vec<AuditEvent> = (0..1000).map(|i| ev("executed", i)).collect();
    for k in 0..n / batch.len() {
        store
            .audit_append_batch(&batch, T0 + k as i64 * 400)
            .unwrap();
    }
    drop(store);
    (dir, state)
}

/// A copy of `state` to tamper with.
fn copy_of(state: &std::path::Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("state");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(state).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
    }
    (dir, copy)
}

fn tamper(state: &std::path::Path, sql: &str) -> String {
    let db = rusqlite::Connection::open(state.join("blastdoor.db")).unwrap();
    db.execute_batch(sql).unwrap();
    drop(db);
    let e = Store::open_existing(state)
        .unwrap()
        .audit_verify()
        .unwrap_err();
    assert_eq!(blastdoor::exit::code_of(&e), 3, "{e:#}");
    format!("{e:#}")
}

#[test]
fn a_long_log_verifies_and_each_kind_of_tampering_is_named_wherever_it_falls() {
    let (_dir, original) = long_log(50_000);
    let report = Store::open_existing(&original)
        .unwrap()
        .audit_verify()
        .unwrap();
    assert_eq!(report.records, 50_000);
    assert!(report.checkpoints > 1, "{report:?}");

    // In a chunk a second worker hashes (chunks are 8192 records), then near the end.
    for seq in [12_345, 49_990] {
        let (_dir, state) = copy_of(&original);
        let e = tamper(
            &state,
            &format!(
                "DROP TRIGGER audit_log_no_update;
                 UPDATE audit_log SET detail = '{{\"forged\":true}}' WHERE seq = {seq};"
            ),
        );
        assert!(
            e.contains(&format!("record {seq}:")) && e.contains("edited"),
            "{e}"
        );
        let (_dir, state) = copy_of(&original);
        let e = tamper(
            &state,
            &format!("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = {seq};"),
        );
        assert!(e.contains(&format!("record {seq} is missing")), "{e}");
    }
    // A record whose hash was recomputed after an edit breaks the link from the next one.
    let (_dir, state) = copy_of(&original);
    let e = tamper(
        &state,
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET prev = zeroblob(32) WHERE seq = 20000;",
    );
    assert!(
        e.contains("record 20000:") && e.contains("chain is broken"),
        "{e}"
    );
    // A malformed field is named too, not skipped.
    let (_dir, state) = copy_of(&original);
    let e = tamper(
        &state,
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET kind = x'00ff' WHERE seq = 30000;",
    );
    assert!(
        e.contains("record 30000:") && e.contains("malformed"),
        "{e}"
    );
}

#[test]
fn a_long_export_verifies_and_an_edit_or_a_cut_deep_inside_is_named() {
    let (_dir, state) = long_log(50_000);
    let mut export = Vec::new();
    Store::open_existing(&state)
        .unwrap()
        .audit_export(&mut export, T0 + 10_000_000)
        .unwrap();
    let report = audit::verify_export(&export).unwrap();
    assert_eq!(report.records, 50_000);
    let text = String::from_utf8(export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("\"seq\":41234,"))
        .unwrap();
    let rejoin = |ls: Vec<String>| (ls.join("\n") + "\n").into_bytes();
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[at] = edited[at].replace("suspected theft", "routine check");
    let e = format!("{:#}", audit::verify_export(&rejoin(edited)).unwrap_err());
    assert!(
        e.contains(&format!("line {}:", at + 1))
            && e.contains("record 41234")
            && e.contains("edited"),
        "{e}"
    );
    let mut cut: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    cut.remove(at);
    let e = format!("{:#}", audit::verify_export(&rejoin(cut)).unwrap_err());
    assert!(e.contains("record 41235 where record 41234 belongs"), "{e}");
}
