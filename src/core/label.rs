//! How a table names an identity: its display name, and, when another row shares that name,
//! what tells them apart (`deploy@111122223333`, `runner@ci`). One rule for every face (the
//! console's table, `rank`'s table).

use std::collections::HashMap;

/// What tells apart identities that share a display name: the AWS account of an ARN, the
/// namespace of a Kubernetes service account, else the key without its provider.
pub fn context_of(key: &str) -> String {
    let principal = key.split_once(':').map_or(key, |(_, p)| p);
    if let Some(rest) = principal.strip_prefix("arn:") {
        // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if let Some(account) = parts.get(3).filter(|a| !a.is_empty()) {
            return (*account).to_string();
        }
    }
    if let Some(rest) = principal.strip_prefix("system:serviceaccount:")
        && let Some((ns, _)) = rest.split_once(':')
    {
        return ns.to_string();
    }
    principal.to_string()
}

/// The label of each `(display, key)` row: the display name, or `display@context` where
/// another row with another key has the same display name. Linear in the rows.
pub fn labels<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Vec<String> {
    let mut first_key: HashMap<&str, (&str, bool)> = HashMap::new();
    for (display, key) in rows.clone() {
        first_key
            .entry(display)
            .and_modify(|(k, shared)| *shared |= *k != key)
            .or_insert((key, false));
    }
    rows.into_iter()
        .map(|(display, key)| {
            if first_key.get(display).is_some_and(|(_, shared)| *shared) {
                format!("{display}@{}", context_of(key))
            } else {
                display.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_shared_across_accounts_and_namespaces_get_their_context() {
        let rows = [
            ("deploy", "aws:arn:aws:iam::111122223333:role/deploy"),
            ("deploy", "aws:arn:aws:iam::444455556666:role/deploy"),
            ("runner", "k8s:system:serviceaccount:ci:runner"),
            ("runner", "k8s:system:serviceaccount:prod:runner"),
            ("ci-bot", "aws:arn:aws:iam::111122223333:user/ci-bot"),
        ];
        assert_eq!(
            labels(rows.iter().map(|(d, k)| (*d, *k))),
            [
                "deploy@111122223333",
                "deploy@444455556666",
                "runner@ci",
                "runner@prod",
                "ci-bot"
            ]
        );
    }

    #[test]
    fn one_identity_seen_twice_is_not_a_clash() {
        let rows = [("a", "x:1"), ("a", "x:1")];
        assert_eq!(labels(rows.iter().map(|(d, k)| (*d, *k))), ["a", "a"]);
    }
}
