//! Shared by the workflow tests: SSH keys made with `ssh-key` (no ssh-keygen), an allowed
//! signers file and policy, an in-process reference agent, and the binary with a clean env.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use blastdoor::agent::AgentState;
use ssh_key::{Algorithm, LineEnding, PrivateKey};

pub struct Team {
    pub dir: tempfile::TempDir,
    /// `--state` when it is not the folder `state` in `dir` (a PostgreSQL URL).
    pub state_arg: Option<String>,
}

impl Team {
    /// Keys for `signers` (in the allowed signers) and `strangers` (not), a policy asking
    /// `approvals` approvals for every kind, and a state folder.
    pub fn new(signers: &[&str], strangers: &[&str], approvals: u32) -> Team {
        let dir = tempfile::tempdir().unwrap();
        let mut allowed = String::new();
        for who in signers.iter().chain(strangers) {
            let k = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap();
            k.write_openssh_file(&dir.path().join(who), LineEnding::LF)
                .unwrap();
            if signers.contains(who) {
                allowed.push_str(&format!("{who} {}\n", k.public_key().to_openssh().unwrap()));
            }
        }
        std::fs::write(dir.path().join("allowed_signers"), allowed).unwrap();
        std::fs::write(
            dir.path().join("policy.toml"),
            format!(
                "allowed_signers = \"allowed_signers\"\napproval_ttl = \"15m\"\n[[rule]]\nkinds = [\"*\"]\napprovals = {approvals}\n[agents.triage-bot]\nmay = \"propose\"\n"
            ),
        )
        .unwrap();
        Team {
            dir,
            state_arg: None,
        }
    }

    /// The same team on another state (a `postgres://` URL).
    pub fn on_state(mut self, state: &str) -> Team {
        self.state_arg = Some(state.to_string());
        self
    }

    /// The state as `--state` names it.
    pub fn location(&self) -> blastdoor::store::Location {
        match &self.state_arg {
            Some(s) => blastdoor::store::resolve_state(Some(s)).unwrap(),
            None => blastdoor::store::Location::Dir(self.state()),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// The binary with this team's state and policy, acting as `who` (a key file name).
    pub fn bd(&self, who: Option<&str>, agent: Option<SocketAddr>) -> Command {
        let mut c = bd();
        match &self.state_arg {
            Some(s) => c.arg("--state").arg(s),
            None => c.arg("--state").arg(self.state()),
        };
        c.arg("--policy").arg(self.path("policy.toml"));
        if let Some(w) = who {
            c.arg("--key").arg(self.path(w));
        }
        if let Some(a) = agent {
            c.arg("--agent").arg(format!("http://{a}"));
        }
        c
    }
}

pub fn bd() -> Command {
    bd_in(&std::env::temp_dir().join("blastdoor-test-home"))
}

/// `blastdoor` with HOME and the XDG dirs under `home`, and no BLASTDOOR_* or ssh-agent from
/// the environment, so the user's config, state, policy and keys stay out of tests.
pub fn bd_in(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_blastdoor"));
    for v in [
        "BLASTDOOR_CONFIG",
        "BLASTDOOR_STATE",
        "BLASTDOOR_POLICY",
        "NO_COLOR",
        "SSH_AUTH_SOCK",
        "BLASTDOOR_TEST_PAUSE_AT",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"));
    c
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A child process killed (and reaped) when the test ends, pass or fail.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(c: &mut Command) -> Output {
    c.output().expect("run blastdoor")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// A reference agent (isolate_workload, revoke_token) on a loopback port, running on its own
/// runtime thread for as long as the test lives.
pub fn agent(delay: Duration) -> (SocketAddr, Arc<AgentState>) {
    let mut st = AgentState::new("test agent").with_reference_actions();
    st.action_delay = delay;
    let state = Arc::new(st);
    (serve_agent(state.clone(), None), state)
}

/// Serve `state` on a loopback port (over TLS with `tls`) from its own runtime thread.
pub fn serve_agent(state: Arc<AgentState>, tls: Option<Arc<rustls::ServerConfig>>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let _ = match tls {
                Some(c) => blastdoor::agent::tls::serve_tls(l, state, c).await,
                None => blastdoor::agent::serve(l, state).await,
            };
        });
    });
    rx.recv().unwrap()
}

pub fn stage_args(identity: &str, kind: &str) -> Vec<String> {
    [
        "action",
        "stage",
        "--identity",
        identity,
        "--kind",
        kind,
        "--reason",
        "suspected theft: contain",
        "--format",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// The address of a real server the test command started, from the variable `var` (trimmed,
/// without a trailing `/`). Absent: `None`, so the test skips saying `how` to start one; under
/// CI=true that is a failure instead, since a skipped test proves nothing there.
pub fn test_server(var: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().trim_end_matches('/').to_string()),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{var} is not set and CI=true: {how}")
        }
        _ => {
            eprintln!("skipped: {var} is not set: {how}");
            None
        }
    }
}

