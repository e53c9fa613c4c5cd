//! Cilium Tetragon JSON export (`process_exec`, `process_kprobe`, …), one event per record. The
//! event is tied to the pod it ran in (tagged as a workload) or else to the node. Kprobe, LSM,
//! tracepoint and uprobe hits come from a tracing policy someone wrote to catch something, so
//! they are detections; an exec of a known offensive or escape tool is one too.

use serde_json::Value;

use super::{
    DecodeError, Decoded, detect::TETRAGON_KINDS, event, identity, resource, s, safe, time_of,
};
use crate::core::{EventClass, IdentityKind, Provider, Signal};

const TOOLS: [&str; 14] = [
    "nc",
    "ncat",
    "netcat",
    "socat",
    "nmap",
    "nsenter",
    "kubectl",
    "curl",
    "wget",
    "7z",
    "scp",
    "merlin-agent",
    "chisel",
    "busybox",
];

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let kind: String = TETRAGON_KINDS
        .iter()
        .copied()
        .find(|k| v.get(*k).is_some())
        .map(str::to_string)
        .or_else(|| {
            v.as_object().and_then(|m| {
                m.iter()
                    .find(|(k, x)| k.starts_with("process_") && x.is_object())
                    .map(|(k, _)| k.clone())
            })
        })
        .ok_or_else(|| DecodeError::invalid("Tetragon", "no process_* event"))?;
    let kind = kind.as_str();
    let body = &v[kind];
    let proc_ = body.get("process").unwrap_or(&Value::Null);
    let node = s(&v, "node_name").unwrap_or("unknown-node");
    let actor = match (s(proc_, "pod.namespace"), s(proc_, "pod.name")) {
        (Some(ns), Some(pod)) => {
            let mut a = identity(
                Provider::Kubernetes,
                &format!("pod:{ns}/{pod}"),
                IdentityKind::ServiceAccount,
                Some(&format!("{ns}/{pod}")),
            );
            a.tags.push(safe(&format!("workload=pod:{ns}/{pod}")));
            a.tags.push(safe(&format!("node={node}")));
            if let Some(w) = s(proc_, "pod.workload") {
                a.tags.push(safe(&format!("workload_name={w}")));
            }
            a
        }
        _ => identity(
            Provider::Other,
            &format!("host:{node}"),
            IdentityKind::Unknown,
            Some(node),
        ),
    };
    let binary = s(proc_, "binary").unwrap_or("");
    let op = match kind {
        "process_kprobe" | "process_tracepoint" | "process_uprobe" | "process_lsm" => {
            let f = s(body, "function_name")
                .or_else(|| s(body, "event"))
                .or_else(|| s(body, "symbol"))
                .unwrap_or("hook");
            format!("{}:{f}", kind.trim_start_matches("process_"))
        }
        k => k.trim_start_matches("process_").to_string(),
    };
    let time = time_of(&v, &["time"]);
    let mut e = event(time, actor, "process", &op);
    e.class = EventClass::ProcessActivity;
    if !binary.is_empty() {
        let args = s(proc_, "arguments").unwrap_or("");
        e.resources
            .push(resource(format!("{binary} {args}").trim_end(), "process"));
    }
    let base = binary.rsplit('/').next().unwrap_or("");
    let hook = matches!(
        kind,
        "process_kprobe" | "process_tracepoint" | "process_uprobe" | "process_lsm"
    );
    if hook {
        e.signals.push(Signal::Detection);
    }
    if matches!(kind, "process_connect" | "process_listen" | "process_close")
        || op.contains("connect")
    {
        e.class = EventClass::NetworkActivity;
    }
    if kind == "process_exec" && TOOLS.contains(&base) {
        e.signals.push(Signal::Detection);
    }
    if kind == "process_exec" && base == "nsenter" {
        e.signals.push(Signal::PrivilegeEscalation);
    }
    if let Some(Value::Array(args)) = body.get("args") {
        let text = serde_json::to_string(args).unwrap_or_default();
        if text.contains("/etc/shadow")
            || text.contains("/etc/passwd")
            || text.contains("/var/run/secrets")
        {
            e.signals.push(Signal::SecretRead);
        }
    }
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}
