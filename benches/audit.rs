//! Audit log throughput: durable appends per second with group commit (target: at least 20,000
//! records/s in batches of 100, each batch one fsynced transaction), and verification of the
//! state and of an export (target: at least 500,000 records/s).

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

fn appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open state");
    let batch: Vec<AuditEvent> = (0..100).map(event).collect();
    let mut at = T0;
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("append, batches of 100 (group commit, fsynced)", |b| {
        b.iter(|| {
            // 100 ms apart: a checkpoint is signed every tenth batch, as at a steady 1k/s.
            at += 100;
            store.audit_append_batch(&batch, at).expect("append")
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("append, one record (fsynced)", |b| {
        b.iter(|| {
            at += 1;
            store.audit_append(&batch[0], at).expect("append")
        })
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    let n = 200_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open state");
    let evs: Vec<AuditEvent> = (0..1000).map(event).collect();
    for k in 0..n / evs.len() {
        store
            .audit_append_batch(&evs, T0 + k as i64 * 250)
            .expect("append");
    }
    let mut export = Vec::new();
    store
        .audit_export(&mut export, T0 + 1_000_000)
        .expect("export");
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("verify the state, 200k records", |b| {
        b.iter(|| store.audit_verify().expect("verify"))
    });
    g.bench_function("verify an export, 200k records", |b| {
        b.iter(|| audit::verify_export(&export).expect("verify"))
    });
    g.finish();
}

criterion_group!(benches, appends, verify);
criterion_main!(benches);
