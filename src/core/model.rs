//! The core data model: identities, their credentials and permissions, and events in an
//! OCSF-shaped model of our own. Everything that comes from outside is already `SafeText` here.

use serde::{Deserialize, Serialize};

use crate::core::text::SafeText;

/// Milliseconds since the Unix epoch. The core never reads a clock: time arrives in messages.
pub type Millis = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Aws,
    Kubernetes,
    Vault,
    Github,
    Gcp,
    Ci,
    Ai,
    Other,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Kubernetes => "kubernetes",
            Provider::Vault => "vault",
            Provider::Github => "github",
            Provider::Gcp => "gcp",
            Provider::Ci => "ci",
            Provider::Ai => "ai",
            Provider::Other => "other",
        }
    }
    /// The short prefix used in identity keys (`aws:…`, `k8s:…`).
    pub fn key_prefix(self) -> &'static str {
        match self {
            Provider::Kubernetes => "k8s",
            p => p.as_str(),
        }
    }
    pub fn parse(s: &str) -> Option<Provider> {
        Some(match s {
            "aws" => Provider::Aws,
            "kubernetes" | "k8s" => Provider::Kubernetes,
            "vault" | "openbao" => Provider::Vault,
            "github" => Provider::Github,
            "gcp" => Provider::Gcp,
            "ci" => Provider::Ci,
            "ai" => Provider::Ai,
            "other" => Provider::Other,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    IamUser,
    IamRole,
    AssumedRole,
    Root,
    FederatedUser,
    AwsService,
    ServiceAccount,
    VaultToken,
    VaultEntity,
    CiToken,
    AiAgent,
    GithubApp,
    Human,
    Unknown,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::IamUser => "iam_user",
            IdentityKind::IamRole => "iam_role",
            IdentityKind::AssumedRole => "assumed_role",
            IdentityKind::Root => "root",
            IdentityKind::FederatedUser => "federated_user",
            IdentityKind::AwsService => "aws_service",
            IdentityKind::ServiceAccount => "service_account",
            IdentityKind::VaultToken => "vault_token",
            IdentityKind::VaultEntity => "vault_entity",
            IdentityKind::CiToken => "ci_token",
            IdentityKind::AiAgent => "ai_agent",
            IdentityKind::GithubApp => "github_app",
            IdentityKind::Human => "human",
            IdentityKind::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    AccessKey,
    Session,
    SaToken,
    VaultToken,
    CiToken,
    ApiKey,
    ServiceAccountKey,
    Password,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    #[default]
    Active,
    Inactive,
    Revoked,
}

/// A credential an identity authenticates with. `id` is an identifier (AWS access key id,
/// Kubernetes token credential-id, Vault accessor, GitHub token id), never a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub id: SafeText,
    pub kind: CredentialKind,
    #[serde(default)]
    pub status: CredentialStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

/// How much damage reaching a resource could do. Ordered: a higher variant is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Low,
    Data,
    Production,
    Secrets,
    SecurityControls,
    Admin,
}

impl Sensitivity {
    /// The weight of one reachable thing of this sensitivity in the blast radius.
    pub fn weight(self) -> f64 {
        match self {
            Sensitivity::Low => 4.0,
            Sensitivity::Data => 18.0,
            Sensitivity::Production => 22.0,
            Sensitivity::Secrets => 30.0,
            Sensitivity::SecurityControls => 32.0,
            Sensitivity::Admin => 60.0,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Sensitivity::Low => "low-sensitivity resources",
            Sensitivity::Data => "data stores",
            Sensitivity::Production => "production workloads",
            Sensitivity::Secrets => "secrets",
            Sensitivity::SecurityControls => "logging and security controls",
            Sensitivity::Admin => "administrator of the account or cluster",
        }
    }
}

/// One grant: an action pattern on a resource pattern, with what it was granted by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    pub action: SafeText,
    #[serde(default = "star")]
    pub resource: SafeText,
    #[serde(default)]
    pub effect: Effect,
    /// The policy, role or binding the grant comes from ("AdministratorAccess").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<SafeText>,
    /// What reaching it means; derived from the action and resource when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Sensitivity>,
}

