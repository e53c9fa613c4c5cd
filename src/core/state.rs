//! The core state and its one entry point, `update(msg) -> effects`, plus read-only queries
//! (`window`, `explain`, `feed`). Pure: no clock, no I/O; time arrives inside each message.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::core::baseline::{self, Baseline};
use crate::core::containment::{self, Contained, ContainmentState, Leak, Takes};
use crate::core::graph::{Blast, CrownJewel, Graph, Growth, ReachPath};
use crate::core::model::{
    Change, Credential, CredentialKind, CredentialStatus, Effect as Grant, Event, IdentityKind,
    IdentityRecord, Issued, Millis, Permission, Removal, Signal, Status, parse_binding_tag,
};
use crate::core::ranking::{Quantised, Ranking, SortKey, quantise};
use crate::core::score::{self, Reason, ThreatState};
use crate::core::text::SafeText;
use thin_vec::ThinVec;

/// How many recent events the core keeps (with their raw records) for feeds and evidence.
pub const FEED_CAP: usize = 4096;
/// Minutes of per-identity activity history kept for the sparkline.
pub const ACTIVITY_BUCKETS: usize = 8;
/// `IdentityState::last_seen` before any event.
const NEVER: Millis = Millis::MIN;
/// An identity's first networks are learnt; after this many events a new one is a signal.
const NETWORK_LEARNING_EVENTS: u64 = 8;
const MAX_KNOWN_NETWORKS: usize = 6;
/// Threat at which an identity that also shows a compromise signal taints what it changes.
const SUSPECT_THREAT: f64 = 50.0;
/// Risk at which the core raises an alert the first time an identity crosses it.
pub const ALERT_RISK: f64 = 80.0;
/// The share of its issuer's threat a session carries: a session of a suspect is suspect.
pub const INHERITED_THREAT: f64 = 0.6;
/// A role this much more dangerous than its caller makes the assumption an escalation.
const ESCALATION_MARGIN: f64 = 20.0;
/// Notes kept per identity on what is behind its signals (two per signal at most, one per
/// signal before a second of any).
const MAX_NOTES: usize = 10;
/// Sessions remembered per issuer, and the depth a chain of sessions is followed to.
const MAX_SESSIONS: usize = 32;
const MAX_CHAIN: usize = 4;
/// Calls an identity was refused, remembered to see a session of it do them.
const MAX_DENIED: usize = 32;

#[derive(Debug, Clone)]
pub enum Msg {
    /// A batch of normalised events.
    Events { events: Vec<Event>, now: Millis },
    /// Identities with their permissions from an inventory: ranked even with no activity.
    Inventory {
        identities: Vec<IdentityRecord>,
        now: Millis,
    },
    /// What events did to other identities' inventories (credentials created for them,
    /// policies attached to them, bindings naming them): merged and re-scored.
    Changes { changes: Vec<Change>, now: Millis },
    /// Time passes: threat decays.
    Tick { now: Millis },
    /// Rank by another score.
    SortBy(SortKey),
    /// What done actions contained (replaces the previous list): events showing any of it
    /// acting after its action took effect are containment leaks, the recent feed included.
    Contained { items: Vec<Contained> },
    /// Actions rolled back, each with when: what its identity did from then on is not a leak,
    /// even when the queue was read after the calls arrived (a rollback done a moment ago).
    Lifted { actions: Vec<(String, Millis)> },
}

/// What the core asks the outside world to do or know.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An identity crossed the alert threshold.
    Alert {
        identity: String,
        risk: f64,
        detail: String,
    },
    /// A contained credential or principal acted again after its action took effect (raised
    /// once per action).
    ContainmentLeak(Leak),
}

#[derive(Debug, Clone)]
pub struct IdentityState {
    pub record: IdentityRecord,
    pub events: u64,
    /// `NEVER` until an event is seen (`last_seen()`): half the size of an `Option`.
    last_seen: Millis,
    /// The blast radius; its reasons and paths are spelled out from the graph when read
    /// (`Core::blast_of`), not kept for every identity.
    pub blast: f64,
    pub threat: f64,
    pub risk: f64,
    threat_state: ThreatState,
    networks: Vec<SafeText>,
    /// What its calls came from: tools, regions, its workload's home (`core::baseline`).
    /// Boxed: an identity known only from an inventory has none.
    baseline: Option<Box<Baseline>>,
    /// What is behind each active signal (the calls, the address and tool), newest first.
    notes: ThinVec<(Signal, SafeText)>,
    /// The call that issued it and the sessions it issued (`AssumeRole` and the like).
    lineage: Option<Box<Lineage>>,
    /// The part of its threat that comes from its issuer ([`INHERITED_THREAT`]), when that is
    /// more than its own.
    inherited: f32,
    /// Inventory changes other identities made to this one, newest last (capped).
    /// A `ThinVec` (one pointer, nothing allocated while empty): few identities have others
    /// change them, and every one pays for the field.
    changes_why: ThinVec<Reason>,
    activity: [u16; ACTIVITY_BUCKETS],
    /// Minutes since the epoch (an `i32` lasts four thousand years).
    activity_minute: i32,
    alerted: bool,
}

impl IdentityState {
    fn new(record: IdentityRecord) -> IdentityState {
        let (blast, _) = score::blast_radius(&record.permissions);
        let risk = score::risk_value(blast, 0.0);
        IdentityState {
            record,
            events: 0,
            last_seen: NEVER,
            blast,
            threat: 0.0,
            risk,
            threat_state: ThreatState::default(),
            networks: Vec::new(),
            baseline: None,
            notes: ThinVec::new(),
            lineage: None,
            inherited: 0.0,
            changes_why: ThinVec::new(),
            activity: [0; ACTIVITY_BUCKETS],
            activity_minute: 0,
            alerted: false,
        }
    }

    pub fn key(&self) -> String {
        self.record.key()
    }

    /// When its newest event happened; `None` for an identity known only from an inventory.
    pub fn last_seen(&self) -> Option<Millis> {
        (self.last_seen != NEVER).then_some(self.last_seen)
    }

    pub fn display(&self) -> &str {
        self.record
            .display
            .as_deref()
            .unwrap_or(self.record.principal.as_str())
    }

    /// Events per minute over the last `ACTIVITY_BUCKETS` minutes, oldest first, as of `now`.
    pub fn activity(&self, now: Millis) -> [u16; ACTIVITY_BUCKETS] {
        let shift = (now / 60_000 - i64::from(self.activity_minute)).max(0) as usize;
        let mut out = [0u16; ACTIVITY_BUCKETS];
        if shift < ACTIVITY_BUCKETS {
            out[..ACTIVITY_BUCKETS - shift].copy_from_slice(&self.activity[shift..]);
        }
        out
    }

    fn bump_activity(&mut self, at: Millis) {
        let minute = (at / 60_000).clamp(0, i64::from(i32::MAX)) as i32;
        if minute > self.activity_minute {
            let shift = (minute - self.activity_minute) as usize;
            if shift >= ACTIVITY_BUCKETS {
                self.activity = [0; ACTIVITY_BUCKETS];
            } else {
                self.activity.copy_within(shift.., 0);
                for b in &mut self.activity[ACTIVITY_BUCKETS - shift..] {
                    *b = 0;
                }
            }
            self.activity_minute = minute;
        }
        let back = (self.activity_minute - minute).max(0) as usize;
        if back < ACTIVITY_BUCKETS {
            let b = &mut self.activity[ACTIVITY_BUCKETS - 1 - back];
            *b = b.saturating_add(1);
        }
    }

    fn score(&self, key: SortKey) -> Quantised {
        quantise(match key {
            SortKey::Risk => self.risk,
            SortKey::Blast => self.blast,
            SortKey::Threat => self.threat,
        })
    }

    /// The reasons behind `threat`: one per active signal, as of the last rescore, each naming
    /// what is behind it; and the issuer's, when the session carries more of its issuer's
    /// threat than its own.
    pub fn threat_why(&self) -> Vec<Reason> {
        let notes = &self.notes;
        let mut why = self.threat_state.reasons_noted(&|s| {
            let mut it = notes
                .iter()
                .filter(|(n, _)| *n == s)
                .map(|(_, t)| t.as_str());
            let first = it.next()?;
            Some(match it.next() {
                Some(second) => format!("{first}; {second}"),
                None => first.to_string(),
            })
        });
        if let Some(l) = self.lineage.as_ref().filter(|l| !l.blamed.is_empty()) {
            let lines: Vec<&str> = l.blamed.iter().map(|b| b.as_str()).collect();
            why.push(Reason {
                factor: "lineage".into(),
                detail: format!("through its sessions: {}", lines.join("; ")),
                weight: 0.0,
            });
        }
        if let Some((by, call, at)) = self.lineage.as_ref().and_then(|l| l.issued_by.as_ref()) {
            let own = self
                .threat_state
                .reasons()
                .iter()
                .map(|r| r.weight)
                .sum::<f64>();
            if f64::from(self.inherited) > own {
                why.insert(
                    0,
                    Reason {
                        factor: "lineage".into(),
                        detail: format!(
                            "session issued by {} ({call} at {}), whose threat it carries ({:.0}% of it)",
                            by.name,
                            format_time(*at),
                            INHERITED_THREAT * 100.0
                        ),
                        weight: score::round1(f64::from(self.inherited)),
                    },
                );
            }
        }
        why
    }

    /// What the identity's calls came from, as far as its baseline has learnt (`None` before
    /// its first call).
    pub fn baseline(&self) -> Option<&Baseline> {
        self.baseline.as_deref()
    }

    /// The identity and call that issued this session, when seen.
    pub fn issued_by(&self) -> Option<&(Issuer, SafeText, Millis)> {
        self.lineage.as_ref()?.issued_by.as_ref()
    }

