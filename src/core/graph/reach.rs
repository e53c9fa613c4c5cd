//! The graph and what each identity reaches through it.
//!
//! Every node has its own sensitive items (one weight per class). What a node reaches in class
//! `c` is `max(own[c], HOP × max over its edges of reach[c] of the target)`: the best thing of
//! that class anywhere downstream, discounted by 10% a hop, with a successor pointer per class
//! that spells out the path. That is a fixpoint over the graph (cycles never improve a value,
//! since a hop only discounts), computed with a worklist: a node whose reach changes puts its
//! predecessors back on the list. All identities at once is one pass over the edges per
//! improvement wave; a change to one identity re-examines only the identities that can reach it
//! (a grant that only adds, the common case, only those whose reach improves).

use std::collections::{BinaryHeap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use thin_vec::ThinVec;

use super::index::{EdgeIndex, Look};
use super::{
    CLASSES, CrownJewel, EdgeKind, Growth, Item, NCLASS, NodeInfo, Rights, class_index, edge,
    more_items, own_items,
};
use crate::core::keyindex::{KeyIndex, key_is};
use crate::core::model::{Effect, IdentityRecord, Provider, Sensitivity, identity_key};
use crate::core::reason::{Reason, round1};

/// What one hop keeps of a reachable weight.
pub const HOP: f32 = 0.9;
const NONE: u32 = u32::MAX;
/// Longest path spelled out (longer chains are cut, never looped).
const MAX_PATH: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub to: u32,
    pub kind: EdgeKind,
    pub conditional: bool,
}

/// One path from an identity to the strongest thing of a class it can reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReachPath {
    pub sensitivity: Sensitivity,
    pub weight: f64,
    /// Identity keys from the identity itself to the one holding the grant.
    pub through: Vec<String>,
    pub detail: String,
}

/// An identity's blast radius, its reasons and its paths.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Blast {
    pub score: f64,
    pub why: Vec<Reason>,
    pub paths: Vec<ReachPath>,
}

/// The effect of containing one identity on another's reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Containment {
    /// The identity contained (the subject itself, or one on its paths).
    pub node: u32,
    /// Share (0–1) of the sensitive grants the subject reaches that containment removes.
    pub removes: f64,
    /// The blast radius left.
    pub blast_after: f64,
}

#[derive(Debug, Default, Clone)]
pub struct Graph {
    nodes: Vec<NodeInfo>,
    present: Vec<bool>,
    by_key: KeyIndex,
    /// Where each node's edges are looked for.
    index: EdgeIndex,
    /// Adjacency as `ThinVec`s (one pointer; an empty one allocates nothing): most identities
    /// have no edges at all, and a `Vec` header each was 48 bytes of every node.
    out: Vec<ThinVec<Edge>>,
    rev: Vec<ThinVec<u32>>,
    items: Vec<Box<[Item]>>,
    own: Vec<[f32; NCLASS]>,
    extra: Vec<u32>,
    val: Vec<[f32; NCLASS]>,
    succ: Vec<[u32; NCLASS]>,
    jewels: Vec<CrownJewel>,
    work: Vec<u32>,
    in_work: Vec<bool>,
    /// Scratch for `recompute_class`: all false between calls.
    in_set: Vec<bool>,
    /// Scratch for `recompute_class`: its queue, kept to reuse the allocation.
    heap: BinaryHeap<(u32, u32)>,
    changed: Vec<u32>,
    in_changed: Vec<bool>,
    edges: usize,
}

fn node_has_key(nodes: &[NodeInfo], n: u32, key: &str) -> bool {
    nodes
        .get(n as usize)
        .is_some_and(|x| key_is(key, x.provider, &x.principal))
}

impl Graph {
    /// File an identity's key under its index before anything else is known of it, so that
    /// `find` knows it at once (the core finds its identities through this one index).
    pub fn file_key(&mut self, idx: u32, provider: Provider, principal: &str) {
        self.grow(idx);
        let node = &mut self.nodes[idx as usize];
        node.provider = provider;
        if node.principal != principal {
            node.principal = principal.to_string();
        }
        let nodes = &self.nodes;
        self.by_key
            .insert(&identity_key(provider, principal), idx, |n, k| {
                node_has_key(nodes, n, k)
            });
    }

