//! The SQLite backend: `DIR/blastdoor.db` in WAL mode with `synchronous=FULL`, for responders in
//! separate terminals on one bastion host.
//!
//! Concurrency: every write transaction is `BEGIN IMMEDIATE`, which takes SQLite's one write
//! lock at its start, so a transition re-reads the action and appends to the audit chain with no
//! other writer in between, in this process or another; readers never wait (WAL). The schema's
//! version is `PRAGMA user_version`; a database newer than this build is refused.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::anyhow;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::merkle::Hash;
use super::{Checkpoint, Intent, LastCheckpoint, NewRecord, RawRecord, Reader, ScanFn, Tx, queue};
use crate::core::model::Millis;
use crate::core::workflow::Action;

pub const DB_FILE: &str = "blastdoor.db";

/// The schema, one step per version; `PRAGMA user_version` says how many are applied. Version 1
/// is the schema states had before versions were counted, hence `IF NOT EXISTS`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS audit_meta (
         key TEXT PRIMARY KEY,
         value TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE IF NOT EXISTS audit_log (
         seq INTEGER PRIMARY KEY CHECK (seq >= 1),
         at INTEGER NOT NULL,
         kind TEXT NOT NULL,
         actor TEXT NOT NULL,
         via TEXT NOT NULL,
         action_id TEXT,
         detail TEXT NOT NULL,
         prev BLOB NOT NULL,
         hash BLOB NOT NULL
     );
     CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log (action_id)
         WHERE action_id IS NOT NULL;
     CREATE TABLE IF NOT EXISTS audit_checkpoint (
         n INTEGER PRIMARY KEY CHECK (n >= 1),
         tree_size INTEGER NOT NULL,
         root BLOB NOT NULL,
         at INTEGER NOT NULL,
         signature BLOB NOT NULL,
         frontier BLOB NOT NULL
     );
     -- Append-only against honest mistakes in our own code (a stray UPDATE in a colleague's
     -- migration); an attacker can drop these, which is what the hashes are for.
     CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
         BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
     CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
         BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
     CREATE TABLE IF NOT EXISTS actions (
         id TEXT PRIMARY KEY,
         state TEXT NOT NULL,
         hash TEXT NOT NULL,
         proposer TEXT NOT NULL,
         agent TEXT,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         body TEXT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS actions_created ON actions(created_at);
     CREATE TABLE IF NOT EXISTS journal (
         key TEXT PRIMARY KEY,
         action_id TEXT NOT NULL,
         executor TEXT NOT NULL,
         owner TEXT NOT NULL,
         intent_at INTEGER NOT NULL,
         outcome TEXT,
         outcome_at INTEGER
     );",
    "CREATE TABLE IF NOT EXISTS cursors (
         source TEXT PRIMARY KEY,
         value TEXT NOT NULL,
         updated_at INTEGER NOT NULL
     ) WITHOUT ROWID;",
];

pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Db {
    pub fn open(dir: &Path, create: bool) -> anyhow::Result<Db> {
        let path = dir.join(DB_FILE);
        if create {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow!(
                    "--state {}: cannot create the state folder: {e}",
                    dir.display()
                )
            })?;
        } else if !path.is_file() {
            return Err(crate::exit::Failure::usage(format!(
                "--state {}: no {DB_FILE} here (nothing has been recorded in this state yet)",
                dir.display()
            )));
        }
        let conn = Connection::open(&path).map_err(|e| {
            anyhow!(
                "--state {}: cannot open {}: {e}",
                dir.display(),
                path.display()
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
        let db = Db {
            conn: Mutex::new(conn),
            path,
        };
        db.migrate().map_err(|e| {
            super::prefixed(
                e,
                &format!("--state {}: {}: ", dir.display(), db.path.display()),
            )
        })?;
        Ok(db)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back on
        // drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.lock();
        // One immediate transaction: processes opening a fresh state at the same moment create
        // the tables once, in order.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let have: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if have > known {
            return Err(crate::exit::Failure::usage(format!(
                "the state's schema is version {have}, newer than this blastdoor knows ({known}): \
                 upgrade blastdoor on this host"
            )));
        }
        for m in &MIGRATIONS[have as usize..] {
            tx.execute_batch(m)?;
        }
        if have < known {
            tx.pragma_update(None, "user_version", known)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn write<R>(&self, f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R>) -> anyhow::Result<R> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = f(&mut SqliteTx::new(&tx))?;
        tx.commit()?;
        Ok(r)
    }

    pub fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R>) -> anyhow::Result<R> {
        let mut conn = self.lock();
        // One read transaction: a consistent snapshot while other processes keep appending.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        f(&mut SqliteTx::new(&tx))
    }

    /// A second, read-only connection in a read transaction, for a verify worker.
    pub fn reader(&self) -> anyhow::Result<Box<dyn Reader>> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
        conn.pragma_update(None, "cache_size", -16_000i64)?;
        conn.execute_batch("BEGIN")?;
        Ok(Box::new(SqliteReader(conn)))
    }
}

