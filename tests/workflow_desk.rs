//! The response desk in-process, as the TUI and MCP faces use it: an AI agent named by the
//! policy proposes (via mcp, staged, never executed), an unnamed one is refused, a rate is
//! enforced, and a pre-authorised playbook stages and executes at once (via playbook, audited,
//! still reversible).

mod common;

use std::sync::Arc;
use std::time::Duration;

use blastdoor::auth::Signer;
use blastdoor::core::policy::{IdentityFacts, Policy};
use blastdoor::core::workflow::{ActionState, Via};
use blastdoor::exit::code_of;
use blastdoor::respond::agent::AgentExecutor;
use blastdoor::respond::{Desk, Executor, StageRequest};
use blastdoor::store::Store;
use common::*;

fn req(via: Via, agent: Option<&str>, facts: IdentityFacts) -> StageRequest {
    StageRequest {
        identity: "ci:github:acme/deploy".into(),
        kind: "agent.isolate_workload".into(),
        target: None,
        params: serde_json::json!({}),
        reason: "stolen token used from a new ASN".into(),
        evidence: vec!["GetCallerIdentity from 203.0.113.7".into()],
        via,
        agent: agent.map(str::to_string),
        facts,
    }
}

fn desk(
    t: &Team,
    policy_text: Option<&str>,
    who: Option<&str>,
    agent: Option<std::net::SocketAddr>,
) -> Desk {
    if let Some(p) = policy_text {
        std::fs::write(t.path("policy.toml"), p).unwrap();
    }
    let store = Arc::new(Store::open(&t.state()).unwrap());
    let policy = Policy::load(&t.path("policy.toml")).unwrap();
    let signer = who.map(|w| Signer::from_file(&t.path(w)).unwrap());
    let executors: Vec<Arc<dyn Executor>> = agent
        .map(|a| Arc::new(AgentExecutor::new(&format!("http://{a}"))) as Arc<dyn Executor>)
        .into_iter()
        .collect();
    Desk::open(store, policy, signer, executors).unwrap()
}

#[tokio::test]
async fn a_named_agent_proposes_an_unnamed_one_is_refused_and_rates_hold() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let policy = "allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n[agents.triage-bot]\nmay = \"propose\"\nrate_per_minute = 2\n";
    let d = desk(&t, Some(policy), None, None);
    let a = d
        .stage(req(Via::Mcp, Some("triage-bot"), IdentityFacts::default()))
        .await
        .unwrap();
    assert_eq!(a.state, ActionState::Staged);
    assert_eq!(a.proposed_by.via, Via::Mcp);
    assert_eq!(a.proposed_by.agent.as_deref(), Some("triage-bot"));
    let e = d
        .stage(req(Via::Mcp, Some("rogue-bot"), IdentityFacts::default()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), 4);
    assert!(e.to_string().contains("rogue-bot"), "{e}");
    d.stage(req(Via::Mcp, Some("triage-bot"), IdentityFacts::default()))
        .await
        .unwrap();
    let e = d
        .stage(req(Via::Mcp, Some("triage-bot"), IdentityFacts::default()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), 4, "{e}");
    assert!(e.to_string().contains("last minute"), "{e}");
    // An agent never approves: the desk has no key for it, and its proposal needs a human.
    assert_eq!(code_of(&d.approve(&a.id).await.unwrap_err()), 2);
    let bob = desk(&t, None, Some("bob"), None);
    let approved = bob.approve(&a.id).await.unwrap();
    assert_eq!(approved.state, ActionState::Approved);
    assert_eq!(d.list().unwrap().len(), 2);
}

