//! The demo fleet: a deterministic simulation of one organisation's machine identities (AWS IAM
//! users, roles and assumed-role sessions, Kubernetes service accounts, Vault tokens, GitHub
//! Actions and GitLab CI tokens, AI agents) and of what they do.
//!
//! Why a simulator and not a canned file: the console is about *live* ranking, so the demo must
//! move. `Fleet::step` produces one tick of background activity (mostly benign, from each
//! identity's usual addresses, with the odd denied call) plus a scripted incident that replays
//! every `STORY_PERIOD_MS`:
//!
//! | offset | what happens |
//! |---|---|
//! | 0 s | a stolen GitHub Actions token is used from a new address (`GetCallerIdentity`) |
//! | 2–8 s | reconnaissance burst (`List*`, `Describe*`, `GetAccountAuthorizationDetails`) |
//! | 12–15 s | privilege escalation: `AttachUserPolicy`, `CreateAccessKey` for another user, `PassRole` |
//! | 17–32 s | the new access key is used from the attacker's address (recon, a secret, flow logs) |
//! | 20–36 s | a Kubernetes service-account token is used from another workload's pod: `pods/exec`, secret reads |
//! | 22–28 s | `GetSecretValue` on production secrets |
//! | 30–32 s | defence evasion: `StopLogging`, `DeleteFlowLogs` |
//! | 34–48 s | exfiltration: an `s3:GetObject` burst from a second new address |
//! | 38–58 s | an AI support agent follows a prompt injection: bulk customer reads, a denied secret read, a post to a paste site |
//!
//! The first incident starts `STORY_START_MS` after the first step, so a client that connects to
//! a demo agent pre-filled with a minute of history sees the attack happen live. Each round picks
//! the next victims from small casts (`Fleet::incident`), so later rounds move the ranking too.
//! With seed 0 the first stolen token ranks third at rest (its blast radius is large), first from
//! its first use by the attacker (risk 11 → 44), and reaches risk 95 once it escalates (+14 s).
//!
//! Same seed and same sequence of `now` values give the same events: tests and demos replay.
//! Every string is built through `SafeText::new`; one identity has a deliberately hostile display
//! name (a terminal escape and a bidi override) so that renderers can be seen to neutralise it.
//! Its `raw` record carries the name as the source would log it, unescaped: raw evidence is
//! untrusted too, and whatever shows it must sanitise it.

use std::sync::Arc;

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::core::SafeText;
use crate::core::model::{
    Api, Credential, CredentialKind, CredentialStatus, Effect, Event, EventClass, IdentityKind,
    IdentityRecord, Millis, Permission, Provider, Resource, Sensitivity, Signal, Status,
};
use crate::core::state::format_time;

mod contain;
mod evidence;
mod org;
mod story;

use contain::Fate;
pub use contain::{Containment, DemoExecutor, capabilities};
use evidence::build_event;

/// Simulated time one `step` is meant to cover.
pub const TICK_MS: Millis = 200;
/// When the first incident starts, counted from the fleet's first `step`.
pub const STORY_START_MS: Millis = 70_000;
/// The incident replays with this period.
pub const STORY_PERIOD_MS: Millis = 90_000;
/// From an incident's first event to its last.
pub const STORY_LENGTH_MS: Millis = 60_000;
/// Most background time one step simulates: after a pause (a suspended laptop) the fleet does
/// not replay minutes of activity in one burst.
const MAX_BACKGROUND_MS: Millis = 2_000;
/// Chance that one background call is denied.
const DENY_P: f64 = 0.004;

const PROD: &str = "111122223333";
const STAGING: &str = "444455556666";
const REGION: &str = "eu-west-1";
const CLUSTER: &str = "prod-eu1";
/// The one hostile display name: an OSC title-setting escape and a right-to-left override.
const HOSTILE_DISPLAY: &str = "partner-sync\x1b]0;pwned\x07\u{202E}lmth.eciovni";

/// Where a call is recorded, which decides the shape of its `raw` evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// CloudTrail.
    Aws,
    /// Kubernetes audit log.
    K8s,
    /// Vault audit device.
    Vault,
    /// GitHub audit log.
    Github,
    /// GitLab audit events.
    Gitlab,
    /// An AI agent's tool-call log.
    Tool,
}

