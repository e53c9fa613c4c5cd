//! The standing playbooks' runner (`blastdoor respond`): watches the live core, and when a
//! playbook's condition becomes true of an identity, fires it through the desk (`Desk::fire`),
//! which checks the pauses and the limits against the shared state and stages (and in enforce
//! mode executes) the action with its trigger.
//!
//! Several runners may watch one state: only the holder of the lease in the state acts (it is
//! renewed every second and lapses after three), the others stand by; and a trigger that fired
//! never fires again, whoever holds the lease, because its idempotency key is checked in the
//! same transaction that stages it. A pause is read from the state at least every second.
//!
//! Time: `observed` is when an event reached this runner's core (the runner wakes on every
//! change of the core, so this is within a scheduling slice of its ingest).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::core::model::{CredentialStatus, Millis};
use crate::core::playbook::{Hold, Mode, Observed, Playbook, Subject, Trigger};
use crate::core::workflow::{Action, ts};
use crate::engine::{Engine, now_ms};
use crate::respond::suggest::suggest;
use crate::respond::{Desk, FireRequest, Fired};
use crate::store::runner as shared;

/// How long a lease lasts without renewal, and how often the runner renews it and re-reads
/// the pauses.
const LEASE_TTL: Millis = 3_000;
const REFRESH: Duration = Duration::from_millis(500);
/// How often the executors are asked again what they offer.
const OFFERS_EVERY: Duration = Duration::from_secs(15);
/// Signals count within this long before an identity's newest event.
const SIGNAL_WINDOW: Millis = 15 * 60_000;
/// Events remembered with the time they reached the runner (the feed holds 4096).
const ARRIVALS: usize = 8192;

pub struct RunnerOptions {
    /// Say what would fire, fire nothing.
    pub dry_run: bool,
    /// Stop after this long; run until interrupted when `None`.
    pub duration: Option<Duration>,
}

/// One line of what the runner did, for the faces to print.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub at: String,
    /// `fired`, `would_fire`, `held`, `failed`, `standby`, `leading`, `paused`, `resumed`.
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, Value>>,
    /// From the event reaching the console to the executor's acknowledgement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Report {
    fn new(event: &'static str) -> Report {
        Report {
            at: ts::format(now_ms()),
            event,
            playbook: None,
            mode: None,
            identity: None,
            kind: None,
            action_id: None,
            state: None,
            values: None,
            latency_ms: None,
            detail: None,
        }
    }

    /// Whether it is an act (what `respond` prints on stdout) rather than news of the runner.
    pub fn is_act(&self) -> bool {
        matches!(self.event, "fired" | "would_fire" | "failed")
    }

    /// One line for a human.
    pub fn line(&self) -> String {
        let mut s = format!("{} {}", self.at, self.event);
        for v in [
            &self.playbook,
            &self.identity,
            &self.kind,
            &self.action_id,
            &self.state,
        ]
        .into_iter()
        .flatten()
        {
            s.push(' ');
            s.push_str(v);
        }
        if let Some(l) = self.latency_ms {
            s.push_str(&format!(" in {l} ms"));
        }
        if let Some(d) = &self.detail {
            s.push_str(": ");
            s.push_str(d);
        }
        s
    }

    fn of_action(event: &'static str, pb: &Playbook, a: &Action) -> Report {
        let t = a.trigger.as_ref();
        Report {
            playbook: Some(pb.name.clone()),
            mode: Some(pb.mode.as_str()),
            identity: Some(a.identity.clone()),
            kind: Some(a.kind.clone()),
            action_id: Some(a.id.clone()),
            state: Some(a.state.as_str().to_string()),
            values: t.map(|t| t.values.clone()),
            latency_ms: a
                .executed_at
                .zip(t.map(|t| t.observed_at))
                .map(|(e, o)| e - o),
            ..Report::new(event)
        }
    }
}

