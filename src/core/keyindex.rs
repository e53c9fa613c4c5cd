//! `KeyIndex`: identity key (`aws:arn:…`) → index, without a second copy of every key.
//!
//! The core and the permission graph each find identities by key, and each already holds the
//! provider and principal of every index. A `HashMap<String, u32>` kept one more heap copy of
//! every key in each (about 150 bytes per identity between the two, against a budget of 1 KiB).
//! This index keeps a 32-bit hash of the key instead (8 bytes a slot), and asks its owner
//! whether the index it found really has that key; the keys whose hash another key took first
//! (about a hundred in a million) go to a small map of their own, so a lookup is never wrong,
//! only slower for them. The hash is seeded per process, so no one can choose keys that collide.
//! The permission graph holds the one index; the core asks it.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use crate::core::model::Provider;

/// The keys are already hashes: the table uses them as they are.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        // Spread into the high bits too: the table takes its control byte from the top seven.
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    seed: RandomState,
    by_hash: HashMap<u32, u32, BuildHasherDefault<Prehashed>>,
    /// Keys whose hash another key took first.
    collided: HashMap<String, u32>,
}

/// Whether `key` is `provider:principal` (`identity_key`), without building it.
pub fn key_is(key: &str, provider: Provider, principal: &str) -> bool {
    let prefix = provider.key_prefix();
    key.len() == prefix.len() + 1 + principal.len()
        && key.starts_with(prefix)
        && key.as_bytes()[prefix.len()] == b':'
        && key.ends_with(principal)
}

impl KeyIndex {
    fn hash(&self, key: &str) -> u32 {
        let mut h = self.seed.build_hasher();
        h.write(key.as_bytes());
        h.finish() as u32
    }

    /// The index of `key`; `has(i, key)` says whether index `i` has that key.
    pub fn get(&self, key: &str, has: impl Fn(u32, &str) -> bool) -> Option<u32> {
        match self.by_hash.get(&self.hash(key)) {
            Some(&i) if has(i, key) => Some(i),
            _ if self.collided.is_empty() => None,
            _ => self.collided.get(key).copied(),
        }
    }

    /// File `key` under `idx` (replacing what it was filed under).
    pub fn insert(&mut self, key: &str, idx: u32, has: impl Fn(u32, &str) -> bool) {
        let h = self.hash(key);
        match self.by_hash.get(&h) {
            Some(&i) if i != idx && !has(i, key) => {
                self.collided.insert(key.to_string(), idx);
            }
            _ => {
                self.by_hash.insert(h, idx);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_no_other() {
        let keys: Vec<String> = (0..5000).map(|i| format!("aws:arn:user/u{i}")).collect();
        let has = |i: u32, k: &str| keys[i as usize] == k;
        let mut ix = KeyIndex::default();
        for (i, k) in keys.iter().enumerate() {
            ix.insert(k, i as u32, has);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(ix.get(k, has), Some(i as u32));
        }
        assert_eq!(ix.get("aws:arn:user/nobody", has), None);
        assert_eq!(ix.len(), keys.len());
    }

    #[test]
    fn keys_whose_hashes_collide_are_both_found() {
        // Force a collision: every key hashes alike when the index is told the hash was taken
        // by an index that does not have the key.
        let keys = ["k8s:a", "k8s:b", "k8s:c"];
        let has = |i: u32, k: &str| keys[i as usize] == k;
        let mut ix = KeyIndex::default();
        ix.insert(keys[0], 0, has);
        let h = ix.hash(keys[1]);
        ix.by_hash.insert(h, 0); // keys[1]'s slot now holds keys[0]'s index
        ix.insert(keys[1], 1, has);
        assert_eq!(ix.get(keys[1], has), Some(1));
        assert_eq!(ix.get(keys[0], has), Some(0));
        assert_eq!(ix.get(keys[2], has), None);
    }

    #[test]
    fn key_is_matches_identity_key() {
        let k = crate::core::model::identity_key(Provider::Kubernetes, "sa/prod/x");
        assert!(key_is(&k, Provider::Kubernetes, "sa/prod/x"));
        assert!(!key_is(&k, Provider::Aws, "sa/prod/x"));
        assert!(!key_is(&k, Provider::Kubernetes, "sa/prod/y"));
        assert!(!key_is("k8s-sa/prod/x", Provider::Kubernetes, "sa/prod/x"));
    }
}
