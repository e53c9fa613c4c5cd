//! Audit log throughput: durable appends per second with group commit (target: at least 20,000
//! records/s in batches of 100, each batch one fsynced transaction; the headline batch is what a
//! busy desk writes, 20 new actions × 5 records, and the worst case re-touches 100 old actions), and verification of the
//! state and of an export (target: at least 500,000 records/s).
//!
//! With `BLASTDOOR_TEST_PG` (a superuser URL, as `scripts/test` sets it) the same appends and
//! the verification of the state also run against PostgreSQL, each in a fresh database (goal:
//! at least 10,000 appends/s in batches, 500,000 records/s verified).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

use blastdoor::store::Store;
use blastdoor::store::audit::{self, AuditEvent};

const T0: i64 = 1_764_136_800_000;

/// A record of the size the workflow writes: an approval with a signature and a reason.
fn event(i: usize) -> AuditEvent {
    AuditEvent {
        kind: if i.is_multiple_of(3) {
            "approved"
        } else {
            "executed"
        }
        .into(),
        actor: "bob".into(),
        via: "cli".into(),
        action_id: Some(format!("act_{i:08}")),
        detail: json!({
            "hash": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "reason": "suspected theft: contain",
            "signature": "U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg",
            "threat": 91.5,
        }),
    }
}

/// A batch as a busy desk writes it: 100 records over 20 new actions (5 records each: proposed,
/// approved, intent, executed, outcome), with ids as the desk makes them.
fn desk_batch(at: i64) -> Vec<AuditEvent> {
    let ids: Vec<String> = (0..20)
        .map(|_| blastdoor::respond::desk::new_action_id(at))
        .collect();
    (0..100)
        .map(|i| AuditEvent {
            action_id: Some(ids[i / 5].clone()),
            ..event(i)
        })
        .collect()
}

/// A fresh state for each group: SQLite in a temporary folder, or a new PostgreSQL database.
enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    fn all() -> Vec<Backend> {
        let mut v = vec![Backend::Sqlite];
        if let Ok(admin) = std::env::var("BLASTDOOR_TEST_PG")
            && !admin.is_empty()
        {
            v.push(Backend::Postgres(admin));
        }
        v
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres(_) => "postgres: ",
        }
    }

    /// The store, and what keeps it alive (the temporary folder).
    fn open(&self) -> (Store, Option<tempfile::TempDir>) {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                (Store::open(dir.path()).expect("open state"), Some(dir))
            }
            Backend::Postgres(admin) => {
                let name = format!("bd_bench_{}", std::process::id() as u64 * 1000 + fresh());
                let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connect");
                c.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create database");
                let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
                let loc = blastdoor::store::resolve_state(Some(&format!("{base}/{name}")))
                    .expect("a state URL");
                (Store::open_at(&loc).expect("open state"), None)
            }
        }
    }
}

fn fresh() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("audit");
    let mut at = T0;
    for backend in Backend::all() {
        let p = backend.name();
        {
            let (store, _dir) = backend.open();
            g.throughput(Throughput::Elements(100));
            g.bench_function(
                format!("{p}append, batches of 100 over 20 new actions (group commit, fsynced)"),
                |b| {
                    b.iter_batched(
                        || {
                            // 100 ms apart: a checkpoint is signed every tenth batch, as at a
                            // steady 1k/s.
                            at += 100;
                            (desk_batch(at), at)
                        },
                        |(batch, at)| store.audit_append_batch(&batch, at).expect("append"),
                        criterion::BatchSize::SmallInput,
                    )
                },
            );
        }
        {
            // Worst case for the action index: the same 100 actions each get a record in every
            // batch, so every batch touches 100 leaf pages of it.
            let (store, _dir) = backend.open();
            let batch: Vec<AuditEvent> = (0..100).map(event).collect();
            g.throughput(Throughput::Elements(100));
            g.bench_function(
                format!("{p}append, batches of 100 re-touching 100 old actions (fsynced)"),
                |b| {
                    b.iter(|| {
                        at += 100;
                        store.audit_append_batch(&batch, at).expect("append")
                    })
                },
            );
            g.throughput(Throughput::Elements(1));
            g.bench_function(format!("{p}append, one record (fsynced)"), |b| {
                b.iter(|| {
                    at += 1;
                    store.audit_append(&batch[0], at).expect("append")
                })
            });
        }
    }
    g.finish();
}

fn verify(c: &mut Criterion) {
    let n = 200_000;
    let evs: Vec<AuditEvent> = (0..1000).map(event).collect();
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for backend in Backend::all() {
        let p = backend.name();
        let (store, _dir) = backend.open();
        for k in 0..n / evs.len() {
            store
                .audit_append_batch(&evs, T0 + k as i64 * 250)
                .expect("append");
        }
        g.bench_function(format!("{p}verify the state, 200k records"), |b| {
            b.iter(|| store.audit_verify().expect("verify"))
        });
        if let Backend::Sqlite = backend {
            let mut export = Vec::new();
            store
                .audit_export(&mut export, T0 + 1_000_000)
                .expect("export");
            g.bench_function("verify an export, 200k records", |b| {
                b.iter(|| audit::verify_export(&export).expect("verify"))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, appends, verify);
criterion_main!(benches);
