//! Incremental ranking throughput: score updates per second on a ranking of 1M identities
//! (target: at least 1M updates/s), and core ingest of normalised events.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use blastdoor::core::model::{Api, Event, IdentityKind, IdentityRecord, Provider, Status};
use blastdoor::core::{Core, Msg, Ranking, SafeText};

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn ranking_updates(c: &mut Criterion) {
    let n = 1_000_000u32;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut r = Ranking::new();
    r.rebuild((0..n).map(|i| (i, (rng.next() % 10_001) as u32)));
    let updates: Vec<(u32, u32)> = (0..100_000)
        .map(|_| ((rng.next() % n as u64) as u32, (rng.next() % 10_001) as u32))
        .collect();
    let mut g = c.benchmark_group("ranking");
    g.throughput(Throughput::Elements(updates.len() as u64));
    g.bench_function("100k score updates on 1M identities", |b| {
        b.iter(|| {
            for &(i, s) in &updates {
                r.set(i, s);
            }
        })
    });
    g.bench_function("top-50 window read on 1M identities", |b| {
        b.iter(|| r.iter_from(0).take(50).count())
    });
    g.finish();
}

fn core_ingest(c: &mut Criterion) {
    let mut rng = Rng(42);
    let ops = [
        "GetObject",
        "ListBuckets",
        "AssumeRole",
        "GetSecretValue",
        "DescribeInstances",
        "PutObject",
    ];
    let events: Vec<Event> = (0..10_000)
        .map(|i| {
            let who = rng.next() % 20_000;
            Event {
                time: 1_700_000_000_000 + i,
                class: Default::default(),
                actor: IdentityRecord {
                    provider: Provider::Aws,
                    principal: SafeText::new(&format!("arn:aws:iam::123456789012:user/svc-{who}")),
                    kind: IdentityKind::IamUser,
                    display: None,
                    credentials: vec![],
                    permissions: vec![],
                    tags: vec![],
                },
                credential: None,
                api: Api {
                    service: SafeText::new("s3"),
                    operation: SafeText::new(ops[(rng.next() % 6) as usize]),
                },
                resources: vec![],
                src_ip: Some(SafeText::new("10.0.0.1")),
                user_agent: None,
                region: None,
                issued: None,
                status: if rng.next().is_multiple_of(20) {
                    Status::Failure
                } else {
                    Status::Success
                },
                signals: vec![],
                sigma: Vec::new(),
                raw: Default::default(),
            }
        })
        .collect();
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("ingest 10k events over 20k identities", |b| {
        b.iter_batched(
            || (Core::new(), events.clone()),
            |(mut core, evs)| {
                core.update(Msg::Events {
                    events: evs,
                    now: 1_700_000_010_000,
                });
                core
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, ranking_updates, core_ingest);
criterion_main!(benches);
