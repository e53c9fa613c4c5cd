//! AWS policy evaluation over the grants the decoders flatten policies into (one `Permission`
//! per action × resource of a statement). `NotAction` and `NotResource` statements arrive as
//! patterns prefixed with [`NOT`]; statements with a `Condition` carry [`CONDITIONAL`] in their
//! `via`. Matching follows AWS: `*` and `?` wildcards, case-insensitive for actions and
//! case-sensitive for resources; an explicit `Deny` wins over any `Allow`. Conditions are not
//! evaluated: a conditional allow counts (and is marked so in the path), a conditional deny
//! does not (it may not apply).

use serde_json::Value;

use crate::core::model::{Effect, Permission};

/// Prefix of a `NotAction` / `NotResource` pattern in a flattened grant.
pub const NOT: &str = "not ";
/// Suffix of the `via` of a grant whose statement has a `Condition`.
pub const CONDITIONAL: &str = " (conditional)";

/// AWS wildcard matching: `*` any run of characters, `?` exactly one.
pub fn wildcard(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let eq = |a: u8, b: u8| {
        if case_insensitive {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || (p[pi] != b'*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether an action pattern of a grant (possibly `not …`) covers `action`.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    match pattern.strip_prefix(NOT) {
        Some(p) => !p.split(',').any(|p| wildcard(p.trim(), action, true)),
        None => wildcard(pattern, action, true),
    }
}

/// Whether a resource pattern of a grant (possibly `not …`) covers `resource`.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    match pattern.strip_prefix(NOT) {
        Some(p) => !p.split(',').any(|p| wildcard(p.trim(), resource, false)),
        None => wildcard(pattern, resource, false),
    }
}

pub fn is_conditional(p: &Permission) -> bool {
    p.via.as_deref().is_some_and(|v| v.contains(CONDITIONAL))
}

/// The grant that allows `action` on `resource`, unless an explicit deny refuses it. An
/// unconditional allow is preferred over a conditional one.
pub fn allows<'a>(perms: &'a [Permission], action: &str, resource: &str) -> Option<&'a Permission> {
    verdict(
        perms
            .iter()
            .filter(|p| action_matches(p.action.as_str(), action)),
        resource,
    )
}

/// `allows` over grants already known to cover the action (an identity's grants are sorted by
/// action once, in `aws::AwsRights`, rather than matched against it for every other identity).
pub fn verdict<'a>(
    grants: impl IntoIterator<Item = &'a Permission>,
    resource: &str,
) -> Option<&'a Permission> {
    let mut found: Option<&Permission> = None;
    for p in grants {
        if !resource_matches(p.resource.as_str(), resource) {
            continue;
        }
        match p.effect {
            Effect::Deny if !is_conditional(p) => return None,
            Effect::Deny => {}
            Effect::Allow => {
                if found.is_none_or(|f| is_conditional(f) && !is_conditional(p)) {
                    found = Some(p);
                }
            }
        }
    }
    found
}

/// For each of `actions`, the grants (allow and deny, in order) whose action pattern covers
/// it: an identity's grants sorted by action once, so that what it may do to others needs
/// only resources matched. `None` when none of them is an allow.
pub fn grants_by_action<const N: usize>(
    perms: &[Permission],
    actions: &[&str],
) -> Option<[Box<[Permission]>; N]> {
    let by: [Box<[Permission]>; N] = std::array::from_fn(|a| {
        perms
            .iter()
            .filter(|p| action_matches(p.action.as_str(), actions[a]))
            .cloned()
            .collect()
    });
    by.iter()
        .flatten()
        .any(|p| p.effect == Effect::Allow)
        .then_some(by)
}

/// Whether an unconditional deny among `perms` refuses `action` on `resource`.
pub fn denied(perms: &[Permission], action: &str, resource: &str) -> bool {
    perms.iter().any(|p| {
        p.effect == Effect::Deny
            && !is_conditional(p)
            && action_matches(p.action.as_str(), action)
            && resource_matches(p.resource.as_str(), resource)
    })
}

/// The account of an ARN (`arn:aws:iam::123456789012:role/x` → `123456789012`).
pub fn account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Parse a policy document given as JSON text (URL-encoded or not) or as an object.
pub fn document(doc: &Value) -> Value {
    match doc {
        Value::String(t) => {
            let decoded = if t.contains('%') {
                percent_decode(t)
            } else {
                t.clone()
            };
            serde_json::from_str(&decoded).unwrap_or(Value::Null)
        }
        d => d.clone(),
    }
}

