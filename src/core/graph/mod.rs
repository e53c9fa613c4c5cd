//! The permission graph: identities as nodes, with what each can do directly (its sensitive
//! grants, classified and weighted) and an edge for every way it can become another identity
//! (AWS `sts:AssumeRole`, `iam:PassRole` with a service that runs code, credentials created for
//! others; Kubernetes pods, exec, token secrets and impersonation; Vault token creation).
//! Blast radius is what an identity reaches through that graph, weighted by sensitivity, each
//! class with the path that reaches it. Edges are looked for among candidates from `index`
//! (by account, trust policy and grant), never by trying every pair: an identity costs what its
//! account, its trust and its grants point to, however large the organisation. Pure: no clock,
//! no I/O; the core owns one `Graph`.

pub mod aws;
pub mod aws_policy;
pub mod index;
pub mod k8s;
pub mod reach;
pub mod vault;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::core::model::{Effect, IdentityKind, IdentityRecord, Permission, Provider, Sensitivity};

pub use reach::{Blast, Containment, Graph, ReachPath};

/// Sensitivity classes, in the order of `Sensitivity`'s variants.
pub const CLASSES: [Sensitivity; 6] = [
    Sensitivity::Low,
    Sensitivity::Data,
    Sensitivity::Production,
    Sensitivity::Secrets,
    Sensitivity::SecurityControls,
    Sensitivity::Admin,
];
pub const NCLASS: usize = CLASSES.len();

pub fn class_index(s: Sensitivity) -> usize {
    s as usize
}

/// What the graph keeps of an identity: enough to find edges to and from it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub provider: Provider,
    pub kind: IdentityKind,
    pub principal: String,
    /// Boxed slices, not `Vec`s: set once per upsert, and every node pays for the field.
    pub tags: Box<[String]>,
    /// Its escalation grants, compiled (none for most identities, and none for an
    /// administrator of everything, who gains nothing from becoming anyone).
    pub rights: Rights,
}

/// What an identity's grants let it do to become others, compiled once per change of its
/// grants, so that looking for edges matches resources only.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Rights {
    #[default]
    None,
    Aws(Box<aws::AwsRights>),
    K8s(Box<k8s::K8sRights>),
    /// Vault: it may mint tokens with any policy, so it can become any Vault identity.
    Vault,
}

/// What changed in an identity since the graph last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// Anything: grants or tags may have been taken away.
    Any,
    /// Its grants and tags only grew: nothing it reached can be lost.
    Grew,
    /// Its grants only grew, appended after the first `n`, which are those the graph saw last
    /// (how events and changes merge): only the new grants are looked at.
    Appended(usize),
}

impl Rights {
    /// Whether a grant can change what the rights compile to (it covers an escalation action,
    /// or a call that runs code with a passed role).
    pub fn touched_by(provider: Provider, p: &Permission) -> bool {
        let a = p.action.as_str();
        let any = |actions: &[&str]| actions.iter().any(|x| aws_policy::action_matches(a, x));
        match provider {
            Provider::Aws => {
                any(aws::ESCALATION_ACTIONS)
                    || aws::PASS_ROLE_SERVICES
                        .iter()
                        .any(|(_, run)| aws_policy::action_matches(a, run))
            }
            Provider::Kubernetes => any(k8s::ESCALATION_ACTIONS),
            Provider::Vault => any(vault::ESCALATION_ACTIONS),
            _ => false,
        }
    }

    pub fn compile(provider: Provider, perms: &[Permission]) -> Rights {
        match provider {
            Provider::Aws => aws::AwsRights::compile(perms)
                .map(|r| Rights::Aws(Box::new(r)))
                .unwrap_or_default(),
            Provider::Kubernetes => k8s::K8sRights::compile(perms)
                .map(|r| Rights::K8s(Box::new(r)))
                .unwrap_or_default(),
            Provider::Vault if vault::may_mint(perms) => Rights::Vault,
            _ => Rights::None,
        }
    }
}

impl NodeInfo {
    pub fn from_record(r: &IdentityRecord) -> NodeInfo {
        NodeInfo {
            provider: r.provider,
            kind: r.kind,
            principal: r.principal.to_string(),
            tags: r.tags.iter().map(|t| t.to_string()).collect(),
            rights: Rights::None,
        }
    }