    /// The role this role session is of (`assumed_from=`).
    pub fn role(&self) -> Option<&str> {
        self.record
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("assumed_from="))
    }

    /// Every reason, risk first, given the blast radius's own (`Core::why` passes them).
    fn why_with(&self, blast_why: Vec<Reason>) -> Vec<Reason> {
        let threat_why = self.threat_why();
        let changes = &self.changes_why;
        let mut why = Vec::with_capacity(threat_why.len() + blast_why.len() + changes.len() + 1);
        why.push(score::risk(self.blast, self.threat).1);
        why.extend(changes.iter().rev().cloned());
        why.extend(threat_why);
        why.extend(blast_why);
        why
    }
}

/// Who issued a session: the issuer's index, key and name.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuer {
    pub idx: u32,
    pub key: String,
    pub name: String,
}

/// Where a session came from and what sessions an identity issued.
#[derive(Debug, Clone, Default)]
struct Lineage {
    /// The issuer, the call that issued it (`sts:AssumeRole`) and when.
    issued_by: Option<(Issuer, SafeText, Millis)>,
    sessions: ThinVec<u32>,
    /// The keys its issuing call handed out (the session's credentials).
    issued_keys: ThinVec<SafeText>,
    /// What its sessions did that it is blamed for, newest first: `SESSION: call (signal)`.
    blamed: ThinVec<SafeText>,
    /// Whether a session of it has already been seen doing what it was refused.
    escalation_seen: bool,
}

/// One entry of the live feed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub seq: u64,
    pub identity: u32,
    pub event: Event,
    pub signals: Vec<Signal>,
}

/// The ranked identity as scripts see it (INTERFACE.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedIdentity {
    pub rank: usize,
    pub identity: String,
    pub provider: String,
    pub kind: String,
    pub display: String,
    pub risk: f64,
    pub blast_radius: f64,
    pub threat: f64,
    pub events: u64,
    pub last_seen: Option<String>,
    pub credentials: Vec<RankedCredential>,
    pub why: Vec<Reason>,
    /// How the blast radius is reached through other identities (absent when only directly).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<ReachPath>,
    /// A done action in force on it or one of its credentials, and whether it held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containment: Option<ContainmentState>,
    /// The identity that assumed this role session or asked for this federated session
    /// (its key), when the data shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_of: Option<String>,
    /// The identity and call that issued this session, when seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<IssuedBy>,
    /// The role a role session is of (`arn:aws:iam::…:role/NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A credential as the ranked identity shows it: with the identity and call that issued it,
/// when the data shows it (a role session's key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedCredential {
    #[serde(flatten)]
    pub credential: Credential,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<IssuedBy>,
}

impl std::ops::Deref for RankedCredential {
    type Target = Credential;
    fn deref(&self) -> &Credential {
        &self.credential
    }
}

/// The identity and call that issued a session (`RankedIdentity::issued_by`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedBy {
    pub identity: String,
    pub call: String,
    pub time: String,
}

/// What one containment did to an identity's record, to undo it on rollback.
#[derive(Debug, Clone)]
struct Applied {
    action_id: String,
    idx: u32,
    /// Credentials whose status it changed, with the status each had before.
    prior: Vec<(SafeText, CredentialStatus)>,
    /// Grants it took away (a deleted binding's role).
    removed: Vec<Permission>,
}

/// The grant a containment that leaves nothing usable stands for: deny everything, named after
/// the action (so the details say why, and undoing it finds it).
fn containment_deny(c: &Contained) -> Permission {
    Permission {
        action: SafeText::new("*"),
        resource: SafeText::new("*"),
        effect: Grant::Deny,
        via: Some(SafeText::new(&format!(
            "contained by {} ({})",
            c.action_id, c.kind
        ))),
        sensitivity: None,
    }
}

fn is_containment_deny(p: &Permission, action_id: &str) -> bool {
    p.effect == Grant::Deny
        && p.via
            .as_deref()
            .and_then(|v| v.strip_prefix("contained by "))
            .is_some_and(|v| v.starts_with(action_id) && v[action_id.len()..].starts_with(" ("))
}

/// Apply what a containment takes away to the record; returns what it changed (credential
/// statuses before, grants removed), for `undo_takes`. Applying it again changes nothing more.
fn apply_takes(
    r: &mut IdentityRecord,
    c: &Contained,
) -> (Vec<(SafeText, CredentialStatus)>, Vec<Permission>) {
    let mut prior = Vec::new();
    let mut removed = Vec::new();
    let deny = match &c.takes {
        Takes::Credential { id, status } => {
            if let Some(k) = r.credentials.iter_mut().find(|k| k.id.as_str() == id) {
                prior.push((k.id.clone(), k.status));
                k.status = *status;
            }
            // With no credential left to use, none of its grants can be used.
            !r.credentials.is_empty()
                && r.credentials
                    .iter()
                    .all(|k| k.status != CredentialStatus::Active)
        }
        Takes::Credentials => {
            for k in &mut r.credentials {
                prior.push((k.id.clone(), k.status));
                k.status = CredentialStatus::Revoked;
            }
            true
        }
        Takes::Everything => true,
        Takes::Role(role) => {
            let (gone, kept): (Vec<Permission>, Vec<Permission>) =
                std::mem::take(&mut r.permissions)
                    .into_iter()
                    .partition(|p| granted_by_role(p, role));
            r.permissions = kept;
            removed = gone;
            false
        }
        Takes::Nothing => false,
    };
    if deny
        && !r
            .permissions
            .iter()
            .any(|p| is_containment_deny(p, &c.action_id))
    {
        push_tight(&mut r.permissions, containment_deny(c));
    }
    (prior, removed)
}

/// Give back what `apply_takes` took (a rollback).
fn undo_takes(r: &mut IdentityRecord, a: &Applied) {
    for (id, status) in &a.prior {
        if let Some(k) = r.credentials.iter_mut().find(|k| &k.id == id) {
            k.status = *status;
        }
    }
    r.permissions
        .retain(|p| !is_containment_deny(p, &a.action_id));
    for p in &a.removed {
        if !r.permissions.contains(p) {
            push_tight(&mut r.permissions, p.clone());
        }
    }
}

/// What containing one identity would do to the selected one's reach.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainmentEffect {
    /// "disabling access key AKIA…", "containing role/prod-admin (aws.deny_all)".
    pub action: String,
    /// Share (0–1) of the sensitive grants it reaches that this removes.
    pub removes: f64,
    pub blast_after: f64,
}

#[derive(Debug, Default)]
pub struct Core {
    ids: Vec<IdentityState>,
    ranking: Ranking,
    sort: SortKey,
    feed: VecDeque<FeedItem>,
    /// Identities whose threat is still decaying; revisited on `Tick`.
    hot: Vec<u32>,
    in_hot: Vec<bool>,
    seq: u64,
    now: Millis,
    /// Bumped on every change; frontends redraw when it moves.
    pub version: u64,
    key_buf: String,
    pub alerts: VecDeque<Effect>,
    contained: Vec<Contained>,
    /// What each containment in force did to its identity's record, to undo on rollback.
    applied: Vec<Applied>,
    /// Containment leaks seen, oldest first, one per action.
    leaks: Vec<Leak>,
    leaked: HashSet<String>,
    /// The permission graph behind every blast radius.
    graph: Graph,
    /// Deletions the data showed, by identity, with their time: delivery files overlap in time,
    /// so a grant or a key older than its deletion may arrive after it, and must not come back.
    deletions: HashMap<u32, Vec<(Millis, Removal)>>,
    /// Public addresses that people and their tools call from (identities that are not
    /// workloads), with the first identity seen there: a workload credential used from one of
    /// them was taken to that person's machine.
    addresses: HashMap<SafeText, u32>,
}

/// Public addresses remembered for [`Core::addresses`].
const MAX_ADDRESSES: usize = 1 << 16;

impl Core {
    pub fn new() -> Core {
        Core::default()
    }

    /// A core whose blast radius counts these crown jewels (from `config.toml`).
    pub fn with_crown_jewels(jewels: Vec<CrownJewel>) -> Core {
        Core {
            graph: Graph::new(jewels),
            ..Core::default()
        }
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn now(&self) -> Millis {
        self.now
    }
    pub fn sort(&self) -> SortKey {
        self.sort
    }
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    pub fn events_seen(&self) -> u64 {
        self.seq
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            Msg::Events { events, now } => {
                self.now = self.now.max(now);
                for e in events {
                    self.ingest(e, &mut effects);
                }
            }
            Msg::Inventory { identities, now } => {
                self.now = self.now.max(now);
                for rec in identities {
                    let n = self.ids.len();
                    let idx = self.intern(&rec);
                    let fresh = self.ids.len() > n;
                    let st = &mut self.ids[idx as usize];
                    let old = (st.record.permissions.clone(), st.record.tags.clone());
                    merge_record(&mut st.record, rec, true);
                    // A fresh snapshot does not undo a containment in force.
                    for a in self.applied.iter().filter(|a| a.idx == idx) {
                        if let Some(c) = self.contained.iter().find(|c| c.action_id == a.action_id)
                        {
                            apply_takes(&mut st.record, c);
                        }
                    }
                    let r = &st.record;
                    let same = old.0 == r.permissions && old.1.iter().all(|t| r.tags.contains(t));
                    let grew = fresh
                        || (old.0.iter().all(|p| r.permissions.contains(p))
                            && old.1.iter().all(|t| r.tags.contains(t))
                            && r.permissions
                                .iter()
                                .all(|p| p.effect == Grant::Allow || old.0.contains(p)));
                    if fresh || !same || r.tags.len() != old.1.len() {
                        let growth = if grew { Growth::Grew } else { Growth::Any };
                        self.graph
                            .upsert(idx, &self.ids[idx as usize].record, growth);
                    }
                    self.rescore(idx, &mut effects);
                }
            }
            Msg::Changes { changes, now } => {
                self.now = self.now.max(now);
                for c in changes {
                    self.apply_change(c, &mut effects);
                }
            }
            Msg::Tick { now } => {
                self.now = self.now.max(now);
                let hot = std::mem::take(&mut self.hot);
                for idx in hot {
                    self.rescore(idx, &mut effects);
                    let st = &self.ids[idx as usize];
                    if st.threat_state.is_quiet() {
                        self.in_hot[idx as usize] = false;
                    } else {
                        self.hot.push(idx);
                    }
                }
            }
            Msg::Contained { items } => {
                self.set_contained(items, &mut effects);
                let found: Vec<Leak> = self
                    .feed
                    .iter()
                    .flat_map(|f| {
                        self.contained
                            .iter()
                            .filter_map(|c| containment::leak_of(c, &f.event))
                    })
                    .collect();
                for l in found {
                    self.record_leak(l, &mut effects);
                }
            }
            Msg::Lifted { actions } => {
                for (id, at) in actions {
                    self.contained.retain(|c| c.action_id != id);
                    let before = self.leaks.len();
                    self.leaks
                        .retain(|l| !(l.action_id == id && l.seen_at >= at));
                    if self.leaks.len() < before {
                        self.leaked.remove(&id);
                    }
                }
            }
            Msg::SortBy(key) => {
                if key != self.sort {
                    self.sort = key;
                    let ids = &self.ids;
                    self.ranking.rebuild(
                        ids.iter()
                            .enumerate()
                            .map(|(i, s)| (i as u32, s.score(key))),
                    );
                }
            }
        }
        self.settle_graph(&mut effects);
        self.version += 1;
        for e in &effects {
            if self.alerts.len() >= 256 {
                self.alerts.pop_front();
            }
            self.alerts.push_back(e.clone());
        }
        effects
    }

