//! Final approval → done at the agent: bob's SSHSIG over the hash, its verification, the
//! approval's transaction; at execute every approval verified again against allowed_signers and
//! the hash recomputed, the fsynced INTENT transaction, the POST with the bearer token to a
//! loopback reference agent that verifies the approvals itself against its own policy, then the
//! outcome's transaction. Target: p99 under 20 ms. Prints p50/p99 of its own samples besides
//! criterion's estimate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use blastdoor::agent::AgentState;
use blastdoor::agent::guard::{Access, Verifier};
use blastdoor::auth::Signer;
use blastdoor::auth::endpoint::{Endpoint, Endpoints};
use blastdoor::core::policy::{IdentityFacts, Policy};
use blastdoor::core::workflow::Via;
use blastdoor::respond::agent::AgentExecutor;
use blastdoor::respond::{Desk, Executor, StageRequest};
use blastdoor::store::Store;
use criterion::{Criterion, criterion_group, criterion_main};
use ssh_key::{Algorithm, LineEnding, PrivateKey};

const TOKEN: &str = "bench-agent-token-0123456789";

struct Setup {
    _dir: tempfile::TempDir,
    alice: Desk,
    bob: Desk,
    rt: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut allowed = String::new();
    for who in ["alice", "bob"] {
        let k = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap();
        k.write_openssh_file(&dir.path().join(who), LineEnding::LF)
            .unwrap();
        allowed.push_str(&format!("{who} {}\n", k.public_key().to_openssh().unwrap()));
    }
    std::fs::write(dir.path().join("allowed_signers"), allowed).unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        "allowed_signers = \"allowed_signers\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let st = Arc::new(AgentState::new("bench agent").with_reference_actions());
        st.guard(
            Access::new(Some(TOKEN.into()), false),
            Some(Verifier::new(Policy::load(&dir.path().join("policy.toml")).unwrap()).unwrap()),
        );
        tokio::spawn(blastdoor::agent::serve(l, st));
        addr
    });
    let store = Arc::new(Store::open(&dir.path().join("state")).unwrap());
    let policy = Policy::load(&dir.path().join("policy.toml")).unwrap();
    // SAFETY: set before any thread reads the environment.
    unsafe { std::env::set_var("BENCH_AGENT_TOKEN", TOKEN) };
    let url = format!("http://{addr}");
    let endpoints = Endpoints::new(
        [(
            "bench".to_string(),
            Endpoint {
                url: url.clone(),
                token_env: Some("BENCH_AGENT_TOKEN".into()),
                ca: None,
                cert: None,
                key: None,
            },
        )]
        .into_iter()
        .collect(),
        None,
    );
    let exec: Arc<dyn Executor> =
        Arc::new(AgentExecutor::with_endpoints(&url, &endpoints).unwrap());
    let open = |who: &str| {
        Desk::open(
            store.clone(),
            policy.clone(),
            Some(Signer::from_file(&dir.path().join(who)).unwrap()),
            vec![exec.clone()],
        )
        .unwrap()
    };
    let (alice, bob) = (open("alice"), open("bob"));
    Setup {
        _dir: dir,
        alice,
        bob,
        rt,
    }
}

fn one(s: &Setup, n: u64) -> Duration {
    s.rt.block_on(async {
        let a = s
            .alice
            .stage(StageRequest {
                identity: format!("k8s:system:serviceaccount:ci:runner-{n}"),
                kind: "agent.isolate_workload".into(),
                target: None,
                params: serde_json::json!({}),
                reason: "bench".into(),
                evidence: vec![],
                via: Via::Cli,
                agent: None,
                facts: IdentityFacts::default(),
            })
            .await
            .unwrap();
        let t = Instant::now();
        s.bob.approve(&a.id).await.unwrap();
        s.bob.execute(&a.id).await.unwrap();
        t.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut n = 0u64;
    let mut samples = Vec::new();
    c.bench_function("final approval to done at the agent", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let d = one(&s, n);
                samples.push(d);
                total += d;
            }
            total
        })
    });
    samples.sort();
    if !samples.is_empty() {
        let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        eprintln!(
            "approve→execute: {} samples, p50 {:?}, p99 {:?}, max {:?}",
            samples.len(),
            pct(0.50),
            pct(0.99),
            samples[samples.len() - 1]
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(8));
    targets = bench
}
criterion_main!(benches);