fn star() -> SafeText {
    SafeText::new("*")
}

/// The stable identity key: `provider-prefix:principal`, e.g.
/// `aws:arn:aws:iam::123456789012:user/ci-bot` or `k8s:system:serviceaccount:ci:runner`.
pub fn identity_key(provider: Provider, principal: &str) -> String {
    format!("{}:{}", provider.key_prefix(), principal)
}

/// An identity as an inventory or an event describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub provider: Provider,
    pub principal: SafeText,
    pub kind: IdentityKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Credential>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    /// Free-form labels (environment, team) that the scoring may use: `env=prod`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<SafeText>,
}

impl IdentityRecord {
    pub fn key(&self) -> String {
        identity_key(self.provider, self.principal.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    #[default]
    ApiActivity,
    Authentication,
    AccountChange,
    DetectionFinding,
    ProcessActivity,
    NetworkActivity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Success,
    /// Refused for lack of permission (AccessDenied, HTTP 401/403, a `forbid` decision, a failed
    /// login): what the `denied` signal counts.
    Failure,
    Unknown,
    /// Failed for another reason (throttled, not found, invalid request): no signal, since
    /// automation hits these all day.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Api {
    /// `iam`, `sts`, `secretsmanager`, `pods`, `secret/data`, …
    pub service: SafeText,
    /// `ListUsers`, `create`, `read`, …
    pub operation: SafeText,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub name: SafeText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SafeText>,
}

/// A threat signal an event carries: a hint from the source (a detection rule, a
/// simulator's storyline) or one the core derives from the API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Recon,
    Denied,
    NewNetwork,
    CredentialOutsideWorkload,
    PrivilegeEscalation,
    Persistence,
    SecretRead,
    DataRead,
    Exfiltration,
    DefenseEvasion,
    Detection,
    /// A credential used with a tool or in a region its history does not show.
    UnusualUse,
    /// Code run on workloads (SSM commands and sessions, instance user data, ECS exec) or
    /// models invoked and enabled (Bedrock).
    Execution,
    /// A Kubernetes control-plane identity (kubelet, controller, scheduler, API server, an
    /// anonymous probe) doing what its role never does (`core::k8s_baseline`).
    OutsideBaseline,
}

impl Signal {
    pub const ALL: [Signal; 14] = [
        Signal::Recon,
        Signal::Denied,
        Signal::NewNetwork,
        Signal::CredentialOutsideWorkload,
        Signal::PrivilegeEscalation,
        Signal::Persistence,
        Signal::SecretRead,
        Signal::DataRead,
        Signal::Exfiltration,
        Signal::DefenseEvasion,
        Signal::Detection,
        Signal::UnusualUse,
        Signal::Execution,
        Signal::OutsideBaseline,
    ];
    /// Threat points one occurrence adds, before saturation.
    pub fn points(self) -> f64 {
        match self {
            Signal::Recon => 2.0,
            Signal::Denied => 4.0,
            Signal::NewNetwork => 18.0,
            Signal::CredentialOutsideWorkload => 60.0,
            Signal::PrivilegeEscalation => 28.0,
            Signal::Persistence => 24.0,
            Signal::SecretRead => 10.0,
            Signal::DataRead => 4.0,
            Signal::Exfiltration => 30.0,
            Signal::DefenseEvasion => 35.0,
            Signal::Detection => 25.0,
            Signal::UnusualUse => 8.0,
            Signal::Execution => 15.0,
            Signal::OutsideBaseline => 30.0,
        }
    }
    /// Most points one signal kind may contribute, so a flood of one kind cannot max threat alone.
    pub fn cap(self) -> f64 {
        match self {
            Signal::Recon => 22.0,
            Signal::Denied => 24.0,
            Signal::DataRead => 20.0,
            Signal::SecretRead => 35.0,
            Signal::NewNetwork => 25.0,
            Signal::UnusualUse => 16.0,
            Signal::Execution => 35.0,
            // A workload's credential used outside it was stolen: what GuardDuty rates high
            // severity by itself (InstanceCredentialExfiltration).
            Signal::CredentialOutsideWorkload => 70.0,
            _ => 45.0,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Signal::Recon => "reconnaissance burst",
            Signal::Denied => "denied calls",
            Signal::NewNetwork => "credential used from a new network",
            Signal::CredentialOutsideWorkload => "workload credential used outside its workload",
            Signal::PrivilegeEscalation => "privilege-escalation calls",
            Signal::Persistence => "persistence calls",
            Signal::SecretRead => "secret reads",
            Signal::DataRead => "bulk data reads",
            Signal::Exfiltration => "exfiltration",
            Signal::DefenseEvasion => "defence evasion",
            Signal::Detection => "runtime detections",
            Signal::UnusualUse => "unusual tool or region for this credential",
            Signal::Execution => "execution calls (commands on instances, model invocations)",
            Signal::OutsideBaseline => "control-plane identity outside its baseline",
        }
    }
    /// Signals that ordinary workloads also produce; they weigh little unless they come in a
    /// burst or next to a strong signal.
    pub fn is_routine(self) -> bool {
        matches!(
            self,
            Signal::Recon
                | Signal::Denied
                | Signal::SecretRead
                | Signal::DataRead
                | Signal::UnusualUse
        )
    }
    /// Whether the signal says the identity itself is compromised or was planted (a credential
    /// used off its workload, a backdoor, a grant of power, logging turned off, data sent out, a
    /// runtime detection). Such a state lasts until a responder acts, so these signals fade over
    /// hours; an episode of recon, reads, denials or a new address fades within the hour.
    pub fn is_compromise(self) -> bool {
        matches!(
            self,
            Signal::CredentialOutsideWorkload
                | Signal::PrivilegeEscalation
                | Signal::Persistence
                | Signal::Exfiltration
                | Signal::DefenseEvasion
                | Signal::Detection
                | Signal::OutsideBaseline
        )
    }
    /// How many recent occurrences make a routine signal a burst by itself.
    pub fn burst(self) -> Option<f64> {
        match self {
            Signal::Recon => Some(15.0),
            Signal::Denied => Some(6.0),
            _ => None,
        }
    }
    pub fn index(self) -> usize {
        Signal::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// A Sigma rule's severity (`level:`), ordered: a higher variant is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigmaLevel {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl SigmaLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SigmaLevel::Informational => "informational",
            SigmaLevel::Low => "low",
            SigmaLevel::Medium => "medium",
            SigmaLevel::High => "high",
            SigmaLevel::Critical => "critical",
        }
    }
    /// Threat points one match adds, before the rule's cap.
    pub fn points(self) -> f64 {
        match self {
            SigmaLevel::Informational => 2.0,
            SigmaLevel::Low => 6.0,
            SigmaLevel::Medium => 15.0,
            SigmaLevel::High => 28.0,
            SigmaLevel::Critical => 40.0,
        }
    }
    /// Most points one rule may contribute, however often it matches.
    pub fn cap(self) -> f64 {
        match self {
            SigmaLevel::Informational => 5.0,
            SigmaLevel::Low => 12.0,
            SigmaLevel::Medium => 25.0,
            SigmaLevel::High => 40.0,
            SigmaLevel::Critical => 55.0,
        }
    }
}