    fn intern(&mut self, rec: &IdentityRecord) -> u32 {
        // Looked up through a reused buffer: most events come from identities already known,
        // and building a fresh key string for each was a measurable share of ingest.
        let mut buf = std::mem::take(&mut self.key_buf);
        buf.clear();
        buf.push_str(rec.provider.key_prefix());
        buf.push(':');
        buf.push_str(rec.principal.as_str());
        let found = self.find(buf.as_str());
        self.key_buf = buf;
        if let Some(i) = found {
            return i;
        }
        let idx = self.ids.len() as u32;
        // Grants and credentials are merged in by the caller, one by one.
        let fresh = IdentityRecord {
            provider: rec.provider,
            principal: rec.principal.clone(),
            kind: rec.kind,
            display: rec.display.clone(),
            credentials: Vec::new(),
            permissions: Vec::new(),
            tags: rec.tags.clone(),
        };
        let st = IdentityState::new(fresh);
        self.ranking.set(idx, st.score(self.sort));
        self.ids.push(st);
        self.in_hot.push(false);
        self.graph
            .file_key(idx, rec.provider, rec.principal.as_str());
        idx
    }

    fn ingest(&mut self, e: Event, effects: &mut Vec<Effect>) {
        // Replayed history has its own clock: scores are as of the latest event seen.
        self.now = self.now.max(e.time);
        let n = self.ids.len();
        let idx = self.intern(&e.actor);
        let fresh = self.ids.len() > n;
        // The call's name is spelled out only for what needs it (a note, a refusal, lineage):
        // most calls carry no signal.
        let call_cell = std::cell::OnceCell::new();
        let call = || call_cell.get_or_init(|| call_name(&e)).as_str();
        let net_of_ip = e.src_ip.as_deref().map(network_of);
        // A workload credential used from the address someone else's tools call from.
        let public_ip = e
            .src_ip
            .as_ref()
            .filter(|ip| net_of_ip.as_deref() != Some("internal") && !is_service_origin(ip));
        let workload = workload_kind(&self.ids[idx as usize].record).is_some();
        let shared_with = public_ip
            .filter(|_| workload)
            .and_then(|ip| self.addresses.get(ip).copied())
            .filter(|o| *o != idx)
            .map(|o| self.ids[o as usize].display().to_string());
        if let Some(ip) = public_ip
            && !workload
            && self.ids[idx as usize].record.kind != IdentityKind::AwsService
            && self.addresses.len() < MAX_ADDRESSES
            && !self.addresses.contains_key(ip)
        {
            self.addresses.insert(ip.clone(), idx);
        }
        let signals = {
            let st = &mut self.ids[idx as usize];
            let before = shape(&st.record);
            merge_from(&mut st.record, &e.actor);
            if let Some(c) = &e.credential {
                note_credential(&mut st.record.credentials, c);
            }
            if !self.deletions.is_empty() {
                reapply_deletions(&self.deletions, idx, e.time, &mut st.record);
            }
            if fresh || shape(&st.record) != before {
                // A deletion reapplied may have taken grants away: then the graph looks again
                // at all of them; otherwise only what was appended.
                let growth = if self.deletions.contains_key(&idx) {
                    Growth::Any
                } else {
                    Growth::Appended(before.1)
                };
                self.graph.upsert(idx, &st.record, growth);
            }
            st.events += 1;
            st.last_seen = if st.last_seen == NEVER {
                e.time
            } else {
                st.last_seen.max(e.time)
            };
            st.bump_activity(e.time);
            let (mut signals, note) = score::event_signals_noted(&e);
            if let Some(rule) = note
                && !st.changes_why.iter().any(|r| r.detail == rule)
            {
                // What a Kubernetes control-plane role always does, said where it lowered a signal.
                let detail = rule.to_string();
                let baseline = Reason {
                    factor: "baseline".into(),
                    detail,
                    weight: 0.0,
                };
                note_change(&mut st.changes_why, baseline);
            }
            // A call CloudTrail attributes to a service ("AWS Internal", "health.amazonaws.com")
            // was made by AWS for the identity (the console's polling), not by the identity
            // browsing: it is neither recon nor an address the identity came from.
            let by_service = e.src_ip.as_deref().is_some_and(is_service_origin);
            if by_service {
                signals.retain(|s| *s != Signal::Recon);
            }
            let workload = workload_kind(&st.record);
            let b = st.baseline.get_or_insert_with(Default::default);
            let found = b.observe(
                workload,
                baseline::Call {
                    ip: e.src_ip.as_deref(),
                    user_agent: e.user_agent.as_deref(),
                    region: e.region.as_deref(),
                    by_service,
                    succeeded: e.status == Status::Success,
                },
                network_of,
            );
            if e.status == Status::Failure {
                b.refused(call(), MAX_DENIED);
            }
            if let Some(net) = net_of_ip.as_deref().filter(|_| !by_service)
                && !st.networks.iter().any(|n| n.as_str() == net)
            {
                if st.events > NETWORK_LEARNING_EVENTS && e.status == Status::Success {
                    signals.push(Signal::NewNetwork);
                }
                if st.networks.len() < MAX_KNOWN_NETWORKS {
                    push_tight(&mut st.networks, SafeText::new(net));
                }
            }
            let mut found = found;
            if let (Some(other), Some(ip)) = (&shared_with, public_ip)
                && !found
                    .iter()
                    .any(|(s, _)| *s == Signal::CredentialOutsideWorkload)
            {
                found.push((
                    Signal::CredentialOutsideWorkload,
                    format!(
                        "{} credential used from {ip}, the address {other} calls from",
                        workload_kind(&st.record).unwrap_or("workload")
                    ),
                ));
            }
            signals.extend(found.iter().map(|(s, _)| *s));
            signals.sort_unstable();
            signals.dedup();
            for s in &signals {
                st.threat_state.record(*s, e.time);
                let note = match found.iter().find(|(f, _)| f == s) {
                    Some((_, n)) => n.clone(),
                    None if *s == Signal::NewNetwork => match e.src_ip.as_deref() {
                        Some(ip) => format!("from {ip} ({})", call()),
                        None => call().to_string(),
                    },
                    None => call().to_string(),
                };
                note_signal(&mut st.notes, *s, SafeText::new(&note));
            }
            signals
        };
        if !signals.is_empty() && !self.in_hot[idx as usize] {
            self.in_hot[idx as usize] = true;
            self.hot.push(idx);
        }
        self.record_sigma(idx, &e);
        if let Some(issued) = e.issued.as_deref()
            && e.status == Status::Success
        {
            self.issue(idx, issued, call(), e.time, effects);
        }
        if self.ids[idx as usize]
            .lineage
            .as_ref()
            .is_some_and(|l| l.issued_by.is_some())
        {
            self.blame_issuer(idx, &signals, call(), &e, effects);
        }
        self.rescore(idx, effects);
        let leaks: Vec<Leak> = self
            .contained
            .iter()
            .filter_map(|c| containment::leak_of(c, &e))
            .collect();
        for l in leaks {
            self.record_leak(l, effects);
        }
        self.seq += 1;
        if self.feed.len() >= FEED_CAP {
            // Dropped where it lies (popping moved every old event out first, perf).
            self.feed.drain(..1);
        }
        self.feed.push_back(FeedItem {
            seq: self.seq,
            identity: idx,
            event: e,
            signals,
        });
    }

    /// The done actions now in force: what a rolled-back one took away comes back, what a new
    /// one takes away goes (the residual risk is scored from what is left). An action on an
    /// identity not seen yet is applied once it is.
    fn set_contained(&mut self, items: Vec<Contained>, effects: &mut Vec<Effect>) {
        let (gone, kept): (Vec<Applied>, Vec<Applied>) = std::mem::take(&mut self.applied)
            .into_iter()
            .partition(|a| !items.iter().any(|c| c.action_id == a.action_id));
        self.applied = kept;
        for a in gone {
            undo_takes(&mut self.ids[a.idx as usize].record, &a);
            self.graph
                .upsert(a.idx, &self.ids[a.idx as usize].record, Growth::Grew);
            self.rescore(a.idx, effects);
        }
        for c in &items {
            if self.applied.iter().any(|a| a.action_id == c.action_id) {
                continue;
            }
            let Some(idx) = self.find(&c.identity) else {
                continue;
            };
            let (prior, removed) = apply_takes(&mut self.ids[idx as usize].record, c);
            self.applied.push(Applied {
                action_id: c.action_id.clone(),
                idx,
                prior,
                removed,
            });
            self.graph
                .upsert(idx, &self.ids[idx as usize].record, Growth::Any);
            self.rescore(idx, effects);
        }
        self.contained = items;
    }

