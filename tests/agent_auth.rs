//! Every door of the agent is locked, and the agent checks approvals itself: callers without the
//! token (or a client certificate) get 401, an action whose approvals do not verify against the
//! agent's own policy gets 403 naming what is missing, a forged post under a real action's key
//! cannot take it, a rollback needs a responder's signature, and the console reaches a guarded
//! agent through `[endpoints.NAME]` and closes the loop.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use blastdoor::agent::AgentState;
use blastdoor::agent::guard::{Access, Verifier};
use blastdoor::core::policy::Policy;
use common::*;
use serde_json::{Value, json};

const ID: &str = "ci:github:acme/deploy";
const TOKEN: &str = "bd-agent-test-token-0123456789";

/// A reference agent that needs `TOKEN` and checks approvals against the team's policy.
fn guarded_agent(t: &Team) -> (SocketAddr, Arc<AgentState>) {
    let state = Arc::new(AgentState::new("guarded").with_reference_actions());
    let policy = Policy::load(&t.path("policy.toml")).unwrap();
    state.guard(
        Access::new(Some(TOKEN.into()), false),
        Some(Verifier::new(policy).unwrap()),
    );
    (serve_agent(state.clone(), None), state)
}

/// config.toml with an `[endpoints.agent]` section for `url`, the token in `AGENT_TOKEN`.
fn endpoint_config(t: &Team, url: &str, extra: &str) -> std::path::PathBuf {
    let p = t.path("config.toml");
    std::fs::write(
        &p,
        format!("[endpoints.agent]\nurl = \"{url}\"\ntoken_env = \"AGENT_TOKEN\"\n{extra}"),
    )
    .unwrap();
    p
}

