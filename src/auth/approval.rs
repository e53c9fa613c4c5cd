//! Whether an action's approvals hold, checked where the action happens: by the desk before it
//! executes or rolls back, and by an agent before it acts on a `POST /v1/actions`. Nothing the
//! shared state or a request says is taken on trust: the hash is recomputed from the action's
//! content, every approval's SSHSIG is verified over that hash against the allowed signers, and
//! the number of approvals needed comes from the verifier's own policy, not from the action.

use crate::auth::AllowedSigners;
use crate::core::model::Millis;
use crate::core::workflow::{Action, Refusal, Rules, ts};

/// The message a responder signs to ask for a done action to be undone: never the same bytes
/// as an action hash, so neither signature can stand for the other.
pub fn rollback_message(hash: &str) -> String {
    format!("rollback {hash}")
}

/// What to check besides the signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Before acting: the action and each approval must still be live.
    Acting,
    /// Before undoing a done action: the approvals must be genuine, however old.
    Undoing,
}

/// The principals whose approvals verify, in order, or a refusal that names every problem.
pub fn verify(
    a: &Action,
    allowed: Option<&AllowedSigners>,
    rules: Rules,
    now: Millis,
    when: When,
) -> Result<Vec<String>, Refusal> {
    let computed = a.computed_hash();
    if a.hash != computed {
        return Err(Refusal(format!(
            "{}'s hash does not match its content (kind, identity, target, params, proposer, \
             expiry): it was changed after it was proposed, so no approval of it counts; stage it \
             again",
            a.id
        )));
    }
    if when == When::Acting && now >= a.expires_at {
        return Err(Refusal(format!(
            "{} expired at {}",
            a.id,
            ts::format(a.expires_at)
        )));
    }
    let mut approvers: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for ap in a
        .approvals
        .iter()
        .skip(a.stale_approvals.min(a.approvals.len()))
    {
        if ap.hash != a.hash {
            problems.push(format!(
                "{}'s approval is of an earlier version",
                ap.principal
            ));
            continue;
        }
        let Some(allowed) = allowed else {
            problems.push(format!(
                "{}'s approval cannot be checked: the policy names no allowed_signers file",
                ap.principal
            ));
            continue;
        };
        let signer = match allowed.verify(&ap.signature, a.hash.as_bytes()) {
            Ok((p, _)) => p,
            Err(e) => {
                problems.push(format!("the approval recorded as {}'s: {e}", ap.principal));
                continue;
            }
        };
        if signer != ap.principal {
            problems.push(format!(
                "an approval recorded as {}'s is signed by {signer}'s key",
                ap.principal
            ));
        }
        if signer == a.proposed_by.principal {
            problems.push(format!("{signer} proposed it and cannot approve it"));
            continue;
        }
        if when == When::Acting && !(ap.at <= now && now < ap.at.saturating_add(rules.approval_ttl))
        {
            problems.push(format!(
                "{signer}'s approval of {} is no longer live",
                ts::format(ap.at)
            ));
            continue;
        }
        if !approvers.contains(&signer) {
            approvers.push(signer);
        }
    }
    if (approvers.len() as u32) < rules.required_approvals {
        return Err(Refusal(format!(
            "{} needs {} verified approval(s) by someone other than {} and has {}{}",
            a.id,
            rules.required_approvals,
            a.proposed_by.principal,
            approvers.len(),
            if problems.is_empty() {
                String::new()
            } else {
                format!(": {}", problems.join("; "))
            }
        )));
    }
    Ok(approvers)
}

