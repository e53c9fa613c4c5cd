//! One identity explained (`blastdoor explain`): every reason behind its score with the calls
//! behind it, out of what the ranking already holds: the ranked row (scores, reasons, paths,
//! credentials) and the identity's events still in the core's recent feed (`FEED_CAP`).
//!
//! Pure, like the rest of the core. Everything taken from a record (source IP, user agent, call
//! names) is `SafeText`: sanitised on the way in, and the face prints it through the output
//! sanitiser on the way out as well.

use serde::Serialize;

use crate::core::model::{Event, Signal, Status};
use crate::core::reason::Reason;
use crate::core::state::{Core, FeedItem, RankedIdentity, format_time};
use crate::core::text::SafeText;

/// How many of an identity's recent events are kept as evidence beyond those behind a reason.
pub const CONTEXT_EVENTS: usize = 10;
/// How many events at most back one explanation.
pub const MAX_EVIDENCE: usize = 200;

/// One call or event behind a reason, newest first in [`Explanation::evidence`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub time: String,
    /// `iam`, `sts`, `pods`, … (empty when the source does not say).
    pub service: SafeText,
    /// The API call or event name: `ListUsers`, `create`, `ConsoleLogin`, …
    pub operation: SafeText,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<SafeText>,
    pub source_ip: Option<SafeText>,
    pub user_agent: Option<SafeText>,
    /// `success`, `failure` (denied), `error` or `unknown`.
    pub result: Status,
    /// The credential the call was made with, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<SafeText>,
    pub signals: Vec<Signal>,
    /// The titles of the Sigma rules the record matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sigma: Vec<SafeText>,
}

impl Evidence {
    /// The call as both faces name it: `iam:CreateAccessKey`, or the operation alone.
    pub fn call(&self) -> String {
        if self.service.is_empty() {
            self.operation.as_str().to_string()
        } else {
            format!("{}:{}", self.service.as_str(), self.operation.as_str())
        }
    }

    /// The result in one word: `ok`, `denied`, `error`, `?`.
    pub fn result_word(&self) -> &'static str {
        match self.result {
            Status::Success => "ok",
            Status::Failure => "denied",
            Status::Error => "error",
            Status::Unknown => "?",
        }
    }

    /// The time without its year: `07-10 11:45:03`.
    pub fn short_time(&self) -> String {
        self.time.get(5..19).unwrap_or(&self.time).replace('T', " ")
    }
}

/// A reason of the score with the evidence behind it (indices into `evidence`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainedReason {
    pub factor: String,
    pub detail: String,
    pub weight: f64,
    /// Indices into [`Explanation::evidence`] of the calls behind this reason (empty for a
    /// reason that is a grant or a path, not a call).
    pub evidence: Vec<usize>,
}

/// An identity explained. Serialised, it is the ranked row (`rank`'s JSON object, unchanged)
/// with `reasons` and `evidence` beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    #[serde(flatten)]
    pub ranked: RankedIdentity,
    pub reasons: Vec<ExplainedReason>,
    pub evidence: Vec<Evidence>,
    /// Its events still held for evidence (the core keeps the newest events of all
    /// identities): fewer than `events` when older ones have been let go.
    pub events_held: usize,
    /// What its calls were judged against (`core::baseline`); absent before its first call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineView>,
}

/// An identity's baseline as `explain` shows it: how much history there is to compare with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineView {
    /// Calls it learnt from (calls services made on its behalf excluded).
    pub calls: u32,
    /// Whether there is enough history for a new tool or region to count.
    pub learned: bool,
    pub tools: usize,
    pub regions: usize,
    /// Where and with what its workload calls from, for a workload credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_home: Option<WorkloadHome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadHome {
    pub source_ip: SafeText,
    pub user_agent: SafeText,
}

/// The identity `query` names: its key, else the one identity whose display name, principal or
/// last path segment it is. `Err` lists the keys when several match.
pub fn find(core: &Core, query: &str) -> Result<u32, Vec<String>> {
    if let Some(i) = core.lookup(query) {
        return Ok(i);
    }
    let mut hits = Vec::new();
    for i in 0..core.len() as u32 {
        let Some(st) = core.get(i) else { continue };
        let principal = st.record.principal.as_str();
        let last = principal.rsplit(['/', ':']).next().unwrap_or(principal);
        if st.display() == query || principal == query || last == query {
            hits.push(i);
        }
    }
    match hits.as_slice() {
        [one] => Ok(*one),
        _ => Err(hits
            .iter()
            .filter_map(|i| core.get(*i).map(|s| s.key()))
            .collect()),
    }
}

/// The signal a threat reason stands for (its detail starts with the signal's label).
fn signal_of(reason: &Reason) -> Option<Signal> {
    if reason.factor != "signal" {
        return None;
    }
    Signal::ALL
        .into_iter()
        .find(|s| reason.detail.starts_with(s.label()))
}

/// The user agent of a call: as the decoder kept it, else as the raw record names it.
fn user_agent(e: &Event) -> Option<SafeText> {
    if let Some(ua) = &e.user_agent {
        return Some(ua.clone());
    }
    let raw = e.raw.value();
    [
        "userAgent",
        "user_agent",
        "http_user_agent",
        "userAgentString",
    ]
    .iter()
    .find_map(|k| raw.get(*k).and_then(|v| v.as_str()))
    .filter(|s| !s.is_empty())
    .map(SafeText::new)
}