/// A Sigma rule that matched an event: what a responder reads in `why`. Every text comes from
/// a rule file, which is input too, and is sanitised where the rule is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SigmaHit {
    pub title: SafeText,
    pub level: SigmaLevel,
    /// ATT&CK and other tags (`attack.t1562.001`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<SafeText>,
    /// The rule's `id:` (a UUID in SigmaHQ's rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<SafeText>,
}

impl SigmaHit {
    /// `AWS CloudTrail Important Change (medium; attack.defense-evasion, attack.t1562.001)`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} ({}", self.title, self.level.as_str());
        for (i, t) in self.tags.iter().enumerate() {
            s.push_str(if i == 0 { "; " } else { ", " });
            s.push_str(t.as_str());
        }
        s.push(')');
        s
    }
}

/// An event normalised into the core model. `raw` keeps the original record as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Time of the activity, ms since the epoch.
    pub time: Millis,
    #[serde(default)]
    pub class: EventClass,
    pub actor: IdentityRecord,
    /// The credential the actor used, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
    #[serde(default)]
    pub api: Api,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<SafeText>,
    /// The client's user agent as the source recorded it (`aws-cli/2.13.0 Python/3.11 …`,
    /// `kubectl/v1.29.0 …`): what tool made the call, which the identity's baseline learns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<SafeText>,
    /// Where the call was served (`us-east-1`), when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<SafeText>,
    /// A session or key this call issued (`AssumeRole`, `GetSessionToken`, a pod's token): the
    /// core ties what that session does back to this call's actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<Box<Issued>>,
    #[serde(default)]
    pub status: Status,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<Signal>,
    /// The Sigma rules (`--rules`, `rules = [...]`) the original record matched, each shared by
    /// every event it matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sigma: Vec<std::sync::Arc<SigmaHit>>,
    /// The original record, kept for evidence. Never rendered raw.
    #[serde(default, skip_serializing_if = "Raw::is_null")]
    pub raw: Raw,
}