/// One API call an identity makes: `service:op` on `resource`.
#[derive(Debug, Clone)]
struct Call {
    family: Family,
    service: &'static str,
    op: &'static str,
    resource: String,
}

fn aws(service: &'static str, op: &'static str, resource: impl Into<String>) -> Call {
    Call {
        family: Family::Aws,
        service,
        op,
        resource: resource.into(),
    }
}
/// A Kubernetes call: `service` is the resource (`secrets`, `pods/exec`), `op` the verb.
fn kube(resource: &'static str, verb: &'static str, ns_name: impl Into<String>) -> Call {
    Call {
        family: Family::K8s,
        service: resource,
        op: verb,
        resource: ns_name.into(),
    }
}
fn vault(mount: &'static str, op: &'static str, path: impl Into<String>) -> Call {
    Call {
        family: Family::Vault,
        service: mount,
        op,
        resource: path.into(),
    }
}
fn gh(service: &'static str, op: &'static str, target: impl Into<String>) -> Call {
    Call {
        family: Family::Github,
        service,
        op,
        resource: target.into(),
    }
}
fn gl(service: &'static str, op: &'static str, target: impl Into<String>) -> Call {
    Call {
        family: Family::Gitlab,
        service,
        op,
        resource: target.into(),
    }
}
fn tool(service: &'static str, op: &'static str, target: impl Into<String>) -> Call {
    Call {
        family: Family::Tool,
        service,
        op,
        resource: target.into(),
    }
}

fn perm(action: &str, resource: &str, via: &str) -> Permission {
    Permission {
        action: SafeText::new(action),
        resource: SafeText::new(resource),
        effect: Effect::Allow,
        via: Some(SafeText::new(via)),
        sensitivity: None,
    }
}

/// A grant whose sensitivity the generic classifier could not guess (AI tool scopes).
fn perm_as(action: &str, resource: &str, via: &str, s: Sensitivity) -> Permission {
    Permission {
        sensitivity: Some(s),
        ..perm(action, resource, via)
    }
}

/// One simulated identity: its inventory record and how it behaves.
#[derive(Debug, Clone)]
struct Member {
    record: IdentityRecord,
    /// The slim copy events carry (no permissions, credentials or tags: the inventory has them).
    actor: IdentityRecord,
    credential: Option<Credential>,
    /// AWS account, Kubernetes namespace, repository or agent name: what `raw` needs.
    scope: String,
    /// Short name (user, role, service account, project).
    short: String,
    /// The addresses it normally calls from.
    ips: Vec<String>,
    /// Background calls per second.
    rate: f64,
    usual: Vec<Call>,
    denied: Vec<Call>,
    /// The unsanitised display name, for the raw record of the one hostile identity.
    raw_display: Option<String>,
    /// Chance that one background call is denied.
    deny_p: f64,
}

/// What a member is before it gets its slim copy.
struct Spec {
    provider: Provider,
    principal: String,
    kind: IdentityKind,
    display: String,
    credential: Option<(String, CredentialKind)>,
    permissions: Vec<Permission>,
    tags: Vec<String>,
    scope: String,
    short: String,
    ips: Vec<String>,
    rate: f64,
    usual: Vec<Call>,
    denied: Vec<Call>,
}

/// The identity keys in one round of the storyline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// The round (0 for the first incident).
    pub round: u64,
    /// When it starts, ms since the epoch (known once the fleet has stepped).
    pub starts_at: Option<Millis>,
    /// The stolen CI token.
    pub stolen_ci: String,
    /// The IAM user the attacker escalates into (an access key is created for it).
    pub escalated: String,
    /// The Kubernetes service account whose token is used from another pod.
    pub service_account: String,
    /// The AI agent that follows a prompt injection.
    pub ai_agent: String,
    /// Where the stolen token is used from.
    pub attacker_ip: String,
    /// Where the data goes.
    pub exfil_ip: String,
}

/// Indices of the storyline's casts.
#[derive(Debug, Clone, Default)]
struct Cast {
    ci: Vec<usize>,
    /// Bucket each CI victim exfiltrates from (one it can read).
    ci_bucket: Vec<&'static str>,
    escalated: Vec<usize>,
    service_accounts: Vec<usize>,
    /// Pods the service-account tokens are replayed from (another workload's pod).
    foothold: Vec<usize>,
    ai: Vec<usize>,
}

