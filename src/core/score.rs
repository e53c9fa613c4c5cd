//! Scores and the reasons behind them. Blast radius: what an identity could damage, from its
//! permissions weighted by the sensitivity of what they reach. Threat: how suspicious its live
//! activity is, from decaying signal counters. Risk combines the two. Every number carries its
//! reasons so that a responder can see why.

use crate::core::model::{
    Event, Millis, Permission, Provider, SigmaHit, SigmaLevel, Signal, Status,
};
pub use crate::core::reason::{Reason, round1};

/// Blast radius (0–100) of a lone set of grants, with one reason per sensitivity class reached.
/// Each class counts once, at its strongest grant; a specific resource counts less than a
/// wildcard; explicit denies remove what they cover. The core scores identities through the
/// permission graph (`crate::core::graph`), which adds what they reach through other identities; this
/// is the same computation for an identity that reaches no one.
pub fn blast_radius(perms: &[Permission]) -> (f64, Vec<Reason>) {
    let b = crate::core::graph::reach::standalone(crate::core::model::Provider::Other, perms);
    (b.score, b.why)
}

/// Weight of a routine signal (reads, listing, denials) seen without a strong one.
pub const ROUTINE_FACTOR: f64 = 0.25;

/// Half-life of a threat signal, in ms of event time.
pub const THREAT_HALF_LIFE: Millis = 30 * 60 * 1000;

/// Half-life of a compromise signal ([`Signal::is_compromise`]): a stolen credential or a
/// backdoor user is as dangerous an hour later, so it must not sink below an hour of routine
/// console browsing.
pub const COMPROMISE_HALF_LIFE: Millis = 4 * THREAT_HALF_LIFE;

/// The half-life of one signal kind, in ms of event time.
pub fn half_life(s: Signal) -> Millis {
    if s.is_compromise() {
        COMPROMISE_HALF_LIFE
    } else {
        THREAT_HALF_LIFE
    }
}

/// Decaying per-signal counters of one identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreatState {
    acc: [f32; Signal::ALL.len()],
    at: Millis,
    /// Recent Sigma rule matches, one decaying counter per rule (at most `MAX_SIGMA_RULES`;
    /// 8 bytes while empty).
    sigma: thin_vec::ThinVec<(std::sync::Arc<SigmaHit>, f32)>,
}

/// Most Sigma rules whose matches one identity remembers; a new rule replaces the faintest.
pub const MAX_SIGMA_RULES: usize = 8;
/// Most threat all Sigma matches together may add.
pub const SIGMA_CAP: f64 = 60.0;

/// High and critical rules say the identity is compromised: they fade as compromise signals do.
fn sigma_is_compromise(level: SigmaLevel) -> bool {
    level >= SigmaLevel::High
}

impl ThreatState {
    pub fn is_quiet(&self) -> bool {
        self.acc.iter().all(|a| *a < 0.05) && self.sigma.iter().all(|(_, a)| *a < 0.05)
    }

