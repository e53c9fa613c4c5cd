//! Where the graph looks for edges: lists of identities filed by what can make an edge to or
//! from them (their account and kind, whom their trust policy names, which escalation grants
//! they hold and on what), so that an identity's edges are looked for among a few candidates
//! instead of every identity. Each provider says under which keys a node is filed
//! (`filed_under`), and which lists hold the candidates of its out-edges (`targets`) and of its
//! in-edges (`sources`); the edge itself is always decided by `graph::edge` on the pair, so a
//! list may hold more than the edges (never fewer).

use std::collections::HashMap;

use compact_str::CompactString;

/// A list of identities. Accounts are the account field of an ARN (empty for a principal that
/// is not one), namespaces Kubernetes namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// Every AWS identity of the account.
    Members(CompactString),
    /// The account's IAM roles.
    Roles(CompactString),
    /// The account's IAM users.
    Users(CompactString),
    /// The account's roles that trust a service which runs code (`iam:PassRole` targets).
    ServiceRoles(CompactString),
    /// Roles whose trust policy names this principal exactly.
    TrustsPrincipal(CompactString),
    /// Roles whose trust policy names this account (its root).
    TrustsAccount(CompactString),
    /// Roles whose trust policy names a pattern (`*`, `arn:aws:iam::1:role/ci-*`) of this
    /// account; `*` for a pattern whose account is itself a wildcard.
    TrustsPattern(CompactString),
    /// Identities of the account that may assume roles (`sts:AssumeRole` allowed somewhere).
    Assumers(CompactString),
    /// Every identity that may assume roles, whatever its account (for roles that trust `*`).
    AnyAssumer,
    /// Identities of the account with `iam:PassRole` (and a call that runs code) or
    /// `iam:UpdateAssumeRolePolicy` on a resource pattern.
    RoleWriters(CompactString),
    /// Identities of the account with `iam:CreateAccessKey` or a login profile call on a
    /// resource pattern.
    UserWriters(CompactString),
    /// Identities with an escalation grant on exactly this ARN.
    Named(CompactString),
    /// Kubernetes service accounts of the namespace.
    ServiceAccounts(CompactString),
    AllServiceAccounts,
    /// Kubernetes subjects that are not service accounts (users one may impersonate).
    People,
    /// Kubernetes subjects that can act as the service accounts of the namespace.
    ActsIn(CompactString),
    /// ... of every namespace.
    ActsAnywhere,
    /// Kubernetes subjects that may impersonate users.
    Impersonators,
    /// Every Vault identity.
    VaultIds,
    /// Vault identities that may mint tokens with any policy.
    VaultMinters,
}

/// Where to look for candidates: a list, or the one identity with this key (`aws:arn:…`).
#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    List(Key),
    Identity(String),
}

#[derive(Debug, Default, Clone)]
pub struct EdgeIndex {
    lists: HashMap<Key, Vec<u32>>,
}

impl EdgeIndex {
    /// Move `idx` from the lists of `old` (what it was filed under) to those of `new`. Lists
    /// keep their order; a removal (rare: a trust policy or a grant taken away) costs one pass
    /// over the list.
    pub fn refile(&mut self, idx: u32, old: &[Key], new: &[Key]) {
        for k in old.iter().filter(|k| !new.contains(k)) {
            if let Some(v) = self.lists.get_mut(k) {
                v.retain(|&x| x != idx);
                if v.is_empty() {
                    self.lists.remove(k);
                }
            }
        }
        for k in new.iter().filter(|k| !old.contains(k)) {
            self.lists.entry(k.clone()).or_default().push(idx);
        }
    }

    pub fn list(&self, k: &Key) -> &[u32] {
        self.lists.get(k).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Keys in order, each once (a node's keys are few: a linear check beats hashing).
pub(crate) fn push_key(out: &mut Vec<Key>, k: Key) {
    if !out.contains(&k) {
        out.push(k);
    }
}
