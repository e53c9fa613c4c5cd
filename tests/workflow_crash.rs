//! Crash safety of execution: the executing process is killed with SIGKILL at random points
//! (before the intent, between the durable INTENT and the dispatch, while the slow agent works,
//! after it answered). After each restart, recovery settles the action by asking the agent about
//! its key. Across every run: no action is dispatched twice (one first-time execution per action
//! at the agent, under one key), none is dispatched without an INTENT in the journal, every
//! action ends `done`, and the audit log verifies. Once on SQLite and once on PostgreSQL.

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use rand_core::RngCore;

#[test]
fn sigkill_at_random_points_never_dispatches_twice_or_without_an_intent() {
    crash_runs(Team::new(&["alice", "bob"], &[], 1), 20);
}

#[test]
fn sigkill_at_random_points_against_postgresql_never_dispatches_twice_or_without_an_intent() {
    let Some(pg) = pg_state() else { return };
    crash_runs(Team::new(&["alice", "bob"], &[], 1).on_state(&pg), 12);
}

fn crash_runs(t: Team, runs: usize) {
    let (addr, agent) = agent(Duration::from_millis(150));
    let mut rng = rand_core::OsRng;
    let mut ids = Vec::new();
    for run_no in 0..runs {
        let identity = format!("k8s:system:serviceaccount:ci:runner-{run_no}");
        let o = run(t
            .bd(Some("alice"), Some(addr))
            .args(stage_args(&identity, "agent.isolate_workload")));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let id = json(&o)["id"].as_str().unwrap().to_string();
        let o = run(t
            .bd(Some("bob"), Some(addr))
            .args(["action", "approve", &id]));
        assert_eq!(code(&o), 0, "{}", stderr(&o));

        let mut c = t.bd(Some("bob"), Some(addr));
        c.args(["action", "execute", &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if run_no % 3 == 0 {
            // Certainly between the durable INTENT and the dispatch.
            c.env("BLASTDOOR_TEST_PAUSE_AT", "after_intent")
                .env("BLASTDOOR_TEST_PAUSE_SECS", "10");
        }
        let mut child = c.spawn().unwrap();
        let wait = 5 + (rng.next_u32() % 400) as u64;
        std::thread::sleep(Duration::from_millis(wait));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait(); // reaped: its pid is gone, so its intents are orphans

        // Restart: recover, then finish the job if it never began.
        let o = run(t.bd(Some("bob"), Some(addr)).args(["action", "recover"]));
        assert_eq!(code(&o), 0, "recover: {}", stderr(&o));
        let state = json(&run(t
            .bd(None, None)
            .args(["action", "show", &id, "--format", "json"])))["state"]
            .as_str()
            .unwrap()
            .to_string();
        match state.as_str() {
            "done" => {}
            "approved" => {
                let o = run(t
                    .bd(Some("bob"), Some(addr))
                    .args(["action", "execute", &id]));
                assert_eq!(code(&o), 0, "execute after restart: {}", stderr(&o));
            }
            other => panic!("run {run_no}: after recovery {id} is {other}"),
        }
        ids.push(id);
    }

    // One first-time execution per action, each under one key.
    let execs = agent.executions();
    let mut per_action: HashMap<&str, Vec<&str>> = HashMap::new();
    for (key, id) in &execs {
        per_action.entry(id).or_default().push(key);
    }
    for id in &ids {
        let keys = per_action.get(id.as_str()).cloned().unwrap_or_default();
        assert_eq!(
            keys.len(),
            1,
            "{id} dispatched {} time(s): {keys:?}",
            keys.len()
        );
    }
    assert_eq!(execs.len(), runs);

    // Every dispatched key has an INTENT, and every action is done.
    let journal = blastdoor::store::Store::open_existing_at(&t.location())
        .unwrap()
        .read(|tx| tx.journal())
        .unwrap();
    for (key, id) in &execs {
        let intent = journal
            .iter()
            .find(|i| &i.key == key)
            .unwrap_or_else(|| panic!("{id}: dispatched under {key} without an INTENT"));
        assert_eq!(&intent.action_id, id);
        assert!(intent.outcome.is_some(), "{id}: its intent has no outcome");
    }
    let list = json(&run(t
        .bd(None, None)
        .args(["action", "list", "--format", "json"])));
    for a in list.as_array().unwrap() {
        assert_eq!(a["state"], "done", "{}", a["id"]);
    }
    let o = run(t.bd(None, None).args(["audit", "verify"]));
    assert_eq!(
        code(&o),
        0,
        "audit verify after {runs} crashes: {}",
        stderr(&o)
    );
    eprintln!(
        "{runs} runs, {} POSTs at the agent ({} replays answered idempotently)",
        agent.action_requests(),
        agent.action_requests() - execs.len()
    );
}
