//! Falco JSON alerts, as Falco writes them and falcosidekick forwards them. The alert is tied
//! to the workload it names: a Kubernetes user for audit rules (`ka.user.name`), else the pod
//! (`k8s.ns.name`/`k8s.pod.name`, tagged as a workload), else the host. Priority sets weight:
//! Warning and above are detections; Error and above also count as the MITRE tactic the rule's
//! tags name (privilege escalation, persistence, credential access, exfiltration, evasion).

use serde_json::Value;

use super::{DecodeError, Decoded, event, identity, k8s_audit, resource, s, safe, time_of};
use crate::core::{EventClass, IdentityKind, Provider, Signal};

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get("output_fields")
        .and_then(|o| o.get(k))
        .and_then(|x| x.as_str())
        .filter(|x| !x.is_empty() && *x != "<NA>")
}

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let rule = s(&v, "rule").unwrap_or("falco rule").to_string();
    let priority = s(&v, "priority").unwrap_or("Notice").to_ascii_lowercase();
    let actor = if let Some(u) = field(&v, "ka.user.name") {
        k8s_audit::user_identity(u)
    } else if let (Some(ns), Some(pod)) = (field(&v, "k8s.ns.name"), field(&v, "k8s.pod.name")) {
        let mut a = identity(
            Provider::Kubernetes,
            &format!("pod:{ns}/{pod}"),
            IdentityKind::ServiceAccount,
            Some(&format!("{ns}/{pod}")),
        );
        a.tags.push(safe(&format!("workload=pod:{ns}/{pod}")));
        a
    } else {
        let host = s(&v, "hostname")
            .or_else(|| field(&v, "container.name"))
            .unwrap_or("unknown-host");
        identity(
            Provider::Other,
            &format!("host:{host}"),
            IdentityKind::Unknown,
            Some(host),
        )
    };
    let time = time_of(
        &v,
        &[
            "time",
            "output_fields.evt.time.iso8601",
            "output_fields.evt.time",
        ],
    );
    let mut e = event(time, actor, "falco", &rule);
    e.class = EventClass::DetectionFinding;
    if let Some(cmd) = field(&v, "proc.cmdline") {
        e.resources.push(resource(cmd, "process"));
    } else if let Some(t) = field(&v, "ka.target.name") {
        e.resources.push(resource(t, "object"));
    }
    e.src_ip = field(&v, "fd.cip")
        .or_else(|| field(&v, "ka.sourceips"))
        .map(safe);
    let weight = match priority.as_str() {
        "emergency" | "alert" | "critical" => 3,
        "error" => 2,
        "warning" => 1,
        _ => 0,
    };
    if weight >= 1 {
        e.signals.push(Signal::Detection);
    }
    if weight >= 2 {
        let tags: Vec<String> = v
            .get("tags")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(|x| x.to_ascii_lowercase()))
            .collect();
        for t in &tags {
            let sig = if t.contains("privilege_escalation") {
                Some(Signal::PrivilegeEscalation)
            } else if t.contains("persistence") {
                Some(Signal::Persistence)
            } else if t.contains("credential_access") {
                Some(Signal::SecretRead)
            } else if t.contains("exfiltration") {
                Some(Signal::Exfiltration)
            } else if t.contains("defense_evasion") {
                Some(Signal::DefenseEvasion)
            } else if t.contains("discovery") {
                Some(Signal::Recon)
            } else {
                None
            };
            e.signals.extend(sig);
        }
        if weight >= 3 && e.signals.len() == 1 {
            e.signals.push(Signal::PrivilegeEscalation);
        }
    }
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}
