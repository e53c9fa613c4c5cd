//! Standing playbooks (`[[playbook]]` in `policy.toml`, INTERFACE.md): a condition over what the
//! core knows about an identity, the action kind to take when it holds, and the hard limits it
//! acts inside. Pure: the runner (`respond::runner`) feeds it facts, the time and the firings so
//! far, and does what it decides.
//!
//! ```toml
//! [[playbook]]
//! name = "stolen-ci-token"
//! when = "threat >= 90 && identity_kind == ci_token"
//! action = "agent.isolate_workload"
//! mode = "enforce"          # or "propose" (the default): staged for the humans the rules ask for
//! max_per_hour = 3          # firings of this playbook, all identities, in any hour
//! max_per_identity = 1      # firings on one identity in any day
//! cooldown = "15m"          # between two firings on one identity; also the trigger window
//! protect = ["*break-glass*"]   # never on these identities (globs), nor on protect_tags
//! protect_tags = ["break-glass"]
//! irreversible = "aws.delete_access_key"   # only so may an irreversible kind run, named
//! expires = "2027-03-01"    # disarmed after this day (or RFC 3339 time)
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::core::model::Millis;
use crate::core::policy::{glob, parse_duration};

pub const DEFAULT_MAX_PER_HOUR: u32 = 10;
pub const DEFAULT_MAX_PER_IDENTITY: u32 = 1;
pub const DEFAULT_COOLDOWN: Millis = 15 * 60_000;
const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;

/// Tags no playbook acts on, whatever it says: the break-glass identities a responder needs
/// when everything else is contained.
pub const ALWAYS_PROTECTED_TAGS: &[&str] = &["break-glass", "break_glass", "blastdoor=console"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Stage and execute at once, inside the limits.
    Enforce,
    /// Stage for the approvals the rules ask for, naming the playbook.
    Propose,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Propose => "propose",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// What a clause reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Threat,
    Risk,
    Blast,
    IdentityKind,
    Provider,
    /// Has the tag (`tag == env=prod`).
    Tag,
    /// A signal seen on the identity within the trigger window (`signal == exfiltration`).
    Signal,
    /// The kind of one of its active credentials (`credential_kind == ci_token`).
    CredentialKind,
    /// The identity key, as a glob (`identity == "github:*"`).
    Identity,
}

const FIELDS: &[(&str, Field)] = &[
    ("threat", Field::Threat),
    ("risk", Field::Risk),
    ("blast_radius", Field::Blast),
    ("blast", Field::Blast),
    ("identity_kind", Field::IdentityKind),
    ("kind", Field::IdentityKind),
    ("provider", Field::Provider),
    ("tag", Field::Tag),
    ("signal", Field::Signal),
    ("credential_kind", Field::CredentialKind),
    ("identity", Field::Identity),
];

impl Field {
    fn numeric(self) -> bool {
        matches!(self, Field::Threat | Field::Risk | Field::Blast)
    }
    fn name(self) -> &'static str {
        match self {
            Field::Threat => "threat",
            Field::Risk => "risk",
            Field::Blast => "blast_radius",
            Field::IdentityKind => "identity_kind",
            Field::Provider => "provider",
            Field::Tag => "tag",
            Field::Signal => "signal",
            Field::CredentialKind => "credential_kind",
            Field::Identity => "identity",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    Text(String),
}

/// One `field op value` of a `when`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub field: Field,
    pub op: Op,
    pub value: Operand,
}

const SIGNALS: &[&str] = &[
    "recon",
    "denied",
    "new_network",
    "credential_outside_workload",
    "privilege_escalation",
    "persistence",
    "secret_read",
    "data_read",
    "exfiltration",
    "defense_evasion",
    "detection",
];

const CREDENTIAL_KINDS: &[&str] = &[
    "access_key",
    "session",
    "sa_token",
    "vault_token",
    "ci_token",
    "api_key",
    "service_account_key",
    "password",
    "other",
];

