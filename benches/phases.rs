//! Where `blastdoor rank`'s time goes on a folder of CloudTrail delivery files, against a parse
//! floor, each phase on one core over the same bytes held in memory:
//!   floor   a bare typed `serde_json` parse of every file (each record's user ARN, event
//!           source and name, time and source address; everything else skipped)
//!   decode  blastdoor's decode of every file (`ingest::decode_record`: typed read, detection,
//!           normalisation, sanitising, the record's text kept as evidence)
//!   apply   the core applying the decoded events and changes (`Core::update`, as the engine
//!           feeds it, in the same batches), and the ranking read at the end
//! `rank` runs decode on every core and apply on one, so on 2 cores its wall time is at least
//! max(apply, (decode + apply) / 2).
//!
//!   cargo bench --bench phases -- DIR [RUNS]      (benches/compare-accounts.sh builds DIRs)
use std::time::Instant;

use blastdoor::core::{Core, Msg, SortKey};
use blastdoor::ingest;
use serde::Deserialize;

// The allocator `blastdoor` itself runs with (src/main.rs), so the figures are the product's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
#[allow(dead_code)] // read to be parsed, not used
struct File<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Record<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Record<'a> {
    #[serde(rename = "userIdentity", borrow)]
    user: Option<User<'a>>,
    #[serde(rename = "eventSource", borrow)]
    source: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "eventName", borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "eventTime", borrow)]
    time: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "sourceIPAddress", borrow)]
    ip: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct User<'a> {
    #[serde(borrow)]
    arn: Option<std::borrow::Cow<'a, str>>,
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let mut t_best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        t_best = t_best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (t_best, out.expect("at least one run"))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(dir) = args.first() else {
        // `cargo bench` with no folder (or `cargo test --benches`): nothing to measure.
        eprintln!(
            "phases: give a folder of CloudTrail delivery files (benches/compare-accounts.sh makes them)"
        );
        return;
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3);
    let files = blastdoor::engine::sources::files_under(std::path::Path::new(dir))
        .expect("the folder is readable");
    let (t_read, texts) = best(1, || {
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("a text file"))
            .collect::<Vec<String>>()
    });
    let bytes: usize = texts.iter().map(String::len).sum();
    let (t_floor, records) = best(runs, || {
        texts
            .iter()
            .map(|t| {
                serde_json::from_str::<File>(t.trim())
                    .map(|f| f.records.len())
                    .unwrap_or(0)
            })
            .sum::<usize>()
    });
    let decode = || {
        texts
            .iter()
            .filter_map(|t| ingest::decode_record(t.trim()).ok())
            .collect::<Vec<ingest::Decoded>>()
    };
    let (t_decode, _) = best(runs, decode);
    let mut t_apply = f64::MAX;
    let mut ids = 0;
    for _ in 0..runs {
        let batches = decode();
        let t = Instant::now();
        let mut core = Core::new();
        for d in batches {
            core.update(Msg::Events {
                events: d.events,
                now: 0,
            });
            if !d.changes.is_empty() {
                core.update(Msg::Changes {
                    changes: d.changes,
                    now: 0,
                });
            }
        }
        std::hint::black_box(core.top(50, SortKey::Risk));
        t_apply = t_apply.min(t.elapsed().as_secs_f64());
        ids = core.len();
        drop(core);
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "{dir}: {} files, {mb:.0} MB, {records} records, {ids} identities (best of {runs}, one core)",
        files.len()
    );
    println!("  read      {t_read:>7.3} s");
    for (name, t) in [("floor", t_floor), ("decode", t_decode), ("apply", t_apply)] {
        println!(
            "  {name:<8}  {t:>7.3} s  {:>6.0} MB/s  {:>5.2}x the floor",
            mb / t,
            t / t_floor
        );
    }
    println!(
        "  2 cores:  at least {:.3} s wall (apply alone {:.3} s; decode + apply over two {:.3} s)",
        t_apply.max((t_decode + t_apply) / 2.0),
        t_apply,
        (t_decode + t_apply) / 2.0
    );
}