    /// The index filed under an identity key (`aws:arn:…`).
    pub fn find(&self, key: &str) -> Option<u32> {
        self.by_key.get(key, |n, k| node_has_key(&self.nodes, n, k))
    }

    pub fn new(jewels: Vec<CrownJewel>) -> Graph {
        Graph {
            jewels,
            ..Graph::default()
        }
    }

    pub fn jewels(&self) -> &[CrownJewel] {
        &self.jewels
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn edge_count(&self) -> usize {
        self.edges
    }

    pub fn out_edges(&self, idx: u32) -> &[Edge] {
        self.out
            .get(idx as usize)
            .map(|e| e.as_slice())
            .unwrap_or(&[])
    }

    fn grow(&mut self, idx: u32) {
        let n = idx as usize + 1;
        if self.nodes.len() >= n {
            return;
        }
        let blank = NodeInfo {
            provider: Provider::Other,
            kind: crate::core::IdentityKind::Unknown,
            principal: String::new(),
            tags: Box::default(),
            rights: Rights::None,
        };
        self.nodes.resize(n, blank);
        self.present.resize(n, false);
        self.out.resize_with(n, ThinVec::new);
        self.rev.resize_with(n, ThinVec::new);
        self.items.resize_with(n, Box::default);
        self.own.resize(n, [0.0; NCLASS]);
        self.extra.resize(n, 0);
        self.val.resize(n, [0.0; NCLASS]);
        self.succ.resize(n, [NONE; NCLASS]);
        self.in_work.resize(n, false);
        self.in_changed.resize(n, false);
    }

    fn push(&mut self, v: u32) {
        if !self.in_work[v as usize] {
            self.in_work[v as usize] = true;
            self.work.push(v);
        }
    }

    /// Put whoever can reach `v` on the work list.
    fn push_preds(&mut self, v: u32) {
        let preds = std::mem::take(&mut self.rev[v as usize]);
        for &s in &preds {
            self.push(s);
        }
        self.rev[v as usize] = preds;
    }

    fn mark(&mut self, v: u32) {
        if !self.in_changed[v as usize] {
            self.in_changed[v as usize] = true;
            self.changed.push(v);
        }
    }

    /// Set a node's own items directly (benchmarks and tests build synthetic graphs).
    pub fn set_items(&mut self, idx: u32, items: Vec<Item>, extra: u32) {
        self.grow(idx);
        self.present[idx as usize] = true;
        let mut own = [0f32; NCLASS];
        for it in &items {
            let c = class_index(it.class);
            own[c] = own[c].max(it.weight);
        }
        self.items[idx as usize] = items.into_boxed_slice();
        self.own[idx as usize] = own;
        self.extra[idx as usize] = extra;
        if self.val[idx as usize].iter().zip(&own).any(|(v, o)| o > v) {
            self.push(idx);
        }
        self.mark(idx);
    }

    #[cfg(test)]
    pub(crate) fn items_of(&self, idx: u32) -> &[Item] {
        &self.items[idx as usize]
    }

    /// What the graph keeps of a node that `upsert` has seen (tests compare edges pairwise).
    #[cfg(test)]
    pub(crate) fn node(&self, idx: u32) -> Option<&NodeInfo> {
        let i = idx as usize;
        self.present
            .get(i)
            .copied()
            .unwrap_or(false)
            .then(|| &self.nodes[i])
    }

    /// What a node reaches, class by class.
    #[cfg(test)]
    pub(crate) fn reach_of(&self, idx: u32) -> [f32; NCLASS] {
        self.val[idx as usize]
    }

    /// Add an edge directly (benchmarks and tests).
    pub fn add_edge(&mut self, from: u32, to: u32, kind: EdgeKind) {
        self.grow(from.max(to));
        self.out[from as usize].push(Edge {
            to,
            kind,
            conditional: false,
        });
        self.rev[to as usize].push(from);
        self.edges += 1;
        self.push(from);
    }

    /// Tell the graph what an identity is now, and how it changed since it last did.
    ///
    /// Its edges are looked for among candidates from the index, and only where they can have
    /// changed: its out-edges when its escalation rights did, its in-edges when its kind or tags
    /// (a role's trust) did. A new observed grant that is no escalation costs its own items only.
    pub fn upsert(&mut self, idx: u32, rec: &IdentityRecord, growth: Growth) {
        self.grow(idx);
        let i = idx as usize;
        let fresh = !self.present[i];
        let perms = rec.permissions.as_slice();
        // Appended grants, none of them a deny (which could take an old grant away).
        let appended = match growth {
            Growth::Appended(n)
                if !fresh
                    && n <= perms.len()
                    && perms[n..].iter().all(|p| p.effect == Effect::Allow) =>
            {
                Some(n)
            }
            _ => None,
        };
        let grew = match growth {
            Growth::Any => false,
            Growth::Grew => true,
            Growth::Appended(_) => fresh || appended.is_some(),
        };
        self.file_key(idx, rec.provider, rec.principal.as_str());
        self.present[i] = true;
        let (items, extra) = match appended {
            Some(n) => more_items(
                rec.provider,
                perms,
                n,
                &self.jewels,
                &self.items[i],
                self.extra[i] as usize,
            ),
            None => own_items(rec.provider, perms, &self.jewels),
        };
        let mut own = [0f32; NCLASS];
        for it in &items {
            own[class_index(it.class)] = own[class_index(it.class)].max(it.weight);
        }
        let was_saturated = !fresh && saturated(&self.own[i]);
        self.items[i] = items.into_boxed_slice();
        self.own[i] = own;
        self.extra[i] = extra as u32;
        let mut info = NodeInfo::from_record(rec);
        // An administrator of everything reaches nothing more through anyone (a hop only
        // discounts): it needs no edge out, however many identities it could become.
        if !saturated(&own) {
            info.rights = match appended {
                Some(n)
                    if !was_saturated
                        && !perms[n..]
                            .iter()
                            .any(|p| Rights::touched_by(rec.provider, p)) =>
                {
                    self.nodes[i].rights.clone()
                }
                _ => Rights::compile(rec.provider, perms),
            };
        }
        let old = std::mem::replace(&mut self.nodes[i], info);
        let node = &self.nodes[i];
        let outs = fresh || old.rights != node.rights;
        let ins = fresh || old.kind != node.kind || old.tags != node.tags;
        if outs || ins {
            let was = if fresh { Vec::new() } else { old.filed_under() };
            self.index.refile(idx, &was, &node.filed_under());
        }
        // Before the edges change: who reached what through it until now (only they can lose,
        // by a grant taken away or an edge, which grants that only grew can take too: a
        // `trust-deny` tag).
        let before = (!fresh && (!grew || outs || ins)).then(|| self.dependents(idx));
        let mut lost = !grew;
        // Out-edges: whom it can become.
        if outs {
            let was: Vec<u32> = self.out[i].iter().map(|e| e.to).collect();
            self.clear_out(idx);
            for t in self.candidates(&self.nodes[i].targets(), idx) {
                if let Some((kind, conditional)) = edge(&self.nodes[i], &self.nodes[t as usize]) {
                    self.link(idx, t, kind, conditional);
                }
            }
            // Linked in index order, as the candidates come.
            let now: Vec<u32> = self.out[i].iter().map(|e| e.to).collect();
            lost |= was.iter().any(|t| now.binary_search(t).is_err());
        }
        // In-edges: who can become it.
        let mut old_sources = ThinVec::new();
        let mut new_sources = Vec::new();
        if ins {
            old_sources = std::mem::take(&mut self.rev[i]);
            for s in &old_sources {
                let before_len = self.out[*s as usize].len();
                self.out[*s as usize].retain(|e| e.to != idx);
                self.edges -= before_len - self.out[*s as usize].len();
            }
            for s in self.candidates(&self.nodes[i].sources(), idx) {
                if let Some((kind, conditional)) = edge(&self.nodes[s as usize], &self.nodes[i]) {
                    self.link(s, idx, kind, conditional);
                    new_sources.push(s);
                }
            }
            old_sources.sort_unstable();
            lost |= old_sources
                .iter()
                .any(|s| new_sources.binary_search(s).is_err());
        }
        match before {
            // It may have lost grants or edges: what depended on it is computed again.
            Some(deps) if lost => self.redo(deps),
            // Reach only grows: whoever reaches it now re-examines its edges.
            _ => self.push(idx),
        }
        self.mark(idx);
        for s in new_sources {
            if old_sources.binary_search(&s).is_err() {
                self.push(s);
            }
        }
    }

    /// The identities the lists point to, each once, in index order, present and not `idx`.
    fn candidates(&self, looks: &[Look], idx: u32) -> Vec<u32> {
        let mut out = Vec::new();
        for l in looks {
            match l {
                Look::List(k) => out.extend_from_slice(self.index.list(k)),
                Look::Identity(key) => out.extend(self.find(key)),
            }
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&v| v != idx && self.present[v as usize]);
        out
    }

    fn link(&mut self, from: u32, to: u32, kind: EdgeKind, conditional: bool) {
        self.out[from as usize].push(Edge {
            to,
            kind,
            conditional,
        });
        self.rev[to as usize].push(from);
        self.edges += 1;
    }

    fn clear_out(&mut self, idx: u32) {
        let old = std::mem::take(&mut self.out[idx as usize]);
        self.edges -= old.len();
        for e in old {
            let r = &mut self.rev[e.to as usize];
            if let Some(p) = r.iter().position(|s| *s == idx) {
                r.swap_remove(p);
            }
        }
    }

    /// Forget every reach and compute them all again (`settle` then reports them all).
    pub fn recompute_all(&mut self) {
        let all: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&v| self.present[v as usize])
            .collect();
        self.recompute(&all);
        // Every node is final now: what waited on the list has nothing left to do.
        for &v in &self.work {
            self.in_work[v as usize] = false;
        }
        self.work.clear();
    }

