//! Property tests of the action lifecycle and the approval rules: whatever sequence of
//! operations, by whoever, at whatever times, a proposer never approves their own action, nothing
//! executes without enough live approvals for its current hash, an approval never survives an
//! edit, and a terminal state never moves.

use blastdoor::core::workflow::{
    self, Action, ActionState, DryRun, Proposal, Proposer, Rules, Via,
};
use proptest::prelude::*;
use serde_json::json;

const T0: i64 = 1_790_000_000_000;
const PEOPLE: [&str; 4] = ["alice", "bob", "carol", "dave"];

#[derive(Debug, Clone)]
enum Op {
    Approve { who: usize, verified: bool },
    Deny { who: usize },
    Edit { v: u8 },
    Execute,
    Complete,
    Fail,
    Rollback,
    Expire,
    Wait { ms: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, proptest::bool::weighted(0.9)).prop_map(|(who, verified)| Op::Approve { who, verified }),
        1 => (0..4usize).prop_map(|who| Op::Deny { who }),
        1 => any::<u8>().prop_map(|v| Op::Edit { v }),
        3 => Just(Op::Execute),
        1 => Just(Op::Complete),
        1 => Just(Op::Fail),
        1 => Just(Op::Rollback),
        1 => Just(Op::Expire),
        2 => (0..20 * 60_000i64).prop_map(|ms| Op::Wait { ms }),
    ]
}

