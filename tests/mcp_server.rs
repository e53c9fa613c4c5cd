//! `blastdoor mcp`: AI agents look and propose, never act. Driven over stdio with raw JSON-RPC
//! (as any MCP client speaks it) and over streamable HTTP with the official `rmcp` client.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

mod common;
use common::{KillOnDrop, bd_in as bd, free_port};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn policy(dir: &Path, extra: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("allowed_signers"), "").unwrap();
    let p = dir.join("policy.toml");
    std::fs::write(
        &p,
        format!(
            "allowed_signers = \"allowed_signers\"\napproval_ttl = \"15m\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n{extra}"
        ),
    )
    .unwrap();
    p
}

fn proposal(n: usize) -> Value {
    json!({
        "identity": "aws:arn:aws:iam::123456789012:user/ci-bot",
        "kind": "aws.disable_access_key",
        "params": {"user": "ci-bot", "access_key_id": format!("AKIAEXAMPLEKEY{n:06}")},
        "reason": "key used from a new ASN at 03:00",
        "evidence": ["ListUsers from 203.0.113.9"],
    })
}

/// One stdio session: initialize as `client`, list tools, then call each tool; returns the
/// answers by request id.
fn session(
    dir: &Path,
    client: &str,
    calls: &[(&str, Value)],
) -> std::collections::HashMap<i64, Value> {
    let mut child = bd(dir)
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--policy")
        .arg(dir.join("policy.toml"))
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut msgs = vec![
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":client,"version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
    ];
    for (i, (name, args)) in calls.iter().enumerate() {
        msgs.push(json!({"jsonrpc":"2.0","id":10 + i,"method":"tools/call","params":{"name":name,"arguments":args}}));
    }
    {
        let mut stdin = child.stdin.take().unwrap();
        for m in &msgs {
            writeln!(stdin, "{m}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["id"].as_i64().map(|id| (id, v)))
        .collect()
}

fn audit_export(dir: &Path) -> String {
    let out = bd(dir)
        .arg("--state")
        .arg(dir.join("state"))
        .args(["audit", "export"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn is_refusal(v: &Value) -> bool {
    v.get("error").is_some() || v["result"]["isError"] == json!(true)
}

fn queue(dir: &Path) -> Vec<Value> {
    let out = bd(dir)
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--policy")
        .arg(dir.join("policy.toml"))
        .args(["action", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn tools_are_read_only_except_one_proposal_tool() {
    let dir = tempfile::tempdir().unwrap();
    policy(dir.path(), "[agents.triage-bot]\nmay = \"propose\"\n");
    let r = session(dir.path(), "triage-bot", &[]);
    let tools = r[&2]["result"]["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in [
        "list_identities",
        "explain_identity",
        "recent_events",
        "list_actions",
        "propose_containment",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for t in &tools {
        let name = t["name"].as_str().unwrap();
        assert!(
            ![
                "approve", "execute", "rollback", "revoke", "disable", "deny"
            ]
            .iter()
            .any(|w| name.contains(w)),
            "an acting tool is exposed: {name}"
        );
        let read_only = t["annotations"]["readOnlyHint"] == json!(true);
        assert_eq!(
            read_only,
            name != "propose_containment",
            "{name}'s readOnlyHint is wrong"
        );
    }
}

#[test]
fn a_named_agent_proposal_lands_staged_and_an_unnamed_agent_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    policy(dir.path(), "[agents.triage-bot]\nmay = \"propose\"\n");
    let r = session(
        dir.path(),
        "triage-bot",
        &[("propose_containment", proposal(1))],
    );
    let res = &r[&10];
    assert!(!is_refusal(res), "the named agent was refused: {res}");
    let body = &res["result"]["structuredContent"];
    assert_eq!(body["state"], "staged");
    assert_eq!(body["pending_approval"], true);
    let id = body["id"].as_str().unwrap().to_string();

    let r = session(
        dir.path(),
        "rogue-bot",
        &[("propose_containment", proposal(2))],
    );
    assert!(
        is_refusal(&r[&10]),
        "an agent the policy does not name could propose: {}",
        r[&10]
    );

    let q = queue(dir.path());
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["id"], id.as_str());
    assert_eq!(q[0]["state"], "staged");
    assert_eq!(q[0]["proposed_by"]["via"], "mcp");
    assert_eq!(q[0]["proposed_by"]["agent"], "triage-bot");
    assert_eq!(q[0]["reason"], "key used from a new ASN at 03:00");

    // Both the proposal and the refusal are in the audit log, with the agents' names.
    let audit = audit_export(dir.path());
    assert!(
        audit.contains("agent:triage-bot") && audit.contains("agent:rogue-bot"),
        "{audit}"
    );
}

/// Every string in `v` is inert: nothing a `jq -r` or a terminal would act on.
fn all_inert(v: &Value) -> bool {
    match v {
        Value::String(s) => s.chars().all(blastdoor::core::text::is_inert),
        Value::Array(a) => a.iter().all(all_inert),
        Value::Object(m) => m.values().all(all_inert),
        _ => true,
    }
}

#[test]
fn a_hostile_proposal_and_agent_name_are_made_inert_in_the_queue_the_log_and_the_answers() {
    let hostile = "stolen\x1b]52;c;cm0gLXJm\x07\x1b[2J\u{202e}\u{9b}\u{e0041}";
    let dir = tempfile::tempdir().unwrap();
    policy(dir.path(), "[agents.triage-bot]\nmay = \"propose\"\n");
    let mut p = proposal(1);
    p["reason"] = json!(hostile);
    p["evidence"] = json!([hostile]);
    p["params"]["note"] = json!(hostile);
    let r = session(dir.path(), "triage-bot", &[("propose_containment", p)]);
    assert!(!is_refusal(&r[&10]), "{}", r[&10]);
    // (Calls of one session run at once: the list comes in a session of its own.)
    let r = session(dir.path(), "triage-bot", &[("list_actions", json!({}))]);
    let listed = &r[&10]["result"]["structuredContent"];
    assert!(
        listed["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("stolen\\u{1b}]52;"),
        "{listed}"
    );
    assert!(all_inert(listed), "{listed}");
    // An agent named with escapes is refused, and named inertly in the log.
    let r = session(
        dir.path(),
        &format!("bot{hostile}"),
        &[("propose_containment", proposal(2))],
    );
    assert!(is_refusal(&r[&10]) && all_inert(&r[&10]), "{}", r[&10]);
    let q = queue(dir.path());
    assert!(all_inert(&json!(q)), "{q:?}");
    let audit = audit_export(dir.path());
    assert!(
        audit
            .chars()
            .all(|c| c == '\n' || blastdoor::core::text::is_inert(c)),
        "{audit}"
    );
    for line in audit.lines() {
        assert!(all_inert(&serde_json::from_str(line).unwrap()), "{line}");
    }
}

#[test]
fn a_looping_agent_hits_its_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    policy(
        dir.path(),
        "[agents.loopy]\nmay = \"propose\"\nrate_per_minute = 3\n",
    );
    let calls: Vec<(&str, Value)> = (0..5)
        .map(|i| ("propose_containment", proposal(i)))
        .collect();
    let r = session(dir.path(), "loopy", &calls);
    // MCP calls may be served concurrently, so which ones pass is not fixed; how many is.
    let refused: Vec<i64> = (10..15).filter(|id| is_refusal(&r[id])).collect();
    assert_eq!(refused.len(), 2, "{r:?}");
    for id in refused {
        assert!(
            r[&id]["result"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("last minute")
        );
    }
    assert_eq!(queue(dir.path()).len(), 3);
}

#[test]
fn streamable_http_with_the_rmcp_client() {
    use rmcp::ServiceExt;
    use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let dir = tempfile::tempdir().unwrap();
    policy(
        dir.path(),
        "[agents.http-bot]\nmay = \"propose\"\ntoken_env = \"HTTP_BOT_TOKEN\"\n[agents.triage-bot]\nmay = \"propose\"\n",
    );
    // Without any agent token the HTTP listener refuses to start: nobody could authenticate.
    let o = bd(dir.path())
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--policy")
        .arg(dir.path().join("policy.toml"))
        .env_remove("HTTP_BOT_TOKEN")
        .args(["mcp", "--listen", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("HTTP_BOT_TOKEN"));
    let port = free_port();
    let child = bd(dir.path())
        .env("HTTP_BOT_TOKEN", "http-bot-secret-token")
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--policy")
        .arg(dir.path().join("policy.toml"))
        .args([
            "--source",
            "demo",
            "mcp",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mcp --listen never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let uri = format!("http://127.0.0.1:{port}/mcp");
        // A local process that gives an allowed agent's name but not its token is turned away.
        let poser = ClientConfig::new(ClientCapabilities::default(), Implementation::new("triage-bot", "1"));
        assert!(
            poser
                .clone()
                .serve(StreamableHttpClientTransport::from_uri(uri.clone()))
                .await
                .is_err(),
            "an MCP client without a token initialized over HTTP"
        );
        let wrong = StreamableHttpClientTransport::with_client(
            reqwest::Client::new(),
            StreamableHttpClientTransportConfig::with_uri(uri.clone()).auth_header("guess"),
        );
        assert!(poser.serve(wrong).await.is_err(), "a wrong token initialized");
        let transport = StreamableHttpClientTransport::with_client(
            reqwest::Client::new(),
            StreamableHttpClientTransportConfig::with_uri(uri).auth_header("http-bot-secret-token"),
        );
        // The name it gives does not matter: the token says it is http-bot.
        let info = ClientConfig::new(ClientCapabilities::default(), Implementation::new("triage-bot", "1"));
        let client = info.serve(transport).await.expect("initialize over HTTP");
        let tools = client.list_all_tools().await.unwrap();
        assert!(tools.iter().any(|t| t.name == "propose_containment"));
        // The demo is a live source: wait for the ranking to fill, then read it.
        let mut top = Value::Null;
        for _ in 0..50 {
            let r = client
                .call_tool(CallToolRequestParams::new("list_identities").with_arguments(
                    serde_json::from_value(json!({"top": 5})).unwrap(),
                ))
                .await
                .unwrap();
            top = r.structured_content.clone().unwrap_or_default();
            if top["identities"].as_array().is_some_and(|a| a.len() == 5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let first = top["identities"][0]["identity"].as_str().expect("ranked identities").to_string();
        let r = client
            .call_tool(CallToolRequestParams::new("explain_identity").with_arguments(
                serde_json::from_value(json!({"identity": first})).unwrap(),
            ))
            .await
            .unwrap();
        assert_ne!(r.is_error, Some(true));
        assert!(r.structured_content.unwrap()["identity"]["why"].as_array().is_some());
        let r = client
            .call_tool(CallToolRequestParams::new("propose_containment").with_arguments(
                serde_json::from_value(json!({"identity": first, "kind": "agent.isolate_workload", "reason": "looks stolen"}))
                    .unwrap(),
            ))
            .await
            .unwrap();
        assert_ne!(r.is_error, Some(true), "{r:?}");
        assert_eq!(r.structured_content.unwrap()["state"], "staged");
        let _ = client.cancel().await;
    });
    let q = queue(dir.path());
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["proposed_by"]["via"], "mcp");
    assert_eq!(
        q[0]["proposed_by"]["agent"], "http-bot",
        "the token's agent, not the name given"
    );
}
