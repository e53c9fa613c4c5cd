//! What the playbook runners share through the state: which playbooks are paused, and the lease
//! that lets one runner act at a time. Both are small named values kept beside the sources'
//! cursors, under a `blastdoor:` prefix that no source name has, so either backend holds them
//! with no table of their own. Read and written inside `Store::write`, under the state's one
//! writer lock: two runners never both take the lease.

use std::collections::BTreeSet;

use crate::core::model::Millis;
use crate::store::Tx;

const PAUSED: &str = "blastdoor:playbooks:paused";
const LEASE: &str = "blastdoor:playbooks:lease";

/// Every playbook paused now; `*` stands for all of them.
pub fn paused(tx: &mut dyn Tx) -> anyhow::Result<BTreeSet<String>> {
    Ok(match tx.cursor(PAUSED)? {
        Some(v) if !v.is_empty() => serde_json::from_str(&v).unwrap_or_default(),
        _ => BTreeSet::new(),
    })
}

/// Whether `name` is paused under `set` (by name or by `*`).
pub fn is_paused(set: &BTreeSet<String>, name: &str) -> bool {
    set.contains("*") || set.contains(name)
}

/// Pause (or resume) `name`, or every playbook with `None`. Returns whether anything changed.
/// Resuming all clears every pause; resuming one while all are paused is refused by the caller.
pub fn set_paused(
    tx: &mut dyn Tx,
    name: Option<&str>,
    pause: bool,
    now: Millis,
) -> anyhow::Result<bool> {
    let mut set = paused(tx)?;
    let before = set.clone();
    match (name, pause) {
        (Some(n), true) => {
            set.insert(n.to_string());
        }
        (Some(n), false) => {
            set.remove(n);
        }
        (None, true) => {
            set.insert("*".into());
        }
        (None, false) => set.clear(),
    }
    if set == before {
        return Ok(false);
    }
    tx.set_cursor(PAUSED, &serde_json::to_string(&set)?, now)?;
    Ok(true)
}

/// Take or renew the runners' lease for `ttl`: granted when it is free, expired, or already
/// `owner`'s. Otherwise says who holds it and until when.
pub fn take_lease(
    tx: &mut dyn Tx,
    owner: &str,
    now: Millis,
    ttl: Millis,
) -> anyhow::Result<Result<(), (String, Millis)>> {
    if let Some(v) = tx.cursor(LEASE)?
        && let Some((holder, until)) = v.rsplit_once(' ')
        && let Ok(until) = until.parse::<Millis>()
        && holder != owner
        && until > now
    {
        return Ok(Err((holder.to_string(), until)));
    }
    tx.set_cursor(LEASE, &format!("{owner} {}", now.saturating_add(ttl)), now)?;
    Ok(Ok(()))
}

/// Give the lease up (a runner that stops), so another takes over at once.
pub fn release_lease(tx: &mut dyn Tx, owner: &str, now: Millis) -> anyhow::Result<()> {
    if let Some(v) = tx.cursor(LEASE)?
        && v.rsplit_once(' ').is_some_and(|(h, _)| h == owner)
    {
        tx.set_cursor(LEASE, "", now)?;
    }
    Ok(())
}
