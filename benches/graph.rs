//! Blast radius through the permission graph: every identity on a synthetic graph of 1M
//! escalation edges (target: under 1 s on one core), and one changed identity (target: under
//! 10 ms). The graph is shaped like an organisation: 200k identities, each able to become a few
//! of 2,000 roles, the roles able to become each other (a strongly connected core with cycles),
//! 20 of them administrators.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use blastdoor::core::graph::{EdgeKind, Graph, Item};
use blastdoor::core::model::Sensitivity;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const NODES: u32 = 200_000;
const ROLES: u32 = 2_000;
const EDGES: usize = 1_000_000;

fn item(class: Sensitivity) -> Item {
    Item {
        class,
        weight: class.weight() as f32,
        detail: format!("x on * ({class:?})").into(),
        via: "policy".into(),
    }
}

fn synthetic() -> Graph {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let classes = [
        Sensitivity::Low,
        Sensitivity::Data,
        Sensitivity::Production,
        Sensitivity::Secrets,
        Sensitivity::SecurityControls,
    ];
    let mut g = Graph::default();
    for v in 0..NODES {
        let c = if v < 20 {
            Sensitivity::Admin
        } else {
            classes[(rng.next() % classes.len() as u64) as usize]
        };
        g.set_items(v, vec![item(c)], (rng.next() % 5) as u32);
    }
    let mut edges = 0;
    // The roles' core: each role can become 5 others.
    for r in 0..ROLES {
        for _ in 0..5 {
            g.add_edge(r, (rng.next() % ROLES as u64) as u32, EdgeKind::AssumeRole);
            edges += 1;
        }
    }
    // Everyone else can become a few roles.
    while edges < EDGES {
        let from = ROLES + (rng.next() % (NODES - ROLES) as u64) as u32;
        let to = 20 + (rng.next() % (ROLES - 20) as u64) as u32;
        g.add_edge(from, to, EdgeKind::AssumeRole);
        edges += 1;
    }
    g.settle();
    assert_eq!(g.edge_count(), EDGES);
    g
}

fn all_identities(c: &mut Criterion) {
    let base = synthetic();
    let mut g = c.benchmark_group("graph");
    g.sample_size(10);
    g.bench_function("blast radius of all 200k identities, 1M edges", |b| {
        b.iter_batched(
            || base.clone(),
            |mut graph| {
                graph.recompute_all();
                let changed = graph.settle();
                let total: f64 = (0..NODES).map(|v| graph.score(v)).sum();
                black_box((changed.len(), total));
                graph
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("blast radius with reasons and paths of the top 1000", |b| {
        b.iter(|| {
            for v in 0..1000u32 {
                black_box(base.blast(v * 200));
            }
        })
    });
    g.finish();
}

/// Each change is made to a fresh copy of the synthetic graph (the copy is not timed): changing
/// the same graph over and over would soon find every role already admin, or already stripped.
fn one_changed(c: &mut Criterion) {
    let base = synthetic();
    let mut rng = Rng(42);
    let mut change = |c: &mut Criterion,
                      group: &str,
                      name: &str,
                      pick: &dyn Fn(u64) -> u32,
                      class: Sensitivity,
                      lose: bool| {
        let mut g = c.benchmark_group(group);
        g.sample_size(10);
        g.bench_function(name, |b| {
            b.iter_batched(
                || (base.clone(), pick(rng.next())),
                |(mut graph, v)| {
                    graph.set_items(v, vec![item(class)], 0);
                    if lose {
                        graph.invalidate(v);
                    }
                    let changed = graph.settle();
                    let total: f64 = changed.iter().map(|v| graph.score(*v)).sum();
                    // Returned, so the copy is dropped outside the timing.
                    (graph, black_box(total))
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();
    };
    let core_role = |r: u64| 20 + (r % (ROLES - 20) as u64) as u32;
    let workload = |r: u64| ROLES + (r % (NODES - ROLES) as u64) as u32;
    change(
        c,
        "graph-incremental",
        "one identity gains a grant (role becomes admin)",
        &core_role,
        Sensitivity::Admin,
        false,
    );
    change(
        c,
        "graph-incremental",
        "one identity loses a grant (a workload outside the role core)",
        &workload,
        Sensitivity::Low,
        true,
    );
    change(
        c,
        "graph-incremental-worst",
        "a role in the strongly connected core loses a grant",
        &core_role,
        Sensitivity::Low,
        true,
    );
}

criterion_group!(benches, all_identities, one_changed);
criterion_main!(benches);