fn bd_via(
    t: &Team,
    who: Option<&str>,
    agent: SocketAddr,
    config: &std::path::Path,
) -> std::process::Command {
    let mut c = t.bd(who, Some(agent));
    c.arg("--config").arg(config).env("AGENT_TOKEN", TOKEN);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_health_needs_the_token() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, agent) = guarded_agent(&t);
    let c = reqwest::Client::new();
    let base = format!("http://{addr}");
    assert_eq!(
        c.get(format!("{base}/v1/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for (method, path) in [
        ("GET", "/v1/events"),
        ("GET", "/v1/inventory"),
        ("POST", "/v1/actions"),
        ("POST", "/v1/plan"),
        ("GET", "/v1/actions/00"),
        ("POST", "/v1/actions/00/rollback"),
    ] {
        for auth in [None, Some("Bearer wrong-token"), Some(TOKEN)] {
            let mut r = c.request(method.parse().unwrap(), format!("{base}{path}"));
            if let Some(a) = auth {
                r = r.header("Authorization", a);
            }
            let s = r.send().await.unwrap().status();
            assert_eq!(s, 401, "{method} {path} with {auth:?}");
        }
    }
    let ok = c
        .get(format!("{base}/v1/inventory"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        agent.action_requests(),
        0,
        "no unauthenticated post got through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_whose_approvals_do_not_verify_at_the_agent_is_refused_with_403() {
    let t = Team::new(&["alice", "bob"], &["mallory"], 1);
    let (addr, agent) = guarded_agent(&t);
    let c = reqwest::Client::new();
    let post = async |key: &str, body: &Value| {
        c.post(format!("http://{addr}/v1/actions"))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    };
    // A bare request with no approvals: 403 naming what is missing.
    let r = post(
        "sha256:00",
        &json!({"kind": "agent.isolate_workload", "target": {}, "params": {}, "approvals": []}),
    )
    .await;
    assert_eq!(r.status(), 403);
    let why: Value = r.json().await.unwrap();
    assert!(why["error"].as_str().unwrap().contains("lacks"), "{why}");

    // A staged action, approved only by the proposer and a stranger, posted whole.
    let config = endpoint_config(&t, &format!("http://{addr}"), "");
    let o = run(
        bd_via(&t, Some("alice"), addr, &config).args(stage_args(ID, "agent.isolate_workload"))
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut a = json(&o);
    let key = a["hash"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let r = post(&key, &a).await;
    assert_eq!(r.status(), 403, "unapproved");
    let why: Value = r.json().await.unwrap();
    assert!(
        why["error"]
            .as_str()
            .unwrap()
            .contains("needs 1 verified approval"),
        "{why}"
    );
    // A forged post under the real key: other content, or garbage signatures, never takes it.
    let mut forged = a.clone();
    forged["identity"] = "aws:arn:aws:iam::1:user/innocent-admin".into();
    assert_eq!(post(&key, &forged).await.status(), 403);
    a["approvals"] = json!([{"principal": "bob", "at": a["created_at"], "hash": a["hash"],
        "signature": "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"}]);
    assert_eq!(post(&key, &a).await.status(), 403);
    assert!(agent.executions().is_empty(), "nothing was carried out");

    // The genuine approval goes through the console, and the agent executes it once.
    let id = a["id"].as_str().unwrap();
    let o = run(bd_via(&t, Some("bob"), addr, &config).args(["action", "approve", id]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(bd_via(&t, Some("bob"), addr, &config).args(["action", "execute", id]));
    assert_eq!(
        code(&o),
        0,
        "execute through the guarded agent: {}",
        stderr(&o)
    );
    assert_eq!(agent.executions().len(), 1);
    assert!(agent.is_isolated(ID));

    // A rollback needs a responder's signature: the token alone is not enough.
    let r = c
        .post(format!("http://{addr}/v1/actions/{key}/rollback"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(agent.is_isolated(ID), "an unsigned rollback undid nothing");
    let o = run(bd_via(&t, Some("alice"), addr, &config).args(["action", "rollback", id]));
    assert_eq!(code(&o), 0, "signed rollback: {}", stderr(&o));
    assert!(!agent.is_isolated(ID));
}

#[test]
fn without_the_token_variable_the_console_says_what_to_set() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, _agent) = guarded_agent(&t);
    let config = endpoint_config(&t, &format!("http://{addr}"), "");
    let o = run(t
        .bd(Some("alice"), Some(addr))
        .arg("--config")
        .arg(&config)
        .env_remove("AGENT_TOKEN")
        .args(stage_args(ID, "agent.isolate_workload")));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[endpoints.agent] token_env") && stderr(&o).contains("AGENT_TOKEN"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_agent_with_neither_token_nor_tls_refuses_to_listen_beyond_loopback() {
    let port = free_port();
    let o = run(bd().args(["agent", "--demo", "--listen", &format!("0.0.0.0:{port}")]));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--token-env"), "{}", stderr(&o));
    let o = run(bd().env_remove("BD_UNSET_TOKEN_VAR").args([
        "agent",
        "--listen",
        "127.0.0.1:0",
        "--token-env",
        "BD_UNSET_TOKEN_VAR",
    ]));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("BD_UNSET_TOKEN_VAR"), "{}", stderr(&o));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
fn pki(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let write = |name: &str, pem: String| std::fs::write(dir.join(name), pem).unwrap();
    write("ca.pem", ca_cert.pem());
    for (name, sans) in [
        ("server", vec!["127.0.0.1".to_string()]),
        ("client", vec!["responder".to_string()]),
    ] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        write(&format!("{name}.pem"), cert.pem());
        write(&format!("{name}.key"), key.serialize_pem());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_admits_a_client_certificate_and_the_console_uses_it() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    pki(t.dir.path());
    let files = blastdoor::agent::tls::TlsFiles {
        cert: t.path("server.pem"),
        key: t.path("server.key"),
        client_ca: Some(t.path("ca.pem")),
    };
    let state = Arc::new(AgentState::new("mtls").with_reference_actions());
    state.guard(Access::new(None, true), None);
    let addr = serve_agent(
        state.clone(),
        Some(blastdoor::agent::tls::server_config(&files).unwrap()),
    );
    let base = format!("https://{addr}");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(t.path("ca.pem")).unwrap()).unwrap();
    let anonymous = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .build()
        .unwrap();
    assert_eq!(
        anonymous
            .get(format!("{base}/v1/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        anonymous
            .get(format!("{base}/v1/inventory"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let config = t.path("config.toml");
    std::fs::write(
        &config,
        format!("[endpoints.agent]\nurl = \"{base}\"\nca = \"ca.pem\"\ncert = \"client.pem\"\nkey = \"client.key\"\n"),
    )
    .unwrap();
    let bd = |who: &str| {
        let mut c = t.bd(Some(who), None);
        c.arg("--config").arg(&config).arg("--agent").arg(&base);
        c
    };
    let o = run(bd("alice").args(stage_args(ID, "agent.isolate_workload")));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    assert_eq!(code(&run(bd("bob").args(["action", "approve", &id]))), 0);
    let o = run(bd("bob").args(["action", "execute", &id]));
    assert_eq!(code(&o), 0, "execute over mutual TLS: {}", stderr(&o));
    assert!(state.is_isolated(ID));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_done_at_the_agent_shows_in_the_queue_and_the_audit_log() {
    let t = Team::new(&["alice", "bob"], &[], 1);
    let (addr, agent) = guarded_agent(&t);
    let config = endpoint_config(&t, &format!("http://{addr}"), "");
    let o = run(
        bd_via(&t, Some("alice"), addr, &config).args(stage_args(ID, "agent.isolate_workload"))
    );
    let a = json(&o);
    let id = a["id"].as_str().unwrap();
    for (who, verb) in [("bob", "approve"), ("bob", "execute")] {
        let o = run(bd_via(&t, Some(who), addr, &config).args(["action", verb, id]));
        assert_eq!(code(&o), 0, "{verb}: {}", stderr(&o));
    }
    // Bob undoes it at the agent directly, with his signature, not through blastdoor.
    let bob = blastdoor::auth::Signer::from_file(&t.path("bob")).unwrap();
    let hash = a["hash"].as_str().unwrap();
    let sig = bob
        .sign(blastdoor::auth::approval::rollback_message(hash).as_bytes())
        .unwrap();
    let key = hash.trim_start_matches("sha256:");
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/v1/actions/{key}/rollback"))
        .bearer_auth(TOKEN)
        .json(&json!({"signature": sig}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert!(!agent.is_isolated(ID));
    let o = run(bd_via(&t, None, addr, &config).args(["action", "show", id, "--format", "json"]));
    assert_eq!(
        json(&o)["state"],
        "rolled_back",
        "the queue shows the agent's rollback"
    );
    let o = run(bd_via(&t, None, addr, &config).args(["audit", "tail", "--format", "ndjson"]));
    let tail = String::from_utf8_lossy(&o.stdout).to_string();
    let rec: Value = tail
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["kind"] == "rolled_back")
        .expect("an audit record of the rollback");
    assert_eq!(rec["detail"]["reported_by"], format!("http://{addr}"));
}