    /// A node lost grants (or anything else about it changed, its edges aside): what depended
    /// on it is computed again. A change of edges goes through `upsert`, which takes the
    /// dependents before the edges change.
    pub fn invalidate(&mut self, idx: u32) {
        let deps = self.dependents(idx);
        self.redo(deps);
    }

    /// Class by class, `idx` and every node whose strongest path runs through it: the only
    /// nodes that can lose reach when `idx` loses grants or edges. Every other node keeps a
    /// path as strong as before, one that does not use `idx`. Strongest paths form a forest
    /// (each node points to one successor, and a hop only discounts), so this walks the
    /// subtree of `idx` and nothing else: a few hundred nodes for a role in a large core, not
    /// everyone who can reach it.
    fn dependents(&self, idx: u32) -> [Vec<u32>; NCLASS] {
        std::array::from_fn(|c| {
            let mut out = vec![idx];
            let mut k = 0;
            while k < out.len() {
                let v = out[k];
                k += 1;
                for &p in &self.rev[v as usize] {
                    if p != idx && self.succ[p as usize][c] == v {
                        out.push(p);
                    }
                }
            }
            // A node with two edges to the same successor is listed twice.
            out.sort_unstable();
            out.dedup();
            out
        })
    }

    /// Compute the reach of `deps` (from `dependents`, taken before the change) again, class by
    /// class. A node that ends up stronger than before (its source gained as well as lost)
    /// puts whoever can reach it on the work list, as any growth does.
    fn redo(&mut self, deps: [Vec<u32>; NCLASS]) {
        for (c, set) in deps.iter().enumerate() {
            let old: Vec<f32> = set.iter().map(|&v| self.val[v as usize][c]).collect();
            self.recompute_class(set, c);
            for (&v, o) in set.iter().zip(old) {
                if self.val[v as usize][c] > o {
                    self.push_preds(v);
                }
            }
        }
    }