fn evidence_of(f: &FeedItem) -> Evidence {
    let e = &f.event;
    Evidence {
        time: format_time(e.time),
        service: e.api.service.clone(),
        operation: e.api.operation.clone(),
        resource: e.resources.first().map(|r| r.name.clone()),
        source_ip: e.src_ip.clone(),
        user_agent: user_agent(e),
        result: e.status,
        credential: e.credential.as_ref().map(|c| c.id.clone()),
        signals: f.signals.clone(),
        sigma: e.sigma.iter().map(|h| h.title.clone()).collect(),
    }
}

/// Whether a `sigma` reason (`Sigma: TITLE (level; tags) ×N`) is about the rule titled `title`.
fn sigma_reason_is(reason: &Reason, title: &SafeText) -> bool {
    reason.factor == "sigma"
        && reason
            .detail
            .strip_prefix("Sigma: ")
            .and_then(|d| d.strip_prefix(title.as_str()))
            .is_some_and(|rest| rest.starts_with(" ("))
}

/// Explain identity `idx`: `None` when there is none.
pub fn explain(core: &Core, idx: u32) -> Option<Explanation> {
    let ranked = core.ranked(idx, core.position(idx).map_or(0, |p| p + 1))?;
    let held = core.feed(Some(idx), usize::MAX);
    let wanted: Vec<Signal> = ranked.why.iter().filter_map(signal_of).collect();
    // Every held event that carries a signal behind a reason, plus the newest few for context,
    // newest first.
    let mut chosen: Vec<&FeedItem> = Vec::new();
    for (n, f) in held.iter().enumerate() {
        if chosen.len() >= MAX_EVIDENCE {
            break;
        }
        let sigma = || {
            f.event
                .sigma
                .iter()
                .any(|h| ranked.why.iter().any(|r| sigma_reason_is(r, &h.title)))
        };
        if n < CONTEXT_EVENTS || f.signals.iter().any(|s| wanted.contains(s)) || sigma() {
            chosen.push(f);
        }
    }
    // Sources are read in parallel: the feed is in arrival order, the evidence in time order.
    chosen.sort_by(|a, b| b.event.time.cmp(&a.event.time).then(b.seq.cmp(&a.seq)));
    let evidence: Vec<Evidence> = chosen.iter().map(|f| evidence_of(f)).collect();
    let reasons = ranked
        .why
        .iter()
        .map(|r| ExplainedReason {
            factor: r.factor.clone(),
            detail: r.detail.clone(),
            weight: r.weight,
            evidence: match signal_of(r) {
                Some(s) => (0..evidence.len())
                    .filter(|i| evidence[*i].signals.contains(&s))
                    .collect(),
                None => (0..evidence.len())
                    .filter(|i| evidence[*i].sigma.iter().any(|t| sigma_reason_is(r, t)))
                    .collect(),
            },
        })
        .collect();
    let baseline = core.get(idx).and_then(|st| st.baseline()).map(|b| {
        let (tools, regions) = b.tools_and_regions();
        BaselineView {
            calls: b.calls,
            learned: b.learned(),
            tools,
            regions,
            workload_home: b.home().map(|(ip, ua)| WorkloadHome {
                source_ip: SafeText::new(ip),
                user_agent: SafeText::new(ua),
            }),
        }
    });
    Some(Explanation {
        ranked,
        reasons,
        evidence,
        events_held: held.len(),
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Msg;
    use crate::core::model::{Api, IdentityKind, IdentityRecord, Provider, Raw};

    fn call(op: &str, ip: &str, at: i64, signals: Vec<Signal>) -> Event {
        Event {
            time: at,
            class: Default::default(),
            actor: IdentityRecord {
                provider: Provider::Aws,
                principal: SafeText::new("arn:aws:iam::1:user/ci"),
                kind: IdentityKind::IamUser,
                display: None,
                credentials: vec![],
                permissions: vec![],
                tags: vec![],
            },
            credential: None,
            api: Api {
                service: SafeText::new("iam"),
                operation: SafeText::new(op),
            },
            resources: vec![],
            src_ip: Some(SafeText::new(ip)),
            user_agent: None,
            region: None,
            issued: None,
            status: Status::Success,
            signals,
            sigma: Vec::new(),
            raw: Raw::Value(serde_json::json!({"userAgent": "aws-cli/2\u{1b}[31m"})),
        }
    }

    #[test]
    fn a_signal_reason_lists_the_calls_that_carry_it_with_their_source() {
        let mut c = Core::new();
        let t = 1_700_000_000_000;
        c.update(Msg::Events {
            events: vec![
                call("GetCallerIdentity", "10.0.0.1", t, vec![]),
                call(
                    "CreateAccessKey",
                    "203.0.113.9",
                    t + 1000,
                    vec![Signal::Persistence],
                ),
            ],
            now: t + 1000,
        });
        let idx = find(&c, "ci").expect("found by its last path segment");
        let x = explain(&c, idx).unwrap();
        let r = x
            .reasons
            .iter()
            .find(|r| r.detail.starts_with(Signal::Persistence.label()))
            .expect("a persistence reason");
        assert_eq!(r.evidence.len(), 1);
        let ev = &x.evidence[r.evidence[0]];
        assert_eq!(ev.operation.as_str(), "CreateAccessKey");
        assert_eq!(ev.source_ip.as_ref().unwrap().as_str(), "203.0.113.9");
        // The user agent from the raw record, made inert.
        let ua = ev.user_agent.as_ref().unwrap().as_str();
        assert!(!ua.contains('\u{1b}'), "{ua}");
        assert_eq!(x.evidence.len(), 2);
        let json = serde_json::to_value(&x).unwrap();
        assert_eq!(json["identity"], "aws:arn:aws:iam::1:user/ci");
        assert_eq!(json["evidence"][0]["source_ip"], "203.0.113.9");
    }
}
