//! The approval policy (`policy.toml`, INTERFACE.md): who may propose, how many must approve,
//! which playbooks are pre-authorised, how long approvals live, and where the allowed signers
//! are. Parsing is pure (text in, `Policy` or problems out); `load` and `check` read the file.
//!
//! ```toml
//! allowed_signers = "allowed_signers"   # relative to this file
//! approval_ttl = "15m"                  # 30s, 15m, 1h, 1d
//! action_ttl = "24h"                    # optional: an action not executed by then expires
//! [[rule]]
//! kinds = ["vault.*"]                   # globs; the first matching rule applies
//! approvals = 2
//! preauthorized = { when = "threat >= 90", identity_kind = "ci_token", provider = "vault" }
//! [agents.triage-bot]
//! may = "propose"
//! rate_per_minute = 10
//! token_env = "TRIAGE_BOT_TOKEN"        # its bearer token for `mcp --listen` (HTTP)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::core::model::Millis;
use crate::core::playbook::{Mode, Playbook, RawPlaybook};
use crate::core::workflow::{Action, Rules, Via};

pub const DEFAULT_APPROVAL_TTL: Millis = 15 * 60_000;
pub const DEFAULT_ACTION_TTL: Millis = 24 * 3_600_000;

/// What is known about the identity an action targets, for pre-authorised playbooks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentityFacts {
    /// `IdentityKind::as_str` (`ci_token`, `iam_user`…).
    pub kind: Option<String>,
    /// `Provider::as_str` (`aws`, `vault`…).
    pub provider: Option<String>,
    pub threat: Option<f64>,
    pub risk: Option<f64>,
    pub blast_radius: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

/// `threat >= 90`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: String,
    pub cmp: Cmp,
    pub value: f64,
}

impl Condition {
    pub fn parse(s: &str) -> Result<Condition, String> {
        let s = s.trim();
        let ops = [
            (">=", Cmp::Ge),
            ("<=", Cmp::Le),
            ("==", Cmp::Eq),
            (">", Cmp::Gt),
            ("<", Cmp::Lt),
        ];
        for (op, cmp) in ops {
            if let Some((l, r)) = s.split_once(op) {
                let field = l.trim().to_string();
                if !matches!(field.as_str(), "threat" | "risk" | "blast_radius" | "blast") {
                    return Err(format!(
                        "'{s}': the condition is on threat, risk or blast_radius, not '{field}'"
                    ));
                }
                let value: f64 = r
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{s}': '{}' is not a number", r.trim()))?;
                return Ok(Condition { field, cmp, value });
            }
        }
        Err(format!(
            "'{s}': write a condition like \"threat >= 90\" (threat, risk or blast_radius; >=, >, <=, <, ==)"
        ))
    }

    /// Unknown facts never satisfy a condition.
    pub fn holds(&self, f: &IdentityFacts) -> bool {
        let v = match self.field.as_str() {
            "threat" => f.threat,
            "risk" => f.risk,
            _ => f.blast_radius,
        };
        let Some(v) = v else { return false };
        match self.cmp {
            Cmp::Ge => v >= self.value,
            Cmp::Gt => v > self.value,
            Cmp::Le => v <= self.value,
            Cmp::Lt => v < self.value,
            Cmp::Eq => (v - self.value).abs() < f64::EPSILON,
        }
    }
}

/// A standing playbook: matching actions are staged and executed at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Preauthorized {
    pub when: Option<Condition>,
    pub identity_kind: Option<String>,
    pub provider: Option<String>,
}