/// Parse `"threat >= 90 && identity_kind == ci_token"`: clauses joined by `&&`, every one must
/// hold. Every problem is returned.
pub fn parse_when(s: &str) -> Result<Vec<Clause>, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    if s.trim().is_empty() {
        return Err(vec![
            "when is empty: write a condition like \"threat >= 90 && identity_kind == ci_token\""
                .into(),
        ]);
    }
    for part in s.split("&&") {
        match parse_clause(part.trim()) {
            Ok(c) => out.push(c),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn parse_clause(s: &str) -> Result<Clause, String> {
    let ops = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];
    let Some((l, op, r)) = ops
        .iter()
        .find_map(|(t, op)| s.split_once(t).map(|(l, r)| (l.trim(), *op, r.trim())))
    else {
        return Err(format!(
            "'{s}': write a clause like \"threat >= 90\" or \"identity_kind == ci_token\""
        ));
    };
    let Some(field) = FIELDS.iter().find(|(n, _)| *n == l).map(|(_, f)| *f) else {
        let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        return Err(format!("'{s}': '{l}' is not one of {}", names.join(", ")));
    };
    let text = r.trim_matches('"').trim_matches('\'').to_string();
    if text.is_empty() {
        return Err(format!("'{s}': nothing to compare {l} with"));
    }
    let value = if field.numeric() {
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Operand::Number(n),
            _ => return Err(format!("'{s}': '{text}' is not a number")),
        }
    } else {
        if !matches!(op, Op::Eq | Op::Ne) {
            return Err(format!(
                "'{s}': {l} is compared with == or !=, not {}",
                op.as_str()
            ));
        }
        let known: Option<&[&str]> = match field {
            Field::Signal => Some(SIGNALS),
            Field::CredentialKind => Some(CREDENTIAL_KINDS),
            Field::IdentityKind => Some(crate::core::policy::KNOWN_IDENTITY_KINDS),
            _ => None,
        };
        if let Some(k) = known
            && !k.contains(&text.as_str())
        {
            return Err(format!(
                "'{s}': {l} '{text}' is not one of {}",
                k.join(", ")
            ));
        }
        Operand::Text(text)
    };
    Ok(Clause { field, op, value })
}

/// What the core knows about an identity now, as a playbook reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    pub identity: String,
    pub kind: String,
    pub provider: String,
    pub tags: Vec<String>,
    pub threat: f64,
    pub risk: f64,
    pub blast_radius: f64,
    /// Signals seen on it within the trigger window (snake_case names).
    pub signals: Vec<String>,
    /// Kinds of its active credentials (snake_case names).
    pub credential_kinds: Vec<String>,
}

impl Clause {
    /// Whether it holds, and the value it read (for the trigger's evidence).
    fn eval(&self, s: &Subject) -> (bool, Value) {
        let num = |v: f64, n: f64| match self.op {
            Op::Ge => v >= n,
            Op::Gt => v > n,
            Op::Le => v <= n,
            Op::Lt => v < n,
            Op::Eq => (v - n).abs() < 1e-9,
            Op::Ne => (v - n).abs() >= 1e-9,
        };
        let round = |v: f64| (v * 10.0).round() / 10.0;
        let eq = |hit: bool| if self.op == Op::Eq { hit } else { !hit };
        match (&self.value, self.field) {
            (Operand::Number(n), f) => {
                let v = round(match f {
                    Field::Threat => s.threat,
                    Field::Risk => s.risk,
                    _ => s.blast_radius,
                });
                (num(v, *n), Value::from(v))
            }
            (Operand::Text(t), Field::IdentityKind) => (eq(&s.kind == t), s.kind.clone().into()),
            (Operand::Text(t), Field::Provider) => {
                (eq(&s.provider == t), s.provider.clone().into())
            }
            (Operand::Text(t), Field::Identity) => {
                (eq(glob(t, &s.identity)), s.identity.clone().into())
            }
            (Operand::Text(t), Field::Tag) => (eq(s.tags.contains(t)), s.tags.clone().into()),
            (Operand::Text(t), Field::Signal) => {
                (eq(s.signals.contains(t)), s.signals.clone().into())
            }
            (Operand::Text(t), Field::CredentialKind) => (
                eq(s.credential_kinds.contains(t)),
                s.credential_kinds.clone().into(),
            ),
            (Operand::Text(_), _) => (false, Value::Null),
        }
    }
}