    /// A short name for paths: `role/prod-admin`, `serviceaccount prod/deployer`.
    pub fn short_name(&self) -> String {
        short_name(&self.principal)
    }

    /// The lists of `index` this identity is filed under, so that others find it.
    pub fn filed_under(&self) -> Vec<index::Key> {
        self.ask([aws::filed_under, k8s::filed_under, vault::filed_under])
    }

    /// Where the identities it may become are found.
    pub fn targets(&self) -> Vec<index::Look> {
        self.ask([aws::targets, k8s::targets, vault::targets])
    }

    /// Where the identities that may become it are found.
    pub fn sources(&self) -> Vec<index::Look> {
        self.ask([aws::sources, k8s::sources, vault::sources])
    }

    /// The answer of its provider's function among those of AWS, Kubernetes and Vault (the
    /// providers with escalation edges); nothing for the others.
    fn ask<T>(&self, by: [fn(&NodeInfo, &mut Vec<T>); 3]) -> Vec<T> {
        let mut out = Vec::new();
        let f = match self.provider {
            Provider::Aws => by[0],
            Provider::Kubernetes => by[1],
            Provider::Vault => by[2],
            _ => return out,
        };
        f(self, &mut out);
        out
    }
}

pub fn short_name(principal: &str) -> String {
    if let Some(rest) = principal.strip_prefix("system:serviceaccount:") {
        return format!("serviceaccount {}", rest.replacen(':', "/", 1));
    }
    if principal.starts_with("arn:") {
        let tail = principal.splitn(6, ':').nth(5).unwrap_or(principal);
        return tail.to_string();
    }
    principal.to_string()
}

/// One way to become another identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    AssumeRole,
    AssumeRoleTrusted,
    /// Index into `aws::PASS_ROLE_SERVICES`.
    PassRole(u8),
    UpdateTrust,
    CreateAccessKey,
    LoginProfile,
    K8sCreatePod,
    K8sExec,
    K8sSecret,
    K8sToken,
    K8sImpersonate,
    VaultToken,
}

impl EdgeKind {
    /// (what it lets one do to the target, the grant it rests on).
    pub fn words(self) -> (&'static str, String) {
        match self {
            EdgeKind::AssumeRole => ("can assume", "sts:AssumeRole".into()),
            EdgeKind::AssumeRoleTrusted => (
                "can assume",
                "sts:AssumeRole (named in the trust policy)".into(),
            ),
            EdgeKind::PassRole(i) => {
                let (svc, run) =
                    aws::PASS_ROLE_SERVICES[i as usize % aws::PASS_ROLE_SERVICES.len()];
                let svc = svc.split('.').next().unwrap_or(svc);
                ("can pass", format!("iam:PassRole to {svc} + {run}"))
            }
            EdgeKind::UpdateTrust => (
                "can rewrite the trust policy of",
                "iam:UpdateAssumeRolePolicy".into(),
            ),
            EdgeKind::CreateAccessKey => {
                ("can create an access key for", "iam:CreateAccessKey".into())
            }
            EdgeKind::LoginProfile => (
                "can set a console password for",
                "iam:CreateLoginProfile".into(),
            ),
            EdgeKind::K8sCreatePod => ("can run a pod as", "create pods".into()),
            EdgeKind::K8sExec => ("can exec into the pods of", "pods/exec".into()),
            EdgeKind::K8sSecret => ("can read the token secret of", "get secrets".into()),
            EdgeKind::K8sToken => ("can mint a token for", "serviceaccounts/token".into()),
            EdgeKind::K8sImpersonate => ("can impersonate", "impersonate".into()),
            EdgeKind::VaultToken => (
                "can create a token with the policies of",
                "auth/token/create with sudo".into(),
            ),
        }
    }
}

