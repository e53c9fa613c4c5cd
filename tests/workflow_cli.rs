//! The response workflow through the real binary: exit codes of the approval rules (self-approval,
//! unapproved execution, an unknown key named by its fingerprint), execution at a real agent,
//! rollback, a kind with no executor, the audit trail, `run --script`, and two processes sharing
//! one queue.

mod common;

use std::time::Duration;

use common::*;

const ID: &str = "ci:github:acme/deploy";
const ISOLATE: &str = "agent.isolate_workload";

fn stage(
    t: &Team,
    who: &str,
    agent: Option<std::net::SocketAddr>,
    kind: &str,
) -> serde_json::Value {
    let o = run(t.bd(Some(who), agent).args(stage_args(ID, kind)));
    assert_eq!(code(&o), 0, "stage: {}", stderr(&o));
    json(&o)
}

fn show(t: &Team, id: &str) -> serde_json::Value {
    let o = run(t
        .bd(None, None)
        .args(["action", "show", id, "--format", "json"]));
    assert_eq!(code(&o), 0, "show: {}", stderr(&o));
    json(&o)
}

#[test]
fn the_approval_rules_end_in_exit_4_and_a_signed_approval_executes() {
    let t = Team::new(&["alice", "bob"], &["mallory"], 1);
    let (addr, agent) = agent(Duration::ZERO);
    let a = stage(&t, "alice", Some(addr), ISOLATE);
    let id = a["id"].as_str().unwrap();
    assert_eq!(a["state"], "staged");
    assert_eq!(a["proposed_by"]["principal"], "alice");
    assert_eq!(a["proposed_by"]["via"], "cli");
    assert_eq!(a["reversible"], true, "{a}");
    assert!(a["hash"].as_str().unwrap().starts_with("sha256:"));

    let o = run(t
        .bd(Some("alice"), Some(addr))
        .args(["action", "approve", id]));
    assert_eq!(code(&o), 4, "self-approval: {}", stderr(&o));
    assert!(stderr(&o).contains("alice proposed"), "{}", stderr(&o));

    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["action", "execute", id]));
    assert_eq!(code(&o), 4, "unapproved execute: {}", stderr(&o));
    assert!(agent.executions().is_empty());

    let o = run(t
        .bd(Some("mallory"), Some(addr))
        .args(["action", "approve", id]));
    assert_eq!(code(&o), 4, "unknown key: {}", stderr(&o));
    assert!(
        stderr(&o).contains("SHA256:"),
        "the fingerprint is named: {}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("PRIVATE KEY"));

    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["action", "approve", id]));
    assert_eq!(code(&o), 0, "bob approves: {}", stderr(&o));
    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["action", "approve", id]));
    assert_eq!(
        code(&o),
        4,
        "a second approval by the same person: {}",
        stderr(&o)
    );

    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["action", "execute", id]));
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    let s = show(&t, id);
    assert_eq!(s["state"], "done");
    assert_eq!(s["approvals"][0]["principal"], "bob");
    assert!(
        s["approvals"][0]["signature"]
            .as_str()
            .unwrap()
            .contains("BEGIN SSH SIGNATURE")
    );
    assert!(agent.is_isolated(ID));
    let key = a["hash"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    assert_eq!(agent.executions(), vec![(key, id.to_string())]);

    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["action", "execute", id]));
    assert_eq!(code(&o), 4, "executing twice: {}", stderr(&o));

    let o = run(t
        .bd(Some("alice"), Some(addr))
        .args(["action", "rollback", id]));
    assert_eq!(code(&o), 0, "rollback: {}", stderr(&o));
    assert_eq!(show(&t, id)["state"], "rolled_back");
    assert!(!agent.is_isolated(ID));
    let o = run(t
        .bd(Some("alice"), Some(addr))
        .args(["action", "rollback", id]));
    assert_eq!(code(&o), 4, "a terminal state never moves: {}", stderr(&o));
    assert_eq!(agent.executions().len(), 1);

    // Every step, refusals included, is in the audit log, with who.
    let o = run(t.bd(None, None).args(["audit", "export"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let log = String::from_utf8_lossy(&o.stdout);
    for kind in [
        "proposed",
        "refused",
        "approved",
        "intent",
        "executed",
        "rolled_back",
    ] {
        assert!(
            log.contains(&format!("\"{kind}\"")),
            "no {kind} record in\n{log}"
        );
    }
    assert!(log.contains("\"bob\"") && log.contains("\"alice\""));
    let o = run(t.bd(None, None).args(["audit", "verify"]));
    assert_eq!(code(&o), 0, "audit verify: {}", stderr(&o));
}

#[test]
fn a_kind_without_an_executor_is_refused_before_it_is_spent_and_no_key_is_a_usage_error() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let o = run(t.bd(Some("alice"), None).args([
        "action",
        "stage",
        "--identity",
        ID,
        "--kind",
        "aws.disable_access_key",
        "--reason",
        "x",
    ]));
    assert_eq!(code(&o), 2, "missing params: {}", stderr(&o));
    assert!(stderr(&o).contains("--param user=…"), "{}", stderr(&o));
    let o = run(t.bd(Some("alice"), None).args([
        "action",
        "stage",
        "--identity",
        ID,
        "--kind",
        "aws.disable_access_key",
        "--param",
        "user=ci",
        "--param",
        "access_key_id=AKIAEXAMPLE",
        "--reason",
        "x",
        "--format",
        "json",
    ]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let a = json(&o);
    let id = a["id"].as_str().unwrap();
    assert_eq!(a["reversible"], true);
    assert!(
        a["dry_run"]["impact"][0]
            .as_str()
            .unwrap()
            .contains("nothing here executes aws.disable_access_key")
    );
    let o = run(t.bd(None, None).args(["action", "approve", id]));
    assert_eq!(code(&o), 2, "no key: {}", stderr(&o));
    assert_eq!(
        code(&run(t
            .bd(Some("bob"), None)
            .args(["action", "approve", id]))),
        0
    );
    // Refused before it is spent: exit 2 naming what to configure, and still approved, so
    // it runs once an executor is configured, with no new stage and approval.
    let o = run(t.bd(Some("bob"), None).args(["action", "execute", id]));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("needs [providers.aws] in config.toml")
            && stderr(&o).contains("--agent URL"),
        "{}",
        stderr(&o)
    );
    let s = show(&t, id);
    assert_eq!(s["state"], "approved");
    assert!(s["error"].is_null(), "{s}");
}

#[test]
fn a_script_runs_verbs_and_stops_at_the_first_refusal_naming_the_line() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, agent) = agent(Duration::ZERO);
    let script = t.path("session.bd");
    std::fs::write(
        &script,
        format!(
            "# contain the stolen CI token\naction stage --identity {ID} --kind {ISOLATE} --reason \"stolen token\"\n\naction show $LAST\napprove $LAST   # by the proposer: refused\nexecute $LAST\n"
        ),
    )
    .unwrap();
    let o = run(t
        .bd(Some("alice"), Some(addr))
        .args(["run", "--script"])
        .arg(&script));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("session.bd:5:"), "{}", stderr(&o));
    assert!(agent.executions().is_empty());

    std::fs::write(&script, "action list\napprove $LAST\n").unwrap();
    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["run", "--script"])
        .arg(&script));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("session.bd:2: $LAST"), "{}", stderr(&o));

    let list = json(&run(t
        .bd(None, None)
        .args(["action", "list", "--format", "json"])));
    let id = list[0]["id"].as_str().unwrap().to_string();
    std::fs::write(
        &script,
        format!("show {id}\napprove $LAST\nexecute $LAST\n"),
    )
    .unwrap();
    let o = run(t
        .bd(Some("bob"), Some(addr))
        .args(["run", "--script"])
        .arg(&script));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(show(&t, &id)["state"], "done");
    assert_eq!(agent.executions().len(), 1);
}

