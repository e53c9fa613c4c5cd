//! RFC 6962 (Certificate Transparency) Merkle tree hashing for audit checkpoints.
//!
//! A checkpoint signs the Merkle root over the hashes of the first `tree_size` audit records, so
//! a verifier holding only the checkpoint can tell whether any record it covers was changed,
//! removed or reordered. `Frontier` keeps just the roots of the perfect subtrees a tree of a
//! given size decomposes into (at most 64 of them), so the root can be extended record by record
//! without holding every leaf: verifying a million records costs two small hashes per record.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// RFC 6962 leaf hash: SHA-256(0x00 || data). Here the data is a record's own hash.
pub fn leaf_hash(record_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(record_hash);
    h.finalize().into()
}

/// RFC 6962 interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The right edge of a Merkle tree: one root per set bit of `size`, largest subtree first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Number of leaves added so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Add the next record (by its record hash).
    pub fn push(&mut self, record_hash: &Hash) {
        let mut h = leaf_hash(record_hash);
        // Each trailing one bit of the old size is a perfect subtree of the same height as the
        // one being carried: merge them, exactly like a binary increment.
        let mut s = self.size;
        while s & 1 == 1 {
            if let Some(left) = self.nodes.pop() {
                h = node_hash(&left, &h);
            }
            s >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// The RFC 6962 root (MTH) of the leaves added so far; SHA-256 of nothing when empty.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return Sha256::digest([]).into();
        };
        // RFC 6962 splits at the largest power of two below n, so the smaller subtrees to the
        // right nest inside each other: fold from the right.
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// Serialised form kept next to each checkpoint so the next checkpoint can continue from it
    /// instead of re-reading every record. `verify` never trusts it: it recomputes from leaves.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.nodes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for n in &self.nodes {
            out.extend_from_slice(n);
        }
        out
    }

    /// The inverse of `to_bytes`; `None` when the bytes do not describe a frontier.
    pub fn from_bytes(b: &[u8]) -> Option<Frontier> {
        let (size, rest) = b.split_first_chunk::<8>()?;
        let size = u64::from_be_bytes(*size);
        if rest.len() % 32 != 0 || rest.len() / 32 != size.count_ones() as usize {
            return None;
        }
        let nodes = rest
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Some(Frontier { size, nodes })
    }
}