struct SqliteReader(Connection);

impl Reader for SqliteReader {
    fn scan(&mut self, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()> {
        scan(&self.0, after, upto, f)
    }
}

pub struct SqliteTx<'c> {
    conn: &'c Connection,
    appended: bool,
}

impl<'c> SqliteTx<'c> {
    fn new(conn: &'c Connection) -> SqliteTx<'c> {
        SqliteTx {
            conn,
            appended: false,
        }
    }
}

fn row_intent(r: &rusqlite::Row<'_>) -> rusqlite::Result<Intent> {
    Ok(Intent {
        key: r.get(0)?,
        action_id: r.get(1)?,
        executor: r.get(2)?,
        owner: r.get(3)?,
        intent_at: r.get(4)?,
        outcome: r.get(5)?,
    })
}

const INTENT_COLUMNS: &str =
    "SELECT key, action_id, executor, owner, intent_at, outcome FROM journal";

fn scan(conn: &Connection, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, kind, actor, via, action_id, detail, prev, hash FROM audit_log
         WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![
        after.min(i64::MAX as u64) as i64,
        upto.min(i64::MAX as u64) as i64
    ])?;
    while let Some(r) = rows.next()? {
        // `seq` is the rowid: always an integer.
        let seq = r.get::<_, i64>(0)? as u64;
        let text = |i: usize| r.get_ref(i).ok().and_then(|v| v.as_str().ok());
        let blob = |i: usize| match r.get_ref(i) {
            Ok(ValueRef::Blob(b)) => Some(b),
            _ => None,
        };
        let record = RawRecord {
            seq,
            at: match r.get_ref(1)? {
                ValueRef::Integer(a) => Some(a),
                _ => None,
            },
            kind: text(2),
            actor: text(3),
            via: text(4),
            action_id: match r.get_ref(5)? {
                ValueRef::Null => Ok(None),
                ValueRef::Text(t) => std::str::from_utf8(t).map(Some).map_err(|_| ()),
                _ => Err(()),
            },
            detail: text(6),
            prev: blob(7),
            hash: blob(8),
        };
        if !f(record)? {
            break;
        }
    }
    Ok(())
}

