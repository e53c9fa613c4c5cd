//! Standing playbooks through the desk and the runner, in-process: every hard limit holds a
//! firing (and says so in the audit log), two runners on one state (SQLite, then PostgreSQL)
//! fire a trigger once, a pause stops them and a resume arms them again, and the runner
//! replaying the Invictus CloudTrail corpus as a live source fires on the identities its
//! condition names and no other.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use blastdoor::core::playbook::{Hold, Mode, Trigger};
use blastdoor::core::policy::Policy;
use blastdoor::core::workflow::{ActionState, Via};
use blastdoor::engine::{Engine, EngineOptions, SourceSpec};
use blastdoor::respond::agent::AgentExecutor;
use blastdoor::respond::runner::{self, Report, RunnerOptions};
use blastdoor::respond::{Desk, Executor, FireRequest, Fired};
use blastdoor::store::Store;
use common::*;

const ENFORCE: &str = "allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n[[playbook]]\nname = \"stolen-ci\"\nwhen = \"threat >= 90 && identity_kind == ci_token\"\naction = \"agent.isolate_workload\"\nmode = \"enforce\"\nmax_per_hour = 2\ncooldown = \"10m\"\n[[playbook]]\nname = \"revoke\"\nwhen = \"threat >= 90\"\naction = \"agent.revoke_token\"\nmode = \"enforce\"\n";

fn desk(t: &Team, policy: &str, agent: Option<std::net::SocketAddr>) -> Desk {
    std::fs::write(t.path("policy.toml"), policy).unwrap();
    let store = Arc::new(Store::open_at(&t.location()).unwrap());
    let policy = Policy::load(&t.path("policy.toml")).unwrap();
    let executors: Vec<Arc<dyn Executor>> = agent
        .map(|a| Arc::new(AgentExecutor::new(&format!("http://{a}"))) as Arc<dyn Executor>)
        .into_iter()
        .collect();
    Desk::open(store, policy, None, executors).unwrap()
}

fn fire(desk: &Desk, playbook: &str, identity: &str, at: i64) -> FireRequest {
    let pb = desk.policy().playbook(playbook).unwrap();
    FireRequest {
        playbook: playbook.into(),
        identity: identity.into(),
        params: serde_json::json!({}),
        reason: format!("standing playbook {playbook}"),
        evidence: vec![],
        trigger: Trigger {
            playbook: playbook.into(),
            when: pb.when_text.clone(),
            mode: pb.mode,
            values: BTreeMap::from([("threat".to_string(), serde_json::json!(97.0))]),
            events: vec![],
            observed: vec![],
            observed_at: at,
            key: pb.trigger_key(identity, None, at),
        },
    }
}

fn now() -> i64 {
    blastdoor::engine::now_ms()
}

fn held(f: Fired) -> Hold {
    match f {
        Fired::Held(h, _) => h,
        other => panic!("expected a hold, got {other:?}"),
    }
}

fn acted(f: Fired) -> blastdoor::core::workflow::Action {
    match f {
        Fired::Staged(a) => a,
        other => panic!("expected an action, got {other:?}"),
    }
}