/// A standing playbook, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub name: String,
    /// The condition as written (for the trigger's evidence).
    pub when_text: String,
    pub when: Vec<Clause>,
    /// The action kind (`provider.verb`), its params filled as `action suggest` fills them.
    pub action: String,
    pub mode: Mode,
    pub max_per_hour: u32,
    pub max_per_identity: u32,
    pub cooldown: Millis,
    pub protect: Vec<String>,
    pub protect_tags: Vec<String>,
    /// The irreversible kind this playbook may run, named (it must be `action`).
    pub irreversible: Option<String>,
    pub expires: Option<Millis>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlaybook {
    name: String,
    when: String,
    action: String,
    mode: Option<String>,
    max_per_hour: Option<i64>,
    max_per_identity: Option<i64>,
    cooldown: Option<String>,
    #[serde(default)]
    protect: Vec<String>,
    #[serde(default)]
    protect_tags: Vec<String>,
    irreversible: Option<String>,
    expires: Option<String>,
}

/// `2027-03-01` (the end of that day, UTC) or an RFC 3339 time.
fn parse_expiry(s: &str) -> Option<Millis> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return d
            .and_hms_milli_opt(23, 59, 59, 999)
            .map(|t| t.and_utc().timestamp_millis());
    }
    crate::core::workflow::ts::parse(s.trim())
}

impl RawPlaybook {
    /// Check it; `at` names the entry in every problem. (Whether it has expired is the
    /// caller's to tell: this is pure, with no clock.)
    pub(crate) fn check(self, at: &str, problems: &mut Vec<String>) -> Playbook {
        let at = format!("{at} ({})", self.name);
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(format!(
                "{at}: name '{}': use letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        let when = parse_when(&self.when).unwrap_or_else(|e| {
            problems.extend(e.into_iter().map(|m| format!("{at}: when {m}")));
            Vec::new()
        });
        match self.action.split_once('.') {
            Some((p, v)) if !p.is_empty() && !v.is_empty() && !self.action.contains('*') => {}
            _ => problems.push(format!(
                "{at}: action '{}': name one kind, provider.verb (e.g. aws.disable_access_key)",
                self.action
            )),
        }
        let mode = match self.mode.as_deref() {
            None | Some("propose") => Mode::Propose,
            Some("enforce") => Mode::Enforce,
            Some(o) => {
                problems.push(format!(
                    "{at}: mode = \"{o}\": give \"enforce\" (act at once) or \"propose\" (stage for approval)"
                ));
                Mode::Propose
            }
        };
        let count = |v: Option<i64>, key: &str, default: u32, problems: &mut Vec<String>| match v {
            None => default,
            Some(n) if (1..=10_000).contains(&n) => n as u32,
            Some(n) => {
                problems.push(format!("{at}: {key} = {n}; give 1 to 10000"));
                default
            }
        };
        let max_per_hour = count(
            self.max_per_hour,
            "max_per_hour",
            DEFAULT_MAX_PER_HOUR,
            problems,
        );
        let max_per_identity = count(
            self.max_per_identity,
            "max_per_identity",
            DEFAULT_MAX_PER_IDENTITY,
            problems,
        );
        let cooldown = match self.cooldown.as_deref().map(parse_duration) {
            None => DEFAULT_COOLDOWN,
            Some(Ok(ms)) => ms,
            Some(Err(e)) => {
                problems.push(format!("{at}: cooldown {e}"));
                DEFAULT_COOLDOWN
            }
        };
        if let Some(k) = &self.irreversible
            && k != &self.action
        {
            problems.push(format!(
                "{at}: irreversible = \"{k}\": it must name this playbook's action (\"{}\") to let that irreversible kind run",
                self.action
            ));
        }
        let expires = match self.expires.as_deref() {
            None => None,
            Some(s) => match parse_expiry(s) {
                Some(t) => Some(t),
                None => {
                    problems.push(format!(
                        "{at}: expires = \"{s}\": write a date (2027-03-01) or an RFC 3339 time"
                    ));
                    None
                }
            },
        };
        for g in &self.protect {
            if g.trim().is_empty() {
                problems.push(format!("{at}: an empty protect pattern"));
            }
        }
        Playbook {
            name: self.name,
            when_text: self.when,
            when,
            action: self.action,
            mode,
            max_per_hour,
            max_per_identity,
            cooldown,
            protect: self.protect,
            protect_tags: self.protect_tags,
            irreversible: self.irreversible,
            expires,
        }
    }
}

/// One firing so far (an action a playbook staged), as the limits count them.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub playbook: String,
    pub identity: String,
    pub at: Millis,
    pub key: String,
}

/// Why a playbook whose condition holds does not act.
#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    Expired,
    Paused,
    Protected(String),
    Irreversible,
    PerHour {
        max: u32,
    },
    PerIdentity {
        max: u32,
    },
    Cooldown {
        until: Millis,
    },
    /// This trigger fired already (another runner, or before a restart).
    Fired,
}