/// The original record an event came from, kept as evidence: the parsed value, or the record's
/// own JSON text when it was decoded without building a tree of it (CloudTrail records: the
/// tree was most of `rank`'s allocation and of the core's time to drop old events, perf).
/// Either way it serialises as the same JSON, and reads as a value through [`Raw::value`].
#[derive(Debug, Clone, Default)]
pub enum Raw {
    #[default]
    Null,
    Value(serde_json::Value),
    /// Compact JSON text, parsed by the decoder that kept it, on one line (so a JSON Lines
    /// output stays one record per line).
    Text(Box<str>),
}

impl Raw {
    pub fn is_null(&self) -> bool {
        match self {
            Raw::Null => true,
            Raw::Value(v) => v.is_null(),
            Raw::Text(t) => &**t == "null",
        }
    }

    /// The record as a value (parsed from its text when kept as text).
    pub fn value(&self) -> std::borrow::Cow<'_, serde_json::Value> {
        use std::borrow::Cow;
        match self {
            Raw::Null => Cow::Owned(serde_json::Value::Null),
            Raw::Value(v) => Cow::Borrowed(v),
            Raw::Text(t) => Cow::Owned(serde_json::from_str(t).unwrap_or_default()),
        }
    }

    /// Keep the text of a record that a decoder has just parsed: as text when it is one line,
    /// else as a value (a record from a pretty-printed file would break a JSON Lines output).
    pub fn from_parsed_text(text: &str) -> Raw {
        if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_some() {
            return Raw::Value(serde_json::from_str(text).unwrap_or_default());
        }
        Raw::Text(text.into())
    }
}

impl From<serde_json::Value> for Raw {
    fn from(v: serde_json::Value) -> Raw {
        Raw::Value(v)
    }
}

impl PartialEq for Raw {
    fn eq(&self, other: &Raw) -> bool {
        self.value() == other.value()
    }
}

impl Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Raw::Null => s.serialize_unit(),
            Raw::Value(v) => v.serialize(s),
            // Checked here, not when kept: only the few records shown are ever written out.
            Raw::Text(t) => match serde_json::from_str::<&serde_json::value::RawValue>(t) {
                Ok(raw) => raw.serialize(s),
                Err(_) => s.serialize_unit(),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Raw::Null,
            v => Raw::Value(v),
        })
    }
}

