//! One console frame at 200×50: `ViewData::build` (what runs under the core's read lock) plus
//! `render` into a `TestBackend`, on fleets of 1k, 100k and 1M identities. The frame must not
//! grow with the fleet: targets are p99 under 2 ms and 1M no slower than 1.5× 1k. Criterion
//! gives the means; a plain timing loop afterwards prints p50/p99 per size, since criterion does
//! not report tail latency. Then frames drawn once per frame cap while the engine backfills the
//! 160-account CloudTrail folder of `benches/compare-accounts.sh` on every core (p99 < 2 ms).
//!
//! The fleets are organisations of accounts of 1,000 identities with real IAM policies
//! (wildcards, `NotAction`, conditions, denies, roles passed to EC2, roles assumed across
//! accounts), Kubernetes namespaces, Vault tokens and GitHub apps, built through the core as an
//! inventory, so the graph's edges are found as they are for real data.
//!
//!   cargo bench --bench frame                                   # 1k, 100k, 1M, then backfill
//!   FRAME_FLEETS=1000 FRAME_BACKFILL=DIR cargo bench --bench frame   # chosen fleets and folder

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Size;

use serde_json::json;

use blastdoor::core::graph::aws_policy;
use blastdoor::core::model::{
    Api, Effect, Event, IdentityKind, IdentityRecord, Permission, Provider, Status,
};
use blastdoor::core::{Core, Millis, Msg, SafeText};
use blastdoor::engine::sources::SourceSpec;
use blastdoor::engine::{Engine, EngineOptions, Health, SourceStatus, Stats};
use blastdoor::ingest::cloudtrail;
use blastdoor::tui::{Action, App, ColorMode, Keymap, Theme, ViewData, render};

const NOW: Millis = 1_795_662_000_000;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

/// Identities per AWS account (and per 5 Kubernetes namespaces): an organisation of many
/// accounts, as real fleets are, so that the graph's cost per account is what is measured.
const ACCOUNT: usize = 1_000;
/// One Vault token in this many may mint tokens with any policy (`sudo`): it can become every
/// Vault identity, an edge to each, so such tokens are rare (as they are in practice).
const VAULT_MINTER_EVERY: usize = 200_000;

fn account(i: usize) -> String {
    format!("{:012}", 100_000_000_000u64 + (i / ACCOUNT) as u64)
}

fn doc(statements: serde_json::Value) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn trust(principals: serde_json::Value) -> Vec<SafeText> {
    aws_policy::trust_tags(&doc(json!([
        {"Effect": "Allow", "Principal": principals, "Action": "sts:AssumeRole"}])))
    .iter()
    .map(|t| SafeText::new(t))
    .collect()
}

fn policy(name: &str, statements: serde_json::Value) -> Vec<Permission> {
    cloudtrail::document_permissions(&doc(statements), name)
}

