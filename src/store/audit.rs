//! The audit log: every proposal, approval, refusal, execution, outcome and rollback, as an
//! append-only chain of records in the shared state (either backend: this file holds no SQL),
//! with signed Merkle checkpoints.
//!
//! * Record `n` stores `prev` = the hash of record `n-1` (32 zero bytes for record 1) and
//!   `hash` = SHA-256 of its canonical encoding: the JSON object
//!   `{action_id, actor, at, detail, kind, prev, seq, via}` with sorted keys and no whitespace
//!   (`detail` in the canonical form of [`super::canonical`], `prev` in lower-case hex). Editing
//!   a record breaks its hash; rewriting the chain after it breaks the next checkpoint.
//! * A checkpoint signs the RFC 6962 Merkle root over the record hashes `1..=tree_size` with the
//!   Ed25519 key at `store::audit_key_path` (`DIR/audit.key` for a folder, a file on each
//!   responder's host for PostgreSQL). The signed text is
//!   `"blastdoor-audit-checkpoint-v1\n{tree_size}\n{root_hex}\n{at}\n{n}"`, where `n` is the
//!   checkpoint's own 1-based number: signing `n` makes a deleted checkpoint as visible as a
//!   deleted record (a gap in `n` that nobody without the key can close).
//! * Several processes (on several hosts, for PostgreSQL) append to one state; each append reads
//!   the tail and inserts inside a `Store::write` transaction, which holds the state's writer
//!   lock from its start, so the chain never forks and never has a gap. `seq` is the primary key, which
//!   would turn a fork into a constraint error rather than a second chain anyway.
//! * An export is JSONL: a header with the public key, the records, each checkpoint right after
//!   the record it covers, and as the last line a checkpoint marked `"final":true` over every
//!   record, signed at export time over `"blastdoor-audit-export-v1\n…"` (same fields). Inner
//!   checkpoints cannot pass for the final one, so an export cut anywhere, even right after an
//!   inner checkpoint, is caught as surely as an edited one. The export holds the records up to
//!   the newest checkpoint; one signed just before exporting covers everything written so far.
//!
//! What this cannot catch on its own: someone who holds the audit key can re-sign a rewritten log,
//! and an export signed with another key verifies against the key in its own header. Compare
//! the public key `verify` prints with one kept elsewhere for those.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::canonical;
use super::merkle::{Frontier, Hash};
use super::{NewRecord, Store, Tx};
use crate::exit::Failure;

/// The `format` of an export's header line.
pub const FORMAT: &str = "blastdoor-audit-v1";
const SIGNING_CONTEXT: &str = "blastdoor-audit-checkpoint-v1";
const EXPORT_CONTEXT: &str = "blastdoor-audit-export-v1";
/// `audit_append` signs a new checkpoint when the last one is older than this.
pub const CHECKPOINT_INTERVAL_MS: i64 = 1000;
const GENESIS: Hash = [0; 32];
/// The key file in a state folder.
pub const KEY_FILE: &str = "audit.key";

/// One thing that happened, as the workflow reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// "proposed", "approved", "refused", "denied", "expired", "intent", "executed", "failed",
    /// "rolled_back", "playbook", "agent_refused", … (free text, lower snake case)
    pub kind: String,
    /// Who: a responder principal from allowed_signers, an AI agent's name, or "blastdoor".
    pub actor: String,
    /// "tui" | "cli" | "playbook" | "mcp" | "engine"
    pub via: String,
    pub action_id: Option<String>,
    /// Anything else worth keeping (reason, action hash, signature, error). Never secrets.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// The event with its text made inert, as it is logged: reasons, agent names and provider
    /// messages are other people's input, and what the log holds is exported and read as it is
    /// (an export must match its hashes, so escaping can only happen before hashing).
    pub fn inert(&self) -> std::borrow::Cow<'_, AuditEvent> {
        use crate::core::text::{escape, escape_value, is_inert_value};
        let clean = |s: &str| matches!(escape(s), std::borrow::Cow::Borrowed(_));
        if clean(&self.kind)
            && clean(&self.actor)
            && clean(&self.via)
            && self.action_id.as_deref().is_none_or(clean)
            && is_inert_value(&self.detail)
        {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut ev = self.clone();
        for s in [&mut ev.kind, &mut ev.actor, &mut ev.via] {
            *s = escape(s).into_owned();
        }
        if let Some(a) = &mut ev.action_id {
            *a = escape(a).into_owned();
        }
        escape_value(&mut ev.detail);
        std::borrow::Cow::Owned(ev)
    }
}

/// A stored record: the event plus its place in the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub seq: u64,
    /// Milliseconds since the Unix epoch, as given by the caller.
    pub at: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Hash of the previous record, lower-case hex.
    pub prev: String,
    /// This record's hash, lower-case hex.
    pub hash: String,
}

