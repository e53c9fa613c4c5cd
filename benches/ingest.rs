//! Ingest throughput per format on one core: decode + detect + normalise + score (the core's
//! `update`), from corpus files held in memory. Records/s from criterion's element throughput;
//! MB/s printed beside it from the bytes per record. Corpus: ../shared/corpus (skipped if absent).

use std::path::{Path, PathBuf};
use std::time::Duration;

use blastdoor::core::{Core, Msg};
use blastdoor::ingest;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn corpus() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).to_path_buf()
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) && !p.ends_with("fal_01_003.json") {
            out.push(p);
        }
    }
    out.sort();
}

/// Records as they would arrive: each a line (or a whole document) of text.
struct Input {
    name: &'static str,
    docs: Vec<String>,
    bytes: usize,
    records: usize,
}

fn panther(file: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(corpus().join("panther-analysis").join(file)).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["log"].to_string())
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn synthetic_vault(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r#"{{"time":"2026-11-26T03:00:{:02}Z","type":"response","auth":{{"accessor":"hmac-sha256:{i:x}","display_name":"approle-ci","entity_id":"e-{}","policies":["default","ci"]}},"request":{{"id":"{i}","operation":"read","path":"secret/data/prod/db{}","remote_address":"10.1.2.{}"}},"response":{{"data":{{"password":"hmac-sha256:xyz"}}}}}}"#, i % 60, i % 50, i % 7, i % 250))
        .collect()
}

fn synthetic_ocsf(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r#"{{"class_uid":6003,"category_uid":6,"activity_id":1,"time":{},"actor":{{"user":{{"uid":"arn:aws:iam::1:user/u{}","name":"u{}","credential_uid":"AKIA{i:08}"}}}},"api":{{"service":{{"name":"s3.amazonaws.com"}},"operation":"GetObject"}},"src_endpoint":{{"ip":"10.0.{}.{}"}},"cloud":{{"provider":"AWS","region":"us-east-1"}},"status_id":1,"metadata":{{"product":{{"name":"CloudTrail","vendor_name":"AWS"}},"version":"1.1.0"}}}}"#, 1_700_000_000_000u64 + i as u64, i % 40, i % 40, i % 9, i % 250))
        .collect()
}

fn inputs() -> Vec<Input> {
    let c = corpus();
    let mut out = Vec::new();
    let mut add = |name: &'static str, docs: Vec<String>| {
        if docs.is_empty() {
            return;
        }
        let bytes = docs.iter().map(|d| d.len()).sum();
        let records = docs
            .iter()
            .map(|d| {
                ingest::decode_document(d)
                    .map(|x| x.events.len())
                    .unwrap_or(0)
            })
            .sum();
        out.push(Input {
            name,
            docs,
            bytes,
            records,
        });
    };
    let mut ct = Vec::new();
    files(&c.join("invictus-ir-aws-dataset"), "json", &mut ct);
    add(
        "cloudtrail (Invictus S3 files)",
        ct.iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect(),
    );
    add("cloudtrail (OTRF Logstash JSON Lines)", lines(&c.join("otrf-security-datasets/SDAWS-200914011940/ec2_proxy_s3_exfiltration_2020-09-14011940.json")));
    let mut k8s = Vec::new();
    files(&c.join("falco/k8s_audit_trace_files"), "json", &mut k8s);
    let mut k = panther("kubernetes_rule_tests.jsonl");
    k.extend(k8s.iter().flat_map(|p| lines(p)));
    add("k8s audit (Falco traces + Panther)", k);
    add(
        "falco alerts",
        lines(&c.join("falco/output_files/single_rule_with_cat_write.json")),
    );
    let mut tg = Vec::new();
    files(&c.join("tetragon"), "json", &mut tg);
    add(
        "tetragon",
        tg.iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect(),
    );
    add("github (Panther)", panther("github_rule_tests.jsonl"));
    add(
        "gcp audit (Panther)",
        panther("gcp_audit_service_accounts_rule_tests.jsonl"),
    );
    add("vault audit (synthetic)", synthetic_vault(2000));
    add("ocsf api activity (synthetic)", synthetic_ocsf(2000));
    out
}

fn run(docs: &[String]) -> usize {
    let mut core = Core::new();
    let mut n = 0;
    for d in docs {
        if let Ok(x) = ingest::decode_document(d) {
            n += x.events.len();
            core.update(Msg::Events {
                events: x.events,
                now: 0,
            });
            if !x.changes.is_empty() {
                core.update(Msg::Changes {
                    changes: x.changes,
                    now: 0,
                });
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    if inputs.is_empty() {
        eprintln!("SKIP: corpus not found at {}", corpus().display());
        return;
    }
    let mut g = c.benchmark_group("ingest");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10);
    for i in &inputs {
        g.throughput(Throughput::Elements(i.records as u64));
        g.bench_function(i.name, |b| b.iter(|| run(&i.docs)));
    }
    g.finish();
    for i in &inputs {
        eprintln!(
            "{}: {} records, {} bytes ({:.0} bytes/record)",
            i.name,
            i.records,
            i.bytes,
            i.bytes as f64 / i.records.max(1) as f64
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
