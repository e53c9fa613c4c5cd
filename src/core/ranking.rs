//! The incremental ranking: identities ordered by a score, kept sorted as scores change one at a
//! time (no re-sort per event), with positional access so a frontend can read just the rows it
//! shows. A list of sorted blocks (like a one-level B-tree) gives O(log n + B) updates and
//! O(n / B + window) window reads with good cache behaviour at a million identities.

use serde::{Deserialize, Serialize};

const BLOCK: usize = 512;

/// Scores are kept as hundredths (0..=10_000) so that ties are exact and ordering is total.
pub type Quantised = u32;

pub fn quantise(score: f64) -> Quantised {
    (score.clamp(0.0, 100.0) * 100.0).round() as Quantised
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Risk,
    Blast,
    Threat,
}

impl SortKey {
    pub fn parse(s: &str) -> Option<SortKey> {
        match s {
            "risk" => Some(SortKey::Risk),
            "blast" | "blast_radius" => Some(SortKey::Blast),
            "threat" => Some(SortKey::Threat),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Risk => "risk",
            SortKey::Blast => "blast",
            SortKey::Threat => "threat",
        }
    }
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Risk => SortKey::Blast,
            SortKey::Blast => SortKey::Threat,
            SortKey::Threat => SortKey::Risk,
        }
    }
}

/// Sort key of one entry: higher score first, then lower index (first seen) first.
#[inline]
fn entry(score: Quantised, idx: u32) -> u64 {
    ((u32::MAX - score) as u64) << 32 | idx as u64
}

#[inline]
fn entry_idx(e: u64) -> u32 {
    e as u32
}

/// Identities (by dense index) ordered by descending score.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    blocks: Vec<Vec<u64>>,
    /// The score each index is currently filed under; `None` when not ranked.
    scores: Vec<Option<Quantised>>,
    len: usize,
}

impl Ranking {
    pub fn new() -> Ranking {
        Ranking::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn score_of(&self, idx: u32) -> Option<Quantised> {
        self.scores.get(idx as usize).copied().flatten()
    }

    /// Build from scratch in one sort (used when the sort key changes).
    pub fn rebuild(&mut self, scores: impl IntoIterator<Item = (u32, Quantised)>) {
        let mut all: Vec<u64> = Vec::new();
        self.scores.clear();
        for (idx, s) in scores {
            if self.scores.len() <= idx as usize {
                self.scores.resize(idx as usize + 1, None);
            }
            self.scores[idx as usize] = Some(s);
            all.push(entry(s, idx));
        }
        all.sort_unstable();
        self.len = all.len();
        self.blocks = all.chunks(BLOCK / 2).map(|c| c.to_vec()).collect();
    }

    /// Insert or move `idx` to `score`.
    pub fn set(&mut self, idx: u32, score: Quantised) {
        let i = idx as usize;
        if self.scores.len() <= i {
            self.scores.resize(i + 1, None);
        }
        match self.scores[i] {
            Some(old) if old == score => return,
            Some(old) => self.remove_entry(entry(old, idx)),
            None => {}
        }
        self.scores[i] = Some(score);
        self.insert_entry(entry(score, idx));
    }

    pub fn remove(&mut self, idx: u32) {
        if let Some(Some(old)) = self.scores.get(idx as usize).copied() {
            self.remove_entry(entry(old, idx));
            self.scores[idx as usize] = None;
        }
    }

    fn block_for(&self, e: u64) -> usize {
        // The last block whose first entry is <= e.
        let p = self.blocks.partition_point(|b| b[0] <= e);
        p.saturating_sub(1)
    }

    fn insert_entry(&mut self, e: u64) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(vec![e]);
            return;
        }
        let b = self.block_for(e);
        let block = &mut self.blocks[b];
        let pos = block.partition_point(|x| *x < e);
        block.insert(pos, e);
        if block.len() >= BLOCK {
            let tail = block.split_off(BLOCK / 2);
            self.blocks.insert(b + 1, tail);
        }
    }

    fn remove_entry(&mut self, e: u64) {
        let b = self.block_for(e);
        let block = &mut self.blocks[b];
        if let Ok(pos) = block.binary_search(&e) {
            block.remove(pos);
            self.len -= 1;
            if block.is_empty() {
                self.blocks.remove(b);
            } else if block.len() < BLOCK / 8 && b + 1 < self.blocks.len() {
                // Merge small neighbours so block count stays near n / B.
                if self.blocks[b].len() + self.blocks[b + 1].len() < BLOCK {
                    let next = self.blocks.remove(b + 1);
                    self.blocks[b].extend(next);
                }
            }
        } else {
            debug_assert!(false, "ranking lost an entry");
        }
    }

    /// Indices from rank `offset` (0-based), best first.
    pub fn iter_from(&self, offset: usize) -> impl Iterator<Item = u32> + '_ {
        let mut skip = offset;
        let mut start_block = self.blocks.len();
        for (bi, b) in self.blocks.iter().enumerate() {
            if skip < b.len() {
                start_block = bi;
                break;
            }
            skip -= b.len();
        }
        self.blocks
            .get(start_block..)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .flat_map(move |(k, b)| {
                let from = if k == 0 { skip } else { 0 };
                b[from.min(b.len())..].iter().map(|e| entry_idx(*e))
            })
    }

    /// 0-based position of `idx` in the ranking.
    pub fn position(&self, idx: u32) -> Option<usize> {
        let s = self.score_of(idx)?;
        let e = entry(s, idx);
        let b = self.block_for(e);
        let before: usize = self.blocks[..b].iter().map(|b| b.len()).sum();
        self.blocks[b].binary_search(&e).ok().map(|p| before + p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full_sort(scores: &[Option<Quantised>]) -> Vec<u32> {
        let mut v: Vec<(Quantised, u32)> = scores
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (s, i as u32)))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().map(|(_, i)| i).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn incremental_ranking_equals_a_full_sort(
            ops in proptest::collection::vec((0u32..3000, 0u32..=10_000, any::<bool>()), 1..4000)
        ) {
            let mut r = Ranking::new();
            let mut model: Vec<Option<Quantised>> = vec![None; 3000];
            for (idx, score, remove) in ops {
                if remove && idx % 7 == 0 {
                    r.remove(idx);
                    model[idx as usize] = None;
                } else {
                    r.set(idx, score);
                    model[idx as usize] = Some(score);
                }
            }
            let want = full_sort(&model);
            let got: Vec<u32> = r.iter_from(0).collect();
            prop_assert_eq!(r.len(), want.len());
            prop_assert_eq!(&got, &want);
            // Windows and positions agree with the full sort too.
            if !want.is_empty() {
                let mid = want.len() / 2;
                let w: Vec<u32> = r.iter_from(mid).take(5).collect();
                prop_assert_eq!(&w[..], &want[mid..(mid + 5).min(want.len())]);
                prop_assert_eq!(r.position(want[mid]), Some(mid));
            }
        }
    }

    #[test]
    fn rebuild_then_update_stays_sorted() {
        let mut r = Ranking::new();
        r.rebuild((0..2000u32).map(|i| (i, (i * 7919) % 10_001)));
        r.set(5, 10_000);
        assert_eq!(r.iter_from(0).next(), Some(5));
        r.set(5, 0);
        assert_ne!(r.iter_from(0).next(), Some(5));
        assert_eq!(r.len(), 2000);
    }

    #[test]
    fn ties_keep_first_seen_first() {
        let mut r = Ranking::new();
        r.set(3, 500);
        r.set(1, 500);
        r.set(2, 900);
        assert_eq!(r.iter_from(0).collect::<Vec<_>>(), vec![2, 1, 3]);
    }
}
