//! Shared state: the action queue, the write-ahead execution journal, the audit chain and the
//! sources' cursors, behind one interface ([`Tx`]) over two backends, so the desk, the workflow
//! and the audit code are written once:
//!
//! - `--state DIR`: SQLite in WAL mode (`sqlite.rs`), for the responders of one bastion host.
//!   `DIR` holds `blastdoor.db` (+ WAL files) and `audit.key` (the Ed25519 key that signs audit
//!   checkpoints, mode 0600).
//! - `--state postgres://USER@HOST:PORT/DB`: PostgreSQL (`postgres.rs`), for consoles on several
//!   hosts. The audit key cannot live beside the data any more (whoever can write the database
//!   must not be able to re-sign it): it is a file on each responder's host, see
//!   [`audit_key_path`].
//!
//! The chain, checkpoints, proofs and witness are backend-free (`audit.rs`, `merkle.rs`,
//! `canonical.rs`, `witness.rs`); the SQL lives in `sqlite.rs` and `postgres.rs`. Every write
//! goes through [`Store::write`], one transaction that holds the state's single writer lock
//! (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory transaction lock): see the backends for why.

pub mod audit;
pub mod canonical;
pub mod merkle;
pub mod postgres;
pub mod queue;
pub mod runner;
mod sqlite;
pub mod witness;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use audit::{AuditEvent, AuditRecord, Checkpoint, VerifyReport, append_in};
pub use queue::Intent;

use crate::core::model::Millis;
use crate::core::workflow::Action;
use merkle::Hash;

/// Where a state lives, as `--state` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder holding a SQLite database.
    Dir(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<postgres::Target>),
}

impl Location {
    /// How messages name it (never with a password).
    pub fn label(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::Postgres(t) => t.label(),
        }
    }

    /// A stable name for this state, the same from every host and path spelling: what the
    /// user's remembered checkpoint is filed under.
    pub fn identity(&self) -> String {
        match self {
            Location::Dir(d) => std::fs::canonicalize(d)
                .unwrap_or_else(|_| d.to_path_buf())
                .to_string_lossy()
                .into_owned(),
            Location::Postgres(t) => t.identity(),
        }
    }
}

/// The default state dir: the user data dir (`BLASTDOOR_STATE` is handled by clap's `env`).
pub fn default_state_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "blastdoor").map(|d| d.data_dir().to_path_buf())
}

/// The state from `--state` (or `BLASTDOOR_STATE`), else the default folder. A usage error
/// (exit 2) names what cannot be used.
pub fn resolve_state(state: Option<&str>) -> anyhow::Result<Location> {
    match state {
        Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
            Ok(Location::Postgres(Box::new(
                postgres::Target::parse(s).map_err(crate::exit::Failure::usage)?,
            )))
        }
        Some("") => Err(crate::exit::Failure::usage(
            "--state: give a folder or a postgres:// URL",
        )),
        Some(s) => Ok(Location::Dir(PathBuf::from(s))),
        None => default_state_dir().map(Location::Dir).ok_or_else(|| {
            crate::exit::Failure::usage(
                "no home folder to keep state in: give --state DIR or set BLASTDOOR_STATE",
            )
        }),
    }
}

/// Where the key that signs this state's audit checkpoints is kept. For a folder, `audit.key`
/// in it, as always. For PostgreSQL, a file on this host, never in the database: anyone who can
/// write the database could otherwise rewrite the log and sign it again. `BLASTDOOR_AUDIT_KEY`
/// names the file; by default it is `audit-keys/HOST_PORT_DB.key` in the user data dir. The
/// first host to sign creates it (mode 0600); copy it to the other bastions that share the
/// state. A host without it still appends (its records are covered by the next checkpoint a
/// host with the key signs) and verifies (verifying needs only the public key in the log).
pub fn audit_key_path(loc: &Location) -> anyhow::Result<PathBuf> {
    match loc {
        Location::Dir(d) => Ok(d.join(audit::KEY_FILE)),
        Location::Postgres(t) => {
            if let Some(p) = std::env::var_os("BLASTDOOR_AUDIT_KEY").filter(|p| !p.is_empty()) {
                return Ok(PathBuf::from(p));
            }
            let data = default_state_dir().ok_or_else(|| {
                crate::exit::Failure::usage(
                    "no home folder for the audit key of a PostgreSQL state: set BLASTDOOR_AUDIT_KEY=FILE",
                )
            })?;
            Ok(data
                .join("audit-keys")
                .join(format!("{}.key", t.file_stem())))
        }
    }
}

/// One audit record about to be stored: its content, canonical `detail`, place and hashes.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'a> {
    pub seq: u64,
    pub at: i64,
    pub kind: &'a str,
    pub actor: &'a str,
    pub via: &'a str,
    pub action_id: Option<&'a str>,
    pub detail: &'a str,
    pub prev: &'a Hash,
    pub hash: &'a Hash,
}

