//! The two-person rule against someone who can write the shared state (another local user on the
//! bastion, or anything that reaches the SQLite file): forged approvals, an approved action
//! whose identity is edited, a forged pre-authorisation, and a stranger's key are all refused at
//! execute with exit 4, audited, and nothing reaches the agent.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const ID: &str = "ci:github:acme/deploy";

fn stage(t: &Team, agent: std::net::SocketAddr) -> Value {
    let o = run(t
        .bd(Some("alice"), Some(agent))
        .args(stage_args(ID, "agent.isolate_workload")));
    assert_eq!(code(&o), 0, "stage: {}", stderr(&o));
    json(&o)
}

/// Rewrite action `id`'s row in the state as an attacker with write access would.
fn tamper(t: &Team, id: &str, edit: impl FnOnce(&mut Value)) {
    let db = rusqlite::Connection::open(t.state().join("blastdoor.db")).unwrap();
    let body: String = db
        .query_row("SELECT body FROM actions WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    let mut a: Value = serde_json::from_str(&body).unwrap();
    edit(&mut a);
    db.execute(
        "UPDATE actions SET body = ?2, state = ?3 WHERE id = ?1",
        rusqlite::params![id, a.to_string(), a["state"].as_str().unwrap()],
    )
    .unwrap();
}

fn audit_tail(t: &Team) -> Vec<Value> {
    let o = run(t
        .bd(None, None)
        .args(["audit", "tail", "-n", "50", "--format", "ndjson"]));
    assert_eq!(code(&o), 0, "audit tail: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Execute as bob: refused with exit 4, the reason on stderr containing `why`, a `refused`
/// record in the audit log naming it, and nothing sent to the agent.
fn refused_at_execute(t: &Team, id: &str, agent: &AgentHandle, why: &str) {
    let o = run(t
        .bd(Some("bob"), Some(agent.addr))
        .args(["action", "execute", id]));
    assert_eq!(code(&o), 4, "execute: {}", stderr(&o));
    assert!(stderr(&o).contains(why), "{}", stderr(&o));
    assert!(agent.state.executions().is_empty(), "the agent acted");
    let refusal = audit_tail(t)
        .into_iter()
        .rev()
        .find(|r| r["kind"] == "refused" && r["action_id"] == id)
        .expect("an audited refusal");
    assert_eq!(refusal["detail"]["op"], "execute");
    assert!(
        refusal["detail"]["reason"].as_str().unwrap().contains(why),
        "{refusal}"
    );
    let o = run(t.bd(None, None).args(["audit", "verify"]));
    assert_eq!(
        code(&o),
        0,
        "the refusal keeps the log valid: {}",
        stderr(&o)
    );
}

struct AgentHandle {
    addr: std::net::SocketAddr,
    state: std::sync::Arc<blastdoor::agent::AgentState>,
}

fn setup() -> (Team, AgentHandle) {
    let t = Team::new(&["alice", "bob", "carol"], &["mallory"], 1);
    let (addr, state) = agent(Duration::ZERO);
    (t, AgentHandle { addr, state })
}

#[test]
fn a_garbage_signature_written_into_the_state_does_not_approve() {
    let (t, agent) = setup();
    let a = stage(&t, agent.addr);
    let id = a["id"].as_str().unwrap();
    let hash = a["hash"].as_str().unwrap().to_string();
    tamper(&t, id, |a| {
        a["state"] = "approved".into();
        a["approvals"] = serde_json::json!([{
            "principal": "bob", "at": a["created_at"], "hash": hash,
            "signature": "-----BEGIN SSH SIGNATURE-----\nZ2FyYmFnZQ==\n-----END SSH SIGNATURE-----\n",
        }]);
    });
    refused_at_execute(&t, id, &agent, "needs 1 verified approval");
}

#[test]
fn an_approval_copied_from_another_action_does_not_approve() {
    let (t, agent) = setup();
    let other = stage(&t, agent.addr);
    let o = run(t.bd(Some("bob"), Some(agent.addr)).args([
        "action",
        "approve",
        other["id"].as_str().unwrap(),
    ]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let approved = json(&run(t.bd(None, None).args([
        "action",
        "show",
        other["id"].as_str().unwrap(),
        "--format",
        "json",
    ])));
    let a = stage(&t, agent.addr);
    let id = a["id"].as_str().unwrap();
    let hash = a["hash"].clone();
    tamper(&t, id, |a| {
        a["state"] = "approved".into();
        let mut ap = approved["approvals"][0].clone();
        ap["hash"] = hash; // relabelled, but signed over the other action's hash
        a["approvals"] = serde_json::json!([ap]);
    });
    refused_at_execute(&t, id, &agent, "does not verify");
}

#[test]
fn an_approved_action_whose_identity_is_edited_is_refused() {
    let (t, agent) = setup();
    let a = stage(&t, agent.addr);
    let id = a["id"].as_str().unwrap();
    let o = run(t
        .bd(Some("bob"), Some(agent.addr))
        .args(["action", "approve", id]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    tamper(&t, id, |a| {
        a["identity"] = "aws:arn:aws:iam::1:user/innocent-admin".into();
    });
    refused_at_execute(&t, id, &agent, "hash does not match its content");
}

#[test]
fn a_forged_preauthorisation_is_refused() {
    let (t, agent) = setup();
    let a = stage(&t, agent.addr);
    let id = a["id"].as_str().unwrap();
    tamper(&t, id, |a| {
        a["state"] = "approved".into();
        a["preauthorized"] = true.into();
        a["required_approvals"] = 0.into();
    });
    refused_at_execute(&t, id, &agent, "needs 1 verified approval");
}

#[test]
fn a_key_outside_the_allowed_signers_is_refused_and_audited() {
    let (t, agent) = setup();
    let a = stage(&t, agent.addr);
    let id = a["id"].as_str().unwrap();
    let o = run(t
        .bd(Some("mallory"), Some(agent.addr))
        .args(["action", "approve", id]));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let r = audit_tail(&t)
        .into_iter()
        .rev()
        .find(|r| r["kind"] == "refused" && r["action_id"] == id)
        .expect("the stranger's attempt is audited");
    assert_eq!(r["detail"]["op"], "approve");
    assert!(
        r["actor"].as_str().unwrap().starts_with("key SHA256:"),
        "the actor is the key's fingerprint: {r}"
    );
}

#[test]
fn a_genuinely_approved_action_still_executes_and_the_audit_names_who_verified() {
    let (t, agent) = setup();
    let a = stage(&t, agent.addr);
    let id = a["id"].as_str().unwrap();
    for who in ["bob", "carol"] {
        let o = run(t
            .bd(Some(who), Some(agent.addr))
            .args(["action", "approve", id]));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    // A garbage approval added beside the genuine ones is not listed as an approver.
    tamper(&t, id, |a| {
        let mut fake = a["approvals"][0].clone();
        fake["principal"] = "dave".into();
        fake["signature"] = "garbage".into();
        a["approvals"].as_array_mut().unwrap().push(fake);
    });
    let o = run(t
        .bd(Some("bob"), Some(agent.addr))
        .args(["action", "execute", id]));
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    assert_eq!(agent.state.executions().len(), 1);
    let executing = audit_tail(&t)
        .into_iter()
        .find(|r| r["kind"] == "executing" && r["action_id"] == id)
        .unwrap();
    assert_eq!(
        executing["detail"]["approvers"],
        serde_json::json!(["bob", "carol"])
    );
}