    /// Keep the first leak of each action and raise it once.
    fn record_leak(&mut self, l: Leak, effects: &mut Vec<Effect>) {
        if self.leaked.insert(l.action_id.clone()) {
            self.leaks.push(l.clone());
            effects.push(Effect::ContainmentLeak(l));
        }
    }

    fn apply_change(&mut self, c: Change, effects: &mut Vec<Effect>) {
        self.now = self.now.max(c.time);
        if let Some(Removal::Binding { .. } | Removal::Role { .. }) = &c.removes {
            return self.remove_bound(&c, effects);
        }
        // A deletion of an identity not seen yet is noted too: its creation may arrive after
        // it (delivery files overlap in time), and must not bring back what was deleted.
        // What an identity showing signs of compromise creates, keys or empowers is the
        // attacker's foothold: a user it creates, a key it mints, a role it trusts.
        // (A deletion takes a foothold away: it is no persistence, whoever does it.)
        let suspect =
            c.by.as_deref()
                .filter(|_| c.removes.is_none())
                .and_then(|k| self.find(k))
                .map(|i| &self.ids[i as usize])
                .filter(|by| by.threat >= SUSPECT_THREAT && by.threat_state.shows_compromise())
                .map(|by| (by.display().to_string(), by.threat));
        let n = self.ids.len();
        let idx = self.intern(&c.target);
        let fresh = self.ids.len() > n;
        let st = &mut self.ids[idx as usize];
        let before = shape(&st.record);
        let grew = match &c.removes {
            None => {
                merge_record(&mut st.record, c.target, false);
                reapply_deletions(&self.deletions, idx, c.time, &mut st.record);
                true
            }
            Some(r) => {
                take_away(&mut st.record, r);
                let list = self.deletions.entry(idx).or_default();
                if list.len() < MAX_DELETIONS_KEPT {
                    list.push((c.time, r.clone()));
                }
                false
            }
        };
        if fresh || shape(&st.record) != before {
            let growth = if grew && !self.deletions.contains_key(&idx) {
                Growth::Appended(before.1)
            } else {
                Growth::Any
            };
            self.graph.upsert(idx, &st.record, growth);
        }
        let mut detail = c.detail.to_string();
        let signal = match &suspect {
            Some((by, threat)) => {
                detail.push_str(&format!(
                    "; persistence: {by} showed threat {threat:.0} when it did this"
                ));
                Some(c.signal.unwrap_or(Signal::Persistence))
            }
            None => c.signal,
        };
        let st = &mut self.ids[idx as usize];
        if let Some(s) = signal {
            st.threat_state.record(s, c.time);
            if !self.in_hot[idx as usize] {
                self.in_hot[idx as usize] = true;
                self.hot.push(idx);
            }
        }
        let reason = Reason {
            factor: "change".into(),
            detail,
            weight: signal.map(|s| s.points()).unwrap_or(0.0),
        };
        note_change(&mut st.changes_why, reason);
        self.rescore(idx, effects);
    }

    /// A deleted Kubernetes binding or role: whoever holds it (its `binding=` tag) loses the
    /// grants of the role, unless another of its bindings grants the same role. A scan of every
    /// identity, but deletions are rare.
    fn remove_bound(&mut self, c: &Change, effects: &mut Vec<Effect>) {
        let mut hit = Vec::new();
        for (i, st) in self.ids.iter_mut().enumerate() {
            let tags = &mut st.record.tags;
            let mut roles: Vec<String> = Vec::new();
            match &c.removes {
                Some(Removal::Binding { binding }) => tags.retain(|t| {
                    let Some((ns, name, role)) = parse_binding_tag(t.as_str()) else {
                        return true;
                    };
                    let key = match ns {
                        Some(ns) => format!("{ns}/{name}"),
                        None => name.to_string(),
                    };
                    if key != binding.as_str() {
                        return true;
                    }
                    roles.push(role.to_string());
                    false
                }),
                Some(Removal::Role { role }) => {
                    if tags.iter().any(|t| {
                        parse_binding_tag(t.as_str()).is_some_and(|(_, _, r)| r == role.as_str())
                    }) {
                        roles.push(role.to_string());
                    }
                }
                _ => return,
            }
            if roles.is_empty() {
                continue;
            }
            let still: Vec<String> = match &c.removes {
                Some(Removal::Binding { .. }) => tags
                    .iter()
                    .filter_map(|t| parse_binding_tag(t.as_str()).map(|(_, _, r)| r.to_string()))
                    .collect(),
                _ => Vec::new(),
            };
            st.record.permissions.retain(|p| {
                !roles.iter().any(|r| granted_by_role(p, r))
                    || still.iter().any(|r| granted_by_role(p, r))
            });
            note_change(
                &mut st.changes_why,
                Reason {
                    factor: "change".into(),
                    detail: c.detail.to_string(),
                    weight: 0.0,
                },
            );
            hit.push(i as u32);
        }
        for idx in hit {
            self.graph
                .upsert(idx, &self.ids[idx as usize].record, Growth::Any);
            self.rescore(idx, effects);
        }
    }

    /// A call of `idx` issued a session (`AssumeRole`, `GetSessionToken`, …): the session is
    /// tied to it, so that what the session does is blamed on its issuer and the session
    /// carries its issuer's threat. Assuming a role more dangerous than the caller is an
    /// escalation of the caller's privileges.
    fn issue(
        &mut self,
        idx: u32,
        issued: &Issued,
        call: &str,
        at: Millis,
        effects: &mut Vec<Effect>,
    ) {
        let n = self.ids.len();
        let sidx = self.intern(&issued.identity);
        if sidx == idx {
            return;
        }
        let fresh = self.ids.len() > n;
        let issuer = Issuer {
            idx,
            key: self.ids[idx as usize].key(),
            name: self.ids[idx as usize].display().to_string(),
        };
        let by_service = self.ids[idx as usize].record.kind == IdentityKind::AwsService;
        let linked = {
            let st = &mut self.ids[sidx as usize];
            let before = shape(&st.record);
            merge_from(&mut st.record, &issued.identity);
            for c in &issued.identity.credentials {
                note_credential(&mut st.record.credentials, c);
            }
            if let Some(of) = &issued.session_of {
                let tag = format!("assumed_from={of}");
                if !st.record.tags.iter().any(|t| t.as_str() == tag) {
                    st.record.tags.push(SafeText::new(&tag));
                }
            }
            if let Some(kind) = &issued.workload
                && workload_kind(&st.record).is_none()
            {
                let name = st.record.principal.rsplit('/').next().unwrap_or("");
                st.record
                    .tags
                    .push(SafeText::new(&format!("workload={kind}:{name}")));
            }
            let lineage = st.lineage.get_or_insert_with(Default::default);
            // The same session issued again (a role re-assumed under the same session name) is
            // one link, not a new one each time.
            let linked = lineage
                .issued_by
                .as_ref()
                .is_some_and(|(by, _, _)| by.idx == idx);
            lineage.issued_by = Some((issuer, SafeText::new(call), at));
            for c in &issued.identity.credentials {
                if !lineage.issued_keys.contains(&c.id) && lineage.issued_keys.len() < 8 {
                    lineage.issued_keys.push(c.id.clone());
                }
            }
            if fresh || shape(&st.record) != before {
                self.graph.upsert(sidx, &st.record, Growth::Any);
            }
            linked
        };
        let st = &mut self.ids[idx as usize];
        let lineage = st.lineage.get_or_insert_with(Default::default);
        if !lineage.sessions.contains(&sidx) {
            if lineage.sessions.len() >= MAX_SESSIONS {
                lineage.sessions.remove(0);
            }
            lineage.sessions.push(sidx);
        }
        if by_service {
            // A service asked for its workload's credentials: the workload is not its caller.
            self.rescore(sidx, effects);
            return;
        }
        if linked {
            self.rescore(idx, effects);
            return;
        }
        // What the session did before its issuing call was read is the issuer's doing too.
        let earlier = self.ids[sidx as usize].threat_state.clone();
        let earlier_notes = self.ids[sidx as usize].notes.clone();
        let session_name = self.ids[sidx as usize].display().to_string();
        if !earlier.is_quiet() {
            let st = &mut self.ids[idx as usize];
            st.threat_state.absorb(&earlier);
            for (s, n) in earlier_notes.iter().rev() {
                note_signal(
                    &mut st.notes,
                    *s,
                    SafeText::new(&format!("through {session_name}: {}", n.as_str())),
                );
            }
        }
        let role_blast = issued
            .session_of
            .as_deref()
            .and_then(|of| {
                self.find(&crate::core::model::identity_key(
                    issued.identity.provider,
                    of,
                ))
            })
            .map_or(0.0, |r| self.ids[r as usize].blast)
            .max(self.ids[sidx as usize].blast);
        let own_blast = self.ids[idx as usize].blast;
        if role_blast >= own_blast + ESCALATION_MARGIN {
            let role = issued
                .session_of
                .as_deref()
                .unwrap_or(session_name.as_str());
            let st = &mut self.ids[idx as usize];
            st.threat_state.record(Signal::PrivilegeEscalation, at);
            note_signal(
                &mut st.notes,
                Signal::PrivilegeEscalation,
                SafeText::new(&format!(
                    "{call} of {role}, blast radius {role_blast:.0} against its own {own_blast:.0}"
                )),
            );
            if !self.in_hot[idx as usize] {
                self.in_hot[idx as usize] = true;
                self.hot.push(idx);
            }
        }
        self.rescore(idx, effects);
    }

