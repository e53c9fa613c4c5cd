//! A checkpoint kept outside the log it signs, so that cutting the log's tail is caught.
//!
//! A log that loses its newest records together with their checkpoints (deleted by someone who
//! can write the database, or lost with a WAL file) still verifies on its own: every record left
//! is chained and every checkpoint left is signed. What catches it is a checkpoint seen earlier:
//! `audit verify` remembers the newest checkpoint it verified, in the responder's own data dir
//! (never in the shared state), and from then on proves the log consistent with it (an RFC 6962
//! consistency proof from the remembered tree to the current one). `audit checkpoint` prints one
//! to keep elsewhere (a ticket, a witness), and `audit verify --checkpoint FILE` checks against it.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::Location;
use super::audit::{Checkpoint, checkpoint_message};
use super::merkle::{Hash, consistency_proof, root_of, verify_consistency};
use crate::core::workflow::ts;

/// The `format` of a checkpoint file.
pub const FORMAT: &str = "blastdoor-audit-checkpoint-v1";

/// A signed checkpoint with the key that signed it, as a file a responder keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    pub format: String,
    /// The Ed25519 public key of the log, hex.
    pub public_key: String,
    pub n: u64,
    pub tree_size: u64,
    /// The RFC 6962 root over records `1..=tree_size`, hex.
    pub root: String,
    /// When it was signed, ms since the epoch.
    pub at: i64,
    /// Ed25519 over `checkpoint_message(n, tree_size, root, at)`, hex.
    pub signature: String,
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

impl SignedCheckpoint {
    pub fn new(cp: &Checkpoint, public_key: &str) -> SignedCheckpoint {
        SignedCheckpoint {
            format: FORMAT.into(),
            public_key: public_key.to_string(),
            n: cp.n,
            tree_size: cp.tree_size,
            root: hex::encode(cp.root),
            at: cp.at,
            signature: hex::encode(cp.signature),
        }
    }

    /// One line for messages: `checkpoint 12 (340 records, 2026-12-03T10:00:00.000Z)`.
    pub fn label(&self) -> String {
        format!(
            "checkpoint {} ({} records, signed {})",
            self.n,
            self.tree_size,
            ts::format(self.at)
        )
    }

    /// Read a checkpoint file; problems name the file.
    pub fn load(path: &Path) -> anyhow::Result<SignedCheckpoint> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        let cp: SignedCheckpoint = serde_json::from_str(text.trim()).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a checkpoint (`blastdoor audit checkpoint` writes one): {e}",
                path.display()
            )
        })?;
        if cp.format != FORMAT {
            anyhow::bail!(
                "{}: format {:?}, want {FORMAT:?}",
                path.display(),
                cp.format
            );
        }
        Ok(cp)
    }

    /// Its signature holds under its own key.
    fn signed(&self) -> Result<[u8; 32], String> {
        let root = hex32(&self.root).ok_or("its root is not 32 bytes of hex")?;
        let key = hex32(&self.public_key)
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or("its public key is malformed")?;
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or("its signature is malformed")?;
        let msg = checkpoint_message(self.n, self.tree_size, &root, self.at);
        key.verify(msg.as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| "its signature does not verify".to_string())?;
        Ok(root)
    }

    /// Prove the log whose record hashes are `leaves`, signed with `public_key`, consistent with
    /// this checkpoint; the reason it is not, otherwise.
    pub fn check(&self, public_key: Option<&str>, leaves: &[Hash]) -> Result<(), String> {
        let old = self
            .signed()
            .map_err(|e| format!("{}: {e}", self.label()))?;
        if public_key != Some(self.public_key.as_str()) {
            return Err(format!(
                "the log is signed with key {} but {} was signed with {}: its signing key was \
                 replaced, or this is another log",
                public_key.unwrap_or("(none)"),
                self.label(),
                self.public_key
            ));
        }
        let n = leaves.len() as u64;
        if n < self.tree_size {
            return Err(format!(
                "the log has {n} records but {} covered {}: records {}..={} were cut from the \
                 end (deleted, or lost with the database's newest writes)",
                self.label(),
                self.tree_size,
                n + 1,
                self.tree_size
            ));
        }
        let proof = consistency_proof(self.tree_size, leaves);
        if !verify_consistency(self.tree_size, n, &old, &root_of(leaves), &proof) {
            return Err(format!(
                "records 1..={} are not those {} signed: the log was rewritten or forked since",
                self.tree_size,
                self.label()
            ));
        }
        Ok(())
    }
}

/// Where this user keeps the newest checkpoint verified for the state at `loc`: one file per
/// state (a folder by its canonical path, a database by host, port and name) under `witness/`
/// in the user's own data dir.
pub fn remembered_path(loc: &Location) -> Option<PathBuf> {
    use sha2::Digest;
    let data = directories::ProjectDirs::from("", "", "blastdoor")?
        .data_local_dir()
        .join("witness");
    let id = hex::encode(sha2::Sha256::digest(loc.identity().as_bytes()));
    Some(data.join(format!("{}.json", &id[..24])))
}

/// The checkpoint remembered for the state at `loc`, if any; a damaged file is an error.
pub fn remembered(loc: &Location) -> anyhow::Result<Option<(PathBuf, SignedCheckpoint)>> {
    let Some(path) = remembered_path(loc) else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    SignedCheckpoint::load(&path).map(|c| Some((path, c)))
}

/// Remember `cp` for the state at `loc` (written whole, then renamed into place, mode 0600).
pub fn remember(loc: &Location, cp: &SignedCheckpoint) -> anyhow::Result<()> {
    let Some(path) = remembered_path(loc) else {
        return Ok(());
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", parent.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(cp)? + "\n";
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
    Ok(())
}
