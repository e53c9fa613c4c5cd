//! The demo's throwaway responders, so that a first-time user can play both sides of the
//! two-person rule without making keys: two Ed25519 keys made for the demo (`demo-alice`,
//! `demo-bob`), an allowed signers file naming them and a policy asking one approval besides
//! the proposer, all kept in the demo's own state folder (`demo-responders/`) and loaded by
//! nothing but the demo console. Their principals say `demo-`, so the audit log shows what they
//! were. The console never offers them when a real key (`--key`, ssh-agent) or a policy is
//! given: `main` decides that, this module only makes and finds them.

use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, LineEnding, PrivateKey};

/// The demo's responders, in the order the console plays them.
pub const NAMES: [&str; 2] = ["demo-alice", "demo-bob"];

/// Where the demo's responders live.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoResponders {
    /// The policy that names them (its allowed signers file beside it).
    pub policy: PathBuf,
    /// `(principal, private key file)`, in `NAMES` order.
    pub keys: Vec<(String, PathBuf)>,
}

/// The demo's responders in `state/demo-responders/`, made the first time and kept after (the
/// demo's queue and audit log keep naming the same keys).
pub fn ensure(state: &Path) -> anyhow::Result<DemoResponders> {
    let dir = state.join("demo-responders");
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot make the demo's keys: {e}", dir.display()))?;
    let mut allowed = String::new();
    let mut keys = Vec::new();
    for name in NAMES {
        let path = dir.join(name);
        let key = match PrivateKey::read_openssh_file(&path) {
            Ok(k) => k,
            Err(_) => {
                let k = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519)?;
                k.write_openssh_file(&path, LineEnding::LF)?;
                restrict(&path)?;
                k
            }
        };
        allowed.push_str(&format!(
            "{name} {} {name} (a throwaway demo key)\n",
            key.public_key().to_openssh()?
        ));
        keys.push((name.to_string(), path));
    }
    std::fs::write(dir.join("allowed_signers"), allowed)?;
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "# The demo's own policy: its two throwaway responders, one approval besides the proposer.\n\
         allowed_signers = \"allowed_signers\"\napproval_ttl = \"15m\"\n[[rule]]\nkinds = [\"*\"]\napprovals = 1\n",
    )?;
    Ok(DemoResponders { policy, keys })
}

/// A private key readable by its owner only.
fn restrict(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_keys_are_made_once_kept_in_the_demo_state_and_named_as_demo_keys() {
        let dir = tempfile::tempdir().unwrap();
        let a = ensure(dir.path()).unwrap();
        assert_eq!(
            a.keys.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            NAMES
        );
        assert!(a.policy.starts_with(dir.path()));
        let signers = std::fs::read_to_string(a.policy.with_file_name("allowed_signers")).unwrap();
        assert!(
            signers.contains("demo-bob ssh-ed25519 ") && signers.contains("throwaway demo key")
        );
        let first = std::fs::read(&a.keys[0].1).unwrap();
        let again = ensure(dir.path()).unwrap();
        assert_eq!(again, a);
        assert_eq!(
            std::fs::read(&a.keys[0].1).unwrap(),
            first,
            "kept, not remade"
        );
        let policy = crate::core::policy::Policy::load(&a.policy).unwrap();
        let auth = crate::auth::AllowedSigners::load(policy.allowed_signers.as_deref().unwrap());
        assert!(auth.is_ok(), "{auth:?}");
    }
}
