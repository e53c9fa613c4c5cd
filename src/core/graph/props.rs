//! The indexed edges are the pairwise edges: on random identities (AWS users, roles and roots in
//! three accounts with wildcard, `NotAction`, `NotResource`, conditional and denied grants and
//! trust policies naming principals, accounts, patterns, `*` and services; Kubernetes subjects;
//! Vault tokens), upserted in random order and changed again, and on the real corpus, the graph
//! holds exactly the edges `edge` finds between every pair of identities, and every identity
//! reaches what it reaches in a graph of every pairwise edge with no administrator left out.

use proptest::prelude::*;

use super::aws_policy::CONDITIONAL;
use super::*;
use crate::core::model::{Credential, Effect};
use crate::core::text::SafeText;

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];

/// The identities a test may touch, by index: the same index is always the same principal.
fn principal(i: usize) -> (Provider, IdentityKind, String) {
    const AWS: [(&str, IdentityKind); 6] = [
        ("user/u0", IdentityKind::IamUser),
        ("user/u1", IdentityKind::IamUser),
        ("role/r0", IdentityKind::IamRole),
        ("role/r1", IdentityKind::IamRole),
        ("role/r2", IdentityKind::IamRole),
        ("root", IdentityKind::Root),
    ];
    const K8S: [(&str, IdentityKind); 5] = [
        ("system:serviceaccount:ns0:a", IdentityKind::ServiceAccount),
        ("system:serviceaccount:ns0:b", IdentityKind::ServiceAccount),
        ("system:serviceaccount:ns1:a", IdentityKind::ServiceAccount),
        ("alice", IdentityKind::Human),
        ("group:devs", IdentityKind::Unknown),
    ];
    let aws = AWS.len() * ACCOUNTS.len();
    if i < aws {
        let (name, kind) = AWS[i % AWS.len()];
        let acct = ACCOUNTS[i / AWS.len()];
        return (Provider::Aws, kind, format!("arn:aws:iam::{acct}:{name}"));
    }
    if i < aws + K8S.len() {
        let (name, kind) = K8S[i - aws];
        return (Provider::Kubernetes, kind, name.to_string());
    }
    (
        Provider::Vault,
        IdentityKind::VaultToken,
        format!("token/{}", i - aws - K8S.len()),
    )
}
const PRINCIPALS: usize = 18 + 5 + 3;

const AWS_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:*",
    "iam:PassRole",
    "iam:*",
    "*",
    "iam:Create*",
    "not iam:*",
    "not s3:*, sts:*",
    "ec2:RunInstances",
    "lambda:*",
    "s3:GetObject",
    "iam:CreateAccessKey",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateLoginProfile",
    "iam:pass?ole",
    "iam:PassRole",
    "lambda:CreateFunction",
    "ec2:Run*",
];
/// `{A}` is an account.
const AWS_RESOURCES: &[&str] = &[
    "*",
    "arn:aws:iam::{A}:role/*",
    "arn:aws:iam::{A}:role/r0",
    "arn:aws:iam::{A}:user/u1",
    "arn:aws:iam::*:user/*",
    "not arn:aws:iam::{A}:role/r1",
    "arn:aws:iam::{A}:role/r?",
    "(observed in use)",
];
const TRUSTS: &[&str] = &[
    "trust=arn:aws:iam::{A}:root",
    "trust=arn:aws:iam::{A}:user/u0",
    "trust=arn:aws:iam::{A}:role/r1",
    "trust=*",
    "trust=arn:aws:iam::{A}:user/u*",
    "trust=arn:aws:iam::*:role/r*",
    "trust=arn:*::{A}:role/r0",
    "trust=service:ec2.amazonaws.com",
    "trust=service:lambda.amazonaws.com",
    "trusts=ecs-tasks.amazonaws.com",
    "trust-deny=arn:aws:iam::{A}:user/u0",
    "trust-deny=service:ec2.amazonaws.com",
];
const K8S_ACTIONS: &[&str] = &[
    "pods:create",
    "pods/exec:create",
    "secrets:get",
    "secrets:*",
    "*:get",
    "serviceaccounts/token:create",
    "serviceaccounts:impersonate",
    "users:impersonate",
    "*",
    "configmaps:get",
];
const K8S_NAMESPACES: &[&str] = &["ns0", "ns1", "*"];
const VAULT_ACTIONS: &[&str] = &[
    "auth/token/create:sudo",
    "auth/token/create-orphan:update",
    "secret/data/app:read",
    "*",
    "auth/token/*",
];