    /// What a session does is its issuer's doing: its signals are recorded on the issuer too,
    /// noted as done through the session; and a call the issuer was refused that the session
    /// makes is the issuer gaining privileges through the role.
    fn blame_issuer(
        &mut self,
        idx: u32,
        signals: &[Signal],
        call: &str,
        e: &Event,
        effects: &mut Vec<Effect>,
    ) {
        let Some(by) = self.ids[idx as usize]
            .lineage
            .as_ref()
            .and_then(|l| l.issued_by.as_ref())
            .map(|(by, _, _)| by.idx)
        else {
            return;
        };
        if by == idx || self.ids[by as usize].record.kind == IdentityKind::AwsService {
            return;
        }
        let session = self.ids[idx as usize].display().to_string();
        let gained = e.status == Status::Success
            && !self.ids[idx as usize]
                .lineage
                .as_ref()
                .is_some_and(|l| l.escalation_seen)
            && self.ids[by as usize]
                .baseline
                .as_ref()
                .is_some_and(|b| b.was_refused(call));
        if signals.is_empty() && !gained {
            return;
        }
        let notes: Vec<(Signal, String)> = signals
            .iter()
            .map(|s| {
                let note = self.ids[idx as usize]
                    .notes
                    .iter()
                    .find(|(n, _)| n == s)
                    .map_or(call, |(_, t)| t.as_str());
                (*s, format!("through {session}: {note}"))
            })
            .collect();
        let issuer = &mut self.ids[by as usize];
        for (s, note) in notes {
            issuer.threat_state.record(s, e.time);
            note_signal(&mut issuer.notes, s, SafeText::new(&note));
        }
        if let Some(strongest) = signals
            .iter()
            .max_by(|a, b| a.points().total_cmp(&b.points()))
            && let Some(l) = issuer.lineage.as_mut()
        {
            let line = SafeText::new(&format!("{session}: {call} ({})", strongest.label()));
            if !l.blamed.contains(&line) {
                if l.blamed.len() >= 4 {
                    l.blamed.pop();
                }
                l.blamed.insert(0, line);
            }
        }
        if gained {
            if let Some(l) = self.ids[idx as usize].lineage.as_mut() {
                l.escalation_seen = true;
            }
            let issuer = &mut self.ids[by as usize];
            issuer
                .threat_state
                .record(Signal::PrivilegeEscalation, e.time);
            note_signal(
                &mut issuer.notes,
                Signal::PrivilegeEscalation,
                SafeText::new(&format!(
                    "its session {session} made {call}, which it was refused itself"
                )),
            );
        }
        if !self.in_hot[by as usize] {
            self.in_hot[by as usize] = true;
            self.hot.push(by);
        }
        self.rescore(by, effects);
    }

    /// Bring the graph's reach up to date and re-score the identities whose blast it changed.
    fn settle_graph(&mut self, effects: &mut Vec<Effect>) {
        for idx in self.graph.settle() {
            let score = self.graph.score(idx);
            let Some(st) = self.ids.get_mut(idx as usize) else {
                continue;
            };
            if st.blast == score {
                continue;
            }
            st.blast = score;
            self.rescore(idx, effects);
        }
    }

    /// The Sigma rules the event matched, on its actor's threat (decaying like its signals).
    fn record_sigma(&mut self, idx: u32, e: &Event) {
        if e.sigma.is_empty() {
            return;
        }
        let st = &mut self.ids[idx as usize];
        for h in &e.sigma {
            st.threat_state.record_sigma(h, e.time);
        }
        if !self.in_hot[idx as usize] {
            self.in_hot[idx as usize] = true;
            self.hot.push(idx);
        }
    }

    /// Re-score an identity, then the sessions it issued (they carry its threat), down a chain
    /// of sessions [`MAX_CHAIN`] deep.
    fn rescore(&mut self, idx: u32, effects: &mut Vec<Effect>) {
        self.rescore_one(idx, effects);
        if self.ids[idx as usize].lineage.is_none() {
            return;
        }
        let mut todo: Vec<(u32, usize)> = vec![(idx, 0)];
        while let Some((i, depth)) = todo.pop() {
            if depth >= MAX_CHAIN {
                continue;
            }
            let sessions: Vec<u32> = match &self.ids[i as usize].lineage {
                Some(l) => l.sessions.iter().copied().filter(|s| *s != idx).collect(),
                None => continue,
            };
            for s in sessions {
                self.rescore_one(s, effects);
                todo.push((s, depth + 1));
            }
        }
    }

    fn rescore_one(&mut self, idx: u32, effects: &mut Vec<Effect>) {
        let now = self.now;
        let issuer_threat = self.ids[idx as usize]
            .lineage
            .as_ref()
            .and_then(|l| l.issued_by.as_ref())
            .and_then(|(by, _, _)| self.ids.get(by.idx as usize))
            // A service that asked for its workload's credentials vouches for nothing either
            // way: the workload's own calls say what it is.
            .filter(|by| by.record.kind != IdentityKind::AwsService)
            .map_or(0.0, |by| by.threat);
        let st = &mut self.ids[idx as usize];
        // Numbers only: the reasons are spelled out when someone reads them (`threat_why`).
        let own = st.threat_state.value(now);
        let inherited = score::round1(issuer_threat * INHERITED_THREAT);
        st.inherited = if inherited > own {
            inherited as f32
        } else {
            0.0
        };
        st.threat = own.max(inherited);
        st.risk = score::risk_value(st.blast, st.threat);
        if st.risk >= ALERT_RISK && !st.alerted {
            st.alerted = true;
            let detail = st
                .threat_why()
                .first()
                .map(|r| r.detail.clone())
                .unwrap_or_default();
            effects.push(Effect::Alert {
                identity: st.key(),
                risk: st.risk,
                detail,
            });
        } else if st.risk < ALERT_RISK * 0.75 {
            st.alerted = false;
        }
        let s = st.score(self.sort);
        self.ranking.set(idx, s);
    }

    // ---- queries ----

    /// Containment leaks seen so far, oldest first (one per action).
    pub fn leaks(&self) -> &[Leak] {
        &self.leaks
    }

    /// Containment leaks of one identity: its own key, or one of its credentials.
    pub fn leaks_of(&self, idx: u32) -> Vec<&Leak> {
        let Some(st) = self.ids.get(idx as usize) else {
            return Vec::new();
        };
        let key = st.key();
        self.leaks
            .iter()
            .filter(|l| {
                l.identity == key
                    || l.credential
                        .as_ref()
                        .is_some_and(|c| st.record.credentials.iter().any(|k| k.id.as_str() == c))
            })
            .collect()
    }

    /// Identities are found through the graph's key index: one copy of the keys, not two.
    fn find(&self, key: &str) -> Option<u32> {
        self.graph.find(key)
    }

    pub fn get(&self, idx: u32) -> Option<&IdentityState> {
        self.ids.get(idx as usize)
    }

    /// The blast radius of an identity with its reasons and the paths behind them (one per
    /// class reached through other identities), spelled out from the graph now.
    pub fn blast_of(&self, idx: u32) -> Blast {
        self.graph.blast(idx)
    }

    /// Every reason behind an identity's risk: the risk itself, changes others made to it, its
    /// live threat, then its blast radius. Empty for an unknown index.
    pub fn why(&self, idx: u32) -> Vec<Reason> {
        match self.ids.get(idx as usize) {
            Some(st) => st.why_with(self.graph.blast(idx).why),
            None => Vec::new(),
        }
    }

    pub fn lookup(&self, key: &str) -> Option<u32> {
        self.find(key)
    }

    /// Ranked identity indices from `offset`, keeping those that match `filter`
    /// (case-insensitive substring of key, display or kind).
    pub fn window(&self, offset: usize, len: usize, filter: Option<&str>) -> Vec<u32> {
        match filter.filter(|f| !f.is_empty()) {
            None => self.ranking.iter_from(offset).take(len).collect(),
            Some(f) => {
                let f = f.to_lowercase();
                self.ranking
                    .iter_from(0)
                    .filter(|i| self.matches(*i, &f))
                    .skip(offset)
                    .take(len)
                    .collect()
            }
        }
    }

    /// How many identities a filter keeps (all when there is none).
    pub fn count(&self, filter: Option<&str>) -> usize {
        match filter.filter(|f| !f.is_empty()) {
            None => self.ranking.len(),
            Some(f) => {
                let f = f.to_lowercase();
                (0..self.ids.len() as u32)
                    .filter(|i| self.matches(*i, &f))
                    .count()
            }
        }
    }

    fn matches(&self, idx: u32, lower: &str) -> bool {
        let st = &self.ids[idx as usize];
        contains_ci(st.record.principal.as_str(), lower)
            || st
                .record
                .display
                .as_deref()
                .is_some_and(|d| contains_ci(d, lower))
            || st.record.kind.as_str().contains(lower)
            || st.record.provider.as_str().contains(lower)
    }

    /// 0-based rank of an identity under the current sort.
    pub fn position(&self, idx: u32) -> Option<usize> {
        self.ranking.position(idx)
    }

    /// The most recent feed items, newest first, optionally only one identity's.
    pub fn feed(&self, identity: Option<u32>, n: usize) -> Vec<&FeedItem> {
        self.feed
            .iter()
            .rev()
            .filter(|f| identity.is_none_or(|i| f.identity == i))
            .take(n)
            .collect()
    }

    pub fn ranked(&self, idx: u32, rank: usize) -> Option<RankedIdentity> {
        let st = self.ids.get(idx as usize)?;
        // Reasons and paths come from one walk of the graph.
        let blast = self.blast_of(idx);
        Some(RankedIdentity {
            rank,
            identity: st.key(),
            provider: st.record.provider.as_str().to_string(),
            kind: st.record.kind.as_str().to_string(),
            display: st.display().to_string(),
            risk: st.risk,
            blast_radius: st.blast,
            threat: st.threat,
            events: st.events,
            last_seen: st.last_seen().map(format_time),
            credentials: st
                .record
                .credentials
                .iter()
                .map(|c| RankedCredential {
                    credential: c.clone(),
                    issued_by: st
                        .lineage
                        .as_ref()
                        .filter(|l| l.issued_keys.contains(&c.id))
                        .and_then(|l| l.issued_by.as_ref())
                        .map(|(by, call, at)| IssuedBy {
                            identity: by.key.clone(),
                            call: call.to_string(),
                            time: format_time(*at),
                        }),
                })
                .collect(),
            why: st.why_with(blast.why),
            paths: blast.paths,
            containment: self.containment_of(idx),
            session_of: st.issued_by().map(|(by, _, _)| by.key.clone()),
            role: st.role().map(str::to_string),
            issued_by: st.issued_by().map(|(by, call, at)| IssuedBy {
                identity: by.key.clone(),
                call: call.to_string(),
                time: format_time(*at),
            }),
        })
    }