/// A stored audit record as the backend read it, before anything is trusted: a field that is not
/// of its type (SQLite stores any value in any column) is `None`, and verification names it.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub seq: u64,
    pub at: Option<i64>,
    pub kind: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub via: Option<&'a str>,
    /// `Err` when present but not text.
    pub action_id: Result<Option<&'a str>, ()>,
    pub detail: Option<&'a str>,
    pub prev: Option<&'a [u8]>,
    pub hash: Option<&'a [u8]>,
}

/// The newest checkpoint as the next one builds on it.
#[derive(Debug, Clone)]
pub struct LastCheckpoint {
    pub n: u64,
    pub tree_size: u64,
    pub at: i64,
    pub frontier: Vec<u8>,
}

/// Each `audit_scan` callback says whether to go on.
pub type ScanFn<'f> = dyn FnMut(RawRecord<'_>) -> anyhow::Result<bool> + Send + 'f;

/// One transaction on the shared state, whichever backend holds it. The desk, the workflow and
/// the audit chain are written against this; `Store::write` runs a closure over it with the
/// state's writer lock held, `Store::read` without.
pub trait Tx {
    // The queue and the journal (`queue.rs` says what each holds).
    fn insert_action(&mut self, a: &Action) -> anyhow::Result<()>;
    fn save_action(&mut self, a: &Action) -> anyhow::Result<()>;
    fn action(&mut self, id: &str) -> anyhow::Result<Option<Action>>;
    /// Every action, oldest first.
    fn actions(&mut self) -> anyhow::Result<Vec<Action>>;
    /// Actions proposed by AI agent `agent` at or after `since`.
    fn count_by_agent_since(&mut self, agent: &str, since: Millis) -> anyhow::Result<u32>;
    /// Record the intent to dispatch `action_id` under `key`; fails if one exists (an action is
    /// dispatched under its key once).
    fn intent(
        &mut self,
        key: &str,
        action_id: &str,
        executor: &str,
        owner: &str,
        at: Millis,
    ) -> anyhow::Result<()>;
    /// Record what the executor answered for `key`.
    fn outcome(&mut self, key: &str, outcome: &str, at: Millis) -> anyhow::Result<()>;
    fn intent_for(&mut self, key: &str) -> anyhow::Result<Option<Intent>>;
    /// Intents the executor has not answered yet (in flight, or left by a crash).
    fn open_intents(&mut self) -> anyhow::Result<Vec<Intent>>;
    /// Every journal row, oldest first.
    fn journal(&mut self) -> anyhow::Result<Vec<Intent>>;

    /// A source's resume point (live collectors keep theirs here), by source name.
    fn cursor(&mut self, source: &str) -> anyhow::Result<Option<String>>;
    fn set_cursor(&mut self, source: &str, value: &str, at: Millis) -> anyhow::Result<()>;