/// A crown jewel from `config.toml`: resources (ARN glob) or Kubernetes namespaces (glob) that
/// count as at least `sensitivity` whatever the action's default class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrownJewel {
    /// A name for paths ("payroll data"); defaults to the pattern.
    #[serde(default)]
    pub name: Option<String>,
    /// An ARN glob: `arn:aws:s3:::payroll*`.
    #[serde(default)]
    pub arn: Option<String>,
    /// A Kubernetes namespace glob: `payments*`.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default = "jewel_default")]
    pub sensitivity: Sensitivity,
}

fn jewel_default() -> Sensitivity {
    Sensitivity::Secrets
}

impl CrownJewel {
    fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.arn.as_deref())
            .or(self.namespace.as_deref())
            .unwrap_or("crown jewel")
    }

    /// Whether an allowed grant reaches this jewel.
    fn reached_by(&self, provider: Provider, p: &Permission) -> bool {
        let action = p.action.as_str();
        let res = p.resource.as_str();
        if let Some(glob) = &self.arn {
            if provider != Provider::Aws {
                return false;
            }
            // The jewel's service must be the action's (or the action any).
            let svc = glob.split(':').nth(2).unwrap_or("");
            let action_svc = action.split(':').next().unwrap_or("");
            let svc_ok = action == "*"
                || action.starts_with(aws_policy::NOT)
                || action_svc.eq_ignore_ascii_case(svc)
                || action_svc == "*";
            let res_ok = res == "*"
                || aws_policy::wildcard(res, glob, false)
                || aws_policy::wildcard(glob, res, false);
            return svc_ok && res_ok;
        }
        if let Some(glob) = &self.namespace {
            if provider != Provider::Kubernetes {
                return false;
            }
            return res == "*" || aws_policy::wildcard(glob, res, false);
        }
        false
    }
}

/// A sensitive thing an identity reaches by itself: the strongest grant of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub class: Sensitivity,
    pub weight: f32,
    /// `* on * (via AdministratorAccess)`, as the blast reasons have always shown grants.
    pub detail: CompactString,
    /// What the grant comes from, for paths: `AdministratorAccess`, or the grant itself (kept
    /// inline up to 24 bytes, as most are: every identity holds one item per class it reaches).
    pub via: CompactString,
}

/// Probe actions that decide the class of a wildcard or `NotAction` grant, strongest first.
const PROBES: &[(Sensitivity, &str)] = &[
    (Sensitivity::Admin, "iam:PutUserPolicy"),
    (Sensitivity::Admin, "iam:AttachRolePolicy"),
    (Sensitivity::Admin, "iam:CreateAccessKey"),
    (Sensitivity::Admin, "iam:PassRole"),
    (Sensitivity::SecurityControls, "cloudtrail:StopLogging"),
    (Sensitivity::SecurityControls, "guardduty:DeleteDetector"),
    (Sensitivity::Secrets, "secretsmanager:GetSecretValue"),
    (Sensitivity::Secrets, "ssm:GetParameter"),
    (Sensitivity::Data, "s3:GetObject"),
    (Sensitivity::Data, "dynamodb:Scan"),
    (Sensitivity::Low, "ec2:DescribeInstances"),
];

/// The class of an allowed grant, given the identity's denies: a wildcard whose strongest
/// actions are all denied (or excluded by `NotAction`) counts as what is left.
fn effective_class(p: &Permission, perms: &[Permission], has_deny: bool) -> Sensitivity {
    let action = p.action.as_str();
    let res = p.resource.as_str();
    let not = action.starts_with(aws_policy::NOT);
    let wild = action.contains('*') || action.contains('?');
    let base = if not { Sensitivity::Admin } else { classify(p) };
    if !(not || wild) {
        return base;
    }
    if !not && !has_deny {
        return base;
    }
    let probe_res = if res == "*" || res.starts_with(aws_policy::NOT) {
        "arn:aws:iam::0:probe"
    } else {
        res
    };
    let matching: Vec<&(Sensitivity, &str)> = PROBES
        .iter()
        .filter(|(_, a)| aws_policy::action_matches(action, a))
        .collect();
    if matching.is_empty() {
        return if not { Sensitivity::Low } else { base };
    }
    let open = |(_, a): &&(Sensitivity, &str)| !aws_policy::denied(perms, a, probe_res);
    let strongest_open = matching
        .iter()
        .find(|m| open(m))
        .map(|(s, _)| *s)
        .unwrap_or(Sensitivity::Low);
    if not {
        return strongest_open;
    }
    let of_base: Vec<_> = matching.iter().filter(|(c, _)| *c == base).collect();
    if !of_base.is_empty() && !of_base.iter().any(|m| open(m)) {
        strongest_open.min(base)
    } else {
        base
    }
}

