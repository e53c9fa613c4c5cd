//! A shared state in a real PostgreSQL (`BLASTDOOR_TEST_PG`, started by `scripts/test`): the
//! promises of the SQLite state across processes that share only the database, as consoles on
//! several bastion hosts do. Each test works in a database of its own.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use blastdoor::exit::code_of;
use blastdoor::store::audit::AuditEvent;
use blastdoor::store::{Location, Store, resolve_state};
use common::*;
use serde_json::json;

const T0: i64 = 1_764_136_800_000;

fn ev(kind: &str, who: usize, n: usize) -> AuditEvent {
    AuditEvent {
        kind: kind.into(),
        actor: format!("host-{who}"),
        via: "cli".into(),
        action_id: Some(format!("act_{who}_{n}")),
        detail: json!({"n": n, "reason": "contain \u{1b}[31m", "score": 0.1 + 0.2}),
    }
}

fn loc(url: &str) -> Location {
    resolve_state(Some(url)).unwrap()
}

#[test]
fn two_consoles_executing_at_once_give_one_dispatch_and_one_done() {
    let Some(pg) = pg_state() else { return };
    let t = Team::new(&["alice", "bob", "carol"], &[], 1).on_state(&pg);
    let (addr, agent) = agent(Duration::from_millis(200));
    let o = run(t.bd(Some("alice"), Some(addr)).args(stage_args(
        "k8s:system:serviceaccount:ci:runner",
        "agent.isolate_workload",
    )));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    // The proposer cannot approve, from any process.
    let o = run(t.bd(Some("alice"), None).args(["action", "approve", &id]));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let o = run(t.bd(Some("bob"), None).args(["action", "approve", &id]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Two responders press execute at the same moment, each in a process of its own.
    let mut kids: Vec<_> = ["bob", "carol"]
        .iter()
        .map(|who| {
            t.bd(Some(who), Some(addr))
                .args(["action", "execute", &id])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = kids
        .iter_mut()
        .map(|k| k.wait().unwrap().code().unwrap_or(-1))
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![0, 4],
        "one executes, the other is refused: {codes:?}"
    );
    assert_eq!(agent.executions().len(), 1, "dispatched once");
    let shown = json(&run(t
        .bd(None, None)
        .args(["action", "show", &id, "--format", "json"])));
    assert_eq!(shown["state"], "done");
    let store = Store::open_existing_at(&t.location()).unwrap();
    let records = store.audit_records(1, 1000).unwrap();
    let executed = records
        .iter()
        .filter(|r| r.event.kind == "executed")
        .count();
    assert_eq!(executed, 1, "one `executed` record");
    let journal = store.read(|tx| tx.journal()).unwrap();
    assert_eq!(journal.len(), 1, "one INTENT");
    let o = run(t.bd(None, None).args(["audit", "verify"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn appends_from_many_connections_at_once_form_one_chain_without_fork_or_gap() {
    let Some(pg) = pg_state() else { return };
    let (writers, batches, per) = (6, 15, 20);
    std::thread::scope(|s| {
        for w in 0..writers {
            let pg = pg.clone();
            s.spawn(move || {
                // A store each: its own connection, as another host has.
                let store = Store::open_at(&loc(&pg)).unwrap();
                for b in 0..batches {
                    let evs: Vec<AuditEvent> =
                        (0..per).map(|i| ev("approved", w, b * per + i)).collect();
                    let seqs = store.audit_append_batch(&evs, T0 + b as i64).unwrap();
                    // A batch is contiguous: nobody slips a record into it.
                    assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "{seqs:?}");
                }
            });
        }
    });
    let store = Store::open_existing_at(&loc(&pg)).unwrap();
    let total = (writers * batches * per) as u64;
    let records = store.audit_records(1, total as usize + 10).unwrap();
    assert_eq!(records.len() as u64, total);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1, "no gap");
        if i > 0 {
            assert_eq!(r.prev, records[i - 1].hash, "no fork at {}", r.seq);
        }
    }
    let report = store.audit_verify().unwrap();
    assert_eq!(report.records, total);
}

#[test]
fn editing_any_text_of_any_audit_table_fails_verify_with_exit_3() {
    let Some(pg) = pg_state() else { return };
    {
        let store = Store::open_at(&loc(&pg)).unwrap();
        for b in 0..3 {
            let evs: Vec<AuditEvent> = (0..5).map(|i| ev("executed", 1, b * 5 + i)).collect();
            store
                .audit_append_batch(&evs, T0 + 2000 * b as i64)
                .unwrap();
        }
        store.audit_checkpoint(T0 + 10_000).unwrap();
        assert_eq!(store.audit_verify().unwrap().checkpoints, 3);
    }
    let mut admin = pg_admin(&pg);
    let columns: Vec<(String, String)> = admin
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name LIKE '%audit%'
               AND data_type IN ('text', 'json', 'jsonb') ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(columns.len() >= 9, "{columns:?}");
    for (table, column) in &columns {
        // As the superuser, who no privilege stops; the middle row, and back afterwards.
        let pick = format!(
            "ctid = (SELECT ctid FROM {table} ORDER BY ctid OFFSET (SELECT count(*) / 2 FROM {table}) LIMIT 1)"
        );
        admin
            .batch_execute(&format!(
                "UPDATE {table} SET {column} = {column} || 'x' WHERE {pick}"
            ))
            .unwrap();
        let store = Store::open_existing_at(&loc(&pg)).unwrap();
        let e = store.audit_verify().unwrap_err();
        assert_eq!(code_of(&e), 3, "{table}.{column}: {e:#}");
        drop(store);
        // The edit moved the row (a new ctid); it is the one that ends in the added x.
        admin
            .batch_execute(&format!(
                "UPDATE {table} SET {column} = left({column}, -1) WHERE {column} LIKE '%x'"
            ))
            .unwrap();
        let store = Store::open_existing_at(&loc(&pg)).unwrap();
        assert!(store.audit_verify().is_ok(), "{table}.{column} restored");
    }
}

#[test]
fn a_schema_newer_than_this_build_is_refused_with_exit_2() {
    let Some(pg) = pg_state() else { return };
    drop(Store::open_at(&loc(&pg)).unwrap());
    pg_admin(&pg)
        .batch_execute("UPDATE blastdoor_schema SET version = 99")
        .unwrap();
    let e = Store::open_at(&loc(&pg)).expect_err("refused");
    assert_eq!(code_of(&e), 2, "{e:#}");
    assert!(
        format!("{e:#}").contains("newer than this blastdoor"),
        "{e:#}"
    );
}

#[test]
fn another_hosts_write_to_the_queue_is_announced_within_a_second() {
    let Some(pg) = pg_state() else { return };
    let mine = Store::open_at(&loc(&pg)).unwrap();
    let theirs = Store::open_at(&loc(&pg)).unwrap();
    let mut changes = mine.changes().expect("PostgreSQL announces changes");
    // The listener is up once it has connected; then a write elsewhere must arrive.
    std::thread::sleep(Duration::from_millis(500));
    changes.borrow_and_update();
    let started = Instant::now();
    theirs
        .write(|tx| tx.intent("sha256:k", "act_1", "http://agent", "other-host:1", T0))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(1), changes.changed())
            .await
            .expect("announced within a second")
            .unwrap();
    });
    assert!(started.elapsed() < Duration::from_secs(1));
    // The cursor of a source survives in the same state, read from any connection.
    theirs
        .write(|tx| tx.set_cursor("s3://trail/AWSLogs", "2026/12/03/0042.json.gz", T0))
        .unwrap();
    let c = mine.read(|tx| tx.cursor("s3://trail/AWSLogs")).unwrap();
    assert_eq!(c.as_deref(), Some("2026/12/03/0042.json.gz"));
}

/// A TCP relay to the database that the test can cut and restore, as a network does.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn to(target: &str) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let target = target.to_string();
        let (up2, conns2) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                if !up2.load(Ordering::SeqCst) {
                    drop(c);
                    continue;
                }
                let Ok(s) = TcpStream::connect(&target) else {
                    continue;
                };
                conns2.lock().unwrap().push(c.try_clone().unwrap());
                conns2.lock().unwrap().push(s.try_clone().unwrap());
                for (mut a, mut b) in [(c.try_clone().unwrap(), s.try_clone().unwrap()), (s, c)] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = a.read(&mut buf) {
                            if n == 0 || b.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = b.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { addr, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[test]
fn the_database_going_away_is_reported_nothing_is_dispatched_and_work_resumes() {
    let Some(pg) = pg_state() else { return };
    let hostport = pg
        .trim_start_matches("postgres://")
        .split_once('@')
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .0
        .to_string();
    let relay = Relay::to(&hostport);
    let via_relay = pg.replace(&hostport, &relay.addr.to_string());
    let t = Team::new(&["alice", "bob"], &[], 1).on_state(&via_relay);
    let (addr, agent) = agent(Duration::from_millis(10));
    let o = run(t.bd(Some("alice"), Some(addr)).args(stage_args(
        "k8s:system:serviceaccount:ci:runner",
        "agent.isolate_workload",
    )));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let o = run(t.bd(Some("bob"), None).args(["action", "approve", &id]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // A console that is up when the database goes away, and a watcher that says so on stderr.
    let store = Store::open_at(&t.location()).unwrap();
    assert!(store.unreachable().is_none());
    let mut watch = KillOnDrop(
        t.bd(None, None)
            .args(["watch", "--source", "demo", "--top", "1"])
            .args(["--interval", "60", "--duration", "100"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let said = {
        let stderr = watch.0.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(l);
            }
        });
        rx
    };
    std::thread::sleep(Duration::from_secs(2));
    relay.cut();
    said_within(&said, "shared state unreachable");
    let e = store.read(|tx| tx.actions()).unwrap_err();
    assert!(format!("{e:#}").contains(&relay.addr.to_string()), "{e:#}");
    let why = store.unreachable().expect("reported while away");
    assert!(why.contains("postgres://"), "{why}");
    // Executing now writes no INTENT, so nothing may be dispatched.
    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["action", "execute", &id]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
    assert!(
        agent.executions().is_empty(),
        "dispatched without an INTENT"
    );

    relay.restore();
    said_within(&said, "reachable again");
    let list = store.read(|tx| tx.actions()).unwrap();
    assert_eq!(list.len(), 1);
    assert!(store.unreachable().is_none(), "reachable again");
    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["action", "execute", &id]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(agent.executions().len(), 1);
}

#[test]
fn watch_sees_another_consoles_stage_and_approval_within_a_second() {
    let Some(pg) = pg_state() else { return };
    let t = Team::new(&["alice", "bob"], &[], 1).on_state(&pg);
    // The state exists before the watcher starts (watching never creates one).
    drop(Store::open_at(&t.location()).unwrap());
    let mut watch = KillOnDrop(
        t.bd(None, None)
            .args(["watch", "--source", "demo", "--top", "1"])
            .args(["--interval", "60", "--duration", "100"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = watch.0.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if let Ok(v) = serde_json::from_str(&l) {
                let _ = tx.send(v);
            }
        }
    });
    // Give the watcher time to start, listen and read the (empty) queue.
    std::thread::sleep(Duration::from_secs(3));
    let (addr, _agent) = agent(Duration::from_millis(10));
    let o = run(t.bd(Some("alice"), Some(addr)).args(stage_args(
        "k8s:system:serviceaccount:ci:runner",
        "agent.isolate_workload",
    )));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let state_of = |v: &serde_json::Value| {
        v["actions"].as_array().and_then(|a| {
            a.iter()
                .find(|x| x["id"] == id.as_str())
                .map(|x| x["state"].as_str().unwrap_or_default().to_string())
        })
    };
    let line = lines
        .recv_timeout(Duration::from_secs(1))
        .expect("a watch line within a second of the stage");
    assert_eq!(
        state_of(&line).as_deref(),
        Some("staged"),
        "{}",
        line["actions"]
    );
    let o = run(t.bd(Some("bob"), None).args(["action", "approve", &id]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let line = lines
        .recv_timeout(Duration::from_secs(1))
        .expect("a watch line within a second of the approval");
    assert_eq!(
        state_of(&line).as_deref(),
        Some("approved"),
        "{}",
        line["actions"]
    );
    let sources = line["sources"].as_array().unwrap();
    assert!(
        sources.iter().any(|s| s["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("state postgres://"))
            && s["health"] == "up"),
        "{}",
        line["sources"]
    );
}

/// Wait up to 10 s for a stderr line of the watcher holding `phrase` (other lines, such as
/// logs, may come first).
fn said_within(said: &std::sync::mpsc::Receiver<String>, phrase: &str) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        match said.recv_timeout(left) {
            Ok(l) if l.contains(phrase) => return,
            Ok(l) => seen.push(l),
            Err(_) => break,
        }
    }
    panic!("the watcher never said {phrase:?}; it said: {seen:#?}");
}
