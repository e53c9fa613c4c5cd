//! A minimal ssh-agent client (draft-miller-ssh-agent): list identities, sign. Enough to make
//! SSHSIG approvals with a key that never leaves the agent, without a second `ssh-key` version.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, HashAlg, PublicKey, Signature, SshSig};

const FAILURE: u8 = 5;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
const RSA_SHA2_512: u32 = 4;

/// A key held by the agent at `socket`.
#[derive(Debug, Clone)]
pub struct AgentKey {
    pub socket: PathBuf,
    pub key: PublicKey,
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> anyhow::Result<u32> {
        anyhow::ensure!(self.0.len() >= 4, "ssh-agent: short answer");
        let (h, t) = self.0.split_at(4);
        self.0 = t;
        Ok(u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
    }
    fn string(&mut self) -> anyhow::Result<&'a [u8]> {
        let n = self.u32()? as usize;
        anyhow::ensure!(self.0.len() >= n, "ssh-agent: short answer");
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Ok(h)
    }
}

fn request(socket: &Path, msg: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        anyhow::anyhow!(
            "ssh-agent at SSH_AUTH_SOCK={}: cannot connect: {e}",
            socket.display()
        )
    })?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut framed = Vec::with_capacity(msg.len() + 4);
    put_string(&mut framed, msg);
    s.write_all(&framed)?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = u32::from_be_bytes(len) as usize;
    anyhow::ensure!(n > 0 && n < 1 << 20, "ssh-agent: bad answer length {n}");
    let mut body = vec![0u8; n];
    s.read_exact(&mut body)?;
    Ok(body)
}

/// The keys the agent holds.
pub fn list(socket: &Path) -> anyhow::Result<Vec<PublicKey>> {
    let body = request(socket, &[REQUEST_IDENTITIES])?;
    anyhow::ensure!(
        body.first() == Some(&IDENTITIES_ANSWER),
        "ssh-agent: unexpected answer to a key listing"
    );
    let mut r = Reader(&body[1..]);
    let n = r.u32()?;
    let mut keys = Vec::new();
    for _ in 0..n {
        let blob = r.string()?;
        let _comment = r.string()?;
        if let Ok(k) = PublicKey::from_bytes(blob) {
            keys.push(k);
        }
    }
    Ok(keys)
}

impl AgentKey {
    /// An SSHSIG over `msg` in `namespace`, signed by the agent.
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> anyhow::Result<SshSig> {
        let data = SshSig::signed_data(namespace, HashAlg::Sha512, msg)?;
        let blob = self.key.to_bytes()?;
        let mut m = vec![SIGN_REQUEST];
        put_string(&mut m, &blob);
        put_string(&mut m, &data);
        let flags = if matches!(self.key.algorithm(), Algorithm::Rsa { .. }) {
            RSA_SHA2_512
        } else {
            0
        };
        m.extend_from_slice(&flags.to_be_bytes());
        let body = request(&self.socket, &m)?;
        match body.first() {
            Some(&SIGN_RESPONSE) => {}
            Some(&FAILURE) => anyhow::bail!(
                "ssh-agent refused to sign with {} (locked, or confirmation denied)",
                super::fingerprint(self.key.key_data())
            ),
            _ => anyhow::bail!("ssh-agent: unexpected answer to a sign request"),
        }
        let mut r = Reader(&body[1..]);
        let sig_blob = r.string()?;
        let mut s = Reader(sig_blob);
        let alg = std::str::from_utf8(s.string()?)?;
        let bytes = s.string()?;
        let sig = Signature::new(Algorithm::new(alg)?, bytes.to_vec())?;
        Ok(SshSig::new(
            self.key.key_data().clone(),
            namespace,
            HashAlg::Sha512,
            sig,
        )?)
    }
}