/// One scripted call of the storyline.
#[derive(Debug, Clone)]
struct Beat {
    at: Millis,
    who: usize,
    call: Call,
    ip: String,
    ok: bool,
    signals: Vec<Signal>,
    /// A credential other than the member's own (the access key the attacker created).
    credential: Option<Credential>,
    /// A grant the event reveals (the policy the attacker attached).
    grant: Option<Permission>,
    /// Extra evidence merged into `raw` (response elements).
    extra: Option<Value>,
    /// Why it was refused when a containment refused it: the error code and message logged.
    refusal: Option<(&'static str, String)>,
}

/// The simulated organisation.
#[derive(Debug, Clone)]
pub struct Fleet {
    seed: u64,
    rng: ChaCha8Rng,
    members: Vec<Member>,
    cast: Cast,
    start: Option<Millis>,
    last: Option<Millis>,
    /// The current round's script, built once per round.
    script: Option<(u64, Vec<Beat>)>,
    /// What the demo's executors put in force: every call is checked against it.
    contained: Arc<Containment>,
}

// ---- random identifiers ----

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn chars_from(rng: &mut ChaCha8Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| alphabet[rng.random_range(..alphabet.len())] as char)
        .collect()
}
/// An AWS access key id (`AKIA…` long-term, `ASIA…` session): 20 characters.
fn access_key_id(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!("{prefix}{}", chars_from(rng, BASE32, 16))
}
fn uuid(rng: &mut ChaCha8Rng) -> String {
    let a: u64 = rng.random();
    let b: u64 = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}
fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    chars_from(rng, b"0123456789abcdef", n)
}
/// A host address under `prefix` (`"10.42."`, `"192.0.2."`): the missing octets are random.
fn ip_in(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    let mut s = prefix.to_string();
    for _ in prefix.matches('.').count()..3 {
        s.push_str(&rng.random_range(0..=255u8).to_string());
        s.push('.');
    }
    s.push_str(&rng.random_range(2..=253u8).to_string());
    s
}
fn some_ips(rng: &mut ChaCha8Rng, prefix: &str, max: usize) -> Vec<String> {
    let n = rng.random_range(1..=max.max(1));
    (0..n).map(|_| ip_in(rng, prefix)).collect()
}
fn pick<'a>(rng: &mut ChaCha8Rng, items: &'a [String]) -> &'a str {
    items.choose(rng).map(String::as_str).unwrap_or("10.0.0.1")
}

/// Does a grant cover this action on this resource? Patterns are `*`, exact, or end in `*`.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => {
            text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
        }
        None => pattern.eq_ignore_ascii_case(text),
    }
}
fn allows(perms: &[Permission], action: &str, resource: &str) -> bool {
    perms.iter().any(|p| {
        p.effect == Effect::Allow
            && (p.action.as_str() == "*" || glob(p.action.as_str(), action))
            && glob(p.resource.as_str(), resource)
    })
}

impl Fleet {
    /// Build the organisation for `seed`. Same seed, same organisation.
    pub fn new(seed: u64) -> Fleet {
        let (rng, members, cast) = org::organisation(seed);
        Fleet {
            seed,
            rng,
            members,
            cast,
            start: None,
            last: None,
            script: None,
            contained: Arc::default(),
        }
    }

    /// The executor that contains this fleet's identities: what it does, the fleet's calls
    /// show from the next step on.
    pub fn executor(&self) -> DemoExecutor {
        DemoExecutor::new(self.contained.clone(), &self.members)
    }

    /// What a containment in force makes of one call `b` of member `m`: `None` when the call
    /// is never made (its workload is cut off).
    fn react(contained: &Containment, m: &Member, mut b: Beat) -> Option<Beat> {
        if contained.is_empty() {
            return Some(b);
        }
        let cred = b
            .credential
            .as_ref()
            .or(m.credential.as_ref())
            .map(|c| c.id.to_string())
            .unwrap_or_default();
        match contained.fate(m, &b.call, &b.ip, &cred) {
            Fate::As => {}
            Fate::Silent => return None,
            Fate::Refused { code, message } => {
                b.ok = false;
                b.refusal = Some((code, message));
            }
        }
        Some(b)
    }

    /// Every identity with its credentials, permissions and tags (`GET /v1/inventory`).
    pub fn inventory(&self) -> Vec<IdentityRecord> {
        self.members.iter().map(|m| m.record.clone()).collect()
    }