    /// `recompute_class` for every class.
    fn recompute(&mut self, set: &[u32]) {
        for c in 0..NCLASS {
            self.recompute_class(set, c);
        }
    }

    /// Compute the reach in class `c` of every node in `set` from scratch, taking every node
    /// outside it as it stands. Values flow backwards from the strongest down, as in Dijkstra's
    /// algorithm: a hop only discounts, so a node's value is final once it is the strongest
    /// left, and each edge is looked at once per class instead of once per improvement. Nodes
    /// outside `set` still on the work list may only grow, which `settle` then carries into
    /// `set` as usual.
    fn recompute_class(&mut self, set: &[u32], c: usize) {
        let mut in_set = std::mem::take(&mut self.in_set);
        in_set.resize(self.nodes.len(), false);
        for &v in set {
            in_set[v as usize] = true;
            self.val[v as usize][c] = self.own[v as usize][c];
            self.succ[v as usize][c] = NONE;
            self.mark(v);
        }
        let mut heap = std::mem::take(&mut self.heap);
        heap.clear();
        // Start from what each node holds itself and what it reaches outside the set.
        for &v in set {
            let i = v as usize;
            if !fixed(&self.own[i], c) {
                for e in &self.out[i] {
                    if !in_set[e.to as usize] {
                        let x = self.val[e.to as usize][c] * HOP;
                        if x > self.val[i][c] {
                            self.val[i][c] = x;
                            self.succ[i][c] = e.to;
                        }
                    }
                }
            }
            if self.val[i][c] > 0.0 {
                // Non-negative floats order as their bits do.
                heap.push((self.val[i][c].to_bits(), v));
            }
        }
        self.flow(&mut heap, c, Some(&in_set));
        for &v in set {
            in_set[v as usize] = false;
        }
        self.in_set = in_set;
        self.heap = heap;
    }