#[tokio::test]
async fn every_limit_holds_a_firing_and_the_audit_log_says_why() {
    let t = Team::new(&["alice"], &[], 1);
    let (addr, agent) = agent(Duration::ZERO);
    let d = desk(&t, ENFORCE, Some(addr));
    let t0 = now();
    // Fires, executes at once, with its trigger and the executor's acknowledgement time.
    let a = acted(d.fire(fire(&d, "stolen-ci", "github:a", t0)).await.unwrap());
    assert_eq!(a.state, ActionState::Done, "{a:?}");
    assert_eq!(a.proposed_by.via, Via::Playbook);
    assert_eq!(a.proposed_by.principal, "playbook:stolen-ci");
    assert!(a.preauthorized);
    let trig = a.trigger.as_ref().expect("the trigger is kept");
    assert_eq!(trig.playbook, "stolen-ci");
    assert!(a.executed_at.is_some_and(|e| e >= trig.observed_at));
    // The same trigger again: nothing.
    assert_eq!(
        held(d.fire(fire(&d, "stolen-ci", "github:a", t0)).await.unwrap()),
        Hold::Fired
    );
    // The same identity, a later window but within the cooldown: held.
    let mut later = fire(&d, "stolen-ci", "github:a", t0);
    later.trigger.key = "pb_other_window".into();
    assert!(matches!(
        held(d.fire(later).await.unwrap()),
        Hold::Cooldown { .. }
    ));
    // Another identity fires; a third in the same hour is over max_per_hour = 2.
    acted(d.fire(fire(&d, "stolen-ci", "github:b", t0)).await.unwrap());
    assert_eq!(
        held(d.fire(fire(&d, "stolen-ci", "github:c", t0)).await.unwrap()),
        Hold::PerHour { max: 2 }
    );
    // An irreversible kind the playbook does not name is never run by itself.
    assert_eq!(
        held(d.fire(fire(&d, "revoke", "github:d", t0)).await.unwrap()),
        Hold::Irreversible
    );
    assert_eq!(agent.executions().len(), 2, "two firings reached the agent");
    let records = d.store().audit_records(1, 1000).unwrap();
    let holds: Vec<String> = records
        .iter()
        .filter(|r| r.event.kind == "playbook_held")
        .map(|r| r.event.detail["reason"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        holds.len(),
        3,
        "cooldown, rate and irreversible are audited: {holds:?}"
    );
    assert!(
        holds.iter().any(|h| h.contains("max_per_hour")),
        "{holds:?}"
    );
    assert!(
        holds.iter().any(|h| h.contains("cannot be undone")),
        "{holds:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.event.kind == "proposed"
                && r.event.detail["trigger"]["playbook"] == "stolen-ci"),
        "the trigger is in the audit log"
    );
    // The playbook's action is undone by a responder as any other.
    let alice = Desk::open(
        d.store().clone(),
        d.policy().clone(),
        Some(blastdoor::auth::Signer::from_file(&t.path("alice")).unwrap()),
        vec![Arc::new(AgentExecutor::new(&format!("http://{addr}"))) as Arc<dyn Executor>],
    )
    .unwrap();
    let back = alice.rollback(&a.id).await.unwrap();
    assert_eq!(back.state, ActionState::RolledBack);
}

#[tokio::test]
async fn a_pause_stops_every_runner_and_a_resume_arms_them_again() {
    let t = Team::new(&["alice"], &[], 1);
    let (addr, agent) = agent(Duration::ZERO);
    let d = desk(&t, ENFORCE, Some(addr));
    let now0 = now();
    d.store()
        .write(|tx| blastdoor::store::runner::set_paused(tx, Some("stolen-ci"), true, now0))
        .unwrap();
    assert_eq!(
        held(
            d.fire(fire(&d, "stolen-ci", "github:a", now0))
                .await
                .unwrap()
        ),
        Hold::Paused
    );
    d.store()
        .write(|tx| blastdoor::store::runner::set_paused(tx, None, true, now0))
        .unwrap();
    d.store()
        .write(|tx| blastdoor::store::runner::set_paused(tx, Some("stolen-ci"), false, now0))
        .unwrap();
    assert_eq!(
        held(
            d.fire(fire(&d, "stolen-ci", "github:a", now0))
                .await
                .unwrap()
        ),
        Hold::Paused,
        "all are paused: resuming one name does not lift the pause on all"
    );
    d.store()
        .write(|tx| blastdoor::store::runner::set_paused(tx, None, false, now0))
        .unwrap();
    acted(
        d.fire(fire(&d, "stolen-ci", "github:a", now0))
            .await
            .unwrap(),
    );
    assert_eq!(agent.executions().len(), 1);
}