impl Preauthorized {
    pub fn applies(&self, f: &IdentityFacts) -> bool {
        self.when.as_ref().is_none_or(|c| c.holds(f))
            && self
                .identity_kind
                .as_ref()
                .is_none_or(|k| f.kind.as_deref() == Some(k.as_str()))
            && self
                .provider
                .as_ref()
                .is_none_or(|p| f.provider.as_deref() == Some(p.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub kinds: Vec<String>,
    pub approvals: u32,
    pub preauthorized: Option<Preauthorized>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentGrant {
    pub may_propose: bool,
    pub rate_per_minute: Option<u32>,
    /// The variable holding the bearer token this agent presents to `blastdoor mcp --listen`
    /// (over HTTP the token, not the client name it gives, says who it is).
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Standing playbooks (`[[playbook]]`), in file order.
    pub playbooks: Vec<Playbook>,
    /// Identities (globs) and tags no playbook ever acts on.
    pub protect: Vec<String>,
    pub protect_tags: Vec<String>,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// Absolute (or relative to the working dir) path of the allowed signers file.
    pub allowed_signers: Option<PathBuf>,
    pub approval_ttl: Millis,
    pub action_ttl: Millis,
    pub rules: Vec<Rule>,
    pub agents: BTreeMap<String, AgentGrant>,
}

impl Default for Policy {
    /// No file: one approval by someone else for every kind, no agents, no playbooks.
    fn default() -> Policy {
        Policy {
            playbooks: Vec::new(),
            protect: Vec::new(),
            protect_tags: Vec::new(),
            path: None,
            allowed_signers: None,
            approval_ttl: DEFAULT_APPROVAL_TTL,
            action_ttl: DEFAULT_ACTION_TTL,
            rules: vec![Rule {
                kinds: vec!["*".into()],
                approvals: 1,
                preauthorized: None,
            }],
            agents: BTreeMap::new(),
        }
    }
}

/// `*` matches any run of characters, `?` one; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// `30s`, `15m`, `1h`, `2d` (or a bare number of seconds) in ms.
pub fn parse_duration(s: &str) -> Result<Millis, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: Millis = num
        .parse()
        .map_err(|_| format!("'{s}': write a duration like 30s, 15m, 1h or 1d"))?;
    let mult = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("'{s}': write a duration like 30s, 15m, 1h or 1d")),
    };
    if n == 0 {
        return Err(format!("'{s}': a duration must be more than zero"));
    }
    Ok(n.saturating_mul(mult))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    allowed_signers: Option<String>,
    approval_ttl: Option<String>,
    action_ttl: Option<String>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
    #[serde(default)]
    agents: BTreeMap<String, RawAgent>,
    #[serde(default, rename = "playbook")]
    playbooks: Vec<RawPlaybook>,
    #[serde(default)]
    protect: Vec<String>,
    #[serde(default)]
    protect_tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    kinds: Vec<String>,
    #[serde(default)]
    approvals: Option<i64>,
    preauthorized: Option<RawPre>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPre {
    when: Option<String>,
    identity_kind: Option<String>,
    provider: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    may: String,
    rate_per_minute: Option<u32>,
    token_env: Option<String>,
}

impl Policy {
    /// Parse policy text. `name` (the file) prefixes every problem; `base` resolves
    /// `allowed_signers`. Every problem found is returned, not only the first.
    pub fn parse(text: &str, name: &str, base: Option<&Path>) -> Result<Policy, Vec<String>> {
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| vec![format!("{name}: {}", e.to_string().trim())])?;
        let mut problems = Vec::new();
        let mut p = Policy {
            path: None,
            allowed_signers: raw.allowed_signers.map(|s| match base {
                Some(b) if Path::new(&s).is_relative() => b.join(s),
                _ => PathBuf::from(s),
            }),
            ..Policy::default()
        };
        if let Some(t) = raw.approval_ttl {
            match parse_duration(&t) {
                Ok(ms) => p.approval_ttl = ms,
                Err(e) => problems.push(format!("{name}: approval_ttl {e}")),
            }
        }
        if let Some(t) = raw.action_ttl {
            match parse_duration(&t) {
                Ok(ms) => p.action_ttl = ms,
                Err(e) => problems.push(format!("{name}: action_ttl {e}")),
            }
        }
        if !raw.rules.is_empty() {
            p.rules.clear();
        }
        for (i, r) in raw.rules.into_iter().enumerate() {
            let at = format!("{name}: [[rule]] #{}", i + 1);
            if r.kinds.is_empty() {
                problems.push(format!("{at}: kinds is empty; give globs like [\"aws.*\"]"));
            }
            for k in &r.kinds {
                if k.trim().is_empty() {
                    problems.push(format!("{at}: an empty kind pattern"));
                }
            }
            let approvals = match r.approvals {
                None => 1,
                Some(n) if (0..=16).contains(&n) => n as u32,
                Some(n) => {
                    problems.push(format!("{at}: approvals = {n}; give 0 to 16"));
                    1
                }
            };
            let preauthorized = r.preauthorized.map(|pre| {
                let when = pre.when.and_then(|w| match Condition::parse(&w) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        problems.push(format!("{at}: preauthorized.when {e}"));
                        None
                    }
                });
                if let Some(k) = &pre.identity_kind
                    && !KNOWN_IDENTITY_KINDS.contains(&k.as_str())
                {
                    problems.push(format!(
                        "{at}: preauthorized.identity_kind '{k}' is not one of {}",
                        KNOWN_IDENTITY_KINDS.join(", ")
                    ));
                }
                Preauthorized {
                    when,
                    identity_kind: pre.identity_kind,
                    provider: pre.provider,
                }
            });
            p.rules.push(Rule {
                kinds: r.kinds,
                approvals,
                preauthorized,
            });
        }
        for (agent, a) in raw.agents {
            let may_propose = match a.may.as_str() {
                "propose" => true,
                "none" | "nothing" => false,
                other => {
                    problems.push(format!(
                        "{name}: [agents.{agent}] may = \"{other}\": an agent may only \"propose\" (it never approves or executes)"
                    ));
                    false
                }
            };
            p.agents.insert(
                agent,
                AgentGrant {
                    may_propose,
                    rate_per_minute: a.rate_per_minute,
                    token_env: a.token_env,
                },
            );
        }
        for (i, raw) in raw.playbooks.into_iter().enumerate() {
            let pb = raw.check(&format!("{name}: [[playbook]] #{}", i + 1), &mut problems);
            if p.playbooks.iter().any(|o| o.name == pb.name) {
                problems.push(format!(
                    "{name}: [[playbook]] #{}: a second playbook named '{}': names must be unique (pause and resume use them)",
                    i + 1,
                    pb.name
                ));
            }
            p.playbooks.push(pb);
        }
        p.protect = raw.protect;
        p.protect_tags = raw.protect_tags;
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(problems)
        }
    }

    pub fn playbook(&self, name: &str) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.name == name)
    }

    /// Whether this policy lets `a` run with no approvals: a standing playbook proposed it
    /// (`via = playbook`), and either a `[[playbook]]` of this policy in enforce mode names its
    /// kind (the one its trigger names, when it has one), or a rule pre-authorises the kind.
    /// This is what a verifier that cannot see the identity's facts (an agent, a rollback) can
    /// still check.
    pub fn playbook_authorizes(&self, a: &Action) -> bool {
        if a.proposed_by.via != Via::Playbook || !a.approvals.is_empty() {
            return false;
        }
        let enforced = |p: &Playbook| p.mode == Mode::Enforce && p.action == a.kind;
        match &a.trigger {
            Some(t) => self.playbook(&t.playbook).is_some_and(enforced),
            None => self.preauthorizes_kind(&a.kind),
        }
    }

    /// Read and parse `path`; problems name the file.
    pub fn load(path: &Path) -> Result<Policy, Vec<String>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("{name}: cannot read the policy: {e}")])?;
        let mut p = Policy::parse(&text, &name, path.parent())?;
        p.path = Some(path.to_path_buf());
        Ok(p)
    }

    /// The first rule whose kinds match `kind`.
    pub fn rule_for(&self, kind: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.kinds.iter().any(|g| glob(g, kind)))
    }

    /// The timing and approval rules for `kind` (one approval when no rule matches).
    pub fn rules_for(&self, kind: &str) -> Rules {
        Rules {
            required_approvals: self.rule_for(kind).map(|r| r.approvals).unwrap_or(1),
            approval_ttl: self.approval_ttl,
            action_ttl: self.action_ttl,
        }
    }

    /// Does a standing playbook pre-authorise `kind` on an identity with these facts?
    /// Whether any standing playbook is pre-authorised for `kind` (what a verifier that cannot
    /// see the identity's facts, like an agent or a later rollback, can still check).
    pub fn preauthorizes_kind(&self, kind: &str) -> bool {
        self.rule_for(kind)
            .is_some_and(|r| r.preauthorized.is_some())
            || self
                .playbooks
                .iter()
                .any(|p| p.mode == Mode::Enforce && p.action == kind)
    }

    pub fn preauthorizes(&self, kind: &str, facts: &IdentityFacts) -> bool {
        self.rule_for(kind)
            .and_then(|r| r.preauthorized.as_ref())
            .is_some_and(|p| p.applies(facts))
    }
}