    /// One match of a Sigma rule at `at`.
    pub fn record_sigma(&mut self, hit: &std::sync::Arc<SigmaHit>, at: Millis) {
        self.decay_to(at);
        if let Some((_, a)) = self.sigma.iter_mut().find(|(h, _)| **h == **hit) {
            *a += 1.0;
            return;
        }
        if self.sigma.len() >= MAX_SIGMA_RULES {
            let faintest = self
                .sigma
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| {
                    (a.1 * a.0.level.points() as f32).total_cmp(&(b.1 * b.0.level.points() as f32))
                })
                .map(|(i, _)| i)
                .unwrap_or(0);
            self.sigma.remove(faintest);
        }
        self.sigma.push((hit.clone(), 1.0));
    }

    /// The Sigma matches' threat, and their reasons when `with_why`.
    fn sigma_threat(&self, with_why: bool, why: &mut Vec<Reason>) -> f64 {
        let mut total = 0.0;
        for (h, n) in &self.sigma {
            let n = *n as f64;
            if n < 0.05 {
                continue;
            }
            let (p, cap) = (h.level.points(), h.level.cap());
            let c = cap * (1.0 - (-p * n / cap).exp());
            total += c;
            if with_why {
                why.push(Reason {
                    factor: "sigma".into(),
                    detail: format!("Sigma: {} ×{:.0}", h.describe(), n.max(1.0)),
                    weight: round1(c),
                });
            }
        }
        if total > SIGMA_CAP {
            // Scale the reasons with the total, so that they still add up.
            let k = SIGMA_CAP / total;
            for r in why.iter_mut().filter(|r| r.factor == "sigma") {
                r.weight = round1(r.weight * k);
            }
            total = SIGMA_CAP;
        }
        total
    }

    fn decay_to(&mut self, now: Millis) {
        if now > self.at {
            let dt = (now - self.at) as f64;
            let short = 0.5f64.powf(dt / THREAT_HALF_LIFE as f64) as f32;
            let long = 0.5f64.powf(dt / COMPROMISE_HALF_LIFE as f64) as f32;
            for (a, s) in self.acc.iter_mut().zip(Signal::ALL) {
                *a *= if s.is_compromise() { long } else { short };
            }
            for (h, a) in self.sigma.iter_mut() {
                *a *= if sigma_is_compromise(h.level) {
                    long
                } else {
                    short
                };
            }
            self.at = now;
        } else if self.at == 0 {
            self.at = now;
        }
    }

    /// Add another identity's counters to these (a session's, when its issuer is found).
    pub fn absorb(&mut self, other: &ThreatState) {
        let mut other = other.clone();
        let at = self.at.max(other.at);
        self.decay_to(at);
        other.decay_to(at);
        for (a, b) in self.acc.iter_mut().zip(other.acc) {
            *a += b;
        }
    }

    pub fn record(&mut self, signal: Signal, at: Millis) {
        self.decay_to(at);
        self.acc[signal.index()] += 1.0;
    }

    /// Whether any compromise signal ([`Signal::is_compromise`]) is still active.
    pub fn shows_compromise(&self) -> bool {
        Signal::ALL
            .iter()
            .any(|s| s.is_compromise() && self.acc[s.index()] >= 0.05)
            || self
                .sigma
                .iter()
                .any(|(h, a)| sigma_is_compromise(h.level) && *a >= 0.05)
    }

    /// Threat (0–100) at `now`, with one reason per active signal.
    pub fn score(&mut self, now: Millis) -> (f64, Vec<Reason>) {
        self.decay_to(now);
        self.compute(true, &|_| None)
    }

    /// Threat (0–100) at `now`, without reasons: what each event's rescore needs. The reasons
    /// of that same moment are [`ThreatState::reasons`].
    pub fn value(&mut self, now: Millis) -> f64 {
        self.decay_to(now);
        self.compute(false, &|_| None).0
    }

    /// One reason per active signal, as of the last `score` or `value`.
    pub fn reasons(&self) -> Vec<Reason> {
        self.compute(true, &|_| None).1
    }

    /// [`ThreatState::reasons`], each followed by what `note` says is behind its signal (the
    /// calls, the address and tool): `defence evasion (×1 recent): cloudtrail:StopLogging`.
    pub fn reasons_noted(&self, note: &dyn Fn(Signal) -> Option<String>) -> Vec<Reason> {
        self.compute(true, note).1
    }

    fn compute(
        &self,
        with_why: bool,
        note: &dyn Fn(Signal) -> Option<String>,
    ) -> (f64, Vec<Reason>) {
        let mut total = 0.0;
        let mut why = Vec::new();
        // Reading secrets and data, listing things and being denied now and then is what many
        // workloads do all day. Alone they count for little; next to a strong signal (a new
        // network, escalation, evasion, …) or in a burst they count in full.
        let strong = Signal::ALL
            .iter()
            .any(|s| !s.is_routine() && self.acc[s.index()] >= 0.05);
        for s in Signal::ALL {
            let n = self.acc[s.index()] as f64;
            if n < 0.05 {
                continue;
            }
            let burst = s.burst().is_some_and(|b| n >= b);
            let factor = if !s.is_routine() || strong || burst {
                1.0
            } else {
                ROUTINE_FACTOR
            };
            let c = factor * s.cap() * (1.0 - (-s.points() * n / s.cap()).exp());
            total += c;
            if !with_why {
                continue;
            }
            let mut detail = format!("{} (×{:.0} recent)", s.label(), n.max(1.0));
            if factor < 1.0 {
                detail.push_str(", routine alone");
            } else if s.is_routine() && burst && !strong {
                detail.push_str(", a burst");
            }
            if let Some(n) = note(s) {
                detail.push_str(": ");
                detail.push_str(&n);
            }
            why.push(Reason {
                factor: "signal".into(),
                detail,
                weight: round1(c),
            });
        }
        total += self.sigma_threat(with_why, &mut why);
        why.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        (round1(total.min(100.0)), why)
    }
}

/// Signals an event carries by itself: the source's hints plus what the call says. AWS calls are
/// matched by operation name, Kubernetes calls by verb and resource in [`k8s_signals`].
pub fn event_signals(e: &Event) -> Vec<Signal> {
    event_signals_noted(e).0
}