/// A signed statement "the first `tree_size` records have Merkle root `root`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub n: u64,
    pub tree_size: u64,
    pub root: Hash,
    pub at: i64,
    pub signature: [u8; 64],
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: u64,
    pub checkpoints: u64,
    /// Records after the last checkpoint (only in the state: an export covers all of them).
    pub uncovered: u64,
    /// The key the checkpoints are signed with, hex.
    pub public_key: Option<String>,
    /// The newest checkpoint of the log, to remember (`witness`).
    pub newest: Option<super::witness::SignedCheckpoint>,
    /// The checkpoints kept elsewhere that the log was proven consistent with.
    pub consistent_with: Vec<String>,
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "audit: {} records, {} checkpoints, chain and signatures valid",
            self.records, self.checkpoints
        )?;
        if self.uncovered > 0 {
            write!(
                f,
                " ({} newest records not yet covered by a checkpoint)",
                self.uncovered
            )?;
        }
        if let Some(k) = &self.public_key {
            write!(f, "; signing key ed25519:{k}")?;
        }
        for c in &self.consistent_with {
            write!(f, "\n  consistent with {c}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical encoding and hashing

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The bytes a record's hash is computed over (see the module doc). `detail` must already be
/// canonical. Kept allocation-free on a reused buffer: `verify` calls it once per record.
#[allow(clippy::too_many_arguments)]
fn encode_record(
    out: &mut Vec<u8>,
    seq: u64,
    at: i64,
    kind: &str,
    actor: &str,
    via: &str,
    action_id: Option<&str>,
    detail: &str,
    prev: &Hash,
) {
    out.clear();
    out.extend_from_slice(b"{\"action_id\":");
    match action_id {
        Some(a) => push_json_str(out, a),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"actor\":");
    push_json_str(out, actor);
    let _ = write!(out, ",\"at\":{at},\"detail\":");
    out.extend_from_slice(detail.as_bytes());
    out.extend_from_slice(b",\"kind\":");
    push_json_str(out, kind);
    out.extend_from_slice(b",\"prev\":\"");
    push_hex(out, prev);
    let _ = write!(out, "\",\"seq\":{seq},\"via\":");
    push_json_str(out, via);
    out.push(b'}');
}

/// A record's fields as an export carries them, for [`record_hash`].
#[derive(Debug, Clone, Copy)]
pub struct RecordText<'a> {
    pub seq: u64,
    pub at: i64,
    pub kind: &'a str,
    pub actor: &'a str,
    pub via: &'a str,
    pub action_id: Option<&'a str>,
    /// The JSON text of `detail`, in any layout.
    pub detail: &'a str,
}

/// The hash of a record that follows one with hash `prev` (32 zero bytes for record 1): what
/// an independent verifier recomputes.
pub fn record_hash(r: &RecordText<'_>, prev: &Hash) -> anyhow::Result<Hash> {
    let detail = canonical::canonical_cow(r.detail)?;
    let mut buf = Vec::with_capacity(256 + detail.len());
    encode_record(
        &mut buf,
        r.seq,
        r.at,
        r.kind,
        r.actor,
        r.via,
        r.action_id,
        &detail,
        prev,
    );
    Ok(sha256(&buf))
}

fn sha256(b: &[u8]) -> Hash {
    Sha256::digest(b).into()
}

/// `detail` as stored and hashed: serde_json's text, in canonical form whatever features
/// serde_json was built with (with `preserve_order` its maps would keep insertion order).
fn canonical_detail(detail: &serde_json::Value) -> anyhow::Result<String> {
    let text = serde_json::to_string(detail)?;
    // serde_json's own text of a `Value` is already canonical when its maps sort their keys
    // (numbers and strings are written as `canonical` writes them): skip the second pass then.
    static SORTED_MAPS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let sorted = *SORTED_MAPS.get_or_init(|| {
        serde_json::json!({"b": 0, "a": 0})
            .to_string()
            .starts_with(r#"{"a""#)
    });
    if sorted {
        debug_assert_eq!(canonical::canonical(&text).as_deref(), Ok(text.as_str()));
        return Ok(text);
    }
    Ok(canonical::canonical(&text)?)
}

/// The exact bytes a checkpoint's signature covers.
pub fn checkpoint_message(n: u64, tree_size: u64, root: &Hash, at: i64) -> String {
    format!(
        "{SIGNING_CONTEXT}\n{tree_size}\n{}\n{at}\n{n}",
        hex::encode(root)
    )
}

/// The exact bytes the signature of an export's final checkpoint covers. It differs from
/// `checkpoint_message` so that an export cut back to one of its earlier checkpoints cannot pass
/// for a whole export: only the holder of the key can sign an ending.
pub fn final_checkpoint_message(n: u64, tree_size: u64, root: &Hash, at: i64) -> String {
    format!(
        "{EXPORT_CONTEXT}\n{tree_size}\n{}\n{at}\n{n}",
        hex::encode(root)
    )
}

/// Strict lower-case hex of exactly `N` bytes: an export byte flipped from `a` to `A` must not
/// verify, so the accepted spelling is unique.
fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Appending

/// The tail from the newest `(seq, hash)` row a backend read, `(0, zeroes)` for none.
pub(crate) fn tail_of(row: Option<(i64, Vec<u8>)>) -> anyhow::Result<(u64, Hash)> {
    match row {
        None => Ok((0, GENESIS)),
        Some((seq, hash)) => {
            let hash: Hash = hash.as_slice().try_into().map_err(|_| {
                anyhow!("audit record {seq} has a malformed hash; run `blastdoor audit verify`")
            })?;
            Ok((u64::try_from(seq)?, hash))
        }
    }
}

/// Append one record within the caller's write transaction (`Store::write`), so the workflow can
/// change its queue and write the audit record atomically. The transaction holds the state's
/// writer lock, so the tail it reads cannot move before it commits. Does not sign a checkpoint;
/// `Store::write` does that before committing when one is due.
pub fn append_in(tx: &mut dyn Tx, ev: &AuditEvent, at_ms: i64) -> anyhow::Result<u64> {
    let ev = &ev.inert();
    let detail = canonical_detail(&ev.detail)?;
    let mut buf = Vec::with_capacity(256 + detail.len());
    let tail = tx.audit_tail()?;
    let (seq, hash) = chain_one(ev, &detail, at_ms, tail, &mut buf)?;
    tx.audit_insert(&[NewRecord {
        seq,
        at: at_ms,
        kind: &ev.kind,
        actor: &ev.actor,
        via: &ev.via,
        action_id: ev.action_id.as_deref(),
        detail: &detail,
        prev: &tail.1,
        hash: &hash,
    }])?;
    Ok(seq)
}

/// The place and hash of `ev` after the record `(last, prev)`.
fn chain_one(
    ev: &AuditEvent,
    detail: &str,
    at_ms: i64,
    (last, prev): (u64, Hash),
    buf: &mut Vec<u8>,
) -> anyhow::Result<(u64, Hash)> {
    if ev.kind.is_empty() || ev.actor.is_empty() || ev.via.is_empty() {
        bail!("an audit event needs a kind, an actor and a via: {ev:?}");
    }
    let seq = last + 1;
    encode_record(
        buf,
        seq,
        at_ms,
        &ev.kind,
        &ev.actor,
        &ev.via,
        ev.action_id.as_deref(),
        detail,
        &prev,
    );
    Ok((seq, sha256(buf)))
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/// A checkpoint from the columns a backend read (`None`: not of its type), or what is wrong with
/// checkpoint number `index` (1-based, in order).
pub(crate) fn checkpoint_of(
    index: usize,
    n: Option<i64>,
    tree_size: Option<i64>,
    root: Option<Hash>,
    at: Option<i64>,
    signature: Option<[u8; 64]>,
) -> Result<Checkpoint, String> {
    let bad = |what: &str| format!("audit checkpoint #{index}: {what}");
    Ok(Checkpoint {
        n: n.filter(|n| *n >= 1).ok_or_else(|| bad("bad number"))? as u64,
        tree_size: tree_size
            .filter(|t| *t >= 1)
            .ok_or_else(|| bad("bad tree size"))? as u64,
        root: root.ok_or_else(|| bad("malformed root"))?,
        at: at.ok_or_else(|| bad("malformed time"))?,
        signature: signature.ok_or_else(|| bad("malformed signature"))?,
    })
}

/// Strict lower-case hex of `N` bytes from a text column (PostgreSQL keeps roots and
/// signatures as text), `None` for anything else.
pub(crate) fn hex_column<const N: usize>(s: Option<&str>) -> Option<[u8; N]> {
    s.and_then(parse_hex::<N>)
}

/// Whether records are uncovered and the last checkpoint is `CHECKPOINT_INTERVAL_MS` old.
fn checkpoint_due(tx: &mut dyn Tx, at_ms: i64) -> anyhow::Result<bool> {
    let size = tx.audit_tail()?.0;
    Ok(match tx.checkpoint_last()? {
        None => size > 0,
        Some(l) => size > l.tree_size && at_ms - l.at >= CHECKPOINT_INTERVAL_MS,
    })
}

/// Sign a checkpoint over everything appended so far, inside the caller's write transaction.
/// With `due_only`, only when the last checkpoint is `CHECKPOINT_INTERVAL_MS` old.
fn checkpoint_in(
    tx: &mut dyn Tx,
    key: &SigningKey,
    at_ms: i64,
    due_only: bool,
) -> anyhow::Result<Option<Checkpoint>> {
    let (size, _) = tx.audit_tail()?;
    let last = tx.checkpoint_last()?;
    let (n, mut frontier) = match &last {
        Some(l) if l.tree_size >= size => return Ok(None),
        Some(l) if due_only && at_ms - l.at < CHECKPOINT_INTERVAL_MS => return Ok(None),
        Some(l) => {
            let f = Frontier::from_bytes(&l.frontier)
                .filter(|f| f.size() == l.tree_size)
                .ok_or_else(|| {
                    anyhow!(
                        "audit checkpoint {} is damaged; run `blastdoor audit verify`",
                        l.n
                    )
                })?;
            (l.n + 1, f)
        }
        None if size == 0 => return Ok(None),
        None => (1, Frontier::new()),
    };
    publish_public_key(tx, key)?;
    tx.audit_scan(frontier.size(), u64::MAX, &mut |r| {
        let hash: Hash = r.hash.and_then(|h| h.try_into().ok()).ok_or_else(|| {
            anyhow!(
                "audit record {} has a malformed hash; run `blastdoor audit verify`",
                r.seq
            )
        })?;
        if r.seq != frontier.size() + 1 {
            bail!(
                "audit record {} is missing; run `blastdoor audit verify`",
                frontier.size() + 1
            );
        }
        frontier.push(&hash);
        Ok(true)
    })?;
    let root = frontier.root();
    let tree_size = frontier.size();
    let signature = key
        .sign(checkpoint_message(n, tree_size, &root, at_ms).as_bytes())
        .to_bytes();
    let cp = Checkpoint {
        n,
        tree_size,
        root,
        at: at_ms,
        signature,
    };
    tx.checkpoint_insert(&cp, &frontier.to_bytes())?;
    Ok(Some(cp))
}

/// Record the public key in the database on first use; refuse to sign with any other key, since
/// its checkpoints would never verify.
fn publish_public_key(tx: &mut dyn Tx, key: &SigningKey) -> anyhow::Result<()> {
    let mine = hex::encode(key.verifying_key().as_bytes());
    tx.meta_insert("public_key", &mine)?;
    let stored = tx.meta("public_key")?.unwrap_or_default();
    if stored != mine {
        bail!(
            "the audit key (public key {mine}) is not the key this audit log is signed with \
             ({stored}); restore the original key file ({KEY_FILE} in a state folder, \
             BLASTDOOR_AUDIT_KEY for PostgreSQL)"
        );
    }
    Ok(())
}

/// Load the audit key at `path` (64 hex digits, or 32 raw bytes); when there is none and
/// `may_create`, create it with mode 0600 (and its folder).
pub fn load_or_create_key(path: &Path, may_create: bool) -> anyhow::Result<SigningKey> {
    match std::fs::read(path) {
        Ok(bytes) => return parse_key(&bytes).with_context(|| format!("{}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(anyhow!(
                "{}: this host has no copy of the key this audit log is signed with: copy it \
                 (mode 0600) from a host that signs for this state, or set BLASTDOOR_AUDIT_KEY \
                 to where it is",
                path.display()
            ));
        }
        Err(e) => {
            return Err(anyhow!(
                "{}: cannot read the audit key: {e}",
                path.display()
            ));
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: cannot create: {e}", dir.display()))?;
    let key = SigningKey::generate(&mut rand_core::OsRng);
    // Write a private temporary file, then hard-link it into place: the link fails if another
    // process created the key first, so two first-time processes never end up with two keys.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| KEY_FILE.into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(hex::encode(key.to_bytes()).as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    };
    let res = write();
    let _ = std::fs::remove_file(&tmp);
    match res {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path)
                .map_err(|e| anyhow!("{}: cannot read the audit key: {e}", path.display()))?;
            parse_key(&bytes).with_context(|| format!("{}", path.display()))
        }
        Err(e) => Err(anyhow!(
            "{}: cannot create the audit key: {e}",
            path.display()
        )),
    }
}

fn parse_key(bytes: &[u8]) -> anyhow::Result<SigningKey> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(SigningKey::from_bytes(&raw));
    }
    let text = std::str::from_utf8(bytes).unwrap_or("").trim();
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text, &mut seed)
        .map_err(|_| anyhow!("not an audit key: want 64 hex digits or 32 raw bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

// ---------------------------------------------------------------------------------------------
// The Store API

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// The signing key, loaded the first time. A state folder creates its `audit.key` when it
    /// has none; a PostgreSQL state creates one only for a log that has no key yet (the first
    /// host to sign), since any other key's checkpoints would never verify.
    fn signing_key(&self, tx: &mut dyn Tx) -> anyhow::Result<&SigningKey> {
        if let Some(k) = self.key.get() {
            return Ok(k);
        }
        let path = super::audit_key_path(&self.location)?;
        let may_create = match &self.location {
            super::Location::Dir(_) => true,
            super::Location::Postgres(_) => tx.meta("public_key")?.is_none(),
        };
        let k = load_or_create_key(&path, may_create)?;
        Ok(self.key.get_or_init(|| k))
    }

    /// A due checkpoint is a courtesy inside an append: the record is what must be durable, so a
    /// signing problem is logged and left for `audit_checkpoint` / `verify` to report.
    pub(crate) fn checkpoint_if_due(&self, tx: &mut dyn Tx, at_ms: i64) {
        let r = match checkpoint_due(tx, at_ms) {
            Ok(false) => return,
            Ok(true) => self
                .signing_key(tx)
                .and_then(|k| checkpoint_in(tx, k, at_ms, true)),
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            tracing::warn!("audit checkpoint not signed: {e:#}");
        }
    }

    /// Append one record; durable when it returns; returns its seq (1-based). Signs a
    /// checkpoint too when the last one is older than a second.
    pub fn audit_append(&self, ev: &AuditEvent, at_ms: i64) -> anyhow::Result<u64> {
        Ok(self.audit_append_batch(std::slice::from_ref(ev), at_ms)?[0])
    }

    /// Append many in one transaction (group commit): one durable commit for the lot.
    pub fn audit_append_batch(&self, evs: &[AuditEvent], at_ms: i64) -> anyhow::Result<Vec<u64>> {
        let evs: Vec<_> = evs.iter().map(AuditEvent::inert).collect();
        let details = evs
            .iter()
            .map(|e| canonical_detail(&e.detail))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.write_at(at_ms, |tx| {
            let mut buf = Vec::with_capacity(512);
            let mut links = Vec::with_capacity(evs.len());
            let mut last = tx.audit_tail()?;
            for (ev, detail) in evs.iter().zip(&details) {
                let next = chain_one(ev, detail, at_ms, last, &mut buf)?;
                links.push((last.1, next));
                last = next;
            }
            let records: Vec<NewRecord<'_>> = evs
                .iter()
                .zip(&details)
                .zip(&links)
                .map(|((ev, detail), (prev, (seq, hash)))| NewRecord {
                    seq: *seq,
                    at: at_ms,
                    kind: &ev.kind,
                    actor: &ev.actor,
                    via: &ev.via,
                    action_id: ev.action_id.as_deref(),
                    detail,
                    prev,
                    hash,
                })
                .collect();
            tx.audit_insert(&records)?;
            Ok(links.iter().map(|(_, (seq, _))| *seq).collect())
        })
    }

    /// Sign a checkpoint over everything appended so far, if anything is uncovered.
    pub fn audit_checkpoint(&self, at_ms: i64) -> anyhow::Result<()> {
        // Cheap read first: a command that appended nothing must not need the key at all.
        let uncovered = self.read(|tx| {
            let size = tx.audit_tail()?.0;
            Ok(size > tx.checkpoint_last()?.map_or(0, |l| l.tree_size))
        })?;
        if !uncovered {
            return Ok(());
        }
        self.write(|tx| {
            let key = self.signing_key(tx)?;
            checkpoint_in(tx, key, at_ms, false)?;
            Ok(())
        })
    }

    /// Number of records (= the seq of the newest).
    pub fn audit_len(&self) -> anyhow::Result<u64> {
        self.read(|tx| Ok(tx.audit_tail()?.0))
    }

    /// All records from seq `from` (for `audit tail` and the TUI), at most `limit`.
    pub fn audit_records(&self, from: u64, limit: usize) -> anyhow::Result<Vec<AuditRecord>> {
        self.read(|tx| {
            let mut out = Vec::new();
            let upto = from.saturating_add(limit as u64).saturating_sub(1);
            tx.audit_scan(from.saturating_sub(1), upto, &mut |r| {
                out.push(AuditRecord {
                    seq: r.seq,
                    at: r.at.unwrap_or_default(),
                    event: AuditEvent {
                        kind: r.kind.unwrap_or_default().to_string(),
                        actor: r.actor.unwrap_or_default().to_string(),
                        via: r.via.unwrap_or_default().to_string(),
                        action_id: r.action_id.ok().flatten().map(str::to_string),
                        detail: r
                            .detail
                            .and_then(|d| serde_json::from_str(d).ok())
                            .unwrap_or(serde_json::Value::Null),
                    },
                    prev: hex::encode(r.prev.unwrap_or_default()),
                    hash: hex::encode(r.hash.unwrap_or_default()),
                });
                Ok(out.len() < limit)
            })?;
            Ok(out)
        })
    }

    /// All checkpoints, oldest first.
    pub fn audit_checkpoints(&self) -> anyhow::Result<Vec<Checkpoint>> {
        self.read(|tx| tx.checkpoints()?.map_err(|e| anyhow!("{e}")))
    }

    /// Check the whole log in the state: every record's hash, every link, every checkpoint's
    /// root and signature. A problem is a `Failure::verify` (exit 3) naming the first bad record.
    pub fn audit_verify(&self) -> anyhow::Result<VerifyReport> {
        self.audit_verify_against(&[])
    }

    /// `audit_verify`, and prove the log consistent with each checkpoint kept elsewhere
    /// (`(where it was kept, checkpoint)`): a log cut back or forked since is exit 3.
    pub fn audit_verify_against(
        &self,
        known: &[(String, super::witness::SignedCheckpoint)],
    ) -> anyhow::Result<VerifyReport> {
        // One read transaction: a consistent snapshot while other processes keep appending.
        self.read(|tx| verify_state(tx, self, known))
    }

    /// Write the self-verifying JSONL export. Signs a checkpoint first so the export covers
    /// everything appended so far; records appended after the newest checkpoint (by another
    /// process, in the meantime) are left for the next export. Returns the number of records.
    pub fn audit_export(&self, out: &mut (dyn Write + Send), at_ms: i64) -> anyhow::Result<u64> {
        self.audit_checkpoint(at_ms)?;
        self.read(|tx| {
            let key = self.signing_key(tx)?.clone();
            export_tx(tx, out, &key, at_ms)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Verifying the state

/// Checks each checkpoint in order as the records stream past. Shared by the state and the
/// export verifiers so both apply exactly the same rules.
struct CheckpointChecker {
    key: Option<VerifyingKey>,
    /// `n` of the last good checkpoint, and the tree size it covered.
    last_n: u64,
    last_size: u64,
}

impl CheckpointChecker {
    fn check(&mut self, cp: &Checkpoint, frontier: &Frontier) -> Result<(), String> {
        if cp.n != self.last_n + 1 {
            return Err(format!(
                "checkpoint {} follows checkpoint {}: a checkpoint was deleted or moved",
                cp.n, self.last_n
            ));
        }
        if cp.tree_size > frontier.size() {
            return Err(format!(
                "checkpoint {} covers {} records but only records 1..={} precede it: record {} \
                 is missing or was moved",
                cp.n,
                cp.tree_size,
                frontier.size(),
                frontier.size() + 1
            ));
        }
        if cp.tree_size <= self.last_size || cp.tree_size != frontier.size() {
            return Err(format!(
                "checkpoint {} claims {} records where {} precede it",
                cp.n,
                cp.tree_size,
                frontier.size()
            ));
        }
        let range = format!("{}..={}", self.last_size + 1, cp.tree_size);
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| format!("checkpoint {}: no public key to check it with", cp.n))?;
        let msg = checkpoint_message(cp.n, cp.tree_size, &cp.root, cp.at);
        if key
            .verify(msg.as_bytes(), &Signature::from_bytes(&cp.signature))
            .is_err()
        {
            return Err(format!(
                "checkpoint {} (records 1..={}): the signature is not valid for this public key",
                cp.n, cp.tree_size
            ));
        }
        if frontier.root() != cp.root {
            return Err(format!(
                "records {range} differ from what checkpoint {} signed: the Merkle root does not \
                 match (a record in {range} was rewritten together with the hashes after it)",
                cp.n
            ));
        }
        self.last_n = cp.n;
        self.last_size = cp.tree_size;
        Ok(())
    }

    /// The export's last line: signed by the exporter over every record and the number of
    /// checkpoints before it.
    fn check_final(&self, cp: &Checkpoint, frontier: &Frontier) -> Result<(), String> {
        if cp.n != self.last_n || cp.tree_size != frontier.size() {
            return Err(format!(
                "the final checkpoint claims {} records and {} checkpoints where {} and {} precede \
                 it: lines were deleted or moved",
                cp.tree_size,
                cp.n,
                frontier.size(),
                self.last_n
            ));
        }
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| "the final checkpoint: no public key to check it with".to_string())?;
        let msg = final_checkpoint_message(cp.n, cp.tree_size, &cp.root, cp.at);
        if key
            .verify(msg.as_bytes(), &Signature::from_bytes(&cp.signature))
            .is_err()
        {
            return Err(
                "the final checkpoint: the signature is not valid for this public key".into(),
            );
        }
        if frontier.root() != cp.root {
            return Err(format!(
                "records 1..={} differ from what the final checkpoint signed: the Merkle root does \
                 not match",
                cp.tree_size
            ));
        }
        Ok(())
    }
}

/// One record as a verify worker read and hashed it: what the in-order chain check needs.
struct Hashed {
    seq: u64,
    /// The stored `prev` and `hash` (`None`: not a 32-byte blob, which matches nothing).
    prev: Option<Hash>,
    stored: Option<Hash>,
    /// The hash recomputed from the record's content and its stored `prev`.
    computed: Hash,
}

/// Records `(lo, hi]` read and hashed, up to the first malformed one, then why it is malformed.
struct Piece {
    rows: Vec<Hashed>,
    bad: Option<(u64, String)>,
}

/// Verification work is split in chunks of this many records or lines, chunk `c` done by
/// worker `c % workers`.
const VERIFY_CHUNK: u64 = 8192;
/// Below this many records one thread does it all: starting workers would cost more.
const VERIFY_PARALLEL_FROM: u64 = 4 * VERIFY_CHUNK;

/// Run `work` over chunks `0..chunks` on every core and hand each result to `consume` in chunk
/// order. The expensive part of verifying (reading, parsing, hashing each record) does not
/// depend on the chain, so it runs in parallel; the chain, the Merkle frontier and the
/// checkpoints are checked in order by `consume`. Each worker keeps its own state from `init`
/// (a read connection, a buffer) and at most two finished chunks wait for `consume`, so memory
/// stays bounded whatever the log's size. A problem found by `consume` stops the workers.
fn in_order<S, T: Send>(
    chunks: u64,
    init: impl Fn() -> anyhow::Result<S> + Sync,
    work: impl Fn(&mut S, u64) -> anyhow::Result<T> + Sync,
    mut consume: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let workers = cores.min(4).min(chunks);
    if chunks * VERIFY_CHUNK < VERIFY_PARALLEL_FROM || workers < 2 {
        let mut state = init()?;
        for c in 0..chunks {
            consume(work(&mut state, c)?)?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let mut queues = Vec::new();
        for w in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<anyhow::Result<T>>(2);
            queues.push(rx);
            let (init, work) = (&init, &work);
            scope.spawn(move || {
                let mut state = match init() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                for c in (w..chunks).step_by(workers as usize) {
                    let out = work(&mut state, c);
                    let stop = out.is_err();
                    // `consume` hung up (it found a problem): stop early.
                    if tx.send(out).is_err() || stop {
                        return;
                    }
                }
            });
        }
        let result = (0..chunks).try_for_each(|c| {
            let out = queues[(c % workers) as usize]
                .recv()
                .map_err(|_| anyhow!("audit verify: a worker stopped"))??;
            consume(out)
        });
        // Hang up before the scope joins the workers, so none waits on a full queue.
        drop(queues);
        result
    })
}

/// Read and hash records `(lo, hi]`. Each record's hash depends only on its own content and its
/// stored `prev`, so chunks can be hashed in any order and on any thread; whether the stored
/// links form a chain is checked afterwards, in order, by [`verify_state`].
fn hash_range(
    reader: &mut dyn super::Reader,
    lo: u64,
    hi: u64,
    buf: &mut Vec<u8>,
) -> anyhow::Result<Piece> {
    let mut out = Piece {
        rows: Vec::with_capacity((hi - lo) as usize),
        bad: None,
    };
    reader.scan(lo, hi, &mut |r| {
        let seq = r.seq;
        let mut bad = |what: &str| {
            out.bad = Some((seq, what.to_string()));
            Ok(false)
        };
        let Some(at) = r.at else {
            return bad("malformed time");
        };
        let (Some(kind), Some(actor), Some(via), Some(detail)) = (r.kind, r.actor, r.via, r.detail)
        else {
            return bad("malformed field (not text)");
        };
        let Ok(action_id) = r.action_id else {
            return bad("malformed action_id");
        };
        let (Some(p), Some(h)) = (r.prev, r.hash) else {
            return bad("malformed prev or hash");
        };
        let prev = Hash::try_from(p).ok();
        // A malformed prev cannot link to anything; hash the record over zeroes so that the
        // chain check reports the broken link, as it would for any other wrong prev.
        encode_record(
            buf,
            seq,
            at,
            kind,
            actor,
            via,
            action_id,
            detail,
            &prev.unwrap_or(GENESIS),
        );
        out.rows.push(Hashed {
            seq,
            prev,
            stored: Hash::try_from(h).ok(),
            computed: sha256(buf),
        });
        Ok(true)
    })?;
    Ok(out)
}

fn verify_state(
    tx: &mut dyn Tx,
    store: &Store,
    known: &[(String, super::witness::SignedCheckpoint)],
) -> anyhow::Result<VerifyReport> {
    let fail = |m: String| Failure::verify(format!("audit verify: {m}"));
    let public_key: Option<String> = tx.meta("public_key")?;
    let key = match &public_key {
        None => None,
        Some(hex) => Some(
            parse_hex::<32>(hex)
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| fail(format!("the stored public key {hex:?} is malformed")))?,
        ),
    };
    // The key file, when this user can read it, must be the key the log was signed with.
    if let Some(pk) = &key
        && let Ok(path) = super::audit_key_path(store.location())
        && let Ok(bytes) = std::fs::read(&path)
        && parse_key(&bytes).map(|k| k.verifying_key()).ok().as_ref() != Some(pk)
    {
        return Err(fail(format!(
            "{} does not match the public key recorded in the state",
            path.display()
        )));
    }
    let checkpoints = tx.checkpoints()?.map_err(fail)?;
    // What this snapshot holds: later appends by other processes are left for the next verify.
    let last = tx.audit_last_seq()?;
    let mut checker = CheckpointChecker {
        key,
        last_n: 0,
        last_size: 0,
    };
    let mut cps = checkpoints.iter().peekable();
    let mut frontier = Frontier::new();
    let mut prev = GENESIS;
    // Every record hash, kept only to prove the log consistent with checkpoints kept elsewhere.
    let mut leaves: Vec<Hash> = Vec::new();
    // The in-order half: links, stored hashes, the Merkle frontier and each checkpoint.
    let mut check = |piece: Piece| -> anyhow::Result<()> {
        for h in piece.rows {
            if !known.is_empty() {
                leaves.push(h.computed);
            }
            let expect = frontier.size() + 1;
            let seq = h.seq;
            if seq != expect {
                return Err(fail(format!(
                    "record {expect} is missing (the next record is {seq})"
                )));
            }
            let bad = |what: &str| fail(format!("record {seq}: {what}"));
            if h.prev != Some(prev) {
                return Err(bad(&format!(
                    "its prev does not match the hash of record {} (the chain is broken here)",
                    seq - 1
                )));
            }
            if h.stored != Some(h.computed) {
                return Err(bad(
                    "its content does not match its hash (the record was edited)",
                ));
            }
            prev = h.computed;
            frontier.push(&h.computed);
            while let Some(cp) = cps.next_if(|c| c.tree_size == frontier.size()) {
                checker.check(cp, &frontier).map_err(fail)?;
            }
            if let Some(cp) = cps.peek()
                && cp.tree_size < frontier.size()
            {
                return Err(fail(format!(
                    "checkpoint {} claims {} records, which is not where it stands",
                    cp.n, cp.tree_size
                )));
            }
        }
        if let Some((seq, what)) = piece.bad {
            let expect = frontier.size() + 1;
            if seq != expect {
                return Err(fail(format!(
                    "record {expect} is missing (the next record is {seq})"
                )));
            }
            return Err(fail(format!("record {seq}: {what}")));
        }
        Ok(())
    };
    // Each worker reads on its own read-only connection; the records up to `last` never
    // change under an honest writer, and a dishonest one is what this check is for.
    in_order(
        last.div_ceil(VERIFY_CHUNK),
        || Ok((store.reader()?, Vec::with_capacity(512))),
        |(reader, buf), c| {
            let (lo, hi) = (c * VERIFY_CHUNK, ((c + 1) * VERIFY_CHUNK).min(last));
            hash_range(reader.as_mut(), lo, hi, buf)
        },
        &mut check,
    )?;
    if let Some(cp) = cps.next() {
        return Err(fail(format!(
            "checkpoint {} covers {} records but only {} exist: records were deleted from the end",
            cp.n,
            cp.tree_size,
            frontier.size()
        )));
    }
    let consistent_with = check_known(known, public_key.as_deref(), &leaves)?;
    Ok(VerifyReport {
        records: frontier.size(),
        checkpoints: checkpoints.len() as u64,
        uncovered: frontier.size() - checker.last_size,
        newest: match (checkpoints.last(), &public_key) {
            (Some(cp), Some(pk)) => Some(super::witness::SignedCheckpoint::new(cp, pk)),
            _ => None,
        },
        public_key,
        consistent_with,
    })
}

/// Prove the verified log (its record hashes `leaves`) consistent with each checkpoint kept
/// elsewhere, `(where it was kept, checkpoint)`; the first that it contradicts fails (exit 3).
fn check_known(
    known: &[(String, super::witness::SignedCheckpoint)],
    public_key: Option<&str>,
    leaves: &[Hash],
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (whence, cp) in known {
        cp.check(public_key, leaves)
            .map_err(|e| Failure::verify(format!("audit verify: {e} ({whence})")))?;
        out.push(format!("{} ({whence})", cp.label()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Export

fn export_tx(
    tx: &mut dyn Tx,
    out: &mut (dyn Write + Send),
    key: &SigningKey,
    at_ms: i64,
) -> anyhow::Result<u64> {
    let public_key: Option<String> = tx.meta("public_key")?;
    let checkpoints = tx.checkpoints()?.map_err(|e| anyhow!("{e}"))?;
    let (Some(public_key), Some(last)) = (public_key, checkpoints.last()) else {
        bail!("the audit log is empty: nothing to export");
    };
    if public_key != hex::encode(key.verifying_key().as_bytes()) {
        bail!("the audit key is not the key this audit log is signed with; cannot sign an export");
    }
    let covered = last.tree_size;
    let mut w = std::io::BufWriter::new(out);
    writeln!(
        w,
        "{{\"type\":\"header\",\"format\":\"{FORMAT}\",\"public_key\":\"{public_key}\"}}"
    )?;
    let mut cps = checkpoints.iter().peekable();
    let mut line = Vec::with_capacity(512);
    let mut count = 0u64;
    tx.audit_scan(0, covered, &mut |r| {
        let seq = r.seq;
        let malformed = || anyhow!("audit record {seq} is malformed; run `blastdoor audit verify`");
        let (Some(at), Some(kind), Some(actor), Some(via), Ok(action_id), Some(detail)) =
            (r.at, r.kind, r.actor, r.via, r.action_id, r.detail)
        else {
            return Err(malformed());
        };
        let (Some(prev), Some(hash)) = (r.prev, r.hash) else {
            return Err(malformed());
        };
        line.clear();
        let _ = write!(
            line,
            "{{\"type\":\"record\",\"seq\":{seq},\"at\":{at},\"kind\":"
        );
        push_json_str(&mut line, kind);
        line.extend_from_slice(b",\"actor\":");
        push_json_str(&mut line, actor);
        line.extend_from_slice(b",\"via\":");
        push_json_str(&mut line, via);
        line.extend_from_slice(b",\"action_id\":");
        match action_id {
            Some(a) => push_json_str(&mut line, a),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"detail\":");
        // Stored canonical text, written verbatim: re-serialising through Value could alter a
        // float and make the export disagree with its own hash.
        line.extend_from_slice(detail.as_bytes());
        line.extend_from_slice(b",\"prev\":\"");
        push_hex(&mut line, prev);
        line.extend_from_slice(b"\",\"hash\":\"");
        push_hex(&mut line, hash);
        line.extend_from_slice(b"\"}\n");
        w.write_all(&line)?;
        count += 1;
        while let Some(cp) = cps.next_if(|c| c.tree_size <= seq) {
            write_checkpoint_line(&mut w, cp)?;
        }
        Ok(true)
    })?;
    let signature = key
        .sign(final_checkpoint_message(last.n, covered, &last.root, at_ms).as_bytes())
        .to_bytes();
    writeln!(
        w,
        "{{\"type\":\"checkpoint\",\"final\":true,\"n\":{},\"tree_size\":{covered},\"root\":\"{}\",\"at\":{at_ms},\"signature\":\"{}\"}}",
        last.n,
        hex::encode(last.root),
        hex::encode(signature)
    )?;
    w.flush()?;
    Ok(count)
}

fn write_checkpoint_line(w: &mut dyn Write, cp: &Checkpoint) -> std::io::Result<()> {
    writeln!(
        w,
        "{{\"type\":\"checkpoint\",\"n\":{},\"tree_size\":{},\"root\":\"{}\",\"at\":{},\"signature\":\"{}\"}}",
        cp.n,
        cp.tree_size,
        hex::encode(cp.root),
        cp.at,
        hex::encode(cp.signature)
    )
}

// ---------------------------------------------------------------------------------------------
// Verifying an export

/// One export line; which fields must be present depends on `type`. Parsed as one flat struct
/// because `detail` is taken as raw text (see `canonical`), which serde's tagged enums cannot do.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    format: Option<String>,
    public_key: Option<String>,
    seq: Option<u64>,
    at: Option<i64>,
    #[serde(default, borrow, deserialize_with = "cow")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow")]
    actor: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow")]
    via: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    action_id: Option<Option<String>>,
    #[serde(default, borrow, deserialize_with = "raw")]
    detail: Option<&'a serde_json::value::RawValue>,
    #[serde(default, borrow, deserialize_with = "cow")]
    prev: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow")]
    hash: Option<Cow<'a, str>>,
    n: Option<u64>,
    tree_size: Option<u64>,
    #[serde(default, borrow, deserialize_with = "cow")]
    root: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow")]
    signature: Option<Cow<'a, str>>,
    #[serde(rename = "final")]
    is_final: Option<bool>,
}

/// A string borrowed from the line when it holds no escapes: one allocation fewer per field and
/// record when verifying a large export.
fn cow<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }
    d.deserialize_str(V).map(Some)
}

/// `detail` as raw text, `null` included (plain `Option` would read `null` as absent).
fn raw<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<&'de serde_json::value::RawValue>, D::Error> {
    <&serde_json::value::RawValue>::deserialize(d).map(Some)
}

/// Distinguishes `"action_id": null` (Some(None)) from a missing field (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Line<'_> {
    fn only(&self, allowed: &[&str]) -> Result<(), String> {
        let fields = [
            ("format", self.format.is_some()),
            ("public_key", self.public_key.is_some()),
            ("seq", self.seq.is_some()),
            ("at", self.at.is_some()),
            ("kind", self.kind.is_some()),
            ("actor", self.actor.is_some()),
            ("via", self.via.is_some()),
            ("action_id", self.action_id.is_some()),
            ("detail", self.detail.is_some()),
            ("prev", self.prev.is_some()),
            ("hash", self.hash.is_some()),
            ("n", self.n.is_some()),
            ("tree_size", self.tree_size.is_some()),
            ("root", self.root.is_some()),
            ("signature", self.signature.is_some()),
            ("final", self.is_final.is_some()),
        ];
        for (name, set) in fields {
            if set != allowed.contains(&name) {
                return Err(if set {
                    format!("unexpected field {name:?} in a {} line", self.ty)
                } else {
                    format!("missing field {name:?}")
                });
            }
        }
        Ok(())
    }
}