#[test]
fn two_processes_share_one_queue_and_no_approval_is_lost() {
    let t = Team::new(&["alice", "bob", "carol"], &[], 2);
    let (addr, agent) = agent(Duration::ZERO);
    let a = stage(&t, "alice", Some(addr), ISOLATE);
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(a["required_approvals"], 2);
    // Another process sees it at once.
    let list = json(&run(t
        .bd(None, None)
        .args(["action", "list", "--format", "json"])));
    assert_eq!(list[0]["id"], id.as_str());
    // Two responders approve at the same moment, each in their own process.
    let mut kids: Vec<_> = ["bob", "carol"]
        .iter()
        .map(|w| {
            t.bd(Some(w), Some(addr))
                .args(["action", "approve", &id])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in &mut kids {
        assert!(k.wait().unwrap().success());
    }
    let s = show(&t, &id);
    assert_eq!(s["approvals"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(s["state"], "approved");
    // Two processes execute at once: one dispatch, one refusal.
    let kids: Vec<_> = ["bob", "carol"]
        .iter()
        .map(|w| {
            t.bd(Some(w), Some(addr))
                .args(["action", "execute", &id])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = kids
        .into_iter()
        .map(|k| code(&k.wait_with_output().unwrap()))
        .collect();
    assert!(codes.contains(&0), "{codes:?}");
    assert_eq!(show(&t, &id)["state"], "done");
    assert_eq!(agent.executions().len(), 1);
}

#[test]
fn an_agents_event_stream_registers_it_and_suggest_puts_what_runs_and_undoes_first() {
    const USER: &str = "aws:arn:aws:iam::123456789012:user/ci-bot";
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, agent) = agent(Duration::ZERO);
    // The identity is known from a trail; the agent only from its event stream.
    let trail = t.path("trail.json");
    std::fs::write(
        &trail,
        serde_json::json!({"Records": [{"eventVersion": "1.08", "eventTime": "2026-11-26T03:00:00Z",
            "eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/ci-bot",
                "accountId": "123456789012", "accessKeyId": "AKIAEXAMPLESUGGEST01", "userName": "ci-bot"},
            "recipientAccountId": "123456789012"}]})
        .to_string(),
    )
    .unwrap();
    let src = format!("http://{addr}/v1/events");
    let with_sources = |c: &mut std::process::Command| {
        c.args(["--source", trail.to_str().unwrap(), "--source", &src]);
    };
    let mut c = t.bd(None, None);
    with_sources(&mut c);
    let o = run(c.args([
        "action",
        "suggest",
        "--identity",
        USER,
        "--live-for",
        "0.3",
        "--format",
        "json",
    ]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = json(&o);
    let kinds: Vec<&str> = s
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            ISOLATE,
            "aws.disable_access_key",
            "aws.deny_all",
            "agent.revoke_token",
            "aws.delete_access_key"
        ],
        "{s:#}"
    );
    assert_eq!(
        (&s[0]["executable"], &s[0]["reversible"]),
        (&serde_json::json!(true), &serde_json::json!(true))
    );
    assert_eq!(s[1]["params"]["access_key_id"], "AKIAEXAMPLESUGGEST01");
    assert_eq!(s[1]["executable"], false);
    assert!(
        s[1]["why_not"]
            .as_str()
            .unwrap()
            .contains("[providers.aws]"),
        "{s:#}"
    );
    // Executed through the agent known only by its stream.
    let mut c = t.bd(Some("alice"), None);
    with_sources(&mut c);
    let o = run(c.args(stage_args(USER, ISOLATE)));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    for verb in ["approve", "execute"] {
        let mut c = t.bd(Some("bob"), None);
        with_sources(&mut c);
        let o = run(c.args(["action", verb, &id]));
        assert_eq!(code(&o), 0, "{verb}: {}", stderr(&o));
    }
    assert_eq!(show(&t, &id)["state"], "done");
    assert_eq!(agent.executions().len(), 1);
}