fn staged(required: u32, reversible: bool, ttl: i64) -> (Action, Rules) {
    let rules = Rules {
        required_approvals: required,
        approval_ttl: ttl,
        action_ttl: 2 * 3_600_000,
    };
    let a = workflow::stage(
        Proposal {
            id: "act_p".into(),
            identity: "aws:x".into(),
            kind: "agent.isolate_workload".into(),
            target: json!({"identity": "aws:x"}),
            params: json!({}),
            proposed_by: Proposer {
                principal: "alice".into(),
                via: Via::Cli,
                agent: None,
            },
            reason: "r".into(),
            evidence: vec![],
            reversible,
            dry_run: DryRun::default(),
        },
        rules,
        false,
        T0,
    );
    (a, rules)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_sequence_breaks_the_rules(
        required in 1..3u32,
        reversible in any::<bool>(),
        ttl in prop_oneof![Just(60_000i64), Just(15 * 60_000i64)],
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let (mut a, rules) = staged(required, reversible, ttl);
        let mut now = T0;
        // Approvers whose approval was given over the current hash, with their time.
        for op in ops {
            let before = a.clone();
            let was_terminal = a.state.is_terminal();
            let result = match op {
                Op::Approve { who, verified } => {
                    let p = PEOPLE[who];
                    let r = workflow::approve(&mut a, p, "sig", "", verified, now, rules);
                    if p == "alice" {
                        prop_assert!(r.is_err(), "the proposer approved");
                    }
                    if !verified {
                        prop_assert!(r.is_err(), "an unverified signature counted");
                    }
                    r
                }
                Op::Deny { who } => workflow::deny(&mut a, PEOPLE[who], now),
                Op::Edit { v } => {
                    let old = a.hash.clone();
                    let r = workflow::edit(&mut a, json!({"v": v}), now, rules);
                    if r.is_ok() && a.hash != old {
                        prop_assert!(a.live_approvers(now, rules.approval_ttl).is_empty(),
                            "an approval survived an edit");
                    }
                    r
                }
                Op::Execute => {
                    let live = a.live_approvers(now, rules.approval_ttl).len() as u32;
                    let r = workflow::begin_execution(&mut a, now, rules);
                    if r.is_ok() {
                        prop_assert!(live >= required, "executed with {live} of {required} approvals");
                        prop_assert!(!a.live_approvers(now, rules.approval_ttl).contains(&"alice"));
                        prop_assert_eq!(&a.hash, &a.computed_hash());
                        prop_assert!(before.state.is_open());
                    }
                    r
                }
                Op::Complete => workflow::complete(&mut a, json!({}), now),
                Op::Fail => workflow::fail(&mut a, "boom", now),
                Op::Rollback => {
                    let r = workflow::rolled_back(&mut a, now);
                    if r.is_ok() {
                        prop_assert!(reversible && before.state == ActionState::Done);
                    }
                    r
                }
                Op::Expire => {
                    workflow::expire_if_due(&mut a, now);
                    Ok(())
                }
                Op::Wait { ms } => {
                    now += ms;
                    Ok(())
                }
            };
            if was_terminal {
                prop_assert_eq!(&a, &before, "a terminal state moved");
            }
            if result.is_err() {
                prop_assert_eq!(&a, &before, "a refused operation changed the action");
            }
            // Invariants at every step.
            prop_assert!(a.approvals.iter().all(|x| x.principal != "alice"));
            if a.state == ActionState::RolledBack {
                prop_assert!(reversible);
            }
            let legal = matches!(
                (before.state, a.state),
                (s, t) if s == t
            ) || matches!(
                (before.state, a.state),
                (ActionState::Staged, ActionState::Approved)
                    | (ActionState::Approved, ActionState::Staged)
                    | (ActionState::Staged | ActionState::Approved, ActionState::Executing)
                    | (ActionState::Staged | ActionState::Approved, ActionState::Denied)
                    | (ActionState::Staged | ActionState::Approved, ActionState::Expired)
                    | (ActionState::Executing, ActionState::Done)
                    | (ActionState::Executing, ActionState::Failed)
                    | (ActionState::Done, ActionState::RolledBack)
            );
            prop_assert!(legal, "illegal move {:?} -> {:?}", before.state, a.state);
        }
    }

    #[test]
    fn an_approval_never_outlives_its_hash(v in any::<u8>(), w in any::<u8>()) {
        let (mut a, rules) = staged(1, true, 15 * 60_000);
        workflow::approve(&mut a, "bob", "sig", "", true, T0, rules).unwrap();
        workflow::edit(&mut a, json!({"v": v}), T0 + 1, rules).unwrap();
        workflow::edit(&mut a, json!({"w": w}), T0 + 2, rules).unwrap();
        prop_assert!(workflow::begin_execution(&mut a, T0 + 3, rules).is_err());
        prop_assert_eq!(a.state, ActionState::Staged);
    }

    #[test]
    fn the_hash_covers_every_signed_field(kind in "[a-z]{1,8}\\.[a-z_]{1,12}", p in "[a-z0-9]{0,12}", exp in 0i64..1_000_000) {
        let who = Proposer { principal: "alice".into(), via: Via::Cli, agent: None };
        let h = workflow::action_hash(&kind, "id", &json!({"identity": "x"}), &json!({"p": p}), &who, exp);
        prop_assert_ne!(&h, &workflow::action_hash(&kind, "id", &json!({"identity": "y"}), &json!({"p": p}), &who, exp));
        prop_assert_ne!(&h, &workflow::action_hash(&kind, "id", &json!({"identity": "x"}), &json!({"p": format!("{p}x")}), &who, exp));
        prop_assert_ne!(&h, &workflow::action_hash(&kind, "id", &json!({"identity": "x"}), &json!({"p": p}), &who, exp + 1));
        let bob = Proposer { principal: "bob".into(), ..who.clone() };
        prop_assert_ne!(&h, &workflow::action_hash(&kind, "id", &json!({"identity": "x"}), &json!({"p": p}), &bob, exp));
        let mcp = Proposer { via: Via::Mcp, ..who.clone() };
        prop_assert_ne!(&h, &workflow::action_hash(&kind, "id", &json!({"identity": "x"}), &json!({"p": p}), &mcp, exp));
        prop_assert_ne!(&h, &workflow::action_hash(&format!("{kind}x"), "id", &json!({"identity": "x"}), &json!({"p": p}), &who, exp));
        // The identity the agent acts on is signed too, not only the target.
        prop_assert_ne!(&h, &workflow::action_hash(&kind, "id2", &json!({"identity": "x"}), &json!({"p": p}), &who, exp));
    }
}