    /// Carry the values queued in `heap` (class `c`) back along the edges, strongest first: a
    /// node takes a stronger value through one whose value is final, and passes it on. With
    /// `within`, only the nodes it marks take values.
    fn flow(&mut self, heap: &mut BinaryHeap<(u32, u32)>, c: usize, within: Option<&[bool]>) {
        while let Some((bits, v)) = heap.pop() {
            let x = self.val[v as usize][c];
            if bits != x.to_bits() {
                continue; // superseded by a stronger value
            }
            let x = x * HOP;
            for k in 0..self.rev[v as usize].len() {
                let p = self.rev[v as usize][k];
                let pi = p as usize;
                if within.is_none_or(|w| w[pi]) && !fixed(&self.own[pi], c) && x > self.val[pi][c] {
                    self.val[pi][c] = x;
                    self.succ[pi][c] = v;
                    self.mark(p);
                    heap.push((x.to_bits(), p));
                }
            }
        }
    }

    /// Bring every reach up to date; returns the nodes whose blast radius may have changed.
    pub fn settle(&mut self) -> Vec<u32> {
        // Each node on the work list looks at what it holds and reaches again.
        let mut grown = Vec::new();
        while let Some(v) = self.work.pop() {
            let i = v as usize;
            self.in_work[i] = false;
            let mut nv = self.own[i];
            let mut ns = [NONE; NCLASS];
            for e in &self.out[i] {
                let tv = &self.val[e.to as usize];
                for c in (0..NCLASS).filter(|&c| !fixed(&self.own[i], c)) {
                    let x = tv[c] * HOP;
                    if x > nv[c] {
                        nv[c] = x;
                        ns[c] = e.to;
                    }
                }
            }
            if nv != self.val[i] || ns != self.succ[i] {
                let grew = nv.iter().zip(&self.val[i]).any(|(n, o)| n > o);
                let shrank = nv.iter().zip(&self.val[i]).any(|(n, o)| n < o);
                self.val[i] = nv;
                self.succ[i] = ns;
                self.mark(v);
                if grew {
                    grown.push(v);
                }
                if shrank {
                    // Not expected (losses go through `redo`), but never left unsettled.
                    self.push_preds(v);
                }
            }
        }
        // Growth flows to whoever can reach it, class by class, strongest first, as in
        // `recompute_class`: each node takes its final value once, where a work list took
        // every improvement in turn (a role becoming admin in a large core: 21 ms, measured).
        if !grown.is_empty() {
            for c in 0..NCLASS {
                self.grow_class(&grown, c);
            }
        }
        for &v in &self.changed {
            self.in_changed[v as usize] = false;
        }
        std::mem::take(&mut self.changed)
    }