impl Hold {
    pub fn describe(&self, pb: &Playbook) -> String {
        match self {
            Hold::Expired => format!("playbook {} has expired", pb.name),
            Hold::Paused => format!("playbook {} is paused", pb.name),
            Hold::Protected(why) => format!("the identity is protected ({why})"),
            Hold::Irreversible => format!(
                "{} cannot be undone here and the playbook does not name it in irreversible",
                pb.action
            ),
            Hold::PerHour { max } => {
                format!(
                    "playbook {} fired {max} time(s) in the last hour (max_per_hour)",
                    pb.name
                )
            }
            Hold::PerIdentity { max } => format!(
                "playbook {} fired {max} time(s) on this identity in the last day (max_per_identity)",
                pb.name
            ),
            Hold::Cooldown { until } => format!(
                "cooling down on this identity until {}",
                crate::core::workflow::ts::format(*until)
            ),
            Hold::Fired => "this trigger fired already".into(),
        }
    }

    /// A hold worth telling the humans about (audited once per trigger); `Fired` and `Paused`
    /// are the runner doing its job.
    pub fn is_notable(&self) -> bool {
        !matches!(self, Hold::Fired | Hold::Paused)
    }
}

impl Playbook {
    /// The values of the condition's fields when every clause holds.
    pub fn matches(&self, s: &Subject) -> Option<BTreeMap<String, Value>> {
        if self.when.is_empty() {
            return None;
        }
        let mut values = BTreeMap::new();
        for c in &self.when {
            let (ok, v) = c.eval(s);
            if !ok {
                return None;
            }
            values.insert(c.field.name().to_string(), v);
        }
        Some(values)
    }

    /// Whether the condition reads the identity's signals (which take its recent events).
    pub fn reads_signals(&self) -> bool {
        self.when.iter().any(|c| c.field == Field::Signal)
    }

    /// Whether the identity is off limits to playbooks: this one's `protect` globs and tags,
    /// the policy's, and the tags that are always protected.
    pub fn protected(&self, s: &Subject, globs: &[String], tags: &[String]) -> Option<String> {
        if let Some(g) = self
            .protect
            .iter()
            .chain(globs)
            .find(|g| glob(g, &s.identity))
        {
            return Some(format!("protect = \"{g}\""));
        }
        let always = ALWAYS_PROTECTED_TAGS.iter().map(|t| t.to_string());
        let mut all = self
            .protect_tags
            .iter()
            .cloned()
            .chain(tags.iter().cloned())
            .chain(always);
        all.find(|t| s.tags.iter().any(|have| have == t))
            .map(|t| format!("tag {t}"))
    }

    /// The idempotency key of a trigger: one per (playbook, identity, credential, window),
    /// the window being the cooldown; every runner on one state computes the same key.
    pub fn trigger_key(&self, identity: &str, credential: Option<&str>, now: Millis) -> String {
        let window = now.div_euclid(self.cooldown.max(1));
        let mut h = Sha256::new();
        for part in [
            self.name.as_str(),
            identity,
            credential.unwrap_or(""),
            &window.to_string(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        format!("pb_{}", hex::encode(&h.finalize()[..16]))
    }

    /// Whether a trigger may fire now, given the firings so far (all playbooks' are fine:
    /// each counts only its own). `reversible` is what the executor says of the kind.
    pub fn decide(
        &self,
        identity: &str,
        key: &str,
        reversible: bool,
        history: &[Firing],
        now: Millis,
    ) -> Result<(), Hold> {
        if self.expires.is_some_and(|t| now > t) {
            return Err(Hold::Expired);
        }
        let mine: Vec<&Firing> = history.iter().filter(|f| f.playbook == self.name).collect();
        if mine.iter().any(|f| f.key == key) {
            return Err(Hold::Fired);
        }
        // A human approves what a proposing playbook stages: only acting alone is held back.
        if self.mode == Mode::Enforce
            && !reversible
            && self.irreversible.as_deref() != Some(self.action.as_str())
        {
            return Err(Hold::Irreversible);
        }
        let on_it: Vec<&&Firing> = mine.iter().filter(|f| f.identity == identity).collect();
        if let Some(last) = on_it.iter().map(|f| f.at).max()
            && now < last.saturating_add(self.cooldown)
        {
            return Err(Hold::Cooldown {
                until: last.saturating_add(self.cooldown),
            });
        }
        if on_it.iter().filter(|f| f.at > now - DAY).count() as u32 >= self.max_per_identity {
            return Err(Hold::PerIdentity {
                max: self.max_per_identity,
            });
        }
        if mine.iter().filter(|f| f.at > now - HOUR).count() as u32 >= self.max_per_hour {
            return Err(Hold::PerHour {
                max: self.max_per_hour,
            });
        }
        Ok(())
    }
}

/// When the event behind a trigger happened and when the console saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// The event's own id (CloudTrail `eventID`, an audit id…), else `seq:N` in the feed.
    pub id: String,
    /// The API call.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub call: String,
    /// When it happened (the source's time).
    #[serde(with = "crate::core::workflow::ts")]
    pub time: Millis,
    /// When it reached the console.
    #[serde(with = "crate::core::workflow::ts")]
    pub at: Millis,
}

/// Why a playbook's action exists: kept on the action (`trigger`) and in its audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub playbook: String,
    pub when: String,
    pub mode: Mode,
    /// The condition's values at the time.
    pub values: BTreeMap<String, Value>,
    /// The ids of the events behind it, newest first (`observed` says when each was seen).
    pub events: Vec<String>,
    /// The identity's newest events up to the trigger, newest first.
    pub observed: Vec<Observed>,
    /// When the event that made the condition hold reached the console.
    #[serde(with = "crate::core::workflow::ts")]
    pub observed_at: Millis,
    /// The idempotency key (`Playbook::trigger_key`).
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_790_000_000_000;

