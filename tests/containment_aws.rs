//! `aws.*` containment through the real binary against a real IAM API (moto server on loopback,
//! started by scripts/test and found through BLASTDOOR_TEST_MOTO): each kind staged, approved by a
//! second responder, executed and (where it can be) rolled back, and IAM read back through the
//! SDK after each step. Also: a missing target and an unreachable endpoint end `failed` with a
//! message that names them.

mod common;

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_iam::Client;
use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use common::*;
use serde_json::Value;

const HOW: &str = "start moto (python3 -m venv v && v/bin/pip install 'moto[server]' && \
                   v/bin/moto_server -H 127.0.0.1 -p 5000) and set \
                   BLASTDOOR_TEST_MOTO=http://127.0.0.1:5000, or run scripts/test, which does both";

/// The moto server's URL; `None` (skip) when there is none, a failure under CI=true.
fn moto() -> Option<String> {
    test_server("BLASTDOOR_TEST_MOTO", HOW)
}

fn iam(url: &str) -> Client {
    Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    )
}

/// moto checks callers' IAM policies only while "auth" is on, and that switch is server-wide:
/// the one test that turns it on holds this lock for writing, every other test for reading.
static AUTH: std::sync::LazyLock<tokio::sync::RwLock<()>> =
    std::sync::LazyLock::new(|| tokio::sync::RwLock::new(()));

/// While alive, moto enforces IAM policies on every request (`/moto-api/reset-auth`); dropped,
/// it stops, even when the test panics.
struct Enforcing(String);

impl Enforcing {
    async fn on(url: &str) -> Enforcing {
        reset_auth(url, "0").await;
        Enforcing(url.to_string())
    }
}

impl Drop for Enforcing {
    fn drop(&mut self) {
        let url = self.0.clone();
        // Drop cannot await: a thread of its own, with its own runtime, and wait for it.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(reset_auth(&url, "inf"))
        })
        .join()
        .unwrap();
    }
}

async fn reset_auth(url: &str, count: &str) {
    let r = reqwest::Client::new()
        .post(format!("{url}/moto-api/reset-auth"))
        .body(count.to_string())
        .send()
        .await
        .expect("moto's reset-auth endpoint");
    assert!(r.status().is_success(), "moto reset-auth: {}", r.status());
}

struct Env {
    team: Team,
    cfg: PathBuf,
}

impl Env {
    fn new(endpoint: &str) -> Env {
        let team = Team::new(&["alice", "bob"], &[], 1);
        let cfg = team.path("config.toml");
        std::fs::write(
            &cfg,
            format!("[providers.aws]\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n"),
        )
        .unwrap();
        Env { team, cfg }
    }

    fn bd(&self, who: Option<&str>) -> Command {
        self.bd_as(who, ("testing", "testing-secret-never-shown"))
    }

    /// As `bd`, with these AWS credentials (access key id, secret).
    fn bd_as(&self, who: Option<&str>, (key, secret): (&str, &str)) -> Command {
        let mut c = self.team.bd(who, None);
        c.arg("--config").arg(&self.cfg);
        c.env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        c
    }

    /// Stage as alice, approve as bob; the staged action's JSON.
    fn staged(&self, identity: &str, kind: &str, params: &[(&str, &str)]) -> Value {
        let mut c = self.bd(Some("alice"));
        c.args(stage_args(identity, kind));
        for (k, v) in params {
            c.arg("--param").arg(format!("{k}={v}"));
        }
        let o = run(&mut c);
        assert_eq!(code(&o), 0, "stage {kind}: {}", stderr(&o));
        let a = json(&o);
        let id = a["id"].as_str().unwrap();
        let o = run(self.bd(Some("bob")).args(["action", "approve", id]));
        assert_eq!(code(&o), 0, "approve: {}", stderr(&o));
        a
    }

    fn verb(&self, verb: &str, id: &str) -> std::process::Output {
        let o = run(self.bd(Some("bob")).args(["action", verb, id]));
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("testing-secret-never-shown")
                && !stderr(&o).contains("testing-secret-never-shown"),
            "the secret access key was printed"
        );
        o
    }

    fn show(&self, id: &str) -> Value {
        let o = run(self
            .bd(None)
            .args(["action", "show", id, "--format", "json"]));
        assert_eq!(code(&o), 0, "show: {}", stderr(&o));
        json(&o)
    }
}

async fn user_with_key(c: &Client, user: &str) -> String {
    c.create_user().user_name(user).send().await.unwrap();
    let k = c.create_access_key().user_name(user).send().await.unwrap();
    k.access_key().unwrap().access_key_id().to_string()
}