    /// Carry the growth of `from` in class `c` to whoever can reach it.
    fn grow_class(&mut self, from: &[u32], c: usize) {
        let mut heap = std::mem::take(&mut self.heap);
        heap.clear();
        for &v in from {
            let x = self.val[v as usize][c];
            if x > 0.0 {
                heap.push((x.to_bits(), v));
            }
        }
        self.flow(&mut heap, c, None);
        self.heap = heap;
    }

    /// The score alone (no strings): what the benchmarks and containment use.
    pub fn score(&self, idx: u32) -> f64 {
        let Some(v) = self.val.get(idx as usize) else {
            return 0.0;
        };
        combine(v, self.extra[idx as usize])
    }

    /// The path from `idx` to the strongest thing of class `c` it reaches.
    fn path(&self, idx: u32, c: usize) -> Vec<u32> {
        let mut p = vec![idx];
        let mut v = idx;
        while p.len() <= MAX_PATH {
            let n = self.succ[v as usize][c];
            if n == NONE {
                break;
            }
            p.push(n);
            v = n;
        }
        p
    }

    fn key_of(&self, v: u32) -> String {
        let n = &self.nodes[v as usize];
        identity_key(n.provider, &n.principal)
    }

    /// Blast radius of one identity, with one reason and one path per class it reaches.
    pub fn blast(&self, idx: u32) -> Blast {
        let Some(val) = self.val.get(idx as usize) else {
            return Blast::default();
        };
        let mut classes: Vec<usize> = (0..NCLASS).filter(|c| val[*c] > 0.0).collect();
        classes.sort_by(|a, b| val[*b].total_cmp(&val[*a]).then(b.cmp(a)));
        let mut why = Vec::with_capacity(classes.len());
        let mut paths = Vec::new();
        for c in classes {
            let class = CLASSES[c];
            let w = round1(val[c] as f64);
            let p = self.path(idx, c);
            let last = *p.last().unwrap_or(&idx);
            let item = self.items[last as usize]
                .iter()
                .find(|it| class_index(it.class) == c);
            if p.len() == 1 {
                let detail = item.map(|it| it.detail.as_str()).unwrap_or("");
                why.push(Reason {
                    factor: "permission".into(),
                    detail: format!("{}: {detail}", class.label()),
                    weight: w,
                });
                continue;
            }
            // Past an administrator everything is reachable: its weaker classes go unsaid.
            let via_admin = p[1..p.len() - 1]
                .iter()
                .any(|v| self.own[*v as usize][NCLASS - 1] > 0.0);
            if via_admin && c != NCLASS - 1 {
                continue;
            }
            let mut hops = Vec::with_capacity(p.len() - 1);
            for k in 1..p.len() {
                let (from, to) = (p[k - 1], p[k]);
                let e = self.out[from as usize].iter().find(|e| e.to == to);
                let (verb, mech) = e.map(|e| e.kind.words()).unwrap_or(("reaches", "?".into()));
                let mut hop = format!("{verb} {}", self.nodes[to as usize].short_name());
                if k == p.len() - 1
                    && let Some(it) = item
                {
                    hop.push_str(&format!(" ({})", it.via));
                }
                hop.push_str(&format!(" via {mech}"));
                if e.is_some_and(|e| e.conditional) {
                    hop.push_str(" (conditional)");
                }
                hops.push(hop);
            }
            let detail = format!("{}: {}", class.label(), hops.join(", which "));
            why.push(Reason {
                factor: "path".into(),
                detail: detail.clone(),
                weight: w,
            });
            paths.push(ReachPath {
                sensitivity: class,
                weight: w,
                through: p.iter().map(|v| self.key_of(*v)).collect(),
                detail,
            });
        }
        Blast {
            score: combine(val, self.extra[idx as usize]),
            why,
            paths,
        }
    }