#[tokio::test]
async fn a_preauthorized_playbook_stages_and_executes_at_once() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, agent) = agent(Duration::ZERO);
    let policy = "allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"agent.isolate_workload\"]\npreauthorized = { when = \"threat >= 90\", identity_kind = \"ci_token\" }\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n";
    let d = desk(&t, Some(policy), Some("alice"), Some(addr));
    let hot = IdentityFacts {
        kind: Some("ci_token".into()),
        threat: Some(95.0),
        ..Default::default()
    };
    let a = d.stage(req(Via::Tui, None, hot.clone())).await.unwrap();
    assert_eq!(a.state, ActionState::Done, "{a:?}");
    assert!(a.preauthorized && a.reversible);
    assert_eq!(a.proposed_by.via, Via::Playbook);
    assert_eq!(agent.executions().len(), 1);
    let back = d.rollback(&a.id).await.unwrap();
    assert_eq!(back.state, ActionState::RolledBack);

    let cool = IdentityFacts {
        threat: Some(40.0),
        ..hot
    };
    let b = d.stage(req(Via::Tui, None, cool)).await.unwrap();
    assert_eq!(b.state, ActionState::Staged);
    let records = d.store().audit_records(1, 1000).unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.event.via == "playbook" && r.event.kind == "executed")
    );
}

#[tokio::test]
async fn an_agent_proposal_that_matches_a_playbook_runs_it_and_says_so() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, agent) = agent(Duration::ZERO);
    let policy = "allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"agent.isolate_workload\"]\npreauthorized = { when = \"threat >= 90\", identity_kind = \"ci_token\" }\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n[agents.triage-bot]\nmay = \"propose\"\n";
    let d = desk(&t, Some(policy), None, Some(addr));
    let hot = IdentityFacts {
        kind: Some("ci_token".into()),
        threat: Some(95.0),
        ..Default::default()
    };
    let a = d
        .stage(req(Via::Mcp, Some("triage-bot"), hot))
        .await
        .unwrap();
    assert_eq!(a.state, ActionState::Done, "{a:?}");
    assert_eq!(a.proposed_by.via, Via::Playbook);
    assert_eq!(a.proposed_by.agent.as_deref(), Some("triage-bot"));
    assert_eq!(agent.executions().len(), 1);
}

#[tokio::test]
async fn acts_through_the_consoles_desk_are_audited_as_done_in_the_console() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, _agent) = agent(Duration::ZERO);
    let policy =
        "allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n";
    // The console wraps whatever desk it is given: what it does there is recorded as `tui`.
    let console = |who| {
        blastdoor::tui::TuiOptions::default()
            .with_desk(Ok(desk(&t, None, Some(who), Some(addr))))
            .desk
            .unwrap()
    };
    let alice = desk(&t, Some(policy), Some("alice"), Some(addr));
    let a = alice
        .stage(req(Via::Cli, None, IdentityFacts::default()))
        .await
        .unwrap();
    let bob = console("bob");
    bob.approve(&a.id).await.unwrap();
    bob.execute(&a.id).await.unwrap();
    bob.rollback(&a.id).await.unwrap();
    let b = alice
        .stage(req(Via::Cli, None, IdentityFacts::default()))
        .await
        .unwrap();
    bob.deny(&b.id, "false positive").await.unwrap();
    let records = alice.store().audit_records(1, 1000).unwrap();
    let via = |kind: &str| {
        records
            .iter()
            .filter(|r| r.event.kind == kind)
            .map(|r| r.event.via.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(via("proposed"), ["cli", "cli"]);
    for kind in ["approved", "executed", "rolled_back", "denied"] {
        assert_eq!(via(kind), ["tui"], "{kind}: {records:#?}");
    }
}

#[tokio::test]
async fn action_ids_sort_in_the_order_the_actions_were_staged() {
    // Time-ordered ids keep the audit log's action index growing at its end; responders also
    // read them: a later action never lists before an earlier one when sorted by id.
    let t = Team::new(&["alice", "bob"], &[], 1);
    let tick = Arc::new(std::sync::atomic::AtomicI64::new(1_764_136_800_000));
    let clock = tick.clone();
    let d = desk(
        &t,
        Some("allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n"),
        Some("alice"),
        None,
    )
    .with_clock(move || clock.fetch_add(7, std::sync::atomic::Ordering::SeqCst));
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(
            d.stage(req(Via::Cli, None, IdentityFacts::default()))
                .await
                .unwrap()
                .id,
        );
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "ids repeat: {ids:?}");
    // Two made in the same millisecond still differ.
    let same = blastdoor::respond::desk::new_action_id(1_764_136_800_000);
    assert_ne!(
        same,
        blastdoor::respond::desk::new_action_id(1_764_136_800_000)
    );
    assert!(same.starts_with("act_019"), "{same}");
}