pub(crate) const KNOWN_IDENTITY_KINDS: &[&str] = &[
    "iam_user",
    "iam_role",
    "assumed_role",
    "root",
    "federated_user",
    "aws_service",
    "service_account",
    "vault_token",
    "vault_entity",
    "ci_token",
    "ai_agent",
    "github_app",
    "human",
    "unknown",
];

/// Problems in the policy at `path` (and its allowed signers file), for `check-config`.
pub fn check(path: &Path) -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0);
    check_at(path, now)
}

/// `check` as of `now`: a playbook past its `expires` is a problem too (it would never act).
pub fn check_at(path: &Path, now: Millis) -> Vec<String> {
    match Policy::load(path) {
        Err(p) => p,
        Ok(p) => {
            let mut out: Vec<String> = p
                .playbooks
                .iter()
                .filter(|pb| pb.expires.is_some_and(|t| t < now))
                .map(|pb| {
                    format!(
                        "{}: [[playbook]] {}: expired on {}: move expires, or remove the playbook",
                        path.display(),
                        pb.name,
                        crate::core::workflow::ts::format(pb.expires.unwrap_or_default())
                    )
                })
                .collect();
            out.extend(signer_problems(path, &p));
            out
        }
    }
}

fn signer_problems(path: &Path, p: &Policy) -> Vec<String> {
    {
        match &p.allowed_signers {
            Some(f) => match std::fs::read_to_string(f) {
                Ok(text) => crate::auth::AllowedSigners::parse(&text, &f.display().to_string())
                    .err()
                    .unwrap_or_default(),
                Err(e) => vec![format!(
                    "{}: allowed_signers {}: cannot read: {e}",
                    path.display(),
                    f.display()
                )],
            },
            None => vec![],
        }
    }
}