    /// The identity keys and addresses of incident `round` (0-based).
    pub fn incident(&self, round: u64) -> Incident {
        let key = |list: &[usize]| -> String {
            if list.is_empty() {
                return String::new();
            }
            let i = list[(round as usize) % list.len()];
            self.members
                .get(i)
                .map(|m| m.record.key())
                .unwrap_or_default()
        };
        Incident {
            round,
            starts_at: self
                .start
                .map(|s| s + STORY_START_MS + round as Millis * STORY_PERIOD_MS),
            stolen_ci: key(&self.cast.ci),
            escalated: key(&self.cast.escalated),
            service_account: key(&self.cast.service_accounts),
            ai_agent: key(&self.cast.ai),
            attacker_ip: format!(
                "203.0.113.{}",
                10 + round.wrapping_mul(37).wrapping_add(self.seed) % 240
            ),
            exfil_ip: format!(
                "198.51.100.{}",
                10 + round.wrapping_mul(53).wrapping_add(self.seed / 7) % 240
            ),
        }
    }

    /// The events of one tick ending at `now` (ms since the epoch): background activity for the
    /// time since the previous step, plus whatever the storyline scripts in that span. Every
    /// event's `time` is `now`. A `now` that does not move forward yields nothing.
    pub fn step(&mut self, now: Millis) -> Vec<Event> {
        let last = match self.last {
            Some(l) => l,
            None => {
                self.start = Some(now);
                now.saturating_sub(TICK_MS)
            }
        };
        if now <= last {
            return Vec::new();
        }
        self.last = Some(now);
        let mut out = Vec::new();
        let span = now.saturating_sub(last).min(MAX_BACKGROUND_MS);
        self.background(now, span, &mut out);
        // After a long pause, replay at most one period of the script.
        self.storyline(last.max(now.saturating_sub(STORY_PERIOD_MS)), now, &mut out);
        out
    }

    fn background(&mut self, now: Millis, span: Millis, out: &mut Vec<Event>) {
        let secs = span as f64 / 1000.0;
        for i in 0..self.members.len() {
            let m = &self.members[i];
            if m.rate <= 0.0 || m.usual.is_empty() {
                continue;
            }
            let expected = m.rate * secs;
            let mut n = expected.floor() as usize;
            if self.rng.random_bool((expected - n as f64).clamp(0.0, 1.0)) {
                n += 1;
            }
            for _ in 0..n {
                let m = &self.members[i];
                let denied = !m.denied.is_empty() && self.rng.random_bool(m.deny_p.clamp(0.0, 1.0));
                let list = if denied { &m.denied } else { &m.usual };
                let Some(call) = list.choose(&mut self.rng) else {
                    continue;
                };
                let ip = pick(&mut self.rng, &m.ips).to_string();
                let beat = story::beat(now, i, call.clone(), &ip, !denied, &[]);
                if let Some(beat) = Fleet::react(&self.contained, m, beat) {
                    out.push(build_event(m, &mut self.rng, now, &beat));
                }
            }
        }
    }

    fn storyline(&mut self, from: Millis, to: Millis, out: &mut Vec<Event>) {
        let Some(start) = self.start else { return };
        let first = start + STORY_START_MS;
        if to < first {
            return;
        }
        let round_of = |t: Millis| ((t - first).max(0) / STORY_PERIOD_MS) as u64;
        for round in round_of(from)..=round_of(to) {
            if self.script.as_ref().is_none_or(|(r, _)| *r != round) {
                let t0 = first + round as Millis * STORY_PERIOD_MS;
                self.script = Some((round, self.script_for(round, t0)));
            }
            let Some((_, beats)) = self.script.take() else {
                continue;
            };
            for beat in beats.iter().filter(|b| b.at > from && b.at <= to) {
                if let Some(m) = self.members.get(beat.who)
                    && let Some(beat) = Fleet::react(&self.contained, m, beat.clone())
                {
                    out.push(build_event(m, &mut self.rng, to, &beat));
                }
            }
            self.script = Some((round, beats));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Core, Msg, SortKey};

    const T0: Millis = 1_790_000_000_000;

    fn run(fleet: &mut Fleet, from: Millis, until: Millis) -> Vec<Event> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= until {
            out.extend(fleet.step(t));
            t += TICK_MS;
        }
        out
    }