/// A condition that holds now, with what the trigger records.
struct Candidate {
    playbook: Playbook,
    identity: String,
    values: BTreeMap<String, Value>,
    observed: Vec<Observed>,
    observed_at: Millis,
    credential: Option<String>,
    params: Value,
    ready: Result<(), String>,
    reason: String,
    evidence: Vec<String>,
}

/// Run the desk's policy's playbooks on `engine` until the duration is over or ctrl-c.
pub async fn run(
    engine: Engine,
    desk: Arc<Desk>,
    opts: RunnerOptions,
    mut report: impl FnMut(Report) + Send,
) -> anyhow::Result<()> {
    let playbooks: Vec<Playbook> = desk.policy().playbooks.clone();
    let owner = format!("{}:{}", hostname(), std::process::id());
    let started = tokio::time::Instant::now();
    let deadline = opts.duration.map(|d| started + d);
    let mut changed = engine.changed();
    let mut tick = tokio::time::interval(REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut offers = desk.offers().await;
    let mut offers_at = tokio::time::Instant::now();
    let mut last_seq = 0u64;
    let mut arrivals: HashMap<u64, Millis> = HashMap::new();
    let mut leading: Option<bool> = None;
    let mut paused = Default::default();
    let mut refreshed: Option<tokio::time::Instant> = None;
    // Triggers already settled by this runner (fired or held), so each is tried once.
    let mut settled: HashSet<String> = HashSet::new();
    loop {
        let over = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = changed.changed() => { if r.is_err() { break; } }
            _ = tick.tick() => {}
            _ = over => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        let now = now_ms();
        // The lease and the pauses, at most every REFRESH.
        if refreshed.is_none_or(|t| t.elapsed() >= REFRESH) {
            refreshed = Some(tokio::time::Instant::now());
            let (lease, p) = if opts.dry_run {
                (Ok(()), desk.store().read(shared::paused)?)
            } else {
                desk.store().write(|tx| {
                    Ok((
                        shared::take_lease(tx, &owner, now, LEASE_TTL)?,
                        shared::paused(tx)?,
                    ))
                })?
            };
            let lead = lease.is_ok();
            if leading != Some(lead) {
                let mut r = Report::new(if lead { "leading" } else { "standby" });
                r.detail = Some(match &lease {
                    Ok(()) => format!(
                        "{owner} runs {} playbook(s){}",
                        playbooks.len(),
                        if opts.dry_run { " (dry run)" } else { "" }
                    ),
                    Err((holder, _)) => format!("{holder} holds the lease; standing by"),
                });
                report(r);
                leading = Some(lead);
            }
            if p != paused {
                for pb in &playbooks {
                    let (was, is) = (
                        shared::is_paused(&paused, &pb.name),
                        shared::is_paused(&p, &pb.name),
                    );
                    if was != is {
                        let mut r = Report::new(if is { "paused" } else { "resumed" });
                        r.playbook = Some(pb.name.clone());
                        report(r);
                    }
                }
                paused = p;
            }
        }
        if offers_at.elapsed() >= OFFERS_EVERY {
            offers = desk.offers().await;
            offers_at = tokio::time::Instant::now();
        }
        // What reached the core since the last look, and who it touched.
        let (touched, newest) = engine.read(|c| {
            let mut touched: Vec<u32> = Vec::new();
            let mut seen = HashSet::new();
            let mut newest = last_seq;
            let mut oldest = u64::MAX;
            for f in c.feed(None, usize::MAX) {
                if f.seq <= last_seq {
                    break;
                }
                newest = newest.max(f.seq);
                oldest = f.seq;
                arrivals.entry(f.seq).or_insert(now);
                if seen.insert(f.identity) {
                    touched.push(f.identity);
                }
            }
            // More arrived than the feed keeps: whoever the lost events touched is unknown,
            // so every identity with live threat is looked at once.
            if oldest != u64::MAX && oldest > last_seq + 1 {
                touched = (0..c.len() as u32)
                    .filter(|i| c.get(*i).is_some_and(|st| st.threat > 0.0))
                    .collect();
            }
            (touched, newest)
        });
        last_seq = newest;
        if arrivals.len() > ARRIVALS {
            let keep = last_seq.saturating_sub(ARRIVALS as u64 / 2);
            arrivals.retain(|s, _| *s > keep);
        }
        if leading != Some(true) || touched.is_empty() {
            continue;
        }
        let armed: Vec<&Playbook> = playbooks
            .iter()
            .filter(|p| !shared::is_paused(&paused, &p.name))
            .filter(|p| p.expires.is_none_or(|t| now <= t))
            .collect();
        if armed.is_empty() {
            continue;
        }
        let policy = desk.policy();
        let needs_signals = armed.iter().any(|p| p.reads_signals());
        let candidates: Vec<Candidate> = engine.read(|c| {
            let mut out = Vec::new();
            for idx in &touched {
                let Some(st) = c.get(*idx) else { continue };
                // A quiet identity matches no threat condition; reading its feed (a scan of
                // the whole feed) is skipped unless a condition could hold.
                if st.events == 0 {
                    continue;
                }
                let feed = c.feed(Some(*idx), 50);
                let newest_time = feed.first().map(|f| f.event.time).unwrap_or(0);
                let mut signals: Vec<String> = Vec::new();
                for f in feed
                    .iter()
                    .filter(|_| needs_signals)
                    .filter(|f| f.event.time >= newest_time - SIGNAL_WINDOW)
                {
                    for s in &f.signals {
                        let name = serde_json::to_value(s)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        if !signals.contains(&name) {
                            signals.push(name);
                        }
                    }
                }
                let active = || {
                    st.record
                        .credentials
                        .iter()
                        .filter(|k| k.status == CredentialStatus::Active)
                };
                let subject = Subject {
                    identity: st.key(),
                    kind: st.record.kind.as_str().to_string(),
                    provider: st.record.provider.as_str().to_string(),
                    tags: st.record.tags.iter().map(|t| t.to_string()).collect(),
                    threat: st.threat,
                    risk: st.risk,
                    blast_radius: st.blast,
                    signals,
                    credential_kinds: active()
                        .filter_map(|k| {
                            serde_json::to_value(k.kind)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                        })
                        .collect(),
                };
                // An identity under a containment in force is contained already.
                if c.containment_of(*idx)
                    .is_some_and(|k| k.state == "contained")
                {
                    continue;
                }
                for pb in &armed {
                    let Some(values) = pb.matches(&subject) else {
                        continue;
                    };
                    let observed: Vec<Observed> = feed
                        .iter()
                        .take(5)
                        .map(|f| Observed {
                            id: event_id(&f.event.raw.value())
                                .unwrap_or_else(|| format!("seq:{}", f.seq)),
                            call: format!("{}:{}", f.event.api.service, f.event.api.operation),
                            time: f.event.time,
                            at: arrivals.get(&f.seq).copied().unwrap_or(now),
                        })
                        .collect();
                    let observed_at = observed.first().map(|o| o.at).unwrap_or(now);
                    let recent: Vec<&crate::core::Event> =
                        feed.iter().take(20).map(|f| &f.event).collect();
                    let fit = suggest(&st.record, &recent, &offers)
                        .into_iter()
                        .find(|s| s.kind == pb.action);
                    let (params, ready) = match &fit {
                        Some(s) if s.ready() => (s.params_json(), Ok(())),
                        Some(s) => (
                            s.params_json(),
                            Err(format!(
                                "{} needs {} and the evidence does not give it",
                                pb.action,
                                s.missing().join(", ")
                            )),
                        ),
                        None => (
                            Value::Object(Default::default()),
                            Err(format!(
                                "{} does not fit a {} identity (`action suggest` lists what does)",
                                pb.action, subject.kind
                            )),
                        ),
                    };
                    let protected = pb.protected(&subject, &policy.protect, &policy.protect_tags);
                    let ready = match protected {
                        Some(why) => Err(Hold::Protected(why).describe(pb)),
                        None => ready,
                    };
                    let why: Vec<String> =
                        values.iter().map(|(k, v)| format!("{k} {}", v)).collect();
                    out.push(Candidate {
                        playbook: (*pb).clone(),
                        identity: subject.identity.clone(),
                        credential: active().next().map(|k| k.id.to_string()),
                        reason: format!(
                            "standing playbook {} ({}): {}",
                            pb.name,
                            pb.when_text,
                            why.join(", ")
                        ),
                        evidence: observed
                            .iter()
                            .map(|o| format!("{} {} {}", ts::format(o.time), o.call, o.id))
                            .collect(),
                        values,
                        observed,
                        observed_at,
                        params,
                        ready,
                    });
                }
            }
            out
        });
        for c in candidates {
            let key = c
                .playbook
                .trigger_key(&c.identity, c.credential.as_deref(), c.observed_at);
            if settled.contains(&key) {
                continue;
            }
            if let Err(why) = &c.ready {
                settled.insert(key);
                let mut r = Report::new("held");
                r.playbook = Some(c.playbook.name.clone());
                r.identity = Some(c.identity.clone());
                r.kind = Some(c.playbook.action.clone());
                r.detail = Some(why.clone());
                report(r);
                continue;
            }
            let trigger = Trigger {
                playbook: c.playbook.name.clone(),
                when: c.playbook.when_text.clone(),
                mode: c.playbook.mode,
                values: c.values.clone(),
                events: c.observed.iter().map(|o| o.id.clone()).collect(),
                observed: c.observed,
                observed_at: c.observed_at,
                key: key.clone(),
            };
            if opts.dry_run {
                settled.insert(key);
                let mut r = Report::new("would_fire");
                r.playbook = Some(c.playbook.name.clone());
                r.mode = Some(c.playbook.mode.as_str());
                r.identity = Some(c.identity);
                r.kind = Some(c.playbook.action.clone());
                r.values = Some(c.values);
                r.detail = Some(format!(
                    "dry run: would {} it",
                    match c.playbook.mode {
                        Mode::Enforce => "execute",
                        Mode::Propose => "stage",
                    }
                ));
                report(r);
                continue;
            }
            let fired = desk
                .fire(FireRequest {
                    playbook: c.playbook.name.clone(),
                    identity: c.identity.clone(),
                    params: c.params,
                    reason: c.reason,
                    evidence: c.evidence,
                    trigger,
                })
                .await;
            settled.insert(key);
            match fired {
                Ok(Fired::Staged(a)) => report(Report::of_action("fired", &c.playbook, &a)),
                Ok(Fired::Failed(a, e)) => {
                    let mut r = Report::of_action("failed", &c.playbook, &a);
                    r.detail = Some(e);
                    report(r)
                }
                Ok(Fired::Held(h, pb)) => {
                    if h.is_notable() {
                        let mut r = Report::new("held");
                        r.playbook = Some(pb.name.clone());
                        r.identity = Some(c.identity);
                        r.kind = Some(pb.action.clone());
                        r.detail = Some(h.describe(&pb));
                        report(r);
                    }
                }
                Err(e) => {
                    let mut r = Report::new("held");
                    r.playbook = Some(c.playbook.name.clone());
                    r.identity = Some(c.identity);
                    r.detail = Some(format!("{e:#}"));
                    report(r);
                }
            }
        }
    }
    if leading == Some(true) && !opts.dry_run {
        let now = now_ms();
        let _ = desk
            .store()
            .write(|tx| shared::release_lease(tx, &owner, now));
    }
    Ok(())
}

/// The event's own id, where its source gives one.
fn event_id(raw: &Value) -> Option<String> {
    ["eventID", "auditID", "uuid", "id", "event_id", "uid"]
        .iter()
        .find_map(|k| match raw.get(k)? {
            Value::String(s) if !s.is_empty() => Some(crate::core::SafeText::new(s).to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