    /// Per class, the best weight `idx` reaches without passing through `blocked`, and the sum of
    /// the sensitive (data or worse) items it reaches that way.
    fn reach_without(&self, idx: u32, blocked: Option<u32>) -> ([f32; NCLASS], f64) {
        let mut best = [0f32; NCLASS];
        let mut exposure = 0.0;
        if Some(idx) == blocked {
            return (best, exposure);
        }
        let mut seen: HashSet<u32> = HashSet::new();
        let mut q = VecDeque::new();
        seen.insert(idx);
        q.push_back((idx, 1.0f32));
        while let Some((v, f)) = q.pop_front() {
            for (c, b) in best.iter_mut().enumerate() {
                *b = b.max(self.own[v as usize][c] * f);
            }
            exposure += self.items[v as usize]
                .iter()
                .filter(|it| it.class >= Sensitivity::Data)
                .map(|it| it.weight as f64)
                .sum::<f64>();
            if seen.len() > 200_000 {
                continue;
            }
            for e in &self.out[v as usize] {
                if Some(e.to) != blocked && seen.insert(e.to) {
                    q.push_back((e.to, f * HOP));
                }
            }
        }
        (best, exposure)
    }

    /// What containing the identity itself, and each identity on its paths, would remove from
    /// what it reaches, strongest effect first.
    pub fn containments(&self, idx: u32) -> Vec<Containment> {
        if self.val.get(idx as usize).is_none() {
            return Vec::new();
        }
        let (_, before) = self.reach_without(idx, None);
        let mut out = vec![Containment {
            node: idx,
            removes: if before > 0.0 { 1.0 } else { 0.0 },
            blast_after: 0.0,
        }];
        let mut seen = vec![idx];
        for c in (0..NCLASS).rev() {
            for v in self.path(idx, c).into_iter().skip(1) {
                if seen.contains(&v) || seen.len() > 6 {
                    continue;
                }
                seen.push(v);
                let (best, after) = self.reach_without(idx, Some(v));
                out.push(Containment {
                    node: v,
                    removes: if before > 0.0 {
                        ((before - after) / before).clamp(0.0, 1.0)
                    } else {
                        0.0
                    },
                    blast_after: combine(&best, self.extra[idx as usize]),
                });
            }
        }
        out[1..].sort_by(|a, b| b.removes.total_cmp(&a.removes));
        out
    }

    pub fn principal(&self, idx: u32) -> Option<&str> {
        self.nodes.get(idx as usize).map(|n| n.principal.as_str())
    }
    pub fn provider(&self, idx: u32) -> Option<Provider> {
        self.nodes.get(idx as usize).map(|n| n.provider)
    }
}

/// No grant weighs more than an administrator's on everything (`own_items`), so a node holding
/// one reaches nothing stronger through others: one hop already discounts below it.
fn saturated(own: &[f32; NCLASS]) -> bool {
    own[NCLASS - 1] >= Sensitivity::Admin.weight() as f32 * HOP
}

/// The blast-radius formula: every class reached counts once, at its strongest, each closing a
/// share of what is left; other grants add a little breadth.
/// An administrator already holds everything: in the classes below admin it takes nothing
/// from whom it can become, and only a stronger admin path counts.
fn fixed(own: &[f32; NCLASS], c: usize) -> bool {
    c < NCLASS - 1 && own[NCLASS - 1] > 0.0
}

fn combine(val: &[f32; NCLASS], extra: u32) -> f64 {
    let mut ws: Vec<f64> = val
        .iter()
        .filter(|w| **w > 0.0)
        .map(|w| *w as f64)
        .collect();
    ws.sort_by(|a, b| b.total_cmp(a));
    let mut keep = 1.0f64;
    for w in ws {
        keep *= 1.0 - (w / 100.0).min(0.99);
    }
    let extra = extra.min(20) as f64 * 0.25;
    round1((100.0 * (1.0 - keep) + extra).min(100.0))
}

/// Blast radius of a lone set of grants (no other identities to reach).
pub fn standalone(provider: Provider, perms: &[crate::core::model::Permission]) -> Blast {
    let (items, extra) = own_items(provider, perms, &[]);
    let mut g = Graph::default();
    g.set_items(0, items, extra as u32);
    g.settle();
    g.blast(0)
}