    #[test]
    fn the_same_seed_replays_the_same_fleet_and_events() {
        let (mut a, mut b) = (Fleet::new(7), Fleet::new(7));
        assert_eq!(a.inventory(), b.inventory());
        let ea = run(&mut a, T0, T0 + 20_000);
        let eb = run(&mut b, T0, T0 + 20_000);
        assert!(!ea.is_empty());
        assert_eq!(ea, eb);
        let mut c = Fleet::new(8);
        assert_ne!(
            run(&mut c, T0, T0 + 20_000),
            ea,
            "another seed gives other activity"
        );
    }

    #[test]
    fn the_fleet_has_500_identities_of_every_provider_and_kind() {
        let inv = Fleet::new(1).inventory();
        assert!(inv.len() >= 500, "{} identities", inv.len());
        for p in [
            Provider::Aws,
            Provider::Kubernetes,
            Provider::Vault,
            Provider::Github,
            Provider::Ci,
            Provider::Ai,
        ] {
            assert!(inv.iter().any(|r| r.provider == p), "no {p:?} identity");
        }
        for k in [
            IdentityKind::IamUser,
            IdentityKind::IamRole,
            IdentityKind::AssumedRole,
            IdentityKind::ServiceAccount,
            IdentityKind::VaultToken,
            IdentityKind::CiToken,
            IdentityKind::AiAgent,
        ] {
            assert!(inv.iter().any(|r| r.kind == k), "no {k:?} identity");
        }
        let keys: std::collections::HashSet<String> = inv.iter().map(|r| r.key()).collect();
        assert_eq!(keys.len(), inv.len(), "identity keys are unique");
        let creds = |prefix: &str| {
            inv.iter()
                .flat_map(|r| &r.credentials)
                .filter(|c| c.id.starts_with(prefix))
                .count()
        };
        assert!(creds("AKIA") > 50 && creds("ASIA") > 30);
        assert!(inv.iter().any(|r| {
            r.permissions
                .iter()
                .any(|p| p.via.as_deref() == Some("AdministratorAccess"))
        }));
    }

    #[test]
    fn exactly_one_display_name_is_hostile_and_it_arrives_inert() {
        let inv = Fleet::new(3).inventory();
        let hostile: Vec<_> = inv
            .iter()
            .filter(|r| r.display.as_deref().is_some_and(|d| d.contains("\\u{1b}")))
            .collect();
        assert_eq!(hostile.len(), 1);
        let d = hostile[0].display.as_deref().unwrap_or_default();
        assert!(d.contains("\\u{202e}") && d.contains("pwned"), "{d}");
        for r in &inv {
            let d = r.display.as_deref().unwrap_or_default();
            assert!(
                !d.chars().any(|c| c.is_control() || c == '\u{202E}'),
                "{d:?}"
            );
        }
    }

    #[test]
    fn background_activity_is_mostly_benign_and_uses_usual_addresses() {
        let mut f = Fleet::new(11);
        let evs = run(&mut f, T0, T0 + 60_000);
        let per_sec = evs.len() as f64 / 60.0;
        assert!((20.0..300.0).contains(&per_sec), "{per_sec} events/s");
        let denied = evs.iter().filter(|e| e.status == Status::Failure).count();
        assert!(
            denied > 0 && denied * 50 < evs.len(),
            "{denied} denied of {}",
            evs.len()
        );
        assert!(evs.iter().all(|e| e.time >= T0 && !e.raw.is_null()));
    }

    #[test]
    fn the_storyline_puts_the_stolen_ci_token_in_the_top_five() {
        let mut fleet = Fleet::new(42);
        let mut core = Core::new();
        core.update(Msg::Inventory {
            identities: fleet.inventory(),
            now: T0,
        });
        let inc = fleet.incident(0);
        let end = T0 + STORY_START_MS + STORY_LENGTH_MS;
        let mut t = T0;
        let mut seen_top10 = std::collections::HashSet::new();
        while t <= end {
            let events = fleet.step(t);
            core.update(Msg::Events { events, now: t });
            for r in core.top(10, SortKey::Risk) {
                seen_top10.insert(r.identity);
            }
            t += TICK_MS;
        }
        let top = core.top(5, SortKey::Risk);
        assert!(
            top.iter().any(|r| r.identity == inc.stolen_ci),
            "{} not in {:?}",
            inc.stolen_ci,
            top.iter()
                .map(|r| (&r.identity, r.risk))
                .collect::<Vec<_>>()
        );
        for who in [&inc.escalated, &inc.service_account, &inc.ai_agent] {
            assert!(seen_top10.contains(who), "{who} never reached the top 10");
        }
        let ci = top
            .iter()
            .find(|r| r.identity == inc.stolen_ci)
            .map(|r| r.why.clone())
            .unwrap_or_default();
        assert!(
            ci.iter().any(|w| w.detail.contains("exfiltration")),
            "{ci:?}"
        );
    }

