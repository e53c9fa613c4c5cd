//! Providers that echo the credentials they are sent (a hostile or broken Vault that puts the
//! token in its answers and errors; an IAM endpoint that quotes the session token in its
//! errors), driven through the real binary with `BLASTDOOR_LOG=trace`: neither the Vault token
//! nor the AWS secret key or session token appears in anything blastdoor writes: stdout,
//! stderr (where the trace log goes), the state database, the audit export.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::*;
use serde_json::json;

/// Neither shape the redactor knows: only remembering the exact secrets catches them.
const VAULT_TOKEN: &str = "bd-echo-vault-5f2c9a7e13d84b60";
const AWS_SECRET: &str = "bd-echo-aws-secret-8e1f0c7b2a9d4e63";
const AWS_SESSION: &str = "bd-echo-aws-session-3b7d9e1f5a2c8046";

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A Vault that finds every accessor, echoes the token it was sent in the lookup (as `id`,
/// inside `display_name`, in `meta` and under a field of its own), and refuses to revoke with
/// an error quoting it.
async fn echoing_vault(uri: axum::http::Uri, headers: HeaderMap) -> axum::response::Response {
    let token = header(&headers, "x-vault-token");
    match uri.path() {
        "/v1/auth/token/lookup-accessor" => (
            StatusCode::OK,
            axum::Json(json!({"data": {
                "accessor": "acc-1", "id": token, "display_name": format!("token-{token}"),
                "meta": {"echo": token}, "echo": token, "policies": ["default"],
                "entity_id": "e-1", "expire_time": null, "path": "auth/token/create",
            }})),
        )
            .into_response(),
        _ => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"errors": [format!("permission denied for token {token}")]})),
        )
            .into_response(),
    }
}

/// An IAM query endpoint that denies everything, quoting the session token it was sent.
async fn echoing_iam(headers: HeaderMap) -> axum::response::Response {
    let session = header(&headers, "x-amz-security-token");
    let auth = header(&headers, "authorization");
    (
        StatusCode::FORBIDDEN,
        [("content-type", "text/xml")],
        format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized with session token {session} ({auth})</Message></Error><RequestId>1</RequestId></ErrorResponse>"
        ),
    )
        .into_response()
}

/// Both fakes on loopback, on a runtime of their own for as long as the test lives.
fn fakes() -> (SocketAddr, SocketAddr) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let v = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let i = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((v.local_addr().unwrap(), i.local_addr().unwrap()))
                .unwrap();
            let vault = axum::Router::new().fallback(echoing_vault);
            let iam = axum::Router::new().fallback(echoing_iam);
            tokio::spawn(async move { axum::serve(v, vault).await });
            let _ = axum::serve(i, iam).await;
        });
    });
    rx.recv().unwrap()
}

struct Env {
    team: Team,
    cfg: std::path::PathBuf,
    written: Vec<u8>,
}

impl Env {
    fn bd(&self, who: Option<&str>) -> Command {
        let mut c = self.team.bd(who, None);
        c.arg("--config")
            .arg(&self.cfg)
            .env("BLASTDOOR_LOG", "trace")
            .env("VAULT_TOKEN", VAULT_TOKEN)
            .env("AWS_ACCESS_KEY_ID", "ASIAIOSFODNN7EXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
            .env("AWS_SESSION_TOKEN", AWS_SESSION)
            .env_remove("AWS_PROFILE");
        c
    }

    /// Run, keep everything it wrote.
    fn run(&mut self, who: Option<&str>, args: &[&str]) -> Output {
        let o = run(self.bd(who).args(args));
        self.written.extend(&o.stdout);
        self.written.extend(&o.stderr);
        o
    }

    fn stage(&mut self, identity: &str, kind: &str, params: &[&str]) -> String {
        let mut args = stage_args(identity, kind);
        for p in params {
            args.extend(["--param".to_string(), p.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.run(Some("alice"), &args);
        assert_eq!(code(&o), 0, "stage {kind}: {}", stderr(&o));
        let id = json(&o)["id"].as_str().unwrap().to_string();
        let o = self.run(Some("bob"), &["action", "approve", &id]);
        assert_eq!(code(&o), 0, "approve: {}", stderr(&o));
        id
    }
}

#[test]
fn secrets_echoed_by_providers_are_never_stored_shown_or_logged() {
    let (vault, iam) = fakes();
    let team = Team::new(&["alice", "bob"], &[], 1);
    let cfg = team.path("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[providers.vault]\naddr = \"http://{vault}\"\n[providers.aws]\nregion = \"us-east-1\"\nendpoint_url = \"http://{iam}\"\n"
        ),
    )
    .unwrap();
    let mut e = Env {
        team,
        cfg,
        written: Vec::new(),
    };
    let revoke = e.stage(
        "vault:accessor:acc-1",
        "vault.revoke_accessor",
        &["accessor=acc-1"],
    );
    let disable = e.stage(
        "aws:arn:aws:iam::123456789012:user/ci-bot",
        "aws.disable_access_key",
        &["user=ci-bot", "access_key_id=AKIAIOSFODNN7EXAMPLE"],
    );
    for id in [&revoke, &disable] {
        let o = e.run(Some("bob"), &["action", "execute", id]);
        assert_ne!(code(&o), 0, "the fakes refuse: {}", stderr(&o));
    }
    // The echo reached blastdoor: the trace log saw the requests, the errors were kept.
    let shown = e.run(None, &["action", "show", &revoke, "--format", "json"]);
    let a = json(&shown);
    assert_eq!(a["state"], "failed", "{a}");
    assert!(
        a["error"]
            .as_str()
            .unwrap()
            .contains("permission denied for token <redacted sha256:"),
        "{a}"
    );
    assert_eq!(a["dry_run"]["before"]["token"]["entity_id"], "e-1", "{a}");
    for args in [
        vec!["action", "show", disable.as_str(), "--format", "table"],
        vec!["action", "list", "--format", "json"],
        vec!["audit", "tail", "--format", "json"],
        vec!["audit", "export"],
    ] {
        let o = e.run(None, &args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    let log = String::from_utf8_lossy(&e.written).into_owned();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log was on: {}",
        &log[..log.len().min(2000)]
    );
    let mut state = Vec::new();
    for entry in std::fs::read_dir(e.team.state()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            state.extend(std::fs::read(&p).unwrap());
        }
    }
    let state = String::from_utf8_lossy(&state).into_owned();
    for secret in [VAULT_TOKEN, AWS_SECRET, AWS_SESSION] {
        assert!(
            !log.contains(secret),
            "{secret} was printed: …{}…",
            around(&log, secret)
        );
        assert!(!state.contains(secret), "{secret} is in the state");
    }
}

fn around(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or(0);
    text[i..].chars().take(300).collect()
}