async fn key_status(c: &Client, user: &str, key: &str) -> Option<String> {
    let out = c.list_access_keys().user_name(user).send().await.unwrap();
    out.access_key_metadata()
        .iter()
        .find(|k| k.access_key_id() == Some(key))
        .map(|k| k.status().unwrap().as_str().to_string())
}

async fn inline_policies(c: &Client, role: Option<&str>, user: Option<&str>) -> Vec<String> {
    match (role, user) {
        (Some(r), _) => c
            .list_role_policies()
            .role_name(r)
            .send()
            .await
            .unwrap()
            .policy_names()
            .to_vec(),
        (_, Some(u)) => c
            .list_user_policies()
            .user_name(u)
            .send()
            .await
            .unwrap()
            .policy_names()
            .to_vec(),
        _ => unreachable!(),
    }
}

fn decode(doc: &str) -> Value {
    let s = if doc.trim_start().starts_with('{') {
        doc.to_string()
    } else {
        urldecode(doc)
    };
    serde_json::from_str(&s).unwrap()
}

fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn create_role(c: &Client, role: &str) {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    c.create_role()
        .role_name(role)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_access_key_reads_inactive_in_iam_and_rollback_reactivates_it() {
    let Some(url) = moto() else { return };
    let _shared = AUTH.read().await;
    let c = iam(&url);
    let user = unique("ci-bot");
    let key = user_with_key(&c, &user).await;
    let e = Env::new(&url);
    let identity = format!("aws:arn:aws:iam::123456789012:user/{user}");
    let a = e.staged(
        &identity,
        "aws.disable_access_key",
        &[("user", &user), ("access_key_id", &key)],
    );
    // The plan read IAM: the key's current status and what it will become.
    assert_eq!(a["reversible"], true);
    assert_eq!(a["dry_run"]["before"]["status"], "Active", "{a}");
    let change = a["dry_run"]["changes"][0].as_str().unwrap();
    assert!(
        change.contains(&key) && change.contains("Active to Inactive"),
        "{change}"
    );
    assert_eq!(
        key_status(&c, &user, &key).await.as_deref(),
        Some("Active"),
        "staging acted"
    );

    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    assert_eq!(
        key_status(&c, &user, &key).await.as_deref(),
        Some("Inactive")
    );
    let s = e.show(id);
    assert_eq!(s["state"], "done");
    assert_eq!(s["outcome"]["status"], "Inactive", "outcome read back: {s}");

    let o = e.verb("rollback", id);
    assert_eq!(code(&o), 0, "rollback: {}", stderr(&o));
    assert_eq!(key_status(&c, &user, &key).await.as_deref(), Some("Active"));
    assert_eq!(e.show(id)["state"], "rolled_back");
}

#[tokio::test]
async fn deny_all_puts_one_deny_policy_on_the_user_and_rollback_removes_it() {
    let Some(url) = moto() else { return };
    let _shared = AUTH.read().await;
    let c = iam(&url);
    let user = unique("deployer");
    user_with_key(&c, &user).await;
    let e = Env::new(&url);
    // No param: the identity's ARN names the user.
    let a = e.staged(
        &format!("aws:arn:aws:iam::123456789012:user/{user}"),
        "aws.deny_all",
        &[],
    );
    assert!(
        a["dry_run"]["impact"][0]
            .as_str()
            .unwrap()
            .contains("every request by IAM user"),
        "{a}"
    );
    assert!(inline_policies(&c, None, Some(&user)).await.is_empty());
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    let names = inline_policies(&c, None, Some(&user)).await;
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("BlastdoorDenyAll-"), "{names:?}");
    let doc = c
        .get_user_policy()
        .user_name(&user)
        .policy_name(&names[0])
        .send()
        .await
        .unwrap();
    let doc = decode(doc.policy_document());
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert_eq!(doc["Statement"][0]["Action"], "*");

    let o = e.verb("rollback", id);
    assert_eq!(code(&o), 0, "rollback: {}", stderr(&o));
    assert!(inline_policies(&c, None, Some(&user)).await.is_empty());
}