    // ---- containment: the fleet reacts as the real system would ----

    use crate::core::containment::contained_of;
    use crate::core::workflow::{self, Action, ActionState, Proposal, Proposer, Via};
    use crate::respond::Executor;
    use crate::respond::suggest::{Offers, offers_of, suggest};

    /// A fleet and a core at `t` seconds into the first incident, the demo's executor beside.
    fn at_incident(seed: u64, secs: i64) -> (Fleet, Core, Millis, Incident) {
        let mut fleet = Fleet::new(seed);
        let mut core = Core::new();
        core.update(Msg::Inventory {
            identities: fleet.inventory(),
            now: T0,
        });
        let until = T0 + STORY_START_MS + secs * 1000;
        let mut t = T0;
        while t <= until {
            let events = fleet.step(t);
            core.update(Msg::Events { events, now: t });
            t += TICK_MS;
        }
        let inc = fleet.incident(0);
        (fleet, core, t, inc)
    }

    fn offers(fleet: &Fleet) -> Offers {
        let exec: Arc<dyn Executor> = Arc::new(fleet.executor());
        futures_util::FutureExt::now_or_never(offers_of(&[exec])).unwrap()
    }

    /// Contain `who` with its first suggestion, through the demo's executor, at `now`; the
    /// core learns of it as the engine tells it. Returns the done action.
    fn contain_first(fleet: &Fleet, core: &mut Core, who: &str, now: Millis) -> Action {
        let idx = core.lookup(who).expect("the identity is known");
        let recent: Vec<&Event> = core
            .feed(Some(idx), 20)
            .into_iter()
            .map(|f| &f.event)
            .collect();
        let s = suggest(&core.get(idx).unwrap().record, &recent, &offers(fleet));
        let first = &s[0];
        assert!(first.executable && first.reversible(), "{who}: {s:#?}");
        let mut a = workflow::stage(
            Proposal {
                id: format!("act_{}", first.kind),
                identity: who.into(),
                kind: first.kind.clone(),
                target: serde_json::json!({"identity": who}),
                params: first.params_json(),
                proposed_by: Proposer {
                    principal: "alice".into(),
                    via: Via::Cli,
                    agent: None,
                },
                reason: "demo".into(),
                evidence: vec![],
                reversible: true,
                dry_run: Default::default(),
            },
            workflow::Rules {
                required_approvals: 1,
                approval_ttl: 60_000,
                action_ttl: 600_000,
            },
            false,
            now,
        );
        let exec = fleet.executor();
        let o = futures_util::FutureExt::now_or_never(exec.execute(&a, "k1"))
            .unwrap()
            .expect("executed");
        a.state = ActionState::Done;
        a.outcome = o.detail;
        a.updated_at = now;
        core.update(Msg::Contained {
            items: contained_of(&a).into_iter().collect(),
        });
        a
    }