impl Tx for SqliteTx<'_> {
    fn insert_action(&mut self, a: &Action) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO actions (id, state, hash, proposer, agent, created_at, updated_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                a.id,
                a.state.as_str(),
                a.hash,
                a.proposed_by.principal,
                a.proposed_by.agent,
                a.created_at,
                a.updated_at,
                queue::encode(a)
            ])?;
        Ok(())
    }

    fn save_action(&mut self, a: &Action) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE actions SET state = ?2, hash = ?3, updated_at = ?4, body = ?5 WHERE id = ?1",
            )?
            .execute(params![
                a.id,
                a.state.as_str(),
                a.hash,
                a.updated_at,
                queue::encode(a)
            ])?;
        Ok(())
    }

    fn action(&mut self, id: &str) -> anyhow::Result<Option<Action>> {
        self.conn
            .prepare_cached("SELECT body FROM actions WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, String>(0))
            .optional()?
            .map(|b| queue::decode(&b))
            .transpose()
    }

    fn actions(&mut self) -> anyhow::Result<Vec<Action>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT body FROM actions ORDER BY created_at, id")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|b| queue::decode(&b?)).collect()
    }

    fn count_by_agent_since(&mut self, agent: &str, since: Millis) -> anyhow::Result<u32> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM actions WHERE agent = ?1 AND created_at >= ?2",
            params![agent, since],
            |r| r.get(0),
        )?)
    }

    fn intent(
        &mut self,
        key: &str,
        action_id: &str,
        executor: &str,
        owner: &str,
        at: Millis,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO journal (key, action_id, executor, owner, intent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, action_id, executor, owner, at],
        )?;
        Ok(())
    }

    fn outcome(&mut self, key: &str, outcome: &str, at: Millis) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE journal SET outcome = ?2, outcome_at = ?3 WHERE key = ?1",
            params![key, outcome, at],
        )?;
        Ok(())
    }

    fn intent_for(&mut self, key: &str) -> anyhow::Result<Option<Intent>> {
        Ok(self
            .conn
            .prepare_cached(&format!("{INTENT_COLUMNS} WHERE key = ?1"))?
            .query_row([key], row_intent)
            .optional()?)
    }

    fn open_intents(&mut self) -> anyhow::Result<Vec<Intent>> {
        let mut st = self.conn.prepare_cached(&format!(
            "{INTENT_COLUMNS} WHERE outcome IS NULL ORDER BY intent_at"
        ))?;
        let rows = st.query_map([], row_intent)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn journal(&mut self) -> anyhow::Result<Vec<Intent>> {
        let mut st = self
            .conn
            .prepare_cached(&format!("{INTENT_COLUMNS} ORDER BY intent_at"))?;
        let rows = st.query_map([], row_intent)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn cursor(&mut self, source: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM cursors WHERE source = ?1")?
            .query_row([source], |r| r.get(0))
            .optional()?)
    }

    fn set_cursor(&mut self, source: &str, value: &str, at: Millis) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO cursors (source, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute(params![source, value, at])?;
        Ok(())
    }

    fn audit_tail(&mut self) -> anyhow::Result<(u64, Hash)> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        super::audit::tail_of(row)
    }

    fn audit_insert(&mut self, records: &[NewRecord<'_>]) -> anyhow::Result<()> {
        let mut st = self.conn.prepare_cached(
            "INSERT INTO audit_log (seq, at, kind, actor, via, action_id, detail, prev, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for r in records {
            st.execute(params![
                i64::try_from(r.seq)?,
                r.at,
                r.kind,
                r.actor,
                r.via,
                r.action_id,
                r.detail,
                &r.prev[..],
                &r.hash[..]
            ])?;
        }
        self.appended |= !records.is_empty();
        Ok(())
    }

    fn audit_has(&mut self, action_id: &str, kind: &str) -> anyhow::Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM audit_log WHERE action_id = ?1 AND kind = ?2 LIMIT 1")?
            .query_row([action_id, kind], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn audit_scan(&mut self, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()> {
        scan(self.conn, after, upto, f)
    }

    fn audit_last_seq(&mut self) -> anyhow::Result<u64> {
        let n: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_log", [], |r| {
                    r.get(0)
                })?;
        Ok(n.try_into().unwrap_or(0))
    }

    fn checkpoint_last(&mut self) -> anyhow::Result<Option<LastCheckpoint>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT n, tree_size, at, frontier FROM audit_checkpoint ORDER BY n DESC LIMIT 1",
            )?
            .query_row([], |r| {
                Ok(LastCheckpoint {
                    n: r.get::<_, i64>(0)? as u64,
                    tree_size: r.get::<_, i64>(1)? as u64,
                    at: r.get(2)?,
                    frontier: r.get(3)?,
                })
            })
            .optional()?)
    }

    fn checkpoint_insert(&mut self, cp: &Checkpoint, frontier: &[u8]) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit_checkpoint (n, tree_size, root, at, signature, frontier)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                cp.n as i64,
                cp.tree_size as i64,
                &cp.root[..],
                cp.at,
                &cp.signature[..],
                frontier
            ])?;
        Ok(())
    }

    fn checkpoints(&mut self) -> anyhow::Result<Result<Vec<Checkpoint>, String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT n, tree_size, root, at, signature FROM audit_checkpoint ORDER BY n")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let int = |i: usize| match r.get_ref(i) {
                Ok(ValueRef::Integer(v)) => Some(v),
                _ => None,
            };
            let blob = |i: usize| match r.get_ref(i) {
                Ok(ValueRef::Blob(b)) => Some(b),
                _ => None,
            };
            match super::audit::checkpoint_of(
                out.len() + 1,
                int(0),
                int(1),
                blob(2).and_then(|b| Hash::try_from(b).ok()),
                int(3),
                blob(4).and_then(|b| <[u8; 64]>::try_from(b).ok()),
            ) {
                Ok(cp) => out.push(cp),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(out))
    }

    fn meta(&mut self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM audit_meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    fn meta_insert(&mut self, key: &str, value: &str) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit_meta (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute([key, value])?;
        Ok(())
    }

    fn appended(&self) -> bool {
        self.appended
    }
}