/// Whether a deny covers an allowed grant entirely (same or wider action and resource).
fn fully_denied(p: &Permission, perms: &[Permission]) -> bool {
    perms.iter().any(|d| {
        d.effect == Effect::Deny
            && !aws_policy::is_conditional(d)
            && (d.action == p.action
                || aws_policy::wildcard(d.action.as_str(), p.action.as_str(), true))
            && (d.resource.as_str() == "*"
                || d.resource == p.resource
                || aws_policy::wildcard(d.resource.as_str(), p.resource.as_str(), false))
    })
}

/// The sensitive things an identity reaches by itself, one per class (the strongest grant), and
/// the count of its other allowed grants (each adds a little breadth, as before the graph).
pub fn own_items(
    provider: Provider,
    perms: &[Permission],
    jewels: &[CrownJewel],
) -> (Vec<Item>, usize) {
    let mut best = Vec::new();
    let allowed = add_items(provider, perms, 0, jewels, &mut best);
    finish_items(best, allowed)
}

/// `own_items` of grants appended to those `items` and `extra` came from: only the new grants
/// are looked at. Valid when no new grant is a deny (a deny can take away an old grant).
pub fn more_items(
    provider: Provider,
    perms: &[Permission],
    from: usize,
    jewels: &[CrownJewel],
    items: &[Item],
    extra: usize,
) -> (Vec<Item>, usize) {
    let mut best = items.to_vec();
    let allowed = extra + items.len() + add_items(provider, perms, from, jewels, &mut best);
    finish_items(best, allowed)
}

/// Merge the items of the allowed grants `perms[from..]` into `best` (the denies of all of
/// `perms` apply); returns how many were allowed.
fn add_items(
    provider: Provider,
    perms: &[Permission],
    from: usize,
    jewels: &[CrownJewel],
    best: &mut Vec<Item>,
) -> usize {
    let has_deny = perms.iter().any(|d| d.effect == Effect::Deny);
    let mut allowed = 0usize;
    for p in perms[from..].iter().filter(|p| p.effect == Effect::Allow) {
        if has_deny && fully_denied(p, perms) {
            continue;
        }
        allowed += 1;
        let action = p.action.as_str();
        let mut class = effective_class(p, perms, has_deny);
        if action.ends_with(":bind") || action.ends_with(":escalate") {
            class = Sensitivity::Admin;
        }
        // Becoming someone else is what the graph's edges model: such a grant reaches what its
        // targets reach (a path), not "administrator" by itself.
        if modelled_escalation(provider, action) {
            class = Sensitivity::Low;
        }
        let res = p.resource.as_str();
        let breadth = if res == "*" || res.ends_with("/*") || res.starts_with(aws_policy::NOT) {
            1.0
        } else {
            0.7
        };
        let mut w = class.weight() * breadth;
        let jewel = jewels
            .iter()
            .find(|j| j.reached_by(provider, p) && j.sensitivity >= class);
        if let Some(j) = jewel {
            class = j.sensitivity;
            w = w.max(class.weight());
        }
        let slot = best.iter().position(|b| b.class == class);
        // Most grants are weaker than what their class already holds: nothing to spell out.
        if slot.is_some_and(|k| best[k].weight >= w as f32) {
            continue;
        }
        // A permission seen in use has no resource or grant to name: say so once.
        let mut detail = if p.resource.as_str().starts_with('(') {
            format!("{} {}", p.action, p.resource)
        } else {
            format!("{} on {}", p.action, p.resource)
        };
        if let Some(v) = p
            .via
            .as_ref()
            .filter(|v| !p.resource.as_str().contains(v.as_str()))
        {
            detail.push_str(&format!(" (via {v})"));
        }
        if let Some(j) = jewel {
            detail.push_str(&format!(" [crown jewel: {}]", j.label()));
        }
        let via = p
            .via
            .as_ref()
            .map(|v| CompactString::from(v.as_str()))
            .unwrap_or_else(|| compact_str::format_compact!("{} on {}", p.action, p.resource));
        let item = Item {
            class,
            weight: w as f32,
            detail: detail.into(),
            via,
        };
        match slot {
            Some(k) => best[k] = item,
            None => best.push(item),
        }
    }
    allowed
}