/// Undo the URL encoding IAM applies to policy documents (`%XX` escapes, `+` for a space).
/// Works on bytes, so hostile text such as `%é` is kept as it is rather than split mid-character.
pub fn percent_decode(t: &str) -> String {
    let b = t.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Statements of a policy document: `Statement` may be one object or an array.
pub fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

/// A string or an array of strings.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(x)) => vec![x.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Tag prefix of a principal a role's trust policy allows (`trust=arn:aws:iam::1:root`,
/// `trust=*`, `trust=service:ec2.amazonaws.com`); a conditional one ends in
/// [`CONDITIONAL`]; a denied one is `trust-deny=…`.
pub const TRUST: &str = "trust=";
pub const TRUST_DENY: &str = "trust-deny=";

/// The principals a trust policy (`AssumeRolePolicyDocument`) lets assume the role, as tags.
pub fn trust_tags(doc: &Value) -> Vec<String> {
    let doc = document(doc);
    let mut out = Vec::new();
    for st in statements(&doc) {
        let actions = strings(st.get("Action"));
        if !actions.is_empty()
            && !actions
                .iter()
                .any(|a| wildcard(a, "sts:AssumeRole", true) || a.starts_with("sts:AssumeRoleWith"))
        {
            continue;
        }
        let deny = st.get("Effect").and_then(|e| e.as_str()) == Some("Deny");
        let conditional = st.get("Condition").is_some();
        let mut principals = Vec::new();
        match st.get("Principal") {
            Some(Value::String(s)) if s == "*" => principals.push("*".to_string()),
            Some(Value::Object(m)) => {
                for a in strings(m.get("AWS")) {
                    principals.push(a);
                }
                for s in strings(m.get("Service")) {
                    principals.push(format!("service:{s}"));
                }
                for f in strings(m.get("Federated")) {
                    principals.push(format!("federated:{f}"));
                }
            }
            _ => {}
        }
        for p in principals {
            // A bare account id means the account's root.
            let p = if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                format!("arn:aws:iam::{p}:root")
            } else {
                p
            };
            out.push(if deny {
                format!("{TRUST_DENY}{p}")
            } else if conditional {
                format!("{TRUST}{p}{CONDITIONAL}")
            } else {
                format!("{TRUST}{p}")
            });
        }
    }
    out
}

