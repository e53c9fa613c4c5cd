//! Vault: a token that may create tokens with any policy (`sudo` on `auth/token/create`,
//! `auth/token/create-orphan`, or a token role without policy limits) can become any Vault
//! identity. Grants are `path:capability` (`auth/token/create:sudo`); a `*` grant is root.

use super::aws_policy::action_matches;
use super::{EdgeKind, NodeInfo};
use crate::core::model::{Effect, Provider};

pub const ESCALATION_ACTIONS: &[&str] = &[
    "auth/token/create:sudo",
    "auth/token/create-orphan:sudo",
    "auth/token/create-orphan:update",
];

pub fn edge(s: &NodeInfo, t: &NodeInfo) -> Option<(EdgeKind, bool)> {
    if t.provider != Provider::Vault {
        return None;
    }
    let allowed = |a: &str| {
        s.perms
            .iter()
            .any(|p| p.effect == Effect::Allow && action_matches(p.action.as_str(), a))
            && !s
                .perms
                .iter()
                .any(|p| p.effect == Effect::Deny && action_matches(p.action.as_str(), a))
    };
    ESCALATION_ACTIONS
        .iter()
        .any(|a| allowed(a))
        .then_some((EdgeKind::VaultToken, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{IdentityKind, Permission};
    use crate::core::text::SafeText;

    fn node(principal: &str, grants: &[&str]) -> NodeInfo {
        NodeInfo {
            provider: Provider::Vault,
            kind: IdentityKind::VaultToken,
            principal: principal.into(),
            tags: Box::default(),
            perms: grants
                .iter()
                .map(|a| Permission {
                    action: SafeText::new(a),
                    resource: SafeText::new("*"),
                    effect: Effect::Allow,
                    via: Some(SafeText::new("ops")),
                    sensitivity: None,
                })
                .collect(),
        }
    }

    #[test]
    fn sudo_on_token_create_reaches_other_tokens_and_reading_does_not() {
        let minter = node("token/a", &["auth/token/create:sudo"]);
        let reader = node("token/b", &["secret/data/app:read"]);
        let admin = node("token/root", &["*"]);
        assert_eq!(edge(&minter, &admin), Some((EdgeKind::VaultToken, false)));
        assert_eq!(edge(&reader, &admin), None);
    }
}