#[tokio::test]
async fn revoking_role_sessions_denies_tokens_issued_before_now_until_rolled_back() {
    let Some(url) = moto() else { return };
    let _shared = AUTH.read().await;
    let c = iam(&url);
    let role = unique("build-role");
    create_role(&c, &role).await;
    let e = Env::new(&url);
    let a = e.staged(
        &format!("aws:arn:aws:iam::123456789012:role/{role}"),
        "aws.revoke_role_sessions",
        &[("role", &role)],
    );
    let undo = a["dry_run"]["undo"].as_str().unwrap();
    assert!(undo.contains("become valid again"), "{undo}");
    let id = a["id"].as_str().unwrap();
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    let doc = c
        .get_role_policy()
        .role_name(&role)
        .policy_name("AWSRevokeOlderSessions")
        .send()
        .await
        .unwrap();
    let doc = decode(doc.policy_document());
    let st = &doc["Statement"][0];
    assert_eq!(st["Effect"], "Deny");
    let at = st["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
    assert!(
        at >= before && at <= chrono::Utc::now() + chrono::Duration::seconds(2),
        "{at}"
    );

    // Executing again under the same key does not act twice (the action is done: refused).
    let o = e.verb("execute", id);
    assert_ne!(code(&o), 0);

    let o = e.verb("rollback", id);
    assert_eq!(code(&o), 0, "rollback: {}", stderr(&o));
    assert!(inline_policies(&c, Some(&role), None).await.is_empty());
}

#[tokio::test]
async fn deleting_an_access_key_removes_it_and_cannot_be_rolled_back() {
    let Some(url) = moto() else { return };
    let _shared = AUTH.read().await;
    let c = iam(&url);
    let user = unique("old-bot");
    let key = user_with_key(&c, &user).await;
    let e = Env::new(&url);
    let a = e.staged(
        &format!("aws:arn:aws:iam::123456789012:user/{user}"),
        "aws.delete_access_key",
        &[("user", &user), ("access_key_id", &key)],
    );
    assert_eq!(a["reversible"], false);
    assert!(a["dry_run"]["undo"].as_str().unwrap().starts_with("none"));
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 0, "execute: {}", stderr(&o));
    assert_eq!(
        key_status(&c, &user, &key).await,
        None,
        "the key is still listed"
    );
    let o = e.verb("rollback", id);
    assert_ne!(code(&o), 0, "rollback of a deletion succeeded");
}

#[tokio::test]
async fn a_missing_user_fails_the_action_naming_it() {
    let Some(url) = moto() else { return };
    let _shared = AUTH.read().await;
    let e = Env::new(&url);
    let user = unique("nobody");
    let a = e.staged(
        &format!("aws:arn:aws:iam::123456789012:user/{user}"),
        "aws.disable_access_key",
        &[("user", &user), ("access_key_id", "AKIAEXAMPLE000000000")],
    );
    // The plan already says so.
    let impact = a["dry_run"]["impact"].to_string();
    assert!(impact.contains(&user), "{impact}");
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("IAM user {user} does not exist")),
        "{}",
        stderr(&o)
    );
    let s = e.show(id);
    assert_eq!(s["state"], "failed");
    assert!(s["error"].as_str().unwrap().contains("NoSuchEntity"), "{s}");
}

#[test]
fn an_unreachable_endpoint_fails_the_action_naming_it_and_its_config_key() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let e = Env::new(&endpoint);
    let a = e.staged(
        "aws:arn:aws:iam::123456789012:user/ci-bot",
        "aws.disable_access_key",
        &[
            ("user", "ci-bot"),
            ("access_key_id", "AKIAEXAMPLE000000000"),
        ],
    );
    let impact = a["dry_run"]["impact"][0].as_str().unwrap();
    assert!(
        impact.contains("plan unavailable") && impact.contains(&endpoint),
        "{impact}"
    );
    let id = a["id"].as_str().unwrap();
    let o = e.verb("execute", id);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&endpoint), "{err}");
    assert!(err.contains("[providers.aws] endpoint_url"), "{err}");
    assert_eq!(e.show(id)["state"], "failed");
}

#[tokio::test]
async fn credentials_without_the_permission_fail_the_action_naming_it_and_change_nothing() {
    let Some(url) = moto() else { return };
    let _alone = AUTH.write().await;
    let c = iam(&url);
    let user = unique("ci-bot");
    let key = user_with_key(&c, &user).await;
    // A responder whose AWS credentials may read keys but not change them.
    let responder = unique("responder");
    c.create_user().user_name(&responder).send().await.unwrap();
    c.put_user_policy()
        .user_name(&responder)
        .policy_name("read-only-keys")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListAccessKeys","iam:GetUser","iam:GetAccessKeyLastUsed"],"Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let made = c
        .create_access_key()
        .user_name(&responder)
        .send()
        .await
        .unwrap();
    let k = made.access_key().unwrap();
    let (rkey, rsecret) = (
        k.access_key_id().to_string(),
        k.secret_access_key().to_string(),
    );

    let e = Env::new(&url);
    let a = e.staged(
        &format!("aws:arn:aws:iam::123456789012:user/{user}"),
        "aws.disable_access_key",
        &[("user", &user), ("access_key_id", &key)],
    );
    let id = a["id"].as_str().unwrap();
    let o = {
        let _enforcing = Enforcing::on(&url).await;
        let o = run(e
            .bd_as(Some("bob"), (&rkey, &rsecret))
            .args(["action", "execute", id]));
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains(&rsecret)
                && !stderr(&o).contains(&rsecret),
            "the secret access key was printed"
        );
        o
    };
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("AWS denied iam:UpdateAccessKey") && err.contains("need iam:UpdateAccessKey"),
        "the error should name the missing permission: {err}"
    );
    let s = e.show(id);
    assert_eq!(s["state"], "failed", "{s}");
    assert!(
        s["error"].as_str().unwrap().contains("iam:UpdateAccessKey"),
        "{s}"
    );
    assert_eq!(
        key_status(&c, &user, &key).await.as_deref(),
        Some("Active"),
        "a denied action changed the key"
    );
}