    fn run_on(fleet: &mut Fleet, core: &mut Core, from: Millis, secs: i64) -> Vec<Event> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= from + secs * 1000 {
            let events = fleet.step(t);
            out.extend(events.iter().cloned());
            core.update(Msg::Events { events, now: t });
            t += TICK_MS;
        }
        out
    }

    #[test]
    fn the_attackers_key_disabled_its_calls_fail_as_invalid_and_the_user_shows_contained() {
        // 17 s in, the attacker uses the access key it created for the escalated user.
        let (mut fleet, mut core, now, inc) = at_incident(7, 18);
        let a = contain_first(&fleet, &mut core, &inc.escalated, now);
        assert_eq!(a.kind, "aws.disable_access_key");
        assert_eq!(a.outcome["status"], "Inactive");
        let key = a.params["access_key_id"].as_str().unwrap().to_string();
        let after = run_on(&mut fleet, &mut core, now + TICK_MS, 15);
        let tried: Vec<&Event> = after
            .iter()
            .filter(|e| e.credential.as_ref().is_some_and(|c| c.id.as_str() == key))
            .collect();
        assert!(!tried.is_empty(), "the attacker tries again");
        assert!(
            tried.iter().all(|e| e.status == Status::Failure),
            "and fails"
        );
        assert!(tried[0].raw.value()["errorCode"] == "InvalidClientTokenId");
        let idx = core.lookup(&inc.escalated).unwrap();
        let c = core.containment_of(idx).unwrap();
        assert_eq!(c.state, "contained");
        let st = core.get(idx).unwrap();
        let k = st
            .record
            .credentials
            .iter()
            .find(|c| c.id.as_str() == key)
            .unwrap();
        assert_eq!(k.status, crate::core::CredentialStatus::Inactive);
    }

    #[test]
    fn a_quarantined_pod_goes_silent_but_its_replayed_token_is_the_leak_alert() {
        // 19 s in the service account is still quiet; its token is replayed from 20 s on.
        let (mut fleet, mut core, now, inc) = at_incident(7, 19);
        let a = contain_first(&fleet, &mut core, &inc.service_account, now);
        assert_eq!(a.kind, "k8s.quarantine_pod");
        let after = run_on(&mut fleet, &mut core, now + TICK_MS, 20);
        let own: Vec<&Event> = after
            .iter()
            .filter(|e| e.actor.key() == inc.service_account)
            .collect();
        assert!(!own.is_empty(), "the replay goes on from the other pod");
        let idx = core.lookup(&inc.service_account).unwrap();
        assert_eq!(core.containment_of(idx).unwrap().state, "leaking");
        // The suggestion now knows the token is used outside its pod: take the grants away.
        let recent: Vec<&Event> = core
            .feed(Some(idx), 20)
            .into_iter()
            .map(|f| &f.event)
            .collect();
        let s = suggest(&core.get(idx).unwrap().record, &recent, &offers(&fleet));
        assert_eq!(s[0].kind, "k8s.delete_rolebinding", "{s:#?}");
        assert!(s[0].executable, "{s:#?}");
    }

    #[test]
    fn an_isolated_ci_token_is_refused_until_rolled_back() {
        let (mut fleet, mut core, now, inc) = at_incident(7, 1);
        let a = contain_first(&fleet, &mut core, &inc.stolen_ci, now);
        assert_eq!(a.kind, "agent.isolate_workload");
        let after = run_on(&mut fleet, &mut core, now + TICK_MS, 12);
        let own: Vec<&Event> = after
            .iter()
            .filter(|e| e.actor.key() == inc.stolen_ci)
            .collect();
        assert!(own.len() > 5, "the attacker keeps trying");
        assert!(own.iter().all(|e| e.status == Status::Failure));
        let idx = core.lookup(&inc.stolen_ci).unwrap();
        assert_eq!(core.containment_of(idx).unwrap().state, "contained");
        let exec = fleet.executor();
        let back = futures_util::FutureExt::now_or_never(exec.rollback(&a, "k1"))
            .unwrap()
            .unwrap();
        assert_eq!(back.detail["status"], "released");
        core.update(Msg::Contained { items: vec![] });
        assert!(core.containment_of(idx).is_none());
        let later = run_on(&mut fleet, &mut core, now + 13_000, 10);
        assert!(
            later
                .iter()
                .any(|e| e.actor.key() == inc.stolen_ci && e.status == Status::Success),
            "released: it works again"
        );
    }

    #[test]
    fn every_identity_of_the_fleet_has_a_reversible_action_the_demo_runs() {
        let (fleet, core, _, _) = at_incident(7, 30);
        let offers = offers(&fleet);
        for r in fleet.inventory() {
            let idx = core.lookup(&r.key()).unwrap();
            let recent: Vec<&Event> = core
                .feed(Some(idx), 20)
                .into_iter()
                .map(|f| &f.event)
                .collect();
            let s = suggest(&core.get(idx).unwrap().record, &recent, &offers);
            assert!(
                s.first().is_some_and(|x| x.executable && x.reversible()),
                "{}: {s:#?}",
                r.key()
            );
        }
    }
}