/// [`event_signals`] with the [`baseline_note`] of the same event, read in one pass (the core
/// needs both for every event).
pub fn event_signals_noted(e: &Event) -> (Vec<Signal>, Option<&'static str>) {
    if e.actor.provider == Provider::Kubernetes {
        return k8s_signals(e);
    }
    (call_signals(e), None)
}

/// What a call other than a Kubernetes one signals.
fn call_signals(e: &Event) -> Vec<Signal> {
    let mut out = e.signals.clone();
    let op = e.api.operation.as_str();
    let svc = e.api.service.as_str();
    if e.status == Status::Failure {
        out.push(Signal::Denied);
    }
    let recon = op.starts_with("List")
        || op.starts_with("Describe")
        || matches!(
            op,
            "GetCallerIdentity"
                | "GetAccountAuthorizationDetails"
                | "GetAccountSummary"
                | "GetBucketPolicy"
                | "GetBucketAcl"
                | "SearchResources"
                // What a model thief checks first: is invocation logged, which models answer.
                | "GetModelInvocationLoggingConfiguration"
                | "GetFoundationModelAvailability"
        );
    if recon {
        out.push(Signal::Recon);
    }
    const ESCALATION: [&str; 17] = [
        "AttachUserPolicy",
        "AttachRolePolicy",
        "AttachGroupPolicy",
        "PutUserPolicy",
        "PutRolePolicy",
        "PutGroupPolicy",
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "UpdateAssumeRolePolicy",
        "PassRole",
        "AddUserToGroup",
        "UpdateLoginProfile",
        "CreateLoginProfile",
        "GetFederationToken",
        "SendSSHPublicKey",
        "SendSerialConsoleSSHPublicKey",
        "UpdateFunctionCode20150331v2",
    ];
    if ESCALATION.contains(&op) {
        out.push(Signal::PrivilegeEscalation);
    }
    const PERSISTENCE: [&str; 12] = [
        "CreateAccessKey",
        "CreateUser",
        "CreateRole",
        "CreateLoginProfile",
        "CreateTrustAnchor",
        "CreateProfile",
        "CreateFunction20150331",
        "PublishLayerVersion20181031",
        "AddPermission20150331v2",
        "UpdateFunctionConfiguration20150331v2",
        "ImportKeyPair",
        "CreateSAMLProvider",
    ];
    if PERSISTENCE.contains(&op) {
        out.push(Signal::Persistence);
    }
    if matches!(
        op,
        "GetSecretValue"
            | "BatchGetSecretValue"
            | "GetParameter"
            | "GetParameters"
            | "GetParametersByPath"
            | "GetPasswordData"
            | "Decrypt"
    ) || (matches!(op, "get" | "list" | "read")
        && (svc == "secrets" || svc.starts_with("secret")))
    {
        out.push(Signal::SecretRead);
    }
    if matches!(
        op,
        "GetObject" | "SelectObjectContent" | "ExportTableToPointInTime"
    ) || op == "DescribeInstanceAttribute"
    {
        out.push(Signal::DataRead);
    }
    if matches!(
        op,
        "ModifySnapshotAttribute"
            | "ModifyImageAttribute"
            | "ModifyDBSnapshotAttribute"
            | "PutBucketPolicy"
            | "PutBucketAcl"
            | "AuthorizeSecurityGroupIngress"
    ) {
        out.push(Signal::Exfiltration);
    }
    if matches!(
        op,
        "StopLogging"
            | "DeleteTrail"
            | "UpdateTrail"
            | "DeleteFlowLogs"
            | "PutEventSelectors"
            | "DeleteDetector"
            | "UpdateDetector"
            | "LeaveOrganization"
            | "DeleteResolverQueryLogConfig"
            | "DisassociateResolverQueryLogConfig"
            | "StopConfigurationRecorder"
            | "DeleteConfigurationRecorder"
            | "DisableSecurityHub"
            | "DeleteLogGroup"
            | "DeleteLogStream"
            | "PutBucketLifecycle"
            // AI services: the guardrails on a model and the log of what it was asked.
            | "DeleteGuardrail"
            | "DeleteModelInvocationLoggingConfiguration"
            | "DeleteMonitoringSchedule"
            | "StopMonitoringSchedule"
    ) {
        out.push(Signal::DefenseEvasion);
    }
    if matches!(
        op,
        "SendCommand"
            | "StartSession"
            | "ModifyInstanceAttribute"
            | "ExecuteCommand"
            | "StartAutomationExecution"
            | "InvokeModel"
            | "InvokeModelWithResponseStream"
            | "Converse"
            | "ConverseStream"
            | "PutFoundationModelEntitlement"
            | "PutUseCaseForModelAccess"
            | "CreateFoundationModelAgreement"
    ) {
        out.push(Signal::Execution);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Signals a Kubernetes call carries, matched by verb and resource (`service` is the resource,
/// `resource/subresource`, or the path of a non-resource request), then weighed against the
/// baseline of the caller's control-plane role (`core::k8s_baseline`): with the rule, in words,
/// that lowered something, for the identity's `why`.
pub fn k8s_signals(e: &Event) -> (Vec<Signal>, Option<&'static str>) {
    let mut out = e.signals.clone();
    let op = e.api.operation.as_str();
    let svc = e.api.service.as_str();
    let failed = e.status == Status::Failure;
    if failed {
        out.push(Signal::Denied);
    }
    let listed = matches!(
        svc,
        "secrets"
            | "serviceaccounts"
            | "roles"
            | "rolebindings"
            | "clusterroles"
            | "clusterrolebindings"
            | "namespaces"
            | "nodes"
    );
    if matches!(op, "list" | "watch") && listed || op == "create" && svc.contains("selfsubject") {
        out.push(Signal::Recon);
    }
    let rbac = matches!(
        svc,
        "rolebindings" | "clusterrolebindings" | "clusterroles" | "roles"
    );
    if matches!(op, "create" | "update" | "patch") && rbac
        || matches!(op, "escalate" | "bind" | "impersonate")
        || matches!(svc, "pods/exec" | "pods/attach" | "serviceaccounts/token")
    {
        out.push(Signal::PrivilegeEscalation);
    }
    if op == "create"
        && matches!(
            svc,
            "serviceaccounts" | "secrets" | "mutatingwebhookconfigurations"
        )
    {
        out.push(Signal::Persistence);
    }
    if matches!(op, "get" | "list" | "read") && (svc == "secrets" || svc.starts_with("secret")) {
        out.push(Signal::SecretRead);
    }
    let note = crate::core::k8s_baseline::apply(e, &mut out);
    out.sort_unstable();
    out.dedup();
    (out, note)
}

/// The control-plane baseline rule that lowered what a Kubernetes event would otherwise signal,
/// in words (`control plane: kubelet requesting its pods' service-account tokens is routine`):
/// shown in the identity's `why`. `None` for any other event.
pub fn baseline_note(e: &Event) -> Option<&'static str> {
    if e.actor.provider != Provider::Kubernetes {
        return None;
    }
    k8s_signals(e).1
}

/// Risk (0–100): threat scaled by what the identity could reach, plus a share of blast radius so
/// that a dormant administrator is never ranked as harmless. Without its explanation: what
/// every event's rescore needs.
pub fn risk_value(blast: f64, threat: f64) -> f64 {
    round1((threat * (0.4 + 0.6 * blast / 100.0) + 0.15 * blast).min(100.0))
}

/// `risk_value` with the reason that spells it out.
pub fn risk(blast: f64, threat: f64) -> (f64, Reason) {
    let r = risk_value(blast, threat);
    (
        r,
        Reason {
            factor: "risk".into(),
            detail: format!(
                "threat {threat:.0} × (0.4 + 0.6 × blast {blast:.0}/100) + 0.15 × blast"
            ),
            weight: r,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Effect;
    use crate::core::text::SafeText;

    fn hit(title: &str, level: SigmaLevel) -> std::sync::Arc<SigmaHit> {
        std::sync::Arc::new(SigmaHit {
            title: SafeText::new(title),
            level,
            tags: vec![SafeText::new("attack.t1562.001")],
            id: None,
        })
    }

    #[test]
    fn sigma_matches_add_threat_by_level_saturate_decay_and_stay_few() {
        let mut t = ThreatState::default();
        let low = hit("Low Rule", SigmaLevel::Low);
        let critical = hit("Critical Rule", SigmaLevel::Critical);
        t.record_sigma(&low, 1_000);
        let after_low = t.value(1_000);
        t.record_sigma(&critical, 1_000);
        let after_critical = t.value(1_000);
        assert!(after_low > 0.0 && after_critical - after_low > 3.0 * after_low);
        let why = t.reasons();
        assert_eq!(
            why[0].detail,
            "Sigma: Critical Rule (critical; attack.t1562.001) ×1"
        );
        assert!(t.shows_compromise(), "a critical rule says compromise");
        // A flood of one rule saturates at its level's cap.
        for _ in 0..1000 {
            t.record_sigma(&low, 1_000);
        }
        assert!(t.value(1_000) <= SigmaLevel::Low.cap() + SigmaLevel::Critical.cap() + 0.1);
        // Many rules: at most MAX_SIGMA_RULES are remembered, the strongest kept.
        for i in 0..50 {
            t.record_sigma(&hit(&format!("Rule {i}"), SigmaLevel::Informational), 1_000);
        }
        assert!(t.sigma.len() <= MAX_SIGMA_RULES);
        assert!(
            t.reasons()
                .iter()
                .any(|r| r.detail.starts_with("Sigma: Critical Rule"))
        );
        assert!(t.value(1_000) <= SIGMA_CAP + 0.1);
        // And it fades: a day later the identity is quiet again.
        let later = t.value(1_000 + 24 * 3_600_000);
        assert!(later < 1.0, "{later}");
    }

    fn perm(action: &str, resource: &str, via: Option<&str>) -> Permission {
        Permission {
            action: SafeText::new(action),
            resource: SafeText::new(resource),
            effect: Effect::Allow,
            via: via.map(SafeText::new),
            sensitivity: None,
        }
    }

    #[test]
    fn administrator_outranks_a_reader() {
        let (admin, why) = blast_radius(&[perm("*", "*", Some("AdministratorAccess"))]);
        let (reader, _) = blast_radius(&[perm("s3:GetObject", "arn:aws:s3:::logs/x", None)]);
        assert!(admin > reader + 30.0, "admin {admin} reader {reader}");
        assert!(why[0].detail.contains("AdministratorAccess"));
    }

    #[test]
    fn an_explicit_deny_removes_the_grant() {
        let mut d = perm("secretsmanager:GetSecretValue", "*", None);
        d.effect = Effect::Deny;
        let (with_deny, _) = blast_radius(&[perm("secretsmanager:GetSecretValue", "*", None), d]);
        let (without, _) = blast_radius(&[perm("secretsmanager:GetSecretValue", "*", None)]);
        assert!(with_deny < without);
    }

    #[test]
    fn threat_decays_with_time() {
        let mut t = ThreatState::default();
        t.record(Signal::DefenseEvasion, 1_000);
        let (now, why) = t.score(1_000);
        let (later, _) = t.score(1_000 + 4 * half_life(Signal::DefenseEvasion));
        assert!(now > 20.0 && later < now / 4.0, "now {now} later {later}");
        assert!(why[0].detail.contains("defence evasion"));
    }

    #[test]
    fn a_compromise_outlasts_an_hour_of_recon_while_recon_fades() {
        let mut stolen = ThreatState::default();
        stolen.record(Signal::CredentialOutsideWorkload, 0);
        let mut browsing = ThreatState::default();
        for i in 0..30 {
            browsing.record(Signal::Recon, i);
        }
        let hour = 2 * THREAT_HALF_LIFE;
        let (s, why) = stolen.score(hour);
        let (b, _) = browsing.score(hour);
        assert!(s > 18.0, "a stolen credential an hour on: {s} {why:?}");
        assert!(b < 12.0, "recon an hour on: {b}");
    }

    #[test]
    fn one_signal_kind_cannot_max_threat_alone() {
        let mut t = ThreatState::default();
        for i in 0..10_000 {
            t.record(Signal::Recon, i);
        }
        let (s, _) = t.score(10_000);
        assert!(s <= Signal::Recon.cap() + 0.1);
    }

    #[test]
    fn routine_reads_alone_weigh_little_but_count_in_full_beside_a_strong_signal() {
        let mut quiet = ThreatState::default();
        let mut stolen = ThreatState::default();
        for i in 0..6 {
            quiet.record(Signal::SecretRead, i);
            stolen.record(Signal::SecretRead, i);
        }
        stolen.record(Signal::NewNetwork, 7);
        let (q, why) = quiet.score(10);
        let (s, _) = stolen.score(10);
        assert!(q < 10.0, "routine secret reads alone gave threat {q}");
        assert!(why[0].detail.contains("routine alone"));
        assert!(s > q + 20.0, "with a new network: {s}, alone: {q}");
    }

    #[test]
    fn a_recon_burst_counts_in_full_alone() {
        let mut t = ThreatState::default();
        for i in 0..20 {
            t.record(Signal::Recon, i);
        }
        let (s, why) = t.score(20);
        assert!(s > 15.0 && why[0].detail.contains("burst"), "{s} {why:?}");
    }

    #[test]
    fn risk_rises_with_both_scores() {
        assert!(risk(90.0, 90.0).0 > risk(90.0, 10.0).0);
        assert!(risk(90.0, 90.0).0 > risk(10.0, 90.0).0);
        assert!(
            risk(100.0, 0.0).0 > 0.0,
            "a dormant admin is never zero risk"
        );
    }
}