/// `blastdoor agent` on a host with AWS credentials the console does not have: it relays the
/// CloudTrail records a `tail:` source reads, advertises the `aws.*` kinds of its
/// `[providers.aws]`, plans them (reading IAM) and carries an approved one out; the console
/// holds no AWS credentials at all.
#[tokio::test]
async fn a_real_agent_relays_its_tail_source_and_contains_through_its_own_provider() {
    let Some(url) = moto() else { return };
    let _shared = AUTH.read().await;
    let c = iam(&url);
    let user = unique("relay-bot");
    let key = user_with_key(&c, &user).await;
    let e = Env::new(&url); // its config.toml is the agent's: [providers.aws] on moto
    let trail = e.team.path("trail.jsonl");
    let arn = format!("arn:aws:iam::123456789012:user/{user}");
    let record = serde_json::json!({
        "eventVersion": "1.08", "eventTime": "2026-12-03T10:00:00Z",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": arn,
            "accountId": "123456789012", "accessKeyId": key, "userName": user},
        "eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "eventID": "0b5e5b7e-0000-4000-8000-000000000001", "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012"
    });
    std::fs::write(&trail, format!("{record}\n")).unwrap();
    let port = free_port();
    let token = "relay-agent-token-0123456789";
    let _agent = KillOnDrop(
        e.bd(None)
            .env("AGENT_TOKEN", token)
            .arg("--source")
            .arg(format!("tail:{}", trail.display()))
            .args([
                "agent",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--token-env",
                "AGENT_TOKEN",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut health = Value::Null;
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{base}/v1/health")).send().await {
            health = r.json().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let caps = health["capabilities"]
        .as_array()
        .expect("the agent answers /v1/health");
    assert!(
        caps.iter().any(|k| k == "aws.disable_access_key"),
        "{health}"
    );

    // The console: no AWS credentials, the agent's token through [endpoints.relay].
    let console_cfg = e.team.path("console.toml");
    std::fs::write(
        &console_cfg,
        format!("[endpoints.relay]\nurl = \"{base}\"\ntoken_env = \"AGENT_TOKEN\"\n"),
    )
    .unwrap();
    let console = |who: Option<&str>| {
        let mut cmd = e.team.bd(who, None);
        cmd.arg("--config")
            .arg(&console_cfg)
            .arg("--agent")
            .arg(&base)
            .env("AGENT_TOKEN", token)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    };
    let o = run(console(None).args([
        "--source",
        &format!("{base}/v1/events"),
        "rank",
        "--live-for",
        "3",
        "--format",
        "json",
    ]));
    assert_eq!(code(&o), 0, "rank through the agent: {}", stderr(&o));
    let ranked = json(&o);
    let id = format!("aws:{arn}");
    assert!(
        ranked
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["identity"] == id),
        "the tailed record is relayed: {ranked}"
    );

    let mut stage = console(Some("alice"));
    stage
        .args(stage_args(&id, "aws.disable_access_key"))
        .arg("--param")
        .arg(format!("user={user}"))
        .arg("--param")
        .arg(format!("access_key_id={key}"));
    let o = run(&mut stage);
    assert_eq!(code(&o), 0, "stage: {}", stderr(&o));
    let a = json(&o);
    assert_eq!(
        a["dry_run"]["before"]["status"], "Active",
        "the agent read IAM for the plan: {a}"
    );
    let aid = a["id"].as_str().unwrap();
    assert_eq!(
        code(&run(console(Some("bob")).args(["action", "approve", aid]))),
        0
    );
    let o = run(console(Some("bob")).args(["action", "execute", aid]));
    assert_eq!(code(&o), 0, "execute at the agent: {}", stderr(&o));
    assert_eq!(
        key_status(&c, &user, &key).await.as_deref(),
        Some("Inactive")
    );
    let o = run(console(Some("bob")).args(["action", "rollback", aid]));
    assert_eq!(code(&o), 0, "rollback at the agent: {}", stderr(&o));
    assert_eq!(key_status(&c, &user, &key).await.as_deref(), Some("Active"));
}