/// `verify` for an action a standing playbook proposed under a policy that pre-authorises it:
/// no approvals are needed, but its content must still hash to what was staged.
pub fn verify_playbook(a: &Action, rules: Rules, now: Millis, when: When) -> Result<(), Refusal> {
    let rules = Rules {
        required_approvals: 0,
        ..rules
    };
    verify(a, None, rules, now, when).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Signer;
    use crate::core::workflow::{self, Proposal, Proposer, Via};
    use ssh_key::{Algorithm, PrivateKey};

    const T0: Millis = 1_790_000_000_000;
    const RULES: Rules = Rules {
        required_approvals: 1,
        approval_ttl: 15 * 60_000,
        action_ttl: 24 * 3_600_000,
    };

    fn signer() -> Signer {
        Signer::File {
            key: Box::new(PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap()),
            path: "k".into(),
        }
    }

    fn setup() -> (Action, Signer, Signer, AllowedSigners) {
        let (alice, bob) = (signer(), signer());
        let text = format!(
            "alice {}\nbob {}\n",
            PublicKeyText(&alice),
            PublicKeyText(&bob)
        );
        let allowed = AllowedSigners::parse(&text, "allowed_signers").unwrap();
        let a = workflow::stage(
            Proposal {
                id: "act_1".into(),
                identity: "aws:arn:aws:iam::1:user/ci-bot".into(),
                kind: "aws.disable_access_key".into(),
                target: serde_json::json!({"identity": "aws:arn:aws:iam::1:user/ci-bot"}),
                params: serde_json::json!({"user": "ci-bot", "access_key_id": "AKIA1"}),
                proposed_by: Proposer {
                    principal: "alice".into(),
                    via: Via::Cli,
                    agent: None,
                },
                reason: "r".into(),
                evidence: vec![],
                reversible: true,
                dry_run: Default::default(),
            },
            RULES,
            false,
            T0,
        );
        (a, alice, bob, allowed)
    }

    struct PublicKeyText<'a>(&'a Signer);
    impl std::fmt::Display for PublicKeyText<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let k = ssh_key::PublicKey::from(self.0.public_key());
            f.write_str(&k.to_openssh().unwrap())
        }
    }

    fn approve(a: &mut Action, who: &str, s: &Signer, at: Millis) {
        let sig = s.sign(a.hash.as_bytes()).unwrap();
        workflow::approve(a, who, &sig, &s.fingerprint(), true, at, RULES).unwrap();
    }

    #[test]
    fn a_genuine_approval_by_another_responder_counts() {
        let (mut a, _, bob, allowed) = setup();
        approve(&mut a, "bob", &bob, T0 + 1);
        let ok = verify(&a, Some(&allowed), RULES, T0 + 2, When::Acting).unwrap();
        assert_eq!(ok, ["bob"]);
    }

    #[test]
    fn a_garbage_signature_written_into_the_state_does_not_count() {
        let (mut a, _, _, allowed) = setup();
        workflow::approve(&mut a, "bob", "garbage", "", true, T0 + 1, RULES).unwrap();
        let e = verify(&a, Some(&allowed), RULES, T0 + 2, When::Acting).unwrap_err();
        assert!(
            e.0.contains("needs 1 verified approval") && e.0.contains("bob"),
            "{e}"
        );
    }

    #[test]
    fn an_edited_identity_voids_every_approval() {
        let (mut a, _, bob, allowed) = setup();
        approve(&mut a, "bob", &bob, T0 + 1);
        a.identity = "aws:arn:aws:iam::1:user/innocent-admin".into();
        let e = verify(&a, Some(&allowed), RULES, T0 + 2, When::Acting).unwrap_err();
        assert!(e.0.contains("hash does not match"), "{e}");
    }

    #[test]
    fn an_approval_relabelled_as_someone_else_or_the_proposers_own_does_not_count() {
        let (mut a, alice, _, allowed) = setup();
        // alice signs her own action and records it as bob's.
        let sig = alice.sign(a.hash.as_bytes()).unwrap();
        workflow::approve(&mut a, "bob", &sig, "", true, T0 + 1, RULES).unwrap();
        let e = verify(&a, Some(&allowed), RULES, T0 + 2, When::Acting).unwrap_err();
        assert!(e.0.contains("signed by alice's key"), "{e}");
    }

    #[test]
    fn the_policy_not_the_action_says_how_many_approvals_are_needed() {
        let (mut a, _, _, allowed) = setup();
        a.required_approvals = 0;
        a.preauthorized = true;
        assert!(verify(&a, Some(&allowed), RULES, T0 + 2, When::Acting).is_err());
    }

    #[test]
    fn an_old_approval_still_proves_a_rollback_but_not_an_execution() {
        let (mut a, _, bob, allowed) = setup();
        approve(&mut a, "bob", &bob, T0 + 1);
        let late = T0 + 1 + RULES.approval_ttl;
        assert!(verify(&a, Some(&allowed), RULES, late, When::Acting).is_err());
        assert!(verify(&a, Some(&allowed), RULES, late, When::Undoing).is_ok());
    }
}