/// A fresh database on the PostgreSQL server whose admin URL is in `BLASTDOOR_TEST_PG`, as a
/// `--state` URL; `None` (the test skips) without one, a failure under CI=true.
pub fn pg_state() -> Option<String> {
    let admin = test_server(
        "BLASTDOOR_TEST_PG",
        "./scripts/test starts PostgreSQL (Debian's postgresql package) and sets it; or set \
         BLASTDOOR_TEST_PG=postgres://postgres@127.0.0.1:PORT/postgres",
    )?;
    let mut b = [0u8; 6];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    let name = format!("bd_test_{}", hex::encode(b));
    // The synchronous client runs a runtime of its own, which panics on a thread that runs
    // tokio tasks (an async test): it gets a thread of its own.
    let (a, n) = (admin.clone(), name.clone());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&a, postgres::NoTls)
            .unwrap_or_else(|e| panic!("BLASTDOOR_TEST_PG={a}: cannot connect: {e}"));
        c.batch_execute(&format!("CREATE DATABASE {n}")).unwrap();
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e));
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
    Some(format!("{base}/{name}"))
}

/// A superuser connection to the database of state URL `url`, for tests that tamper.
pub fn pg_admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

/// An engine that has read `path` (a file or a folder) to its end and applied it, scoring as of
/// the data's own time, as `rank` does.
pub async fn replay(path: &Path) -> blastdoor::engine::Engine {
    let engine = blastdoor::engine::Engine::start(blastdoor::engine::EngineOptions {
        sources: vec![blastdoor::engine::SourceSpec::Path(path.to_path_buf())],
        data_clock: true,
        ..Default::default()
    })
    .await
    .unwrap();
    engine.finished().await;
    engine
}

/// A folder or file of the shared corpus (`../shared/corpus/SUB`); `None`, with a note, where it
/// is absent, and a failure under `CI=true`.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).join(sub);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("corpus folder {} is missing (CI=true)", p.display());
    }
    eprintln!("SKIP: corpus folder {} is absent", p.display());
    None
}

/// Every identity a replay of `path` ranks, by risk; the replay must name no problem.
pub async fn rank(path: PathBuf) -> Vec<blastdoor::core::RankedIdentity> {
    let engine = replay(&path).await;
    assert!(engine.problems().is_empty(), "{:?}", engine.problems());
    engine.write(|c| c.top(10_000, blastdoor::core::SortKey::Risk))
}

/// A ranked identity's reasons, in one line.
pub fn why(r: &blastdoor::core::RankedIdentity) -> String {
    r.why
        .iter()
        .map(|w| w.detail.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Feed `docs` (whole documents, in order) through the decoders into a core, as a source does.
pub fn core_of(docs: &[String]) -> blastdoor::core::Core {
    use blastdoor::core::{Core, Msg};
    let mut core = Core::new();
    for d in docs {
        let out = blastdoor::ingest::decode_document(d).unwrap();
        let now = out.events.iter().map(|e| e.time).max().unwrap_or(0);
        core.update(Msg::Inventory {
            identities: out.inventory,
            now,
        });
        core.update(Msg::Events {
            events: out.events,
            now,
        });
        core.update(Msg::Changes {
            changes: out.changes,
            now,
        });
    }
    core
}

/// A name no other test uses on a shared server (moto's buckets, queues, users).
pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    format!("{prefix}-{}", hex::encode(b))
}

/// Wait until `f` holds of the engine, failing after 20 s with `what` and its stats.
pub async fn wait_for(
    engine: &blastdoor::engine::Engine,
    what: &str,
    f: impl Fn(&blastdoor::engine::Engine) -> bool,
) {
    let t0 = std::time::Instant::now();
    while !f(engine) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}: {:?}",
            engine.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An engine with one listening source (`webhook:…:0`, `tcp:…:0`), and the address it took.
pub async fn listening(spec: &str) -> (blastdoor::engine::Engine, String) {
    let engine = blastdoor::engine::Engine::start(blastdoor::engine::EngineOptions {
        sources: vec![blastdoor::engine::SourceSpec::parse(spec).unwrap()],
        data_clock: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let detail = engine.stats().sources[0].detail.clone().unwrap();
    let addr = detail.trim_start_matches("listening on ").to_string();
    (engine, addr)
}
