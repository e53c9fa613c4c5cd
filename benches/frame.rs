//! One console frame at 200×50: `ViewData::build` (what runs under the core's read lock) plus
//! `render` into a `TestBackend`, on fleets of 1k, 100k and 1M identities. The frame must not
//! grow with the fleet: targets are p99 under 2 ms and 1M no slower than 1.5× 1k. Criterion
//! gives the means; a plain timing loop afterwards prints p50/p99 per size, since criterion does
//! not report tail latency.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Size;

use blastdoor::core::model::{
    Api, Effect, Event, IdentityKind, IdentityRecord, Permission, Provider, Status,
};
use blastdoor::core::{Core, Millis, Msg, SafeText};
use blastdoor::engine::{Health, SourceStatus, Stats};
use blastdoor::tui::{Action, App, ColorMode, Keymap, Theme, ViewData, render};

const NOW: Millis = 1_795_662_000_000;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

const KINDS: [(Provider, IdentityKind); 5] = [
    (Provider::Aws, IdentityKind::IamRole),
    (Provider::Aws, IdentityKind::IamUser),
    (Provider::Kubernetes, IdentityKind::ServiceAccount),
    (Provider::Vault, IdentityKind::VaultToken),
    (Provider::Github, IdentityKind::GithubApp),
];

fn grant(action: &str, resource: &str) -> Permission {
    Permission {
        action: SafeText::new(action),
        resource: SafeText::new(resource),
        effect: Effect::Allow,
        via: None,
        sensitivity: None,
    }
}

fn record(i: usize) -> IdentityRecord {
    let (provider, kind) = KINDS[i % KINDS.len()];
    // A spread of blast radii so the ranking has real work to do.
    let permissions = match i % 10 {
        0 => vec![grant("*", "*")],
        1..=3 => vec![grant("s3:GetObject", "arn:aws:s3:::prod-data/*")],
        4 => vec![grant("secretsmanager:GetSecretValue", "*")],
        _ => vec![grant("ec2:DescribeInstances", "*")],
    };
    IdentityRecord {
        provider,
        principal: SafeText::new(&format!("fleet/{i:07}")),
        kind,
        display: Some(SafeText::new(&format!("svc-{i:07}"))),
        credentials: vec![],
        permissions,
        tags: vec![],
    }
}

/// A fleet of `n` identities from an inventory (in chunks, to keep peak memory flat), with
/// suspicious activity on 1 in 100 of them (at most 10k) so threat and the feed are populated.
fn fleet(n: usize) -> Core {
    let mut core = Core::new();
    const CHUNK: usize = 100_000;
    for start in (0..n).step_by(CHUNK) {
        let ids = (start..(start + CHUNK).min(n)).map(record).collect();
        core.update(Msg::Inventory {
            identities: ids,
            now: NOW - 600_000,
        });
    }
    let ops = [
        "ListUsers",
        "GetSecretValue",
        "AttachUserPolicy",
        "StopLogging",
        "GetObject",
    ];
    let events: Vec<Event> = (0..(n / 100).clamp(1, 10_000))
        .map(|k| {
            let i = k * 100;
            let mut actor = record(i);
            actor.permissions.clear();
            Event {
                time: NOW - (k as Millis % 480) * 1000,
                class: Default::default(),
                actor,
                credential: None,
                api: Api {
                    service: SafeText::new("iam"),
                    operation: SafeText::new(ops[k % ops.len()]),
                },
                resources: vec![],
                src_ip: Some(SafeText::new("10.1.2.3")),
                status: if k % 7 == 0 {
                    Status::Failure
                } else {
                    Status::Success
                },
                signals: vec![],
                raw: Default::default(),
            }
        })
        .collect();
    core.update(Msg::Events { events, now: NOW });
    core
}

fn stats(n: usize) -> Stats {
    Stats {
        ingested: n as u64,
        dropped: 0,
        rejected: 0,
        rate: 1234.0,
        sources: vec![SourceStatus {
            name: "demo".into(),
            health: Health::Up,
            events: n as u64,
            rejected: 0,
            detail: None,
            progress: None,
        }],
    }
}

struct Bench {
    core: Core,
    stats: Stats,
    app: App,
    theme: Theme,
    term: Terminal<TestBackend>,
    down: bool,
}

impl Bench {
    fn new(n: usize) -> Bench {
        let mut app = App::new(Keymap::default(), false);
        app.set_size(Size::new(WIDTH, HEIGHT));
        Bench {
            core: fleet(n),
            stats: stats(n),
            app,
            theme: Theme::builtin("dark", ColorMode::TrueColor).expect("built-in theme"),
            term: Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal"),
            down: true,
        }
    }

    /// One frame as the run loop draws it. The cursor moves every frame so that the selected
    /// row, the details pane and the diff all change, as they do in use.
    fn frame(&mut self) {
        self.app
            .handle_action(if self.down { Action::Down } else { Action::Up });
        self.down = !self.down;
        let view = ViewData::build(&self.core, &self.stats, &self.app, NOW);
        self.app.sync(&view);
        let (app, theme) = (&self.app, &self.theme);
        self.term
            .draw(|f| render(f, app, black_box(&view), theme))
            .expect("draw");
    }
}

fn sizes() -> Vec<usize> {
    // `cargo test --benches` runs each benchmark once as a smoke test: skip the big fleets there.
    if std::env::args().any(|a| a == "--test") {
        vec![1_000]
    } else {
        vec![1_000, 100_000, 1_000_000]
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut tails = Vec::new();
    for n in sizes() {
        let setup = Instant::now();
        let mut bench = Bench::new(n);
        let built = setup.elapsed();
        {
            let mut g = criterion.benchmark_group("frame 200x50");
            g.bench_function(format!("{n} identities"), |b| b.iter(|| bench.frame()));
            g.finish();
        }
        let mut times: Vec<Duration> = (0..2_000)
            .map(|_| {
                let t = Instant::now();
                bench.frame();
                t.elapsed()
            })
            .collect();
        times.sort_unstable();
        tails.push((
            n,
            built,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
        ));
    }
    criterion.final_summary();
    println!("\nframe 200x50, 2000 frames per fleet (fleet build time in brackets):");
    for (n, built, p50, p99, max) in &tails {
        println!(
            "  {n:>9} identities: p50 {p50:>10.2?}  p99 {p99:>10.2?}  max {max:>10.2?}  [built in {built:.2?}]"
        );
    }
    if let (Some(first), Some(last)) = (tails.first(), tails.last()) {
        println!(
            "  p50 ratio {} / {}: {:.2}×",
            last.0,
            first.0,
            last.2.as_secs_f64() / first.2.as_secs_f64().max(f64::EPSILON)
        );
    }
}
