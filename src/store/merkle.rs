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