/// A grant as indexes into the tables: action, resource, account, deny, conditional.
type GrantSpec = (usize, usize, usize, bool, bool);
/// What one upsert says of an identity: its grants, its trust tags (index, account,
/// conditional) and whether its kind is not known yet.
type Spec = (Vec<GrantSpec>, Vec<(usize, usize, bool)>, bool);

fn record(i: usize, (grants, trusts, unknown): &Spec) -> IdentityRecord {
    let (provider, kind, principal) = principal(i);
    let fill = |t: &str, a: usize| t.replace("{A}", ACCOUNTS[a % ACCOUNTS.len()]);
    let permissions = grants
        .iter()
        .map(|&(a, r, acct, deny, cond)| {
            let (action, resource) = match provider {
                Provider::Aws => (
                    AWS_ACTIONS[a % AWS_ACTIONS.len()].to_string(),
                    fill(AWS_RESOURCES[r % AWS_RESOURCES.len()], acct),
                ),
                Provider::Kubernetes => (
                    K8S_ACTIONS[a % K8S_ACTIONS.len()].to_string(),
                    K8S_NAMESPACES[r % K8S_NAMESPACES.len()].to_string(),
                ),
                _ => (
                    VAULT_ACTIONS[a % VAULT_ACTIONS.len()].to_string(),
                    "*".into(),
                ),
            };
            Permission {
                action: SafeText::new(&action),
                resource: SafeText::new(&resource),
                effect: if deny { Effect::Deny } else { Effect::Allow },
                via: Some(SafeText::new(if cond {
                    "ops (conditional)"
                } else {
                    "ops"
                })),
                sensitivity: None,
            }
        })
        .collect();
    let tags = if kind == IdentityKind::IamRole {
        trusts
            .iter()
            .map(|&(t, a, cond)| {
                let tag = fill(TRUSTS[t % TRUSTS.len()], a);
                let tag = if cond && tag.starts_with("trust=") {
                    format!("{tag}{CONDITIONAL}")
                } else {
                    tag
                };
                SafeText::new(&tag)
            })
            .collect()
    } else {
        Vec::new()
    };
    IdentityRecord {
        provider,
        principal: SafeText::new(&principal),
        kind: if *unknown {
            IdentityKind::Unknown
        } else {
            kind
        },
        display: None,
        credentials: Vec::<Credential>::new(),
        permissions,
        tags,
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::collection::vec(
            (
                0..18usize,
                prop_oneof![2 => Just(0usize), 3 => 0..8usize],
                0..3usize,
                prop::bool::weighted(0.2),
                prop::bool::weighted(0.2),
            ),
            0..5,
        ),
        proptest::collection::vec((0..12usize, 0..3usize, prop::bool::weighted(0.2)), 0..4),
        prop::bool::weighted(0.1),
    )
}

/// Every edge of the graph, as (from, to, kind, conditional), sorted.
fn edges_of(g: &Graph) -> Vec<(u32, u32, EdgeKind, bool)> {
    let mut out: Vec<_> = (0..g.node_count() as u32)
        .flat_map(|s| {
            g.out_edges(s)
                .iter()
                .map(move |e| (s, e.to, e.kind, e.conditional))
        })
        .collect();
    out.sort_by_key(|e| (e.0, e.1));
    out
}

/// `edge` between every ordered pair of the graph's identities.
fn pairwise(g: &Graph) -> Vec<(u32, u32, EdgeKind, bool)> {
    let n = g.node_count() as u32;
    let mut out = Vec::new();
    for s in 0..n {
        for t in 0..n {
            if let (true, Some(a), Some(b)) = (s != t, g.node(s), g.node(t))
                && let Some((kind, cond)) = edge(a, b)
            {
                out.push((s, t, kind, cond));
            }
        }
    }
    out
}

/// A graph of the same identities built the plain way: every pairwise edge, with rights
/// compiled for administrators too, all reaches computed at once.
fn plain(g: &Graph, records: &[Option<IdentityRecord>]) -> Graph {
    let mut nodes: Vec<Option<NodeInfo>> = Vec::new();
    let mut p = Graph::default();
    for (v, rec) in records.iter().enumerate() {
        let Some(rec) = rec else {
            nodes.push(None);
            continue;
        };
        let (items, extra) = own_items(rec.provider, &rec.permissions, g.jewels());
        p.set_items(v as u32, items, extra as u32);
        let mut n = NodeInfo::from_record(rec);
        n.rights = Rights::compile(rec.provider, &rec.permissions);
        nodes.push(Some(n));
    }
    for (s, a) in nodes.iter().enumerate() {
        for (t, b) in nodes.iter().enumerate() {
            if let (true, Some(a), Some(b)) = (s != t, a, b)
                && let Some((kind, _)) = edge(a, b)
            {
                p.add_edge(s as u32, t as u32, kind);
            }
        }
    }
    p.recompute_all();
    p.settle();
    p
}