/// How a role's trust policy (as tags) lets the principal `arn` assume it: `Some(direct)`
/// where `direct` means it names the principal itself (no identity policy needed in the same
/// account), with whether it is conditional.
pub fn trusts<S: AsRef<str>>(tags: &[S], arn: &str) -> Option<(bool, bool)> {
    let acct = account(arn);
    let mut best: Option<(bool, bool)> = None;
    for t in tags {
        if let Some(p) = t.as_ref().strip_prefix(TRUST_DENY)
            && (p == "*" || p == arn || wildcard(p, arn, false))
        {
            return None;
        }
    }
    for t in tags {
        let Some(p) = t.as_ref().strip_prefix(TRUST) else {
            continue;
        };
        let (p, conditional) = match p.strip_suffix(CONDITIONAL) {
            Some(p) => (p, true),
            None => (p, false),
        };
        let hit = if p == arn || (p.contains('*') && p != "*" && wildcard(p, arn, false)) {
            Some(true)
        } else if p == "*" || (p.ends_with(":root") && acct.is_some() && account(p) == acct) {
            Some(false)
        } else {
            None
        };
        if let Some(direct) = hit {
            let cand = (direct, conditional);
            best = Some(match best {
                None => cand,
                Some(b) if !b.1 && b.0 => b,
                Some(_) if !conditional => cand,
                Some(b) => b,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::text::SafeText;

    #[test]
    fn policy_text_is_percent_decoded_and_hostile_escapes_are_kept() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        // A `%` before a multi-byte character is not an escape (and must not panic).
        assert_eq!(percent_decode("%\u{e9}x%"), "%\u{e9}x%");
    }

    fn grant(effect: Effect, action: &str, resource: &str) -> Permission {
        Permission {
            action: SafeText::new(action),
            resource: SafeText::new(resource),
            effect,
            via: Some(SafeText::new("test")),
            sensitivity: None,
        }
    }

    #[test]
    fn wildcards_follow_aws_rules() {
        assert!(wildcard("iam:*", "iam:PassRole", true));
        assert!(wildcard("iam:pass*", "iam:PassRole", true));
        assert!(wildcard("s3:Get?bject", "s3:GetObject", true));
        assert!(!wildcard("s3:Get?bject", "s3:GetObjects", true));
        assert!(wildcard("*", "anything", true));
        assert!(wildcard("a*b*c", "axxbyyc", false));
        assert!(!wildcard("a*b*c", "axxbyy", false));
        assert!(wildcard(
            "arn:aws:iam::1:role/*",
            "arn:aws:iam::1:role/admin",
            false
        ));
        assert!(!wildcard(
            "arn:aws:iam::1:role/Admin",
            "arn:aws:iam::1:role/admin",
            false
        ));
    }

    #[test]
    fn actions_are_case_insensitive_resources_are_not() {
        let p = [grant(
            Effect::Allow,
            "IAM:passrole",
            "arn:aws:iam::1:role/Admin",
        )];
        assert!(allows(&p, "iam:PassRole", "arn:aws:iam::1:role/Admin").is_some());
        assert!(allows(&p, "iam:PassRole", "arn:aws:iam::1:role/admin").is_none());
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let p = [
            grant(Effect::Allow, "*", "*"),
            grant(Effect::Deny, "iam:*", "*"),
        ];
        assert!(allows(&p, "s3:GetObject", "arn:aws:s3:::b/k").is_some());
        assert!(allows(&p, "iam:CreateAccessKey", "arn:aws:iam::1:user/x").is_none());
        assert!(denied(&p, "iam:PassRole", "arn:aws:iam::1:role/r"));
    }

    #[test]
    fn a_conditional_deny_does_not_remove_the_grant_but_a_conditional_allow_is_marked() {
        let mut d = grant(Effect::Deny, "iam:*", "*");
        d.via = Some(SafeText::new(&format!("mfa{CONDITIONAL}")));
        let mut a = grant(Effect::Allow, "iam:PassRole", "*");
        a.via = Some(SafeText::new(&format!("ops{CONDITIONAL}")));
        let p = [a, d];
        let g = allows(&p, "iam:PassRole", "arn:aws:iam::1:role/r").unwrap();
        assert!(is_conditional(g));
    }

    #[test]
    fn not_action_and_not_resource_invert_the_match() {
        let p = [grant(Effect::Allow, "not iam:*, organizations:*", "*")];
        assert!(allows(&p, "s3:PutObject", "arn:aws:s3:::b/k").is_some());
        assert!(allows(&p, "iam:PassRole", "arn:aws:iam::1:role/r").is_none());
        assert!(allows(&p, "organizations:LeaveOrganization", "*").is_none());
        let q = [grant(Effect::Allow, "s3:*", "not arn:aws:s3:::payroll/*")];
        assert!(allows(&q, "s3:GetObject", "arn:aws:s3:::logs/x").is_some());
        assert!(allows(&q, "s3:GetObject", "arn:aws:s3:::payroll/x").is_none());
    }

    #[test]
    fn resource_patterns_scope_the_grant() {
        let p = [grant(
            Effect::Allow,
            "iam:CreateAccessKey",
            "arn:aws:iam::1:user/ci-*",
        )];
        assert!(allows(&p, "iam:CreateAccessKey", "arn:aws:iam::1:user/ci-bot").is_some());
        assert!(allows(&p, "iam:CreateAccessKey", "arn:aws:iam::1:user/admin").is_none());
        assert!(allows(&p, "iam:CreateAccessKey", "arn:aws:iam::2:user/ci-bot").is_none());
    }

    #[test]
    fn trust_policies_name_principals_accounts_and_services() {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:role/ci", "222222222222"]},
             "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
             "Action": ["sts:AssumeRole"], "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}
        ]});
        let tags = trust_tags(&doc);
        assert!(tags.contains(&"trust=arn:aws:iam::1:role/ci".to_string()));
        assert!(tags.contains(&"trust=arn:aws:iam::222222222222:root".to_string()));
        assert!(tags.contains(&format!("trust=service:ec2.amazonaws.com{CONDITIONAL}")));
        let t: Vec<&str> = tags.iter().map(|s| s.as_str()).collect();
        assert_eq!(trusts(&t, "arn:aws:iam::1:role/ci"), Some((true, false)));
        assert_eq!(
            trusts(&t, "arn:aws:iam::222222222222:user/x"),
            Some((false, false))
        );
        assert_eq!(trusts(&t, "arn:aws:iam::1:user/x"), None);
        // A string document, as some exports give it.
        let s = Value::String(doc.to_string());
        assert_eq!(trust_tags(&s), tags);
    }
}
