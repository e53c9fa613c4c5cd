//! Vault: a token that may create tokens with any policy (`sudo` on `auth/token/create`,
//! `auth/token/create-orphan`, or a token role without policy limits) can become any Vault
//! identity. Grants are `path:capability` (`auth/token/create:sudo`); a `*` grant is root.

use super::aws_policy::action_matches;
use super::index::{Key, Look, push_key};
use super::{EdgeKind, NodeInfo, Rights};
use crate::core::model::{Effect, Permission, Provider};

pub const ESCALATION_ACTIONS: &[&str] = &[
    "auth/token/create:sudo",
    "auth/token/create-orphan:sudo",
    "auth/token/create-orphan:update",
];

/// Whether the grants let one mint tokens with any policy (allowed and not denied), which is
/// all a Vault identity's rights come to: it can then become any other.
pub fn may_mint(perms: &[Permission]) -> bool {
    let allowed = |a: &str| {
        perms
            .iter()
            .any(|p| p.effect == Effect::Allow && action_matches(p.action.as_str(), a))
            && !perms
                .iter()
                .any(|p| p.effect == Effect::Deny && action_matches(p.action.as_str(), a))
    };
    ESCALATION_ACTIONS.iter().any(|a| allowed(a))
}

pub fn edge(s: &NodeInfo, t: &NodeInfo) -> Option<(EdgeKind, bool)> {
    (t.provider == Provider::Vault && s.rights == Rights::Vault)
        .then_some((EdgeKind::VaultToken, false))
}

/// The lists a Vault identity is filed under (see `index`).
pub fn filed_under(n: &NodeInfo, out: &mut Vec<Key>) {
    push_key(out, Key::VaultIds);
    if n.rights == Rights::Vault {
        push_key(out, Key::VaultMinters);
    }
}

pub fn targets(n: &NodeInfo, out: &mut Vec<Look>) {
    if n.rights == Rights::Vault {
        out.push(Look::List(Key::VaultIds));
    }
}

pub fn sources(_: &NodeInfo, out: &mut Vec<Look>) {
    out.push(Look::List(Key::VaultMinters));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::IdentityKind;
    use crate::core::text::SafeText;

    fn node(principal: &str, grants: &[&str]) -> NodeInfo {
        NodeInfo {
            provider: Provider::Vault,
            kind: IdentityKind::VaultToken,
            principal: principal.into(),
            tags: Box::default(),
            rights: Rights::compile(
                Provider::Vault,
                &grants
                    .iter()
                    .map(|a| Permission {
                        action: SafeText::new(a),
                        resource: SafeText::new("*"),
                        effect: Effect::Allow,
                        via: Some(SafeText::new("ops")),
                        sensitivity: None,
                    })
                    .collect::<Vec<_>>(),
            ),
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
