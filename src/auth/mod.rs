//! Who is who: a responder is the holder of an SSH key, named by an `allowed_signers` file in
//! git's format (`principal[,principal…] [options] keytype base64 [comment]`). Approvals are
//! SSHSIG signatures (namespace `blastdoor-action`, SHA-512) over the action hash.
//!
//! The key comes from `--key FILE` (an OpenSSH private key; an encrypted one is unlocked with
//! `BLASTDOOR_KEY_PASSPHRASE`) or from ssh-agent via `SSH_AUTH_SOCK` (the first key the agent
//! holds that the allowed signers name). Private keys are never printed: only fingerprints.

pub mod agent;
pub mod approval;
pub mod endpoint;

use std::path::{Path, PathBuf};

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig, public::KeyData};

/// The SSHSIG namespace of action approvals.
pub const NAMESPACE: &str = "blastdoor-action";

/// Equal without telling by its timing where the first difference is (bearer tokens).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `SHA256:…` of a public key.
pub fn fingerprint(k: &KeyData) -> String {
    k.fingerprint(HashAlg::Sha256).to_string()
}

/// One line of an allowed signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    pub principals: Vec<String>,
    pub key: KeyData,
    /// `namespaces="…"`, if restricted.
    pub namespaces: Option<Vec<String>>,
    pub line: usize,
}

/// The allowed signers file: who each key belongs to.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    pub signers: Vec<AllowedSigner>,
    pub source: String,
}

/// Split a line into whitespace-separated fields, keeping quoted runs together.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Split `a,b="x,y",c` at the commas outside quotes.
fn split_options(o: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in o.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn is_keytype(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

impl AllowedSigners {
    /// Parse the file's text; every bad line is named (`NAME:LINE: …`).
    pub fn parse(text: &str, name: &str) -> Result<AllowedSigners, Vec<String>> {
        let mut signers = Vec::new();
        let mut problems = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f = fields(line);
            let at = format!("{name}:{}", i + 1);
            if f.len() < 3 {
                problems.push(format!(
                    "{at}: want `principal[,principal…] [options] keytype base64`"
                ));
                continue;
            }
            let principals: Vec<String> = f[0]
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            let (options, kt) = if is_keytype(&f[1]) {
                (None, 1)
            } else {
                (Some(f[1].as_str()), 2)
            };
            let Some(b64) = f.get(kt + 1) else {
                problems.push(format!("{at}: no key after the key type"));
                continue;
            };
            let key = match PublicKey::from_openssh(&format!("{} {}", f[kt], b64)) {
                Ok(k) => k.key_data().clone(),
                Err(e) => {
                    problems.push(format!("{at}: the key does not parse: {e}"));
                    continue;
                }
            };
            let mut namespaces = None;
            for opt in options.map(split_options).into_iter().flatten() {
                if let Some(v) = opt.strip_prefix("namespaces=") {
                    namespaces = Some(
                        v.trim_matches('"')
                            .split(',')
                            .map(str::to_string)
                            .collect::<Vec<_>>(),
                    );
                }
            }
            signers.push(AllowedSigner {
                principals,
                key,
                namespaces,
                line: i + 1,
            });
        }
        if problems.is_empty() {
            Ok(AllowedSigners {
                signers,
                source: name.to_string(),
            })
        } else {
            Err(problems)
        }
    }

    pub fn load(path: &Path) -> Result<AllowedSigners, Vec<String>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("allowed_signers {name}: cannot read: {e}")])?;
        AllowedSigners::parse(&text, &name)
    }

    /// The principal `key` belongs to, for the approval namespace.
    pub fn principal_of(&self, key: &KeyData) -> Option<&str> {
        self.signers
            .iter()
            .filter(|s| {
                s.namespaces
                    .as_ref()
                    .is_none_or(|n| n.iter().any(|n| n == NAMESPACE || n == "*"))
            })
            .find(|s| &s.key == key)
            .and_then(|s| s.principals.first().map(String::as_str))
    }

    /// Check an armored SSHSIG over `msg`; the signer's principal, or why not.
    pub fn verify(&self, armored: &str, msg: &[u8]) -> Result<(String, String), String> {
        let sig = SshSig::from_pem(armored).map_err(|e| format!("not an SSH signature: {e}"))?;
        let key = sig.public_key().clone();
        let fp = fingerprint(&key);
        let principal = self.principal_of(&key).ok_or_else(|| {
            format!(
                "the key {fp} is not in the allowed signers ({})",
                self.source
            )
        })?;
        PublicKey::from(key)
            .verify(NAMESPACE, msg, &sig)
            .map_err(|e| format!("the signature by {fp} ({principal}) does not verify: {e}"))?;
        Ok((principal.to_string(), fp))
    }
}