/// A session or key that a call issued, named as later calls will name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issued {
    /// The session's identity as its own calls show it: the provider and principal
    /// (`arn:aws:sts::…:assumed-role/ROLE/SESSION`, a federated user's ARN).
    pub identity: IdentityRecord,
    /// The role or user the session is of (`arn:aws:iam::…:role/ROLE`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_of: Option<SafeText>,
    /// The workload that the issuing service runs, when a service asked for it
    /// (`ec2`, `lambda`, `ecs`, `eks-pod`, `github-actions`, `bedrock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<SafeText>,
}

/// What an event did to *another* identity's inventory: a credential created for it, a policy
/// attached to it, a role binding naming it, a trust policy changed. The core merges `target`
/// into what it knows (permissions and credentials are added, never removed), records `signal`
/// on the target, and shows `detail` in the target's `why`, so an identity that is given
/// AdministratorAccess ranks high even if it never acts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub time: Millis,
    pub target: IdentityRecord,
    /// "granted AdministratorAccess by arn:…:user/bert-jan (AttachUserPolicy)".
    pub detail: SafeText,
    /// The key of the identity that made the change, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// A threat signal the change puts on the target (a grant of admin is an escalation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
    /// What the change takes away (a deletion in the data); `None` when it adds what `target`
    /// carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removes: Option<Removal>,
}

/// What a deletion in the data takes away from an identity's inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Removal {
    /// The identity itself was deleted (`DeleteUser`, `DeleteRole`, a service account): every
    /// grant goes, every credential is revoked.
    Identity,
    /// The grants that came through one policy or role, by its name (`Detach*Policy`,
    /// `Delete*Policy`).
    Grants { via: SafeText },
    /// One credential now has this status: deleted (`revoked`), or set inactive or active again
    /// (`UpdateAccessKey`).
    Credential(Credential),
    /// A Kubernetes binding (`[NAMESPACE/]NAME`) was deleted: whoever holds it (its
    /// `binding=` tag) loses the grants of the role it bound. The change's target is not an
    /// identity then, only where the record was found.
    Binding { binding: SafeText },
    /// A Kubernetes role or cluster role was deleted: whoever is bound to it loses its grants.
    Role { role: SafeText },
}

/// The tag that records a Kubernetes binding on the identity it binds:
/// `binding=[NAMESPACE/]NAME → ROLE` (a space cannot occur in a Kubernetes name).
pub fn binding_tag(namespace: Option<&str>, name: &str, role: &str) -> String {
    match namespace.filter(|n| !n.is_empty()) {
        Some(ns) => format!("binding={ns}/{name} → {role}"),
        None => format!("binding={name} → {role}"),
    }
}

/// `(namespace, name, role)` of a `binding_tag`; the role is empty in a tag written without
/// one (`binding=NAME`).
pub fn parse_binding_tag(tag: &str) -> Option<(Option<&str>, &str, &str)> {
    let rest = tag.strip_prefix("binding=")?;
    let (binding, role) = rest.split_once(" → ").unwrap_or((rest, ""));
    Some(match binding.split_once('/') {
        Some((ns, name)) => (Some(ns), name, role),
        None => (None, binding, role),
    })
}

impl Event {
    /// A one-line summary for feeds: `iam:CreateAccessKey on user/admin (denied)`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if !self.api.service.is_empty() {
            s.push_str(self.api.service.as_str());
            s.push(':');
        }
        s.push_str(self.api.operation.as_str());
        if let Some(r) = self.resources.first() {
            s.push_str(" on ");
            s.push_str(r.name.as_str());
        }
        if self.status == Status::Failure {
            s.push_str(" (denied)");
        }
        s
    }
}