/// Why a line of an export could not be read at all.
enum LineError {
    NotUtf8,
    Json(String),
}

/// An export line as a verify worker parsed it.
struct Parsed<'a> {
    line: Result<Line<'a>, LineError>,
    /// For a record line: its hash recomputed over the prev the line states, or why its detail
    /// is not acceptable JSON.
    hash: Option<Result<Hash, String>>,
}

/// The part of checking a line that does not depend on the lines before it.
fn parse_line<'a>(raw: &'a [u8], buf: &mut Vec<u8>) -> Parsed<'a> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Parsed {
            line: Err(LineError::NotUtf8),
            hash: None,
        };
    };
    let l: Line<'a> = match serde_json::from_str(text) {
        Ok(l) => l,
        Err(e) => {
            return Parsed {
                line: Err(LineError::Json(e.to_string())),
                hash: None,
            };
        }
    };
    let hash = (l.ty == "record").then(|| {
        let detail = l.detail.map(|d| d.get()).unwrap_or_default();
        let detail = canonical::canonical_cow(detail).map_err(|e| e.to_string())?;
        let prev = parse_hex::<32>(l.prev.as_deref().unwrap_or_default()).unwrap_or(GENESIS);
        encode_record(
            buf,
            l.seq.unwrap_or_default(),
            l.at.unwrap_or_default(),
            l.kind.as_deref().unwrap_or_default(),
            l.actor.as_deref().unwrap_or_default(),
            l.via.as_deref().unwrap_or_default(),
            l.action_id.as_ref().and_then(|a| a.as_deref()),
            &detail,
            &prev,
        );
        Ok(sha256(buf))
    });
    Parsed { line: Ok(l), hash }
}