    /// The newest containment in force on an identity (on it, or on one of its credentials),
    /// `leaking` once it was seen acting after it.
    pub fn containment_of(&self, idx: u32) -> Option<ContainmentState> {
        let st = self.ids.get(idx as usize)?;
        if self.contained.is_empty() {
            return None;
        }
        let key = st.key();
        let c = self
            .contained
            .iter()
            .filter(|c| {
                c.identity == key
                    || c.credential
                        .as_ref()
                        .is_some_and(|id| st.record.credentials.iter().any(|k| k.id.as_str() == id))
            })
            .max_by_key(|c| c.since)?;
        Some(ContainmentState {
            state: if self.leaked.contains(&c.action_id) {
                "leaking".into()
            } else {
                "contained".into()
            },
            action: c.action_id.clone(),
            kind: c.kind.clone(),
            at: format_time(c.since),
        })
    }

    /// What containing the identity, or each identity on its paths, would remove from its reach.
    pub fn containments(&self, idx: u32) -> Vec<ContainmentEffect> {
        let Some(st) = self.ids.get(idx as usize) else {
            return Vec::new();
        };
        self.graph
            .containments(idx)
            .into_iter()
            .filter_map(|c| {
                let target = self.ids.get(c.node as usize)?;
                let action = if c.node == idx {
                    match st
                        .record
                        .credentials
                        .iter()
                        .find(|k| k.status == crate::core::model::CredentialStatus::Active)
                    {
                        Some(k) if k.kind == CredentialKind::AccessKey => {
                            format!("disabling access key {}", k.id)
                        }
                        Some(k) => format!("revoking credential {}", k.id),
                        None => format!("containing it ({})", containment_kind(&target.record)),
                    }
                } else {
                    format!(
                        "containing {} ({})",
                        crate::core::graph::short_name(target.record.principal.as_str()),
                        containment_kind(&target.record)
                    )
                };
                Some(ContainmentEffect {
                    action,
                    removes: c.removes,
                    blast_after: c.blast_after,
                })
            })
            .collect()
    }

    /// The top `n` under `by`, as scripts see them.
    pub fn top(&mut self, n: usize, by: SortKey) -> Vec<RankedIdentity> {
        self.update(Msg::SortBy(by));
        self.window(0, n, None)
            .into_iter()
            .enumerate()
            .filter_map(|(i, idx)| self.ranked(idx, i + 1))
            .collect()
    }
}

/// The containment action kind that stops an identity being used as a step.
fn containment_kind(r: &IdentityRecord) -> &'static str {
    use crate::core::model::Provider;
    match (r.provider, r.kind) {
        (Provider::Aws, IdentityKind::IamUser) => "aws.disable_access_key",
        (Provider::Aws, _) => "aws.deny_all",
        (Provider::Kubernetes, _) => "k8s.delete_rolebinding",
        (Provider::Vault, _) => "vault.disable_entity",
        (Provider::Github, _) => "github.revoke_credential",
        (Provider::Gcp, _) => "gcp.disable_service_account_key",
        _ => "contain",
    }
}

/// Keep one more reason for what others changed on an identity (the newest eight, no repeats).
fn note_change(changes: &mut ThinVec<Reason>, reason: Reason) {
    if !changes.iter().any(|r| r.detail == reason.detail) {
        if changes.len() >= 8 {
            changes.remove(0);
        }
        changes.push(reason);
    }
}

/// Whether a grant came through the policy or role named `via` (an inline policy's grants may
/// carry the conditional mark, a group's grants the group after the name).
fn granted_via(p: &Permission, via: &str) -> bool {
    p.via.as_deref().is_some_and(|v| {
        v == via
            || v.strip_prefix(via)
                .is_some_and(|rest| rest.starts_with(" ("))
    })
}

/// Deletions kept per identity (a user deleted and re-created all day keeps the latest).
const MAX_DELETIONS_KEPT: usize = 16;

/// After merging what the data showed at `t`, take away again what was deleted after `t`.
fn reapply_deletions(
    deletions: &HashMap<u32, Vec<(Millis, Removal)>>,
    idx: u32,
    t: Millis,
    r: &mut IdentityRecord,
) {
    for (at, removal) in deletions.get(&idx).into_iter().flatten() {
        if *at > t {
            take_away(r, removal);
        }
    }
}

/// Whether a Kubernetes grant came through `role`: its `via` is the role's name, plain (as an
/// RBAC inventory writes it) or qualified (`Role NAMESPACE/NAME`, `ClusterRole NAME`).
fn granted_by_role(p: &Permission, role: &str) -> bool {
    !role.is_empty()
        && p.via
            .as_deref()
            .is_some_and(|v| v == role || v.rsplit(['/', ' ']).next() == Some(role))
}

/// Apply a deletion the data shows to the record it names.
fn take_away(r: &mut IdentityRecord, removal: &Removal) {
    match removal {
        Removal::Identity => {
            r.permissions.clear();
            for c in &mut r.credentials {
                c.status = CredentialStatus::Revoked;
            }
        }
        Removal::Grants { via } => r.permissions.retain(|p| !granted_via(p, via.as_str())),
        Removal::Credential(c) => upsert_credential(&mut r.credentials, Cow::Borrowed(c)),
        Removal::Binding { .. } | Removal::Role { .. } => {}
    }
}

/// What of a record the graph depends on, to tell whether a merge changed it.
fn shape(r: &IdentityRecord) -> (IdentityKind, usize, usize) {
    (r.kind, r.permissions.len(), r.tags.len())
}

/// The kind of workload a credential is bound to (`workload=KIND:NAME`): an instance-profile
/// session (`ec2`), a Lambda function's or ECS task's role session, a pod's token.
fn workload_kind(r: &IdentityRecord) -> Option<&str> {
    r.tags.iter().find_map(|t| {
        let rest = t.strip_prefix("workload=")?;
        Some(rest.split_once(':').map_or(rest, |(k, _)| k))
    })
}

/// The call an event made, as reasons name it: `cloudtrail:StopLogging`, `create`.
fn call_name(e: &Event) -> String {
    let mut c = String::with_capacity(e.api.service.len() + e.api.operation.len() + 1);
    if !e.api.service.is_empty() {
        c.push_str(e.api.service.as_str());
        c.push(':');
    }
    c.push_str(e.api.operation.as_str());
    c
}

/// Keep what is behind a signal: the newest two distinct notes of each signal, newest first.
fn note_signal(notes: &mut ThinVec<(Signal, SafeText)>, s: Signal, note: SafeText) {
    if let Some(i) = notes.iter().position(|(n, t)| *n == s && *t == note) {
        let kept = notes.remove(i);
        notes.insert(0, kept);
        return;
    }
    if notes.iter().filter(|(n, _)| *n == s).count() >= 2
        && let Some(i) = notes.iter().rposition(|(n, _)| *n == s)
    {
        notes.remove(i);
    }
    if notes.len() >= MAX_NOTES {
        // Room is made where a signal has a second note, so that each keeps one.
        let drop = notes
            .iter()
            .rposition(|(n, _)| *n == s)
            .or_else(|| {
                (0..notes.len())
                    .rev()
                    .find(|&i| notes[..i].iter().any(|(n, _)| *n == notes[i].0))
            })
            .unwrap_or(notes.len() - 1);
        notes.remove(drop);
    }
    notes.insert(0, (s, note));
}

/// Calls AWS services make on a workload's behalf carry the service's name, not an address.
fn is_service_origin(ip: &str) -> bool {
    ip.ends_with(".amazonaws.com") || ip == "AWS Internal"
}

/// The network an address belongs to, as far as a new-network signal cares: every private,
/// loopback, link-local or carrier-grade NAT address is the organisation's own ("internal");
/// a public IPv4 address counts by its /24, IPv6 by its /48. Moving between two offices' NATs
/// or from a laptop to a VPN endpoint inside 10/8 is not a new network; a public address never
/// seen before is.
fn network_of(ip: &str) -> String {
    use std::net::IpAddr;
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let o = a.octets();
            if a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || (o[0] == 100 && (64..128).contains(&o[1]))
            {
                "internal".into()
            } else {
                format!("{}.{}.{}.0/24", o[0], o[1], o[2])
            }
        }
        Ok(IpAddr::V6(a)) => {
            let s = a.segments();
            if a.is_loopback() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80 {
                "internal".into()
            } else if let Some(v4) = a.to_ipv4_mapped() {
                network_of(&v4.to_string())
            } else {
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        }
        Err(_) => ip.to_string(),
    }
}

fn contains_ci(hay: &str, lower_needle: &str) -> bool {
    if hay.is_ascii() && lower_needle.is_ascii() {
        hay.as_bytes()
            .windows(lower_needle.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(lower_needle.as_bytes()))
    } else {
        hay.to_lowercase().contains(lower_needle)
    }
}

/// Push onto one of an identity's short lists without the four slots a `Vec` first grows to:
/// most identities hold one or two grants, keys and networks, and at a million identities the
/// empty slots were a fifth of the memory. Past eight the usual doubling takes over.
fn push_tight<T>(list: &mut Vec<T>, x: T) {
    if list.len() < 8 {
        list.reserve_exact(1);
    }
    list.push(x);
}

