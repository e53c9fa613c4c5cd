//! Shared state: the action queue, the write-ahead execution journal and the audit chain, in
//! one SQLite database in WAL mode under `--state DIR`, so several responders in separate
//! terminals on one bastion host see the same queue and append to the same audit log.
//!
//! Layout of `DIR`: `blastdoor.db` (+ WAL files), `audit.key` (the Ed25519 key that signs
//! audit checkpoints, mode 0600).

pub mod audit;
pub mod canonical;
pub mod merkle;
pub mod queue;
pub mod witness;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use rusqlite::{Connection, TransactionBehavior};

pub use audit::{AuditEvent, AuditRecord, Checkpoint, VerifyReport, append_in};

/// One open state. Cheap to share between threads (`&Store`); every process that opens the same
/// folder shares the same queue and audit chain through SQLite's locking.
pub struct Store {
    pub(crate) conn: Mutex<Connection>,
    dir: PathBuf,
    /// The audit signing key, loaded (or created) the first time a checkpoint is signed.
    key: OnceLock<ed25519_dalek::SigningKey>,
    /// Whether dropping the store signs a checkpoint over records it left uncovered.
    sign_on_drop: bool,
}

/// The default state dir: the user data dir (`BLASTDOOR_STATE` is handled by clap's `env`).
pub fn default_state_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "blastdoor").map(|d| d.data_dir().to_path_buf())
}

/// The state folder from `--state` (or `BLASTDOOR_STATE`), else the default. A usage error
/// (exit 2) for what this build cannot open.
pub fn resolve_state_dir(state: Option<&str>) -> anyhow::Result<PathBuf> {
    match state {
        Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
            Err(crate::exit::Failure::usage(
                "--state postgres://…: this build keeps state in SQLite only; give a folder",
            ))
        }
        Some("") => Err(crate::exit::Failure::usage("--state: give a folder")),
        Some(s) => Ok(PathBuf::from(s)),
        None => default_state_dir().ok_or_else(|| {
            crate::exit::Failure::usage(
                "no home folder to keep state in: give --state DIR or set BLASTDOOR_STATE",
            )
        }),
    }
}

impl Store {
    /// Open (creating if needed) the state in `dir`. Errors name the path and what to do.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!(
                "--state {}: cannot create the state folder: {e}",
                dir.display()
            )
        })?;
        Self::open_db(dir, true)
    }

    /// Open an existing state for reading (`audit verify`, `audit tail`): a usage error when
    /// there is none, and dropping it never signs anything, so looking cannot vouch for records
    /// it has not checked.
    pub fn open_existing(dir: &Path) -> anyhow::Result<Store> {
        if !dir.join("blastdoor.db").is_file() {
            return Err(crate::exit::Failure::usage(format!(
                "--state {}: no blastdoor.db here (nothing has been recorded in this state yet)",
                dir.display()
            )));
        }
        Self::open_db(dir, false)
    }

    fn open_db(dir: &Path, sign_on_drop: bool) -> anyhow::Result<Store> {
        let db = dir.join("blastdoor.db");
        let conn = Connection::open(&db).map_err(|e| {
            anyhow::anyhow!(
                "--state {}: cannot open {}: {e}",
                dir.display(),
                db.display()
            )
        })?;
        // The busy timeout first: switching to WAL takes a lock that a concurrent first open in
        // another process may hold.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // `audit verify` reads the whole log: map it rather than copy every page through read(),
        // and keep a larger page cache than SQLite's 2 MB default.
        conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
        conn.pragma_update(None, "cache_size", -16_000i64)?;
        conn.set_prepared_statement_cache_capacity(64);
        let store = Store {
            conn: Mutex::new(conn),
            dir: dir.to_path_buf(),
            key: OnceLock::new(),
            sign_on_drop,
        };
        store.migrate().map_err(|e| {
            anyhow::anyhow!(
                "--state {}: cannot prepare {}: {e:#}",
                dir.display(),
                db.display()
            )
        })?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back on
        // drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run the caller's own SQL on the shared database (the workflow's queue tables). Open a
    /// transaction with `TransactionBehavior::Immediate` inside `f` to change the queue and
    /// append audit records (`audit::append_in`) atomically. Afterwards a checkpoint is signed if
    /// one is due, as `audit_append` would.
    pub fn with_conn<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let r = f(&mut self.lock())?;
        self.after_foreign_write();
        Ok(r)
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.lock();
        // One immediate transaction: processes opening a fresh state at the same moment create
        // the tables once, in order.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        audit::migrate(&tx)?;
        queue::migrate(&tx)?;
        tx.commit()?;
        Ok(())
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