/// An AWS role or user of account `acct` by template `t` (0–9): its name, grants and trust,
/// from real policy documents flattened as the decoders flatten them. 1 in 10 is an
/// administrator; the rest pass roles to EC2, assume roles of their own account (and, for
/// `deploy-*` roles, are assumed from a tooling account), create keys for CI users, hold
/// `NotAction` grants, conditional grants and denies.
fn aws_identity(i: usize, role: bool) -> (String, Vec<Permission>, Vec<SafeText>) {
    let acct = account(i);
    let root = json!({"AWS": format!("arn:aws:iam::{acct}:root")});
    let t = (i / 5) % 10;
    if role {
        if i == 0 {
            // The tooling account's deployer: can assume every account's deploy-* roles.
            let p = policy(
                "ci-deployer",
                json!([{"Effect": "Allow", "Action": "sts:AssumeRole",
                "Resource": "arn:aws:iam::*:role/deploy-*"}]),
            );
            return (
                "ci-deployer".into(),
                p,
                trust(json!({"Service": "codebuild.amazonaws.com"})),
            );
        }
        return match t {
            0 => (
                format!("admin-{i}"),
                cloudtrail::managed_policy_permissions("AdministratorAccess"),
                trust(root),
            ),
            1..=3 => (
                format!("app-{i}"),
                policy(
                    "app",
                    json!([{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": format!("arn:aws:s3:::prod-data-{acct}/*")}]),
                ),
                trust(json!({"Service": "ec2.amazonaws.com"})),
            ),
            4 => (
                format!("secrets-{i}"),
                policy(
                    "secrets",
                    json!([
                    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
                    {"Effect": "Deny", "Action": "secretsmanager:*",
                     "Resource": format!("arn:aws:secretsmanager:*:{acct}:secret:break-glass/*")}]),
                ),
                trust(root),
            ),
            5 => (
                format!("deploy-{i}"),
                policy(
                    "deploy",
                    json!([
                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": format!("arn:aws:iam::{acct}:role/app-*")},
                    {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"},
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::{acct}:role/secrets-*")}]),
                ),
                trust(json!({"AWS": [format!("arn:aws:iam::{acct}:root"),
                                     format!("arn:aws:iam::{}:role/ci-deployer", account(0))]})),
            ),
            _ => (
                format!("svc-{i}"),
                policy(
                    "workload",
                    json!([{"Effect": "Allow",
                    "Action": ["ec2:Describe*", "logs:CreateLogStream"], "Resource": "*"}]),
                ),
                trust(json!({"Service": "lambda.amazonaws.com"})),
            ),
        };
    }
    let p = match t {
        0 => policy(
            "admin",
            json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
        ),
        1 => policy(
            "power-user",
            json!([{"Effect": "Allow",
            "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}]),
        ),
        2 => policy(
            "ci",
            json!([{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::*:role/deploy-*"}]),
        ),
        3 => policy(
            "keys",
            json!([{"Effect": "Allow",
            "Action": ["iam:CreateAccessKey", "iam:UpdateLoginProfile"],
            "Resource": format!("arn:aws:iam::{acct}:user/ci-*")}]),
        ),
        4 => policy(
            "office",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]),
        ),
        _ => policy(
            "reader",
            json!([{"Effect": "Allow",
            "Action": ["ec2:Describe*", "s3:ListAllMyBuckets"], "Resource": "*"}]),
        ),
    };
    let name = if t == 2 {
        format!("ci-{i}")
    } else {
        format!("user-{i}")
    };
    (name, p, Vec::new())
}

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
    let t = (i / 5) % 10;
    let (provider, kind, principal, permissions, tags) = match i % 5 {
        0 | 1 => {
            let role = i.is_multiple_of(5);
            let (name, perms, tags) = aws_identity(i, role);
            let (kind, what) = if role {
                (IdentityKind::IamRole, "role")
            } else {
                (IdentityKind::IamUser, "user")
            };
            let arn = format!("arn:aws:iam::{}:{what}/{name}", account(i));
            (Provider::Aws, kind, arn, perms, tags)
        }
        2 => {
            // Service accounts of namespaces of ~50, some able to run pods or read secrets in
            // their own namespace.
            let ns = format!("ns-{}", i / 250);
            let perms = match t {
                0 => vec![grant("*", "*")],
                1 => vec![grant("pods:create", &ns)],
                2 => vec![grant("secrets:get", &ns)],
                _ => vec![grant("configmaps:get", &ns), grant("pods:list", &ns)],
            };
            let sa = format!("system:serviceaccount:{ns}:sa-{i}");
            (
                Provider::Kubernetes,
                IdentityKind::ServiceAccount,
                sa,
                perms,
                vec![],
            )
        }
        3 => {
            let perms = if t == 0 {
                vec![grant("*", "*")]
            } else if i % VAULT_MINTER_EVERY == 3 {
                vec![grant("auth/token/create:sudo", "*")]
            } else {
                vec![grant(&format!("secret/data/app-{}:read", i % 100), "*")]
            };
            (
                Provider::Vault,
                IdentityKind::VaultToken,
                format!("token/{i:07}"),
                perms,
                vec![],
            )
        }
        _ => {
            let perms = match t {
                0 => vec![grant("*", "*")],
                1..=3 => vec![grant("repo:write", "acme/prod-infra")],
                _ => vec![grant("repo:read", "acme/docs")],
            };
            (
                Provider::Github,
                IdentityKind::GithubApp,
                format!("fleet/{i:07}"),
                perms,
                vec![],
            )
        }
    };
    IdentityRecord {
        provider,
        principal: SafeText::new(&principal),
        kind,
        display: Some(SafeText::new(&format!("svc-{i:07}"))),
        credentials: vec![],
        permissions,
        tags,
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
                user_agent: None,
                region: None,
                issued: None,
                status: if k % 7 == 0 {
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
            lag: None,
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
        return vec![1_000];
    }
    match std::env::var("FRAME_FLEETS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().replace('_', "").parse().ok())
            .collect(),
        Err(_) => vec![1_000, 100_000, 1_000_000],
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The console's frame cap (src/tui: one frame per 33 ms at most).
const FRAME_CAP: Duration = Duration::from_millis(33);

/// Frames drawn as the console draws them (stats, the view built under the core's read lock,
/// the render), one per frame cap, while the engine backfills `dir` on every core: the frame
/// times, how long the backfill took and how many identities it gave.
fn backfill(dir: &std::path::Path) -> (Vec<Duration>, Duration, usize, Vec<[Duration; 3]>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let engine = Engine::start(EngineOptions {
            sources: vec![SourceSpec::Path(dir.to_path_buf())],
            inventories: vec![],
            demo_seed: 0,
            data_clock: true,
            // As the console does; FRAME_FOREGROUND=1 measures decoding at the screen's priority.
            background_decode: std::env::var_os("FRAME_FOREGROUND").is_none(),
            ..Default::default()
        })
        .await
        .expect("the engine starts");
        let mut app = App::new(Keymap::default(), false);
        app.set_size(Size::new(WIDTH, HEIGHT));
        let theme = Theme::builtin("dark", ColorMode::TrueColor).expect("built-in theme");
        let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
        let start = Instant::now();
        let finished = engine.finished();
        tokio::pin!(finished);
        let mut times = Vec::new();
        // Where each frame went: waiting for the core's lock, building the view under it,
        // and the rest (render, stats).
        let mut parts = Vec::new();
        let mut down = true;
        loop {
            let t = Instant::now();
            app.handle_action(if down { Action::Down } else { Action::Up });
            down = !down;
            let stats = engine.stats();
            let asked = Instant::now();
            let (view, locked, built) = engine.read(|core| {
                let locked = Instant::now();
                let v = ViewData::build(core, &stats, &app, NOW);
                (v, locked, Instant::now())
            });
            app.sync(&view);
            term.draw(|f| render(f, &app, &view, &theme)).expect("draw");
            let total = t.elapsed();
            times.push(total);
            let wait = locked - asked;
            let build = built - locked;
            parts.push([wait, build, total.saturating_sub(wait + build)]);
            tokio::select! {
                _ = &mut finished => break,
                _ = tokio::time::sleep(FRAME_CAP.saturating_sub(t.elapsed())) => {}
            }
        }
        (times, start.elapsed(), engine.read(|c| c.len()), parts)
    })
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    // While a backfill runs (benches/compare-accounts.sh builds the 160-account folder).
    let dir = std::env::var("FRAME_BACKFILL").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/compare-accounts/160").to_string()
    });
    let dir = std::path::Path::new(&dir);
    let during = if std::env::args().any(|a| a == "--test") {
        None
    } else if dir.is_dir() {
        Some(backfill(dir))
    } else {
        println!(
            "frame while backfilling: {} is absent (run benches/compare-accounts.sh 1 160 first, or set FRAME_BACKFILL)",
            dir.display()
        );
        None
    };
    let mut tails = Vec::new();
    for n in sizes() {
        let setup = Instant::now();
        let mut bench = Bench::new(n);
        let built = setup.elapsed();
        let edges = bench.core.graph().edge_count();
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
            edges,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
        ));
    }
    criterion.final_summary();
    println!(
        "\nframe 200x50, 2000 frames per fleet (fleet build time and escalation edges in brackets):"
    );
    for (n, built, edges, p50, p99, max) in &tails {
        println!(
            "  {n:>9} identities: p50 {p50:>10.2?}  p99 {p99:>10.2?}  max {max:>10.2?}  [built in {built:.2?}, {edges} edges]"
        );
    }
    if let Some((mut times, took, ids, parts)) = during {
        times.sort_unstable();
        println!(
            "  while backfilling {} ({ids} identities, {took:.2?}), {} frames: p50 {:>10.2?}  p99 {:>10.2?}  max {:>10.2?}",
            dir.display(),
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
        for (i, what) in [
            "waiting for the core",
            "building the view",
            "render and the rest",
        ]
        .iter()
        .enumerate()
        {
            let mut t: Vec<Duration> = parts.iter().map(|p| p[i]).collect();
            t.sort_unstable();
            println!(
                "    {what:<22} p50 {:>10.2?}  p99 {:>10.2?}  max {:>10.2?}",
                percentile(&t, 0.5),
                percentile(&t, 0.99),
                t[t.len() - 1]
            );
        }
    }
    if let (Some(first), Some(last)) = (tails.first(), tails.last()) {
        println!(
            "  p50 ratio {} / {}: {:.2}×",
            last.0,
            first.0,
            last.3.as_secs_f64() / first.3.as_secs_f64().max(f64::EPSILON)
        );
    }
}