async fn two_runners_fire_once(t: &Team) {
    let (addr, agent) = agent(Duration::from_millis(30));
    let one = desk(t, ENFORCE, Some(addr));
    let two = desk(t, ENFORCE, Some(addr));
    let at = now();
    let (a, b) = tokio::join!(
        one.fire(fire(&one, "stolen-ci", "github:a", at)),
        two.fire(fire(&two, "stolen-ci", "github:a", at))
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let done = outcomes
        .iter()
        .filter(|f| matches!(f, Fired::Staged(a) if a.state == ActionState::Done))
        .count();
    let dup = outcomes
        .iter()
        .filter(|f| matches!(f, Fired::Held(Hold::Fired, _)))
        .count();
    assert_eq!((done, dup), (1, 1), "{outcomes:?}");
    assert_eq!(agent.executions().len(), 1, "executed once");
    assert_eq!(one.list().unwrap().len(), 1, "staged once");
}

#[tokio::test]
async fn two_runners_on_one_folder_state_fire_a_trigger_once() {
    two_runners_fire_once(&Team::new(&["alice"], &[], 1)).await;
}

#[tokio::test]
async fn two_runners_on_one_postgres_state_fire_a_trigger_once() {
    let Some(url) = pg_state() else { return };
    two_runners_fire_once(&Team::new(&["alice"], &[], 1).on_state(&url)).await;
}

#[tokio::test]
async fn only_the_lease_holder_acts() {
    let t = Team::new(&["alice"], &[], 1);
    let d = desk(&t, ENFORCE, None);
    let at = now();
    let take = |owner: &'static str, at: i64| {
        d.store()
            .write(move |tx| blastdoor::store::runner::take_lease(tx, owner, at, 3_000))
            .unwrap()
    };
    assert!(take("a", at).is_ok());
    assert!(take("a", at + 1_000).is_ok(), "renewed by its holder");
    let other = take("b", at + 2_000).unwrap_err();
    assert_eq!(other.0, "a");
    assert!(
        take("b", at + 4_001).is_ok(),
        "a lapsed lease is taken over"
    );
}

/// Replay the Invictus CloudTrail as a live source into a runner whose playbook proposes
/// containment of any IAM user at threat >= THRESHOLD: it must fire on exactly the IAM users
/// whose threat reached it (each once), and on nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_fires_on_the_corpus_identities_its_condition_names_and_no_other() {
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/invictus-ir-aws-dataset/CloudTrail"
    );
    let t = Team::new(&["alice"], &[], 1);
    let policy = "allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n[[playbook]]\nname = \"hot-iam-user\"\nwhen = \"threat >= 60 && identity_kind == iam_user\"\naction = \"aws.disable_access_key\"\nmax_per_hour = 100\n";
    let d = Arc::new(desk(&t, policy, None));
    assert_eq!(d.policy().playbooks[0].mode, Mode::Propose);
    let engine = Engine::start(EngineOptions {
        sources: vec![SourceSpec::parse(corpus).unwrap()],
        ..Default::default()
    })
    .await
    .unwrap();
    let reports = Arc::new(std::sync::Mutex::new(Vec::<Report>::new()));
    let sink = reports.clone();
    let e2 = engine.clone();
    let run = tokio::spawn(runner::run(
        engine.clone(),
        d.clone(),
        RunnerOptions {
            dry_run: false,
            duration: Some(Duration::from_secs(6)),
        },
        move |r| sink.lock().unwrap().push(r),
    ));
    e2.finished().await;
    run.await.unwrap().unwrap();
    // Who the condition names: every IAM user the replay took to threat >= 60.
    let mut peak: BTreeMap<String, f64> = BTreeMap::new();
    let named: BTreeSet<String> = engine.write(|c| {
        c.top(100_000, blastdoor::core::SortKey::Threat)
            .into_iter()
            .filter(|r| r.kind == "iam_user")
            .inspect(|r| {
                peak.insert(r.identity.clone(), r.threat);
            })
            .filter(|r| r.threat >= 60.0)
            .map(|r| r.identity)
            .collect()
    });
    let actions = d.list().unwrap();
    let fired: Vec<String> = actions.iter().map(|a| a.identity.clone()).collect();
    let fired_set: BTreeSet<String> = fired.iter().cloned().collect();
    assert!(
        !fired.is_empty(),
        "the playbook never fired; reports: {:?}",
        reports.lock().unwrap()
    );
    assert_eq!(
        fired.len(),
        fired_set.len(),
        "fired twice on one identity: {fired:?}"
    );
    assert!(
        named.is_subset(&fired_set),
        "missed {:?} (fired on {fired_set:?})",
        named.difference(&fired_set).collect::<Vec<_>>()
    );
    for a in &actions {
        assert_eq!(a.kind, "aws.disable_access_key");
        assert_eq!(
            a.state,
            ActionState::Staged,
            "propose mode waits for a human"
        );
        assert_eq!(a.proposed_by.via, Via::Playbook);
        let t = a.trigger.as_ref().unwrap();
        assert_eq!(t.values["identity_kind"], "iam_user", "{t:?}");
        assert!(t.values["threat"].as_f64().unwrap() >= 60.0, "{t:?}");
        assert!(!t.observed.is_empty(), "the events behind it are named");
        assert!(
            peak.contains_key(&a.identity),
            "{} is not an IAM user of the corpus",
            a.identity
        );
    }
    let users = peak.len();
    assert!(
        fired_set.len() < users,
        "it fired on every IAM user ({users}): the condition picked nobody out"
    );
}