    fn pb(extra: &str) -> Result<Playbook, Vec<String>> {
        let text = format!(
            "name = \"stolen-ci\"\nwhen = \"threat >= 90 && identity_kind == ci_token\"\naction = \"agent.isolate_workload\"\n{extra}"
        );
        let raw: RawPlaybook = toml::from_str(&text).map_err(|e| vec![e.to_string()])?;
        let mut problems = Vec::new();
        let p = raw.check("p.toml: [[playbook]] #1", &mut problems);
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(problems)
        }
    }

    fn ci(threat: f64) -> Subject {
        Subject {
            identity: "github:repo:acme/infra:environment:production".into(),
            kind: "ci_token".into(),
            provider: "github".into(),
            threat,
            ..Default::default()
        }
    }

    fn fired(identity: &str, at: Millis, key: &str) -> Firing {
        Firing {
            playbook: "stolen-ci".into(),
            identity: identity.into(),
            at,
            key: key.into(),
        }
    }

    #[test]
    fn a_condition_holds_only_when_every_clause_does_and_says_its_values() {
        let p = pb("").unwrap();
        assert_eq!(p.mode, Mode::Propose, "propose is the default");
        let v = p.matches(&ci(95.04)).expect("holds at 95");
        assert_eq!(v["threat"], Value::from(95.0));
        assert_eq!(v["identity_kind"], Value::from("ci_token"));
        assert!(p.matches(&ci(89.9)).is_none());
        let mut role = ci(99.0);
        role.kind = "iam_role".into();
        assert!(p.matches(&role).is_none());
    }

    #[test]
    fn tags_signals_and_credential_kinds_are_conditions_too() {
        let c =
            parse_when("signal == exfiltration && tag != env=dev && credential_kind == ci_token")
                .unwrap();
        let p = Playbook {
            when: c,
            ..pb("").unwrap()
        };
        let mut s = ci(10.0);
        assert!(p.matches(&s).is_none());
        s.signals = vec!["exfiltration".into()];
        s.credential_kinds = vec!["ci_token".into()];
        assert!(p.matches(&s).is_some());
        s.tags = vec!["env=dev".into()];
        assert!(p.matches(&s).is_none());
    }

    #[test]
    fn every_problem_of_a_playbook_is_named() {
        let e = pb("mode = \"yolo\"\nmax_per_hour = 0\ncooldown = \"5 parsecs\"\nirreversible = \"aws.delete_user\"\nexpires = \"someday\"")
            .unwrap_err();
        assert_eq!(e.len(), 5, "{e:#?}");
        assert!(
            e.iter()
                .all(|m| m.starts_with("p.toml: [[playbook]] #1 (stolen-ci)"))
        );
        let e =
            parse_when("mood > 3 && threat >= lots && signal == vibes && kind > x").unwrap_err();
        assert_eq!(e.len(), 4, "{e:#?}");
        let p = pb("expires = \"2026-12-31\"").unwrap();
        assert_eq!(
            p.expires,
            Some(1_798_761_599_999),
            "the end of that day, UTC"
        );
    }

    #[test]
    fn limits_hold_a_trigger() {
        let p = pb("max_per_hour = 2\nmax_per_identity = 2\ncooldown = \"10m\"").unwrap();
        let id = "github:a";
        let k = p.trigger_key(id, None, T0);
        assert_eq!(p.decide(id, &k, true, &[], T0), Ok(()));
        // the same trigger, once
        let h = vec![fired(id, T0, &k)];
        assert_eq!(p.decide(id, &k, true, &h, T0 + 1), Err(Hold::Fired));
        // cooldown on the identity, not on others
        let k2 = p.trigger_key(id, None, T0 + 11 * 60_000);
        assert!(matches!(
            p.decide(id, "other", true, &h, T0 + 5 * 60_000),
            Err(Hold::Cooldown { .. })
        ));
        assert_eq!(p.decide("github:b", "kb", true, &h, T0 + 60_000), Ok(()));
        // per identity, in a day
        let h2 = vec![fired(id, T0, &k), fired(id, T0 + 11 * 60_000, &k2)];
        assert_eq!(
            p.decide(id, "k3", true, &h2, T0 + 30 * 60_000),
            Err(Hold::PerIdentity { max: 2 })
        );
        // per hour, all identities; an hour later it may fire again
        let h3 = vec![fired("github:x", T0, "a"), fired("github:y", T0 + 1, "b")];
        assert_eq!(
            p.decide("github:z", "c", true, &h3, T0 + 2),
            Err(Hold::PerHour { max: 2 })
        );
        assert_eq!(p.decide("github:z", "c", true, &h3, T0 + 3_600_002), Ok(()));
        // another playbook's firings do not count
        let other = vec![Firing {
            playbook: "else".into(),
            ..fired(id, T0, &k)
        }];
        assert_eq!(p.decide(id, &k, true, &other, T0), Ok(()));
    }

    #[test]
    fn irreversible_kinds_need_naming_and_expiry_disarms() {
        let p = pb("mode = \"enforce\"").unwrap();
        assert_eq!(p.decide("x", "k", false, &[], T0), Err(Hold::Irreversible));
        let proposing = pb("").unwrap();
        assert_eq!(
            proposing.decide("x", "k", false, &[], T0),
            Ok(()),
            "a human approves it"
        );
        let named = pb("mode = \"enforce\"\nirreversible = \"agent.isolate_workload\"").unwrap();
        assert_eq!(named.decide("x", "k", false, &[], T0), Ok(()));
        let soon = Playbook {
            expires: Some(T0 + 10),
            ..p
        };
        assert_eq!(soon.decide("x", "k", true, &[], T0), Ok(()));
        assert_eq!(
            soon.decide("x", "k", true, &[], T0 + 11),
            Err(Hold::Expired)
        );
    }

    #[test]
    fn protected_identities_are_never_touched() {
        let p = pb("protect = [\"github:*:breakglass*\"]\nprotect_tags = [\"oncall\"]").unwrap();
        let mut s = ci(99.0);
        assert_eq!(p.protected(&s, &[], &[]), None);
        s.tags = vec!["oncall".into()];
        assert_eq!(p.protected(&s, &[], &[]).as_deref(), Some("tag oncall"));
        s.tags = vec!["break-glass".into()];
        assert!(p.protected(&s, &[], &[]).is_some(), "always protected");
        s.tags.clear();
        s.identity = "github:repo:breakglass-admin".into();
        assert!(p.protected(&s, &[], &[]).is_some());
        s.identity = "github:else".into();
        assert!(
            p.protected(&s, &["github:else".into()], &[]).is_some(),
            "the policy's globs"
        );
    }

    #[test]
    fn trigger_keys_are_per_window_identity_and_credential() {
        let p = pb("cooldown = \"10m\"").unwrap();
        let a = p.trigger_key("id", Some("c1"), T0);
        assert_eq!(a, p.trigger_key("id", Some("c1"), T0 + 1));
        assert_ne!(a, p.trigger_key("id", Some("c2"), T0));
        assert_ne!(a, p.trigger_key("id2", Some("c1"), T0));
        assert_ne!(a, p.trigger_key("id", Some("c1"), T0 + 10 * 60_000));
    }
}