    // The audit chain's storage; `audit.rs` builds the chain on these.
    /// The newest record's `(seq, hash)`, `(0, zeroes)` for an empty log.
    fn audit_tail(&mut self) -> anyhow::Result<(u64, Hash)>;
    /// Store records that follow the tail, in order.
    fn audit_insert(&mut self, records: &[NewRecord<'_>]) -> anyhow::Result<()>;
    /// Whether action `action_id` has a record of `kind`.
    fn audit_has(&mut self, action_id: &str, kind: &str) -> anyhow::Result<bool>;
    /// Records with `after < seq <= upto`, in order, until `f` says stop.
    fn audit_scan(&mut self, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()>;
    /// The highest seq stored (0 for none).
    fn audit_last_seq(&mut self) -> anyhow::Result<u64>;
    fn checkpoint_last(&mut self) -> anyhow::Result<Option<LastCheckpoint>>;
    fn checkpoint_insert(&mut self, cp: &Checkpoint, frontier: &[u8]) -> anyhow::Result<()>;
    /// Every checkpoint, oldest first; `Err(message)` names the first malformed one.
    fn checkpoints(&mut self) -> anyhow::Result<Result<Vec<Checkpoint>, String>>;
    fn meta(&mut self, key: &str) -> anyhow::Result<Option<String>>;
    /// Set `key` unless it is set.
    fn meta_insert(&mut self, key: &str, value: &str) -> anyhow::Result<()>;
    /// Whether this transaction stored audit records (a checkpoint may be due).
    fn appended(&self) -> bool;
}

/// A read-only view of the audit records for one verify worker, on its own connection.
pub(crate) trait Reader: Send {
    fn scan(&mut self, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()>;
}

enum Db {
    Sqlite(sqlite::Db),
    Postgres(Box<postgres::Db>),
}

/// One open state. Cheap to share between threads (`&Store`); every process (on any host, for
/// PostgreSQL) that opens the same state shares the same queue and audit chain.
pub struct Store {
    db: Db,
    location: Location,
    /// The audit signing key, loaded (or created) the first time a checkpoint is signed.
    key: OnceLock<ed25519_dalek::SigningKey>,
    /// Whether dropping the store signs a checkpoint over records it left uncovered.
    sign_on_drop: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.location.label())
    }
}

impl Store {
    /// Open (creating if needed) the SQLite state in `dir`. Errors name the path and what to do.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        Self::open_at(&Location::Dir(dir.to_path_buf()))
    }

    /// Open an existing SQLite state for reading (`audit verify`, `audit tail`).
    pub fn open_existing(dir: &Path) -> anyhow::Result<Store> {
        Self::open_existing_at(&Location::Dir(dir.to_path_buf()))
    }

    /// Open (creating and migrating if needed) the state at `loc`.
    pub fn open_at(loc: &Location) -> anyhow::Result<Store> {
        Self::open_with(loc, true)
    }

    /// Open an existing state for reading: a usage error when there is none, and dropping it
    /// never signs anything, so looking cannot vouch for records it has not checked.
    pub fn open_existing_at(loc: &Location) -> anyhow::Result<Store> {
        Self::open_with(loc, false)
    }

    fn open_with(loc: &Location, create: bool) -> anyhow::Result<Store> {
        let db = match loc {
            Location::Dir(dir) => Db::Sqlite(sqlite::Db::open(dir, create)?),
            Location::Postgres(t) => Db::Postgres(Box::new(postgres::Db::open(t, create)?)),
        };
        Ok(Store {
            db,
            location: loc.clone(),
            key: OnceLock::new(),
            sign_on_drop: create,
        })
    }

    /// Whether a state exists at `loc` (watching never creates one). A PostgreSQL state
    /// exists when its database answers; its tables are created on first open.
    pub fn exists(loc: &Location) -> bool {
        match loc {
            Location::Dir(d) => d.join(sqlite::DB_FILE).is_file(),
            Location::Postgres(_) => true,
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The folder of a SQLite state (`None` for PostgreSQL).
    pub fn dir(&self) -> Option<&Path> {
        match &self.location {
            Location::Dir(d) => Some(d),
            Location::Postgres(_) => None,
        }
    }

    /// Run `f` in one write transaction, with the state's writer lock held from its start, so
    /// what `f` reads cannot change before it commits (in this process or any other, on any
    /// host). Everything `f` writes commits together, or nothing does. A checkpoint is signed
    /// in the same transaction when one is due.
    pub fn write<R: Send>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R> + Send,
    ) -> anyhow::Result<R> {
        self.write_at(audit::now_ms(), f)
    }

    /// `write`, deciding whether a checkpoint is due as of `at` (the caller's clock).
    pub(crate) fn write_at<R: Send>(
        &self,
        at: i64,
        f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R> + Send,
    ) -> anyhow::Result<R> {
        let body = |tx: &mut dyn Tx| -> anyhow::Result<R> {
            let r = f(tx)?;
            if tx.appended() {
                self.checkpoint_if_due(tx, at);
            }
            Ok(r)
        };
        match &self.db {
            Db::Sqlite(d) => d.write(body),
            Db::Postgres(d) => d.write(body),
        }
    }

    /// Run `f` on the state without taking the writer lock (reads only: listing the queue).
    pub fn read<R: Send>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R> + Send,
    ) -> anyhow::Result<R> {
        match &self.db {
            Db::Sqlite(d) => d.read(f),
            Db::Postgres(d) => d.read(f),
        }
    }

    /// A receiver that changes when another process changes the queue, for states that say so
    /// (PostgreSQL, through LISTEN/NOTIFY); `None` for SQLite, which is read again each second.
    pub fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        match &self.db {
            Db::Sqlite(_) => None,
            Db::Postgres(d) => Some(d.changes()),
        }
    }

    /// Why the state cannot be reached right now (`None` while it can).
    pub fn unreachable(&self) -> Option<String> {
        match &self.db {
            Db::Sqlite(_) => None,
            Db::Postgres(d) => d.unreachable(),
        }
    }

    pub(crate) fn reader(&self) -> anyhow::Result<Box<dyn Reader>> {
        match &self.db {
            Db::Sqlite(d) => d.reader(),
            Db::Postgres(d) => d.reader(),
        }
    }
}

impl Drop for Store {
    /// A short-lived command's records must not stay unsigned until someone else appends: sign a
    /// checkpoint over whatever this process left uncovered.
    fn drop(&mut self) {
        if self.sign_on_drop
            && let Err(e) = self.audit_checkpoint(audit::now_ms())
        {
            tracing::warn!("audit checkpoint on close not signed: {e:#}");
        }
    }
}

/// `e` with `prefix` before its message, keeping its exit code when it has one (a schema newer
/// than this build is a usage error, exit 2, however it is worded).
pub(crate) fn prefixed(e: anyhow::Error, prefix: &str) -> anyhow::Error {
    match e.downcast::<crate::exit::Failure>() {
        Ok(mut f) => {
            f.message = format!("{prefix}{}", f.message);
            anyhow::Error::new(f)
        }
        Err(e) => anyhow::anyhow!("{prefix}cannot prepare the schema: {e:#}"),
    }
}

/// Run `f` where a blocking database client may block: PostgreSQL's synchronous client drives
/// its own runtime, which must not start (or be dropped) on a thread that is running tokio
/// tasks, so there it runs on a scoped thread of its own.
pub(crate) fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    })
}