#[test]
fn check_config_names_every_problem_of_a_playbook_and_an_expired_one() {
    let t = Team::new(&["alice"], &[], 1);
    std::fs::write(
        t.path("policy.toml"),
        "allowed_signers = \"allowed_signers\"\n[[playbook]]\nname = \"a\"\nwhen = \"threat >= lots && mood == good\"\naction = \"aws.*\"\nmode = \"yolo\"\nmax_per_hour = 0\n[[playbook]]\nname = \"old\"\nwhen = \"threat >= 90\"\naction = \"agent.isolate_workload\"\nexpires = \"2020-01-31\"\n",
    )
    .unwrap();
    let o = run(t.bd(None, None).arg("check-config"));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "'lots' is not a number",
        "'mood' is not one of",
        "aws.*",
        "yolo",
        "max_per_hour = 0",
    ] {
        assert!(
            err.contains(want),
            "check-config does not say {want}: {err}"
        );
    }
    std::fs::write(
        t.path("policy.toml"),
        "allowed_signers = \"allowed_signers\"\n[[playbook]]\nname = \"old\"\nwhen = \"threat >= 90\"\naction = \"agent.isolate_workload\"\nexpires = \"2020-01-31\"\n",
    )
    .unwrap();
    let o = run(t.bd(None, None).arg("check-config"));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("expired on 2020-01-31"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_kill_switch_is_audited_and_arming_again_takes_a_responder() {
    let t = Team::new(&["alice"], &[], 1);
    std::fs::write(t.path("policy.toml"), ENFORCE).unwrap();
    let list = |t: &Team| {
        json(&run(t.bd(None, None).args([
            "playbooks",
            "list",
            "--format",
            "json",
        ])))
    };
    assert_eq!(list(&t)[0]["status"], "armed");
    let o = run(t.bd(None, None).args(["playbooks", "pause", "stolen-ci"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(list(&t)[0]["status"], "paused");
    assert_eq!(list(&t)[1]["status"], "armed", "only the one named");
    let o = run(t.bd(None, None).args(["playbooks", "pause", "nonesuch"]));
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("no playbook named 'nonesuch'"),
        "{}",
        stderr(&o)
    );
    // Without a key nobody re-arms it; with alice's it is armed again.
    let o = run(t.bd(None, None).args(["playbooks", "resume", "stolen-ci"]));
    assert_ne!(code(&o), 0, "resumed without a responder");
    assert_eq!(list(&t)[0]["status"], "paused");
    let o = run(t
        .bd(Some("alice"), None)
        .args(["playbooks", "resume", "stolen-ci"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(list(&t)[0]["status"], "armed");
    let o = run(t.bd(None, None).args(["audit", "export"]));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("playbook_paused") && out.contains("playbook_resumed"),
        "{out}"
    );
    assert!(
        run(t.bd(None, None).args(["audit", "verify"]))
            .status
            .success()
    );
}

#[test]
fn respond_says_it_leads_prints_no_debug_traces_and_refuses_a_policy_without_playbooks() {
    let t = Team::new(&["alice"], &[], 1);
    std::fs::write(t.path("policy.toml"), ENFORCE).unwrap();
    let (addr, _agent) = agent(Duration::ZERO);
    let o = run(t.bd(None, None).args([
        "--source",
        &format!("http://{addr}/v1/events"),
        "respond",
        "--duration",
        "2",
    ]));
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("leading"),
        "the runner does not say it took the lease: {err}"
    );
    assert!(
        !err.contains("DEBUG") && !err.contains("TRACE"),
        "HTTP traces on stderr without BLASTDOOR_LOG: {err}"
    );
    assert!(o.stdout.is_empty(), "nothing fired, nothing printed");
    std::fs::write(
        t.path("policy.toml"),
        "allowed_signers = \"allowed_signers\"\n",
    )
    .unwrap();
    let o = run(t.bd(None, None).args([
        "--source",
        &format!("http://{addr}/v1/events"),
        "respond",
        "--duration",
        "1",
    ]));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("has no [[playbook]]"), "{}", stderr(&o));
}