/// Merge what a newer record says about an identity into what we know.
fn merge_record(into: &mut IdentityRecord, from: IdentityRecord, replace_permissions: bool) {
    if into.kind == IdentityKind::Unknown {
        into.kind = from.kind;
    }
    if from.display.is_some() && into.display.is_none() {
        into.display = from.display;
    }
    for c in from.credentials {
        upsert_credential(&mut into.credentials, Cow::Owned(c));
    }
    if replace_permissions {
        into.permissions = from.permissions;
        into.permissions.shrink_to_fit();
    } else {
        for p in from.permissions {
            if !into.permissions.contains(&p) {
                push_tight(&mut into.permissions, p);
            }
        }
    }
    for t in from.tags {
        if !into.tags.contains(&t) {
            push_tight(&mut into.tags, t);
        }
    }
}

/// Merge what an event says about its actor without taking it apart (the event is kept for
/// the feed): clones only what is new. Returns whether a permission was added.
fn merge_from(into: &mut IdentityRecord, from: &IdentityRecord) -> bool {
    if into.kind == IdentityKind::Unknown {
        into.kind = from.kind;
    }
    if into.display.is_none() && from.display.is_some() {
        into.display = from.display.clone();
    }
    for c in &from.credentials {
        note_credential(&mut into.credentials, c);
    }
    let mut added = false;
    for p in &from.permissions {
        if !into.permissions.contains(p) {
            push_tight(&mut into.permissions, p.clone());
            added = true;
        }
    }
    for t in &from.tags {
        if !into.tags.contains(t) {
            push_tight(&mut into.tags, t.clone());
        }
    }
    added
}

/// Record a credential on an identity: a known one takes the new status (and a kind where it
/// had none), an unknown one is added (up to 16). Borrowed from an event, it is cloned only
/// when it is new.
fn upsert_credential(list: &mut Vec<Credential>, c: Cow<'_, Credential>) {
    match list.iter_mut().find(|x| x.id == c.id) {
        Some(x) => {
            x.status = c.status;
            if x.kind == CredentialKind::Other {
                x.kind = c.kind;
            }
        }
        None => {
            if list.len() < 16 {
                push_tight(list, c.into_owned())
            }
        }
    }
}

/// Record a credential an event shows in use: an unknown one is added; a known one keeps its
/// status (a call made with a key says nothing of whether it is still active: a disabled key's
/// refused calls carry it too) and takes a kind where it had none.
fn note_credential(list: &mut Vec<Credential>, c: &Credential) {
    let n = list.len();
    match list.iter_mut().find(|x| x.id == c.id) {
        Some(x) if x.kind == CredentialKind::Other => x.kind = c.kind,
        Some(_) => {}
        None if n < 16 => push_tight(list, c.clone()),
        None => {}
    }
}