fn finish_items(mut best: Vec<Item>, allowed: usize) -> (Vec<Item>, usize) {
    let extra = allowed.saturating_sub(best.len());
    // Strongest first, a tie by class: the same order however the grants arrived.
    best.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(b.class.cmp(&a.class)));
    // Kept for every identity for as long as it lives: no spare slots.
    best.shrink_to_fit();
    (best, extra)
}

/// A grant of exactly one of the actions the graph turns into edges.
fn modelled_escalation(provider: Provider, action: &str) -> bool {
    if action.contains('*') || action.contains('?') || action.starts_with(aws_policy::NOT) {
        return false;
    }
    match provider {
        Provider::Aws => aws::ESCALATION_ACTIONS
            .iter()
            .any(|a| a.eq_ignore_ascii_case(action)),
        _ => false,
    }
}

/// The strongest way `s` can become `t`.
pub fn edge(s: &NodeInfo, t: &NodeInfo) -> Option<(EdgeKind, bool)> {
    if s.provider != t.provider {
        return None;
    }
    match s.provider {
        Provider::Aws => aws::edge(s, t),
        Provider::Kubernetes => k8s::edge(s, t),
        Provider::Vault => vault::edge(s, t),
        _ => None,
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

/// Classify what a permission reaches, when the source did not say.
pub fn classify(p: &Permission) -> Sensitivity {
    if let Some(s) = p.sensitivity {
        return s;
    }
    let a = p.action.as_str().to_ascii_lowercase();
    let r = p.resource.as_str().to_ascii_lowercase();
    let via = p.via.as_deref().unwrap_or("").to_ascii_lowercase();
    let prod = r.contains("prod") || via.contains("prod");
    if a == "*" || a == "*:*" || via.contains("administratoraccess") || via == "cluster-admin" {
        return Sensitivity::Admin;
    }
    const ESCALATION: [&str; 12] = [
        "iam:*",
        "iam:passrole",
        "iam:createaccesskey",
        "iam:createloginprofile",
        "iam:updateloginprofile",
        "iam:attach",
        "iam:put",
        "iam:updateassumerolepolicy",
        "iam:createpolicyversion",
        "sts:assumerole",
        "impersonate",
        "escalate",
    ];
    if ESCALATION
        .iter()
        .any(|e| a.starts_with(e) || a.ends_with(e))
        || a.contains("rolebindings:")
    {
        return Sensitivity::Admin;
    }
    if a.starts_with("secretsmanager:")
        || a.starts_with("ssm:getparameter")
        || a.starts_with("kms:decrypt")
        || a.contains("secrets")
        || a.starts_with("secret/")
        || r.contains("secret")
    {
        return Sensitivity::Secrets;
    }
    if a.starts_with("cloudtrail:")
        || a.starts_with("guardduty:")
        || a.starts_with("config:")
        || a.starts_with("securityhub:")
        || a.starts_with("logs:delete")
        || a.contains("networkpolicies")
    {
        return Sensitivity::SecurityControls;
    }
    if a.starts_with("s3:")
        || a.starts_with("dynamodb:")
        || a.starts_with("rds:")
        || a.starts_with("database")
    {
        return if prod {
            Sensitivity::Production
        } else {
            Sensitivity::Data
        };
    }
    if a.starts_with("ec2:")
        || a.starts_with("lambda:")
        || a.starts_with("ecs:")
        || a.contains("deployments")
        || a.contains("pods")
        || a.starts_with("repo:")
    {
        return if prod {
            Sensitivity::Production
        } else {
            Sensitivity::Low
        };
    }
    if prod {
        Sensitivity::Production
    } else {
        Sensitivity::Low
    }
}
