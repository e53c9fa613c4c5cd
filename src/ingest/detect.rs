//! Format detection, per record: a folder (or one stream) may mix formats, so every record is
//! looked at on its own. Detection reads only a few keys and never fails: `None` means no
//! decoder recognises the record.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Native,
    NativeInventory,
    /// An S3 delivery file `{"Records": [...]}`.
    CloudTrailFile,
    /// One CloudTrail record (plain, or the Logstash shape with `@timestamp`).
    CloudTrail,
    GuardDuty,
    /// An envelope whose record sits under a key: EventBridge `detail`, a rule-test `log`.
    Wrapped(&'static str),
    /// A record carried as a JSON string inside another (AKS diagnostic `properties.log`).
    EmbeddedJson(&'static str, &'static str),
    /// A CloudWatch Logs subscription record as a Lambda receives it: `awslogs.data`, base64
    /// of gzip.
    AwsLogs,
    /// A CloudWatch Logs subscription message, decoded: `messageType` and `logEvents`.
    CloudWatchLogs,
    /// CloudTrail as Datadog Logs ships it (`evt.name`, `network.client.ip`, `http.useragent`).
    Datadog,
    K8sAudit,
    K8sAuditList,
    Falco,
    Tetragon,
    VaultAudit,
    Ocsf,
    GitHub,
    Gcp,
    AwsIamInventory,
    K8sRbacInventory,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::NativeInventory => "native inventory",
            Format::CloudTrailFile => "CloudTrail delivery file",
            Format::CloudTrail => "CloudTrail",
            Format::GuardDuty => "GuardDuty finding",
            Format::Wrapped(_) => "envelope",
            Format::EmbeddedJson(..) => "embedded JSON",
            Format::AwsLogs => "CloudWatch Logs subscription (awslogs)",
            Format::CloudWatchLogs => "CloudWatch Logs subscription message",
            Format::Datadog => "Datadog CloudTrail log",
            Format::K8sAudit => "Kubernetes audit",
            Format::K8sAuditList => "Kubernetes audit list",
            Format::Falco => "Falco alert",
            Format::Tetragon => "Tetragon",
            Format::VaultAudit => "Vault audit",
            Format::Ocsf => "OCSF",
            Format::GitHub => "GitHub",
            Format::Gcp => "GCP audit",
            Format::AwsIamInventory => "AWS IAM inventory",
            Format::K8sRbacInventory => "Kubernetes RBAC inventory",
        }
    }
}

pub const TETRAGON_KINDS: [&str; 8] = [
    "process_exec",
    "process_exit",
    "process_kprobe",
    "process_tracepoint",
    "process_uprobe",
    "process_lsm",
    "process_loader",
    "process_throttle",
];

fn has(v: &Value, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

fn str_is(v: &Value, k: &str, want: &str) -> bool {
    v.get(k).and_then(|x| x.as_str()) == Some(want)
}

/// Which decoder reads this record, if any.
pub fn detect(v: &Value) -> Option<Format> {
    let Value::Object(m) = v else {
        return None;
    };
    // blastdoor's own shapes first: they are the most specific.
    if m.get("identities").is_some_and(|i| i.is_array()) {
        return Some(Format::NativeInventory);
    }
    if super::native::looks_native(v) {
        return Some(Format::Native);
    }
    if m.get("Records").is_some_and(|r| r.is_array()) {
        return Some(Format::CloudTrailFile);
    }
    // Envelopes.
    if super::envelopes::looks_awslogs(v) {
        return Some(Format::AwsLogs);
    }
    if super::envelopes::looks_cloudwatch_logs(v) {
        return Some(Format::CloudWatchLogs);
    }
    if super::envelopes::looks_datadog(v) {
        return Some(Format::Datadog);
    }
    if m.contains_key("detail-type") && has(v, "detail") {
        return Some(Format::Wrapped("detail"));
    }
    if m.contains_key("rule_id") && m.get("log").is_some_and(|l| l.is_object()) {
        return Some(Format::Wrapped("log"));
    }
    if v.get("properties")
        .and_then(|p| p.get("log"))
        .is_some_and(|l| l.is_string())
        && (str_is(v, "category", "kube-audit") || str_is(v, "category", "kube-audit-admin"))
    {
        return Some(Format::EmbeddedJson("properties", "log"));
    }
    // Records.
    if m.get("eventName").is_some_and(|x| x.is_string())
        && (m.contains_key("eventSource") || m.contains_key("userIdentity"))
    {
        return Some(Format::CloudTrail);
    }
    if (str_is(v, "kind", "Event") || m.contains_key("auditID"))
        && (m.contains_key("verb") || m.contains_key("objectRef") || m.contains_key("user"))
    {
        return Some(Format::K8sAudit);
    }
    if str_is(v, "kind", "EventList") && m.get("items").is_some_and(|i| i.is_array()) {
        return Some(Format::K8sAuditList);
    }
    if m.contains_key("rule") && m.contains_key("priority") && m.contains_key("output") {
        return Some(Format::Falco);
    }
    if TETRAGON_KINDS.iter().any(|k| m.contains_key(*k))
        || (m.contains_key("node_name") || m.contains_key("time"))
            && m.iter()
                .any(|(k, x)| k.starts_with("process_") && x.is_object())
    {
        return Some(Format::Tetragon);
    }
    if let Some(t) = m.get("type").and_then(|t| t.as_str())
        && (t == "request" || t == "response")
        && (has(v, "request") || has(v, "auth"))
    {
        return Some(Format::VaultAudit);
    }
    if m.get("class_uid").is_some_and(|c| c.is_number()) {
        return Some(Format::Ocsf);
    }
    if m.contains_key("protoPayload") {
        return Some(Format::Gcp);
    }
    if m.get("schemaVersion").is_some() && m.contains_key("service") && m.contains_key("severity")
        || m.get("arn")
            .and_then(|a| a.as_str())
            .is_some_and(|a| a.contains(":guardduty:"))
    {
        return Some(Format::GuardDuty);
    }
    if m.contains_key("UserDetailList")
        || m.contains_key("RoleDetailList")
        || m.contains_key("GroupDetailList")
    {
        return Some(Format::AwsIamInventory);
    }
    if str_is(v, "kind", "List")
        && m.get("items")
            .and_then(|i| i.as_array())
            .is_some_and(|items| {
                items.iter().all(|i| {
                    matches!(
                        i.get("kind").and_then(|k| k.as_str()),
                        Some(
                            "ServiceAccount"
                                | "Role"
                                | "RoleBinding"
                                | "ClusterRole"
                                | "ClusterRoleBinding"
                        )
                    )
                })
            })
    {
        return Some(Format::K8sRbacInventory);
    }
    if super::github::looks_github(v) {
        return Some(Format::GitHub);
    }
    None
}