/// RFC 3339 UTC with seconds, as the JSON shapes use.
pub fn format_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_keeps_a_note_when_notes_run_out() {
        let mut notes = ThinVec::new();
        for s in Signal::ALL {
            for n in 0..3 {
                note_signal(&mut notes, s, SafeText::new(&format!("{s:?} call {n}")));
            }
        }
        assert!(notes.len() <= MAX_NOTES);
        // The newest signals keep theirs; no signal holds two while another was dropped for it.
        let newest: Vec<Signal> = Signal::ALL.iter().rev().take(MAX_NOTES).copied().collect();
        for s in &newest {
            assert!(
                notes.iter().any(|(n, _)| n == s),
                "{s:?} lost its note: {notes:?}"
            );
        }
        let last = Signal::ALL[Signal::ALL.len() - 1];
        assert_eq!(notes[0], (last, SafeText::new(&format!("{last:?} call 2"))));
    }
    use crate::core::model::{Api, Effect as Grant, Permission, Provider};

    fn actor(name: &str, kind: IdentityKind) -> IdentityRecord {
        IdentityRecord {
            provider: Provider::Aws,
            principal: SafeText::new(&format!("arn:aws:iam::1:user/{name}")),
            kind,
            display: Some(SafeText::new(name)),
            credentials: vec![],
            permissions: vec![],
            tags: vec![],
        }
    }

    fn ev(name: &str, op: &str, t: Millis) -> Event {
        Event {
            time: t,
            class: Default::default(),
            actor: actor(name, IdentityKind::IamUser),
            credential: None,
            api: Api {
                service: SafeText::new("iam"),
                operation: SafeText::new(op),
            },
            resources: vec![],
            src_ip: Some(SafeText::new("10.0.0.1")),
            user_agent: None,
            region: None,
            issued: None,
            status: Status::Success,
            signals: vec![],
            sigma: Vec::new(),
            raw: Default::default(),
        }
    }

    #[test]
    fn suspicious_activity_moves_an_identity_to_the_top() {
        let mut c = Core::new();
        let mut batch: Vec<Event> = (0..50)
            .map(|i| ev(&format!("svc{i}"), "GetObject", 1_000))
            .collect();
        batch.push(ev("ci-bot", "GetObject", 1_000));
        c.update(Msg::Events {
            events: batch,
            now: 1_000,
        });
        let evil = vec![
            ev("ci-bot", "StopLogging", 2_000),
            ev("ci-bot", "AttachUserPolicy", 2_001),
        ];
        c.update(Msg::Events {
            events: evil,
            now: 2_001,
        });
        let top = c.top(3, SortKey::Risk);
        assert_eq!(top[0].display, "ci-bot");
        assert!(
            top[0]
                .why
                .iter()
                .any(|r| r.detail.contains("defence evasion")),
            "{:?}",
            top[0].why
        );
    }

    #[test]
    fn inventory_identities_rank_without_activity() {
        let mut c = Core::new();
        let mut admin = actor("admin", IdentityKind::IamRole);
        admin.permissions.push(Permission {
            action: SafeText::new("*"),
            resource: SafeText::new("*"),
            effect: Grant::Allow,
            via: Some(SafeText::new("AdministratorAccess")),
            sensitivity: None,
        });
        let reader = actor("reader", IdentityKind::IamUser);
        c.update(Msg::Inventory {
            identities: vec![reader, admin],
            now: 0,
        });
        let top = c.top(2, SortKey::Blast);
        assert_eq!(top[0].display, "admin");
        assert_eq!(top[0].events, 0);
        assert!(top[0].blast_radius > 50.0);
    }

    #[test]
    fn threat_decays_on_tick_and_the_ranking_follows() {
        let mut c = Core::new();
        c.update(Msg::Events {
            events: vec![ev("a", "DeleteTrail", 0), ev("b", "GetObject", 0)],
            now: 0,
        });
        let before = c.top(1, SortKey::Threat)[0].threat;
        c.update(Msg::Tick {
            now: 6 * score::half_life(Signal::DefenseEvasion),
        });
        let after = c.top(1, SortKey::Threat)[0].threat;
        assert!(after < before / 10.0, "before {before} after {after}");
    }

    #[test]
    fn a_new_network_after_learning_is_a_signal() {
        let mut c = Core::new();
        let evs: Vec<Event> = (0..20).map(|i| ev("a", "GetObject", i)).collect();
        c.update(Msg::Events {
            events: evs,
            now: 20,
        });
        let mut odd = ev("a", "GetObject", 21);
        odd.src_ip = Some(SafeText::new("203.0.113.9"));
        c.update(Msg::Events {
            events: vec![odd],
            now: 21,
        });
        let r = c.top(1, SortKey::Risk);
        assert!(r[0].why.iter().any(|w| w.detail.contains("new network")));
    }

    #[test]
    fn crossing_the_alert_threshold_raises_one_alert() {
        let mut c = Core::new();
        let mut a = actor("root", IdentityKind::Root);
        a.permissions.push(Permission {
            action: SafeText::new("*"),
            resource: SafeText::new("*"),
            effect: Grant::Allow,
            via: None,
            sensitivity: None,
        });
        let mut evs = Vec::new();
        for (i, op) in [
            "StopLogging",
            "DeleteTrail",
            "AttachUserPolicy",
            "CreateAccessKey",
            "GetSecretValue",
        ]
        .iter()
        .enumerate()
        {
            let mut e = ev("root", op, i as i64);
            e.actor = a.clone();
            e.signals.push(Signal::Exfiltration);
            evs.push(e);
        }
        let fx = c.update(Msg::Events {
            events: evs.clone(),
            now: 10,
        });
        assert_eq!(
            fx.iter()
                .filter(|e| matches!(e, Effect::Alert { .. }))
                .count(),
            1
        );
        let fx = c.update(Msg::Events {
            events: evs,
            now: 11,
        });
        assert!(
            fx.is_empty(),
            "an identity already alerted is not alerted again"
        );
    }

    #[test]
    fn moving_inside_the_private_range_is_not_a_new_network_but_a_public_address_is() {
        let mut c = Core::new();
        let evs: Vec<Event> = (0..20).map(|i| ev("a", "GetObject", i)).collect();
        c.update(Msg::Events {
            events: evs,
            now: 20,
        });
        let mut office = ev("a", "GetObject", 21);
        office.src_ip = Some(SafeText::new("10.107.112.14"));
        let mut polled = ev("a", "DescribeEventAggregates", 22);
        polled.src_ip = Some(SafeText::new("health.amazonaws.com"));
        c.update(Msg::Events {
            events: vec![office, polled],
            now: 22,
        });
        let r = c.top(1, SortKey::Risk);
        assert!(
            !r[0]
                .why
                .iter()
                .any(|w| w.detail.contains("new network") || w.detail.contains("reconnaissance")),
            "{:?}",
            r[0].why
        );
        let mut away = ev("a", "GetObject", 23);
        away.src_ip = Some(SafeText::new("198.51.100.7"));
        c.update(Msg::Events {
            events: vec![away],
            now: 23,
        });
        let r = c.top(1, SortKey::Risk);
        assert!(r[0].why.iter().any(|w| w.detail.contains("new network")));
    }

    #[test]
    fn what_a_compromised_identity_creates_is_suspect_but_an_admin_creating_users_is_not() {
        use crate::core::model::Change;
        let user = |name: &str| actor(name, IdentityKind::IamUser);
        let create = |by: &str, target: &str, t: Millis| Change {
            time: t,
            target: user(target),
            detail: SafeText::new(&format!("created by {by} (CreateUser)")),
            by: Some(user(by).key()),
            signal: None,
            removes: None,
        };
        let mut c = Core::new();
        c.update(Msg::Events {
            events: vec![
                ev("op", "StopLogging", 1),
                ev("op", "AttachUserPolicy", 2),
                ev("op", "DeleteTrail", 2),
                ev("op", "CreateAccessKey", 2),
                ev("admin", "ListUsers", 3),
            ],
            now: 3,
        });
        c.update(Msg::Changes {
            changes: vec![create("op", "backdoor", 4), create("admin", "newhire", 5)],
            now: 5,
        });
        let r = c.top(10, SortKey::Risk);
        let get = |n: &str| r.iter().find(|x| x.display == n).unwrap();
        let backdoor = get("backdoor");
        let newhire = get("newhire");
        assert!(backdoor.threat > 10.0 && newhire.threat == 0.0, "{r:#?}");
        assert!(
            backdoor
                .why
                .iter()
                .any(|w| w.detail.contains("op showed threat")),
            "{:?}",
            backdoor.why
        );
    }

    fn admin_user(name: &str, key: &str) -> IdentityRecord {
        let mut a = actor(name, IdentityKind::IamUser);
        a.permissions.push(Permission {
            action: SafeText::new("*"),
            resource: SafeText::new("*"),
            effect: Grant::Allow,
            via: Some(SafeText::new("AdministratorAccess")),
            sensitivity: None,
        });
        a.credentials.push(Credential {
            id: SafeText::new(key),
            kind: CredentialKind::AccessKey,
            status: CredentialStatus::Active,
        });
        a
    }

    fn contained(takes: Takes, credential: Option<&str>) -> Contained {
        Contained {
            action_id: "act_1".into(),
            kind: "aws.disable_access_key".into(),
            identity: actor("ci-bot", IdentityKind::IamUser).key(),
            credential: credential.map(str::to_string),
            since: 2_000,
            takes,
            watched: true,
        }
    }

    #[test]
    fn disabling_the_only_key_marks_the_identity_and_its_key_and_takes_its_reach_until_rollback() {
        let mut c = Core::new();
        c.update(Msg::Inventory {
            identities: vec![admin_user("ci-bot", "AKIAOLD")],
            now: 1_000,
        });
        c.update(Msg::Events {
            events: vec![
                ev("ci-bot", "StopLogging", 1_500),
                ev("ci-bot", "AttachUserPolicy", 1_500),
            ],
            now: 1_500,
        });
        let before = c.top(1, SortKey::Risk).remove(0);
        assert!(before.containment.is_none() && before.blast_radius > 50.0);
        let key = contained(
            Takes::Credential {
                id: "AKIAOLD".into(),
                status: CredentialStatus::Inactive,
            },
            Some("AKIAOLD"),
        );
        c.update(Msg::Contained {
            items: vec![key.clone()],
        });
        let after = c.top(1, SortKey::Risk).remove(0);
        let cs = after.containment.clone().expect("containment shows");
        assert_eq!(
            (cs.state.as_str(), cs.action.as_str()),
            ("contained", "act_1")
        );
        assert_eq!(after.credentials[0].status, CredentialStatus::Inactive);
        assert_eq!(
            after.blast_radius, 0.0,
            "no usable credential, no reach: {:?}",
            after.why
        );
        assert!(after.risk < before.risk);
        // An inventory snapshot arriving later does not undo it.
        c.update(Msg::Inventory {
            identities: vec![admin_user("ci-bot", "AKIAOLD")],
            now: 2_500,
        });
        assert_eq!(c.top(1, SortKey::Risk)[0].blast_radius, 0.0);
        // Rolled back: no longer among the done actions.
        c.update(Msg::Contained { items: vec![] });
        let back = c.top(1, SortKey::Risk).remove(0);
        assert!(back.containment.is_none());
        assert_eq!(back.credentials[0].status, CredentialStatus::Active);
        assert_eq!(back.blast_radius, before.blast_radius);
    }

    #[test]
    fn a_second_key_left_active_keeps_the_reach_and_its_use_after_containment_is_a_leak() {
        let mut c = Core::new();
        let mut rec = admin_user("ci-bot", "AKIAOLD");
        rec.credentials.push(Credential {
            id: SafeText::new("AKIANEW"),
            kind: CredentialKind::AccessKey,
            status: CredentialStatus::Active,
        });
        c.update(Msg::Inventory {
            identities: vec![rec],
            now: 1_000,
        });
        let blast = c.top(1, SortKey::Risk)[0].blast_radius;
        c.update(Msg::Contained {
            items: vec![contained(
                Takes::Credential {
                    id: "AKIAOLD".into(),
                    status: CredentialStatus::Inactive,
                },
                Some("AKIAOLD"),
            )],
        });
        assert_eq!(c.top(1, SortKey::Risk)[0].blast_radius, blast);
        // The disabled key refused (contained), then used successfully (a leak).
        let mut refused = ev("ci-bot", "ListUsers", 3_000);
        refused.status = Status::Failure;
        refused.credential = Some(Credential {
            id: SafeText::new("AKIAOLD"),
            kind: CredentialKind::AccessKey,
            status: CredentialStatus::Active,
        });
        c.update(Msg::Events {
            events: vec![refused.clone()],
            now: 3_000,
        });
        let r = c.top(1, SortKey::Risk).remove(0);
        assert_eq!(r.containment.unwrap().state, "contained");
        assert_eq!(
            r.credentials[0].status,
            CredentialStatus::Inactive,
            "a refused call with the key does not make it active"
        );
        let mut used = refused;
        used.status = Status::Success;
        used.time = 3_100;
        c.update(Msg::Events {
            events: vec![used],
            now: 3_100,
        });
        assert_eq!(
            c.top(1, SortKey::Risk)[0]
                .containment
                .clone()
                .unwrap()
                .state,
            "leaking"
        );
    }

    #[test]
    fn calls_after_a_rollback_are_not_a_leak_even_when_the_queue_is_read_after_them() {
        let mut c = Core::new();
        c.update(Msg::Inventory {
            identities: vec![admin_user("ci-bot", "AKIAOLD")],
            now: 1_000,
        });
        // Contained at 2 000 (by the principal), rolled back at 5 000; the console reads the
        // queue only at 6 000, after a call of 5 500.
        let whole = contained(Takes::Everything, None);
        c.update(Msg::Contained { items: vec![whole] });
        let call = |t| {
            let mut e = ev("ci-bot", "ListUsers", t);
            e.status = Status::Success;
            e
        };
        c.update(Msg::Events {
            events: vec![call(5_500)],
            now: 5_500,
        });
        assert_eq!(c.leaks().len(), 1, "in force as far as the console knows");
        c.update(Msg::Lifted {
            actions: vec![("act_1".into(), 5_000)],
        });
        c.update(Msg::Contained { items: vec![] });
        assert!(
            c.leaks().is_empty(),
            "the call came after the rollback: {:?}",
            c.leaks()
        );
        // A call while it was in force stays a leak after the rollback.
        let mut c = Core::new();
        c.update(Msg::Inventory {
            identities: vec![admin_user("ci-bot", "AKIAOLD")],
            now: 1_000,
        });
        c.update(Msg::Contained {
            items: vec![contained(Takes::Everything, None)],
        });
        c.update(Msg::Events {
            events: vec![call(4_000), call(5_500)],
            now: 5_500,
        });
        c.update(Msg::Lifted {
            actions: vec![("act_1".into(), 5_000)],
        });
        assert_eq!(
            c.leaks().len(),
            1,
            "acting at 4 000 while contained is a leak"
        );
    }

    #[test]
    fn a_deleted_binding_takes_its_roles_grants_and_leaves_the_others() {
        let mut c = Core::new();
        let mut sa = actor("runner", IdentityKind::ServiceAccount);
        for (action, via) in [
            ("secrets:get", "runner-debug"),
            ("configmaps:get", "runner"),
        ] {
            sa.permissions.push(Permission {
                action: SafeText::new(action),
                resource: SafeText::new("ci"),
                effect: Grant::Allow,
                via: Some(SafeText::new(via)),
                sensitivity: None,
            });
        }
        c.update(Msg::Inventory {
            identities: vec![sa],
            now: 1_000,
        });
        let mut b = contained(Takes::Role("runner-debug".into()), None);
        b.identity = actor("runner", IdentityKind::ServiceAccount).key();
        b.watched = false;
        c.update(Msg::Contained { items: vec![b] });
        let r = c.top(1, SortKey::Risk).remove(0);
        let why: Vec<&str> = r.why.iter().map(|w| w.detail.as_str()).collect();
        assert!(!why.iter().any(|w| w.contains("secrets:get")), "{why:?}");
        assert!(why.iter().any(|w| w.contains("configmaps:get")), "{why:?}");
        c.update(Msg::Contained { items: vec![] });
        let r = c.top(1, SortKey::Risk).remove(0);
        assert!(
            r.why.iter().any(|w| w.detail.contains("secrets:get")),
            "restored on rollback"
        );
    }

    #[test]
    fn activity_buckets_follow_the_minutes() {
        let mut c = Core::new();
        c.update(Msg::Events {
            events: vec![ev("a", "x", 0), ev("a", "x", 60_000), ev("a", "x", 60_001)],
            now: 60_001,
        });
        let st = c.get(0).unwrap();
        let a = st.activity(60_001);
        assert_eq!(&a[ACTIVITY_BUCKETS - 2..], &[1, 2]);
        let later = st.activity(60_000 * 20);
        assert_eq!(later, [0; ACTIVITY_BUCKETS]);
    }
}