/// Verify an export on its own: the header's key, every record's hash and link, every
/// checkpoint, and that the last line is a checkpoint covering every record. A problem is a
/// `Failure::verify` (exit 3) naming the line and the record.
pub fn verify_export(bytes: &[u8]) -> anyhow::Result<VerifyReport> {
    verify_export_against(bytes, &[])
}

/// `verify_export`, and prove the export consistent with each checkpoint kept elsewhere.
pub fn verify_export_against(
    bytes: &[u8],
    known: &[(String, super::witness::SignedCheckpoint)],
) -> anyhow::Result<VerifyReport> {
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // The final newline ends the last line; it does not start an empty one.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut public_key = None;
    let mut checker = CheckpointChecker {
        key: None,
        last_n: 0,
        last_size: 0,
    };
    let mut frontier = Frontier::new();
    let mut prev = GENESIS;
    let mut final_seen = false;
    let mut leaves: Vec<Hash> = Vec::new();
    let mut i = 0usize;
    let mut check = |parsed: Vec<Parsed<'_>>| -> anyhow::Result<()> {
        for p in parsed {
            let lineno = i + 1;
            let expect = frontier.size() + 1;
            let fail = |m: String| Failure::verify(format!("audit verify: line {lineno}: {m}"));
            let l = match p.line {
                Ok(l) => l,
                Err(LineError::NotUtf8) => {
                    return Err(fail(format!(
                        "not UTF-8 (damaged near record {expect} or the checkpoint after record {})",
                        expect - 1
                    )));
                }
                Err(LineError::Json(_)) if final_seen => {
                    return Err(fail(
                        "a line after the final checkpoint (lines were appended or moved)".into(),
                    ));
                }
                Err(LineError::Json(e)) => {
                    return Err(fail(format!(
                        "not a valid audit line ({e}); expected record {expect} or the checkpoint \
                     after record {}",
                        expect - 1
                    )));
                }
            };
            if final_seen {
                return Err(fail(
                    "a line after the final checkpoint (lines were appended or moved)".into(),
                ));
            }
            if (i == 0) != (l.ty == "header") {
                return Err(fail(if i == 0 {
                    "the first line must be the header".into()
                } else {
                    "a second header".into()
                }));
            }
            match l.ty.as_ref() {
                "header" => {
                    l.only(&["format", "public_key"]).map_err(fail)?;
                    if l.format.as_deref() != Some(FORMAT) {
                        return Err(fail(format!(
                            "format {:?}, want {FORMAT:?}",
                            l.format.unwrap_or_default()
                        )));
                    }
                    let pk = l.public_key.unwrap_or_default();
                    checker.key = Some(
                        parse_hex::<32>(&pk)
                            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                            .ok_or_else(|| fail("malformed public key".into()))?,
                    );
                    public_key = Some(pk);
                }
                "record" => {
                    l.only(&[
                        "seq",
                        "at",
                        "kind",
                        "actor",
                        "via",
                        "action_id",
                        "detail",
                        "prev",
                        "hash",
                    ])
                    .map_err(|m| fail(format!("record {}: {m}", l.seq.unwrap_or(expect))))?;
                    let seq = l.seq.unwrap_or_default();
                    if seq != expect {
                        return Err(fail(format!(
                            "record {seq} where record {expect} belongs: a record was deleted, \
                         inserted or moved"
                        )));
                    }
                    let bad = |m: &str| fail(format!("record {seq}: {m}"));
                    // Hashed by a worker over the prev the line states, checked to be the real one
                    // just below.
                    let hash = match p.hash {
                        Some(Ok(h)) => h,
                        Some(Err(e)) => {
                            return Err(bad(&format!("detail is not acceptable JSON: {e}")));
                        }
                        None => unreachable!("every record line is hashed"),
                    };
                    if parse_hex::<32>(l.prev.as_deref().unwrap_or_default()) != Some(prev) {
                        return Err(bad(&format!(
                            "its prev does not match the hash of record {} (the chain is broken here)",
                            seq - 1
                        )));
                    }
                    if parse_hex::<32>(l.hash.as_deref().unwrap_or_default()) != Some(hash) {
                        return Err(bad(
                            "its content does not match its hash (the record was edited)",
                        ));
                    }
                    prev = hash;
                    frontier.push(&hash);
                    if !known.is_empty() {
                        leaves.push(hash);
                    }
                }
                "checkpoint" => {
                    let is_final = match l.is_final {
                        None => false,
                        Some(true) => true,
                        Some(false) => {
                            return Err(fail("checkpoint: \"final\" is true or absent".into()));
                        }
                    };
                    let mut fields = vec!["n", "tree_size", "root", "at", "signature"];
                    if is_final {
                        fields.push("final");
                    }
                    l.only(&fields)
                        .map_err(|m| fail(format!("checkpoint: {m}")))?;
                    let n = l.n.unwrap_or_default();
                    let bad = |m: &str| fail(format!("checkpoint {n}: {m}"));
                    let cp = Checkpoint {
                        n,
                        tree_size: l.tree_size.unwrap_or_default(),
                        root: parse_hex(l.root.as_deref().unwrap_or_default())
                            .ok_or_else(|| bad("malformed root"))?,
                        at: l.at.unwrap_or_default(),
                        signature: parse_hex(l.signature.as_deref().unwrap_or_default())
                            .ok_or_else(|| bad("malformed signature"))?,
                    };
                    if is_final {
                        checker.check_final(&cp, &frontier).map_err(fail)?;
                        final_seen = true;
                    } else {
                        checker.check(&cp, &frontier).map_err(fail)?;
                    }
                }
                other => return Err(fail(format!("unknown line type {other:?}"))),
            }
            i += 1;
        }
        Ok(())
    };
    let n = lines.len() as u64;
    in_order(
        n.div_ceil(VERIFY_CHUNK),
        || Ok(Vec::with_capacity(512)),
        |buf, c| {
            let (lo, hi) = (c * VERIFY_CHUNK, ((c + 1) * VERIFY_CHUNK).min(n));
            Ok(lines[lo as usize..hi as usize]
                .iter()
                .map(|raw| parse_line(raw, buf))
                .collect::<Vec<_>>())
        },
        &mut check,
    )?;
    if lines.is_empty() {
        return Err(Failure::verify(
            "audit verify: the file is empty (no header)",
        ));
    }
    if !final_seen {
        return Err(Failure::verify(format!(
            "audit verify: line {}: the export ends without its final checkpoint over its {} \
             records (truncated: records or the final checkpoint were cut{})",
            lines.len(),
            frontier.size(),
            if checker.last_size < frontier.size() {
                format!("; records after {} are not covered", checker.last_size)
            } else {
                String::new()
            }
        )));
    }
    let consistent_with = check_known(known, public_key.as_deref(), &leaves)?;
    Ok(VerifyReport {
        records: frontier.size(),
        checkpoints: checker.last_n,
        uncovered: 0,
        public_key,
        newest: None,
        consistent_with,
    })
}