/// The policy file to use: `--policy`, then `BLASTDOOR_POLICY` (clap folds both into `flag`),
/// then `policy.toml` in the user config dir. The bool says whether it was asked for explicitly
/// (a missing default is fine; a missing explicit file is an error).
pub fn locate(flag: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), true));
    }
    directories::ProjectDirs::from("", "", "blastdoor")
        .map(|d| (d.config_dir().join("policy.toml"), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interface_example_parses() {
        let text = r#"
allowed_signers = "allowed_signers"
approval_ttl = "15m"
[[rule]]
kinds = ["vault.revoke_accessor"]
preauthorized = { when = "threat >= 90", identity_kind = "ci_token" }
[[rule]]
kinds = ["*"]
approvals = 2
[agents.triage-bot]
may = "propose"
"#;
        let p = Policy::parse(text, "policy.toml", Some(Path::new("/etc/bd"))).unwrap();
        assert_eq!(
            p.allowed_signers.as_deref(),
            Some(Path::new("/etc/bd/allowed_signers"))
        );
        assert_eq!(p.approval_ttl, 15 * 60_000);
        assert_eq!(p.rules_for("aws.deny_all").required_approvals, 2);
        assert_eq!(p.rules_for("vault.revoke_accessor").required_approvals, 1);
        let mut f = IdentityFacts {
            kind: Some("ci_token".into()),
            threat: Some(95.0),
            ..Default::default()
        };
        assert!(p.preauthorizes("vault.revoke_accessor", &f));
        f.threat = Some(50.0);
        assert!(!p.preauthorizes("vault.revoke_accessor", &f));
        assert!(!p.preauthorizes("aws.deny_all", &f));
        assert!(p.agents["triage-bot"].may_propose);
    }

    #[test]
    fn problems_name_the_file_and_entry() {
        let text = r#"
approval_ttl = "15 parsecs"
[[rule]]
kinds = []
approvals = 99
preauthorized = { when = "mood > 3" }
[agents.x]
may = "execute"
"#;
        let e = Policy::parse(text, "p.toml", None).unwrap_err();
        assert_eq!(e.len(), 5, "{e:#?}");
        assert!(e.iter().all(|m| m.starts_with("p.toml: ")));
        assert!(e.iter().any(|m| m.contains("[[rule]] #1: approvals = 99")));
        assert!(e.iter().any(|m| m.contains("[agents.x]")));
        let e = Policy::parse("bogus = 1", "p.toml", None).unwrap_err();
        assert!(e[0].contains("bogus"), "{e:?}");
    }

    #[test]
    fn globs_and_durations() {
        assert!(glob("*", "aws.x"));
        assert!(glob("aws.*", "aws.disable_access_key"));
        assert!(!glob("aws.*", "vault.x"));
        assert!(glob("*.revoke_*", "vault.revoke_accessor"));
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