/// Whether `new` only adds to `old` (the core's rule for `grew`).
fn only_grew(old: &IdentityRecord, new: &IdentityRecord) -> bool {
    old.permissions.iter().all(|p| new.permissions.contains(p))
        && old.tags.iter().all(|t| new.tags.contains(t))
        && new
            .permissions
            .iter()
            .all(|p| p.effect == Effect::Allow || old.permissions.contains(p))
        && old.kind == new.kind
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn indexed_edges_are_the_pairwise_edges_and_reach_what_every_pairwise_edge_reaches(
        ops in proptest::collection::vec((0..PRINCIPALS, spec(), any::<bool>()), 1..48)
    ) {
        let mut g = Graph::default();
        let mut records: Vec<Option<IdentityRecord>> = vec![None; PRINCIPALS];
        for (i, s, append) in &ops {
            let mut rec = record(*i, s);
            // As events and changes merge: the new grants and tags after the old ones.
            let growth = match &records[*i] {
                Some(old) if *append => {
                    let mut perms = old.permissions.clone();
                    perms.extend(rec.permissions.into_iter().filter(|p| !old.permissions.contains(p)));
                    rec.permissions = perms;
                    let mut tags = old.tags.clone();
                    tags.extend(rec.tags.into_iter().filter(|t| !old.tags.contains(t)));
                    rec.tags = tags;
                    rec.kind = if old.kind == IdentityKind::Unknown { rec.kind } else { old.kind };
                    Growth::Appended(old.permissions.len())
                }
                Some(old) if only_grew(old, &rec) => Growth::Grew,
                Some(_) => Growth::Any,
                None => Growth::Appended(0),
            };
            g.upsert(*i as u32, &rec, growth);
            g.settle();
            records[*i] = Some(rec);
        }
        prop_assert_eq!(edges_of(&g), pairwise(&g));
        let p = plain(&g, &records);
        for (v, rec) in records.iter().enumerate() {
            if rec.is_some() {
                prop_assert_eq!(g.reach_of(v as u32), p.reach_of(v as u32), "node {}", v);
                // Items extended grant by grant are those of all the grants at once.
                prop_assert_eq!(g.items_of(v as u32), p.items_of(v as u32), "node {}", v);
                prop_assert_eq!(g.score(v as u32), p.score(v as u32), "node {}", v);
            }
        }
    }
}

/// The real corpus, decoded and applied to a core in file order.
fn corpus_core() -> Option<crate::core::Core> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the corpus folder {} is missing (CI=true)",
            dir.display()
        );
        eprintln!("SKIP: corpus folder {} is absent", dir.display());
        return None;
    }
    let mut all = crate::ingest::Decoded::default();
    for f in crate::engine::sources::files_under(dir).expect("the corpus is readable") {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        match crate::ingest::decode_document_lenient(&text) {
            Ok((d, _)) => all.extend(d),
            Err(_) => {
                for line in text.lines() {
                    if let Ok(d) = crate::ingest::decode_record(line) {
                        all.extend(d);
                    }
                }
            }
        }
    }
    let mut core = crate::core::Core::new();
    core.update(crate::core::Msg::Inventory {
        identities: all.inventory,
        now: 0,
    });
    core.update(crate::core::Msg::Events {
        events: all.events,
        now: 0,
    });
    core.update(crate::core::Msg::Changes {
        changes: all.changes,
        now: 0,
    });
    Some(core)
}

/// The corpus has no IAM inventory, and grants observed in CloudTrail name no resource: its
/// edges are Kubernetes ones (a user that reads secrets reaching the service accounts whose
/// tokens they hold).
#[test]
fn on_the_corpus_the_indexed_edges_are_the_pairwise_edges() {
    let Some(core) = corpus_core() else { return };
    let g = core.graph();
    let edges = edges_of(g);
    assert!(
        !edges.is_empty(),
        "the corpus has escalation edges to compare"
    );
    assert_eq!(edges, pairwise(g));
}