/// Where the responder's key lives.
pub enum Signer {
    File { key: Box<PrivateKey>, path: PathBuf },
    Agent(agent::AgentKey),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "Signer({})", self.fingerprint())
    }
}

impl Signer {
    /// Load an OpenSSH private key file. Errors name the file, never its contents.
    pub fn from_file(path: &Path) -> anyhow::Result<Signer> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--key {}: cannot read: {e}", path.display()))?;
        let mut key = PrivateKey::from_openssh(text.trim_start()).map_err(|e| {
            anyhow::anyhow!("--key {}: not an OpenSSH private key ({e})", path.display())
        })?;
        if key.is_encrypted() {
            let pass = std::env::var("BLASTDOOR_KEY_PASSPHRASE").map_err(|_| {
                anyhow::anyhow!(
                    "--key {}: the key is encrypted; load it into ssh-agent, or set BLASTDOOR_KEY_PASSPHRASE",
                    path.display()
                )
            })?;
            key = key
                .decrypt(pass.as_bytes())
                .map_err(|_| anyhow::anyhow!("--key {}: wrong passphrase", path.display()))?;
        }
        Ok(Signer::File {
            key: Box::new(key),
            path: path.to_path_buf(),
        })
    }

    /// From ssh-agent: the first key it holds that `allowed` names (or its first key).
    pub fn from_agent(allowed: Option<&AllowedSigners>) -> anyhow::Result<Option<Signer>> {
        let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let keys = agent::list(Path::new(&sock))?;
        let pick = keys
            .iter()
            .find(|k| allowed.is_some_and(|a| a.principal_of(k.key_data()).is_some()))
            .or(keys.first());
        Ok(pick.map(|k| {
            Signer::Agent(agent::AgentKey {
                socket: PathBuf::from(&sock),
                key: k.clone(),
            })
        }))
    }

    pub fn public_key(&self) -> KeyData {
        match self {
            Signer::File { key, .. } => key.public_key().key_data().clone(),
            Signer::Agent(a) => a.key.key_data().clone(),
        }
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_key())
    }

    /// An armored SSHSIG over `msg` in the approval namespace.
    pub fn sign(&self, msg: &[u8]) -> anyhow::Result<String> {
        let sig = match self {
            Signer::File { key, .. } => key
                .sign(NAMESPACE, HashAlg::Sha512, msg)
                .map_err(|e| anyhow::anyhow!("cannot sign with {}: {e}", self.fingerprint()))?,
            Signer::Agent(a) => a.sign(NAMESPACE, msg)?,
        };
        Ok(sig.to_pem(LineEnding::LF)?)
    }

    /// Who this key is, or a refusal naming its fingerprint.
    pub fn principal(&self, allowed: &AllowedSigners) -> Result<String, String> {
        let k = self.public_key();
        allowed.principal_of(&k).map(str::to_string).ok_or_else(|| {
            format!(
                "the key {} is not in the allowed signers ({}): ask an administrator to add it",
                fingerprint(&k),
                allowed.source
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::Algorithm;

    fn key() -> PrivateKey {
        PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap()
    }

    #[test]
    fn sign_verify_and_name_the_signer() {
        let (a, b) = (key(), key());
        let text = format!(
            "# team\nalice,al {}\nbob namespaces=\"git,blastdoor-action\" {}\n",
            a.public_key().to_openssh().unwrap(),
            b.public_key().to_openssh().unwrap()
        );
        let allowed = AllowedSigners::parse(&text, "allowed_signers").unwrap();
        let sa = Signer::File {
            key: Box::new(a),
            path: "a".into(),
        };
        let sig = sa.sign(b"sha256:abc").unwrap();
        assert_eq!(allowed.verify(&sig, b"sha256:abc").unwrap().0, "alice");
        assert!(allowed.verify(&sig, b"sha256:abd").is_err());
        let sb = Signer::File {
            key: Box::new(b),
            path: "b".into(),
        };
        assert_eq!(sb.principal(&allowed).unwrap(), "bob");
        let stranger = Signer::File {
            key: Box::new(key()),
            path: "c".into(),
        };
        let e = stranger.principal(&allowed).unwrap_err();
        assert!(
            e.contains(&stranger.fingerprint()) && e.contains("SHA256:"),
            "{e}"
        );
        let e = allowed
            .verify(&stranger.sign(b"x").unwrap(), b"x")
            .unwrap_err();
        assert!(e.contains("SHA256:"));
        assert!(!format!("{stranger:?}").contains("PRIVATE"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = AllowedSigners::parse("alice ssh-ed25519 AAAAnotakey\n", "f").unwrap_err();
        assert!(e[0].starts_with("f:1:"), "{e:?}");
    }
}