/// RFC 6962 MTH of `leaves` (record hashes): the root of a tree over any run of them.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaf_hash(&leaves[0]),
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The RFC 6962 consistency proof (RFC 9162 §2.1.4.1, `PROOF(m, D[n])`) that the tree over the
/// first `m` of `leaves` is a prefix of the tree over all of them: the few subtree roots a
/// verifier holding only the two roots needs. Empty when `m` is 0 or `m == n`.
pub fn consistency_proof(m: u64, leaves: &[Hash]) -> Vec<Hash> {
    fn sub(m: u64, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
        let n = leaves.len() as u64;
        if m == n {
            if !whole {
                out.push(root_of(leaves));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            sub(m, &leaves[..k as usize], whole, out);
            out.push(root_of(&leaves[k as usize..]));
        } else {
            sub(m - k, &leaves[k as usize..], false, out);
            out.push(root_of(&leaves[..k as usize]));
        }
    }
    let mut out = Vec::new();
    if m > 0 && m < leaves.len() as u64 {
        sub(m, leaves, true, &mut out);
    }
    out
}

/// Check a consistency proof (RFC 9162 §2.1.4.2): that a tree of `m` leaves with root `old`
/// is a prefix of the tree of `n` leaves with root `new`. Anyone holding an old checkpoint can
/// run it against a newer one: a log cut back, rewritten or forked since fails.
pub fn verify_consistency(m: u64, n: u64, old: &Hash, new: &Hash, proof: &[Hash]) -> bool {
    if m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && old == new;
    }
    if m == 0 {
        // Every tree extends the empty one.
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(*old);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (m - 1, n - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    &fr == old && &sr == new && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH straight from RFC 6962 section 2.1, recursive, as the reference.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn frontier_root_matches_rfc6962_definition_for_every_size_up_to_70() {
        let leaves: Vec<Hash> = (0u8..70).map(|i| Sha256::digest([i]).into()).collect();
        let mut f = Frontier::new();
        assert_eq!(f.root(), mth(&[]));
        for n in 1..=leaves.len() {
            f.push(&leaves[n - 1]);
            assert_eq!(f.root(), mth(&leaves[..n]), "size {n}");
            assert_eq!(Frontier::from_bytes(&f.to_bytes()), Some(f.clone()));
        }
    }

    #[test]
    fn every_prefix_is_proven_consistent_and_nothing_else_is() {
        let leaves: Vec<Hash> = (0u8..40).map(|i| Sha256::digest([i]).into()).collect();
        for n in 1..=leaves.len() {
            let new = mth(&leaves[..n]);
            assert_eq!(root_of(&leaves[..n]), new);
            for m in 0..=n {
                let old = mth(&leaves[..m]);
                let proof = consistency_proof(m as u64, &leaves[..n]);
                assert!(
                    verify_consistency(m as u64, n as u64, &old, &new, &proof),
                    "m={m} n={n}"
                );
                if m == 0 || m == n {
                    continue;
                }
                // A forked prefix, a wrong new root, a wrong size, a cut proof: all fail.
                let mut forked = leaves[..n].to_vec();
                forked[m - 1] = [0xee; 32];
                assert!(!verify_consistency(
                    m as u64,
                    n as u64,
                    &mth(&forked[..m]),
                    &new,
                    &proof
                ));
                assert!(!verify_consistency(
                    m as u64,
                    n as u64,
                    &old,
                    &mth(&forked),
                    &proof
                ));
                assert!(!verify_consistency(
                    m as u64 + 1,
                    n as u64,
                    &old,
                    &new,
                    &proof
                ));
                if !proof.is_empty() {
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &old,
                        &new,
                        &proof[1..]
                    ));
                }
            }
        }
    }

    #[test]
    fn a_shorter_tree_is_never_consistent_with_a_longer_one() {
        let leaves: Vec<Hash> = (0u8..9).map(|i| Sha256::digest([i]).into()).collect();
        assert!(!verify_consistency(
            9,
            5,
            &mth(&leaves),
            &mth(&leaves[..5]),
            &[]
        ));
    }

    #[test]
    fn the_rfc9162_example_proof_has_the_documented_shape() {
        // RFC 9162 §2.1.5: in a tree of 7 leaves d0..d6, PROOF(3, D[7]) = [c, d, g, l]:
        // c and d the leaves d2 and d3, g = MTH(d0, d1), l = MTH(d4..d6).
        let d: Vec<Hash> = (0u8..7).map(|i| Sha256::digest([i]).into()).collect();
        let p = consistency_proof(3, &d);
        assert_eq!(
            p,
            vec![
                leaf_hash(&d[2]),
                leaf_hash(&d[3]),
                mth(&d[0..2]),
                mth(&d[4..7]),
            ]
        );
        // PROOF(4, D[7]) = [l]; PROOF(6, D[7]) = [i, j, k] with i = MTH(d4,d5), j = d6, k = MTH(d0..d3).
        assert_eq!(consistency_proof(4, &d), vec![mth(&d[4..7])]);
        assert_eq!(
            consistency_proof(6, &d),
            vec![mth(&d[4..6]), leaf_hash(&d[6]), mth(&d[0..4])]
        );
    }

    #[test]
    fn frontier_bytes_of_wrong_length_are_rejected() {
        let mut f = Frontier::new();
        f.push(&[7; 32]);
        f.push(&[8; 32]);
        f.push(&[9; 32]);
        let mut b = f.to_bytes();
        b.pop();
        assert_eq!(Frontier::from_bytes(&b), None);
        assert_eq!(Frontier::from_bytes(&[0; 3]), None);
    }
}
