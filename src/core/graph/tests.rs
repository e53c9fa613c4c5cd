//! The graph against small `get-account-authorization-details` and `kubectl get … -o json`
//! fixtures written from the AWS and Kubernetes documentation, through the real decoders and
//! the core.

use serde_json::{Value, json};

use super::*;
use crate::core::model::{Change, Effect, IdentityRecord, Sensitivity};
use crate::core::text::SafeText;
use crate::core::{Core, Msg, SortKey};

const ACCT: &str = "111122223333";

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCT}:{kind}/{name}")
}

fn doc(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn user(name: &str, statements: Value) -> Value {
    json!({"UserName": name, "Arn": arn("user", name), "GroupList": [],
           "AttachedManagedPolicies": [],
           "UserPolicyList": [{"PolicyName": format!("{name}-inline"), "PolicyDocument": doc(statements)}]})
}

fn role(name: &str, trust: Value, statements: Value, managed: &[&str]) -> Value {
    let attached: Vec<Value> = managed
        .iter()
        .map(|m| json!({"PolicyName": m, "PolicyArn": format!("arn:aws:iam::aws:policy/{m}")}))
        .collect();
    let inline = if statements.is_null() {
        json!([])
    } else {
        json!([{"PolicyName": format!("{name}-inline"), "PolicyDocument": doc(statements)}])
    };
    json!({"RoleName": name, "Arn": arn("role", name),
           "AssumeRolePolicyDocument": doc(trust),
           "AttachedManagedPolicies": attached, "RolePolicyList": inline})
}

fn trust_account() -> Value {
    json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")},
            "Action": "sts:AssumeRole"}])
}

fn trust_service(svc: &str) -> Value {
    json!([{"Effect": "Allow", "Principal": {"Service": svc}, "Action": "sts:AssumeRole"}])
}

fn details(users: Vec<Value>, roles: Vec<Value>) -> Value {
    json!({"UserDetailList": users, "RoleDetailList": roles, "GroupDetailList": [], "Policies": []})
}

fn core_of(inv: &Value) -> Core {
    let ids = crate::ingest::aws_iam::decode(inv).expect("decodes");
    let mut c = Core::new();
    c.update(Msg::Inventory {
        identities: ids,
        now: 0,
    });
    c
}

fn ranked(c: &mut Core, key: &str) -> crate::core::RankedIdentity {
    let n = c.len();
    let all = c.top(n, SortKey::Blast);
    all.into_iter()
        .find(|r| r.identity.ends_with(key))
        .unwrap_or_else(|| panic!("{key} not ranked"))
}

fn paths(c: &mut Core, key: &str) -> Vec<String> {
    ranked(c, key)
        .why
        .into_iter()
        .filter(|r| r.factor == "path")
        .map(|r| r.detail)
        .collect()
}

fn admin_role() -> Value {
    role(
        "prod-admin",
        trust_account(),
        Value::Null,
        &["AdministratorAccess"],
    )
}

#[test]
fn assuming_a_role_needs_the_identity_policy_and_the_trust_policy() {
    let allow =
        json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "prod-*")}]);
    let inv = details(
        vec![
            user("both", allow.clone()),
            user("policy-only", allow.clone()),
            user(
                "trust-only",
                json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]),
            ),
            user(
                "named",
                json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]),
            ),
        ],
        vec![
            admin_role(),
            // Trusts only one other account: the identity policy alone is not enough.
            role(
                "prod-vendor",
                json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]),
                Value::Null,
                &["AdministratorAccess"],
            ),
            // Names a user of the same account itself: no identity policy needed.
            role(
                "break-glass",
                json!([{"Effect": "Allow", "Principal": {"AWS": arn("user", "named")}, "Action": "sts:AssumeRole"}]),
                Value::Null,
                &["AdministratorAccess"],
            ),
        ],
    );
    let mut c = core_of(&inv);
    let both = paths(&mut c, "user/both");
    assert_eq!(
        both,
        vec![
            "administrator of the account or cluster: can assume role/prod-admin (AdministratorAccess) via sts:AssumeRole"
        ]
    );
    assert!(
        paths(&mut c, "user/policy-only")
            .iter()
            .all(|p| !p.contains("prod-vendor"))
    );
    assert!(paths(&mut c, "user/trust-only").is_empty());
    let named = paths(&mut c, "user/named");
    assert!(
        named[0].contains("can assume role/break-glass") && named[0].contains("trust policy"),
        "{named:?}"
    );
    assert!(ranked(&mut c, "user/trust-only").blast_radius < 20.0);
}

#[test]
fn passing_a_role_needs_a_service_that_runs_code_and_trusts_it() {
    let pass = |extra: &str| {
        json!([{"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn("role", "ec2-admin")},
               {"Effect": "Allow", "Action": extra, "Resource": "*"}])
    };
    let inv = details(
        vec![
            user("launcher", pass("ec2:RunInstances")),
            user("no-launch", pass("ec2:DescribeInstances")),
            user(
                "wrong-service",
                json!([
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn("role", "lambda-admin")},
                {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]),
            ),
        ],
        vec![
            role(
                "ec2-admin",
                trust_service("ec2.amazonaws.com"),
                Value::Null,
                &["AdministratorAccess"],
            ),
            role(
                "lambda-admin",
                trust_service("lambda.amazonaws.com"),
                Value::Null,
                &["AdministratorAccess"],
            ),
        ],
    );
    let mut c = core_of(&inv);
    assert_eq!(
        paths(&mut c, "user/launcher"),
        vec![
            "administrator of the account or cluster: can pass role/ec2-admin (AdministratorAccess) via iam:PassRole to ec2 + ec2:RunInstances"
        ]
    );
    assert!(paths(&mut c, "user/no-launch").is_empty());
    assert!(paths(&mut c, "user/wrong-service").is_empty());
}

#[test]
fn creating_credentials_for_a_user_becomes_that_user() {
    let inv = details(
        vec![
            user(
                "keysmith",
                json!([{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": arn("user", "*")}]),
            ),
            user(
                "password-setter",
                json!([{"Effect": "Allow", "Action": ["iam:UpdateLoginProfile"], "Resource": arn("user", "admin")}]),
            ),
            user(
                "admin",
                json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
            ),
        ],
        vec![],
    );
    let mut c = core_of(&inv);
    let k = paths(&mut c, "user/keysmith");
    assert!(
        k.iter()
            .any(|p| p.contains("can create an access key for user/admin")
                && p.contains("iam:CreateAccessKey")),
        "{k:?}"
    );
    let p = paths(&mut c, "user/password-setter");
    assert!(
        p[0].contains("can set a console password for user/admin"),
        "{p:?}"
    );
}

#[test]
fn rewriting_a_trust_policy_takes_over_the_role() {
    let inv = details(
        vec![user(
            "rewriter",
            json!([{"Effect": "Allow", "Action": "iam:UpdateAssumeRolePolicy", "Resource": arn("role", "prod-admin")}]),
        )],
        vec![role(
            "prod-admin",
            trust_service("ec2.amazonaws.com"),
            Value::Null,
            &["AdministratorAccess"],
        )],
    );
    let mut c = core_of(&inv);
    let p = paths(&mut c, "user/rewriter");
    assert!(
        p[0].contains("can rewrite the trust policy of role/prod-admin"),
        "{p:?}"
    );
}

#[test]
fn an_explicit_deny_cuts_the_escalation() {
    let inv = details(
        vec![user(
            "denied",
            json!([
            {"Effect": "Allow", "Action": "sts:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": arn("role", "prod-*")}]),
        )],
        vec![admin_role()],
    );
    let mut c = core_of(&inv);
    assert!(paths(&mut c, "user/denied").is_empty());
    assert!(
        ranked(&mut c, "user/denied").blast_radius < ranked(&mut c, "role/prod-admin").blast_radius
    );
}

#[test]
fn a_conditional_grant_is_marked_in_the_path() {
    let inv = details(
        vec![user(
            "mfa",
            json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "prod-admin"),
                                  "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]),
        )],
        vec![admin_role()],
    );
    let mut c = core_of(&inv);
    let p = paths(&mut c, "user/mfa");
    assert!(p[0].ends_with("via sts:AssumeRole (conditional)"), "{p:?}");
}

#[test]
fn chains_of_escalations_are_spelled_out_hop_by_hop() {
    let inv = details(
        vec![user(
            "dev",
            json!([
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn("role", "ci-runner")},
            {"Effect": "Allow", "Action": "lambda:CreateFunction", "Resource": "*"}]),
        )],
        vec![
            role(
                "ci-runner",
                trust_service("lambda.amazonaws.com"),
                json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "prod-admin")}]),
                &[],
            ),
            admin_role(),
        ],
    );
    let mut c = core_of(&inv);
    let p = paths(&mut c, "user/dev");
    assert_eq!(
        p[0],
        "administrator of the account or cluster: can pass role/ci-runner via iam:PassRole to lambda + lambda:CreateFunction, which can assume role/prod-admin (AdministratorAccess) via sts:AssumeRole"
    );
    let r = ranked(&mut c, "user/dev");
    assert_eq!(r.paths[0].through.len(), 3);
    assert!(r.paths[0].through[2].ends_with("role/prod-admin"));
}

#[test]
fn not_action_and_denies_leave_what_they_do_not_cover() {
    let inv = details(
        vec![
            user(
                "power",
                json!([{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}]),
            ),
            user(
                "star-minus-iam",
                json!([
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]),
            ),
            user(
                "star",
                json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
            ),
        ],
        vec![],
    );
    let mut c = core_of(&inv);
    let power = ranked(&mut c, "user/power");
    let minus = ranked(&mut c, "user/star-minus-iam");
    let star = ranked(&mut c, "user/star");
    assert!(
        power
            .why
            .iter()
            .all(|w| !w.detail.starts_with("administrator")),
        "{:?}",
        power.why
    );
    assert!(
        power
            .why
            .iter()
            .any(|w| w.detail.starts_with("logging and security controls"))
    );
    assert!(
        minus
            .why
            .iter()
            .all(|w| !w.detail.starts_with("administrator")),
        "{:?}",
        minus.why
    );
    assert!(star.blast_radius > power.blast_radius && star.blast_radius > minus.blast_radius);
}

#[test]
fn managed_policies_use_their_default_version_and_groups_reach_members() {
    let inv = json!({
        "UserDetailList": [{"UserName": "ops", "Arn": arn("user", "ops"), "GroupList": ["operators"],
                            "AttachedManagedPolicies": [], "UserPolicyList": []}],
        "GroupDetailList": [{"GroupName": "operators", "GroupPolicyList": [],
            "AttachedManagedPolicies": [{"PolicyName": "Escalate", "PolicyArn": format!("arn:aws:iam::{ACCT}:policy/Escalate")}]}],
        "RoleDetailList": [admin_role()],
        "Policies": [{"PolicyName": "Escalate", "Arn": format!("arn:aws:iam::{ACCT}:policy/Escalate"),
            "PolicyVersionList": [
                {"VersionId": "v1", "IsDefaultVersion": false, "Document": doc(json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]))},
                {"VersionId": "v2", "IsDefaultVersion": true, "Document": doc(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))}]}]
    });
    let mut c = core_of(&inv);
    let p = paths(&mut c, "user/ops");
    assert!(p[0].contains("can assume role/prod-admin"), "{p:?}");
}

#[test]
fn a_grant_updates_the_blast_of_those_who_reach_it_and_a_revocation_lowers_it() {
    let inv = details(
        vec![
            user(
                "dev",
                json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "app")}]),
            ),
            user(
                "bystander",
                json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]),
            ),
        ],
        vec![role(
            "app",
            trust_account(),
            json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app/*"}]),
            &[],
        )],
    );
    let mut c = core_of(&inv);
    let before = ranked(&mut c, "user/dev").blast_radius;
    let bystander = ranked(&mut c, "user/bystander").blast_radius;
    // The role is given AdministratorAccess: the user who can assume it now reaches admin.
    let mut target = crate::ingest::aws_iam::decode(&inv)
        .unwrap()
        .into_iter()
        .find(|r| r.principal.ends_with("role/app"))
        .unwrap();
    target.permissions =
        crate::ingest::cloudtrail::managed_policy_permissions("AdministratorAccess");
    c.update(Msg::Changes {
        changes: vec![Change {
            time: 1,
            target: target.clone(),
            detail: SafeText::new("granted AdministratorAccess"),
            by: None,
            signal: None,
            removes: None,
        }],
        now: 1,
    });
    let after = ranked(&mut c, "user/dev");
    assert!(
        after.blast_radius > before + 20.0,
        "{before} -> {}",
        after.blast_radius
    );
    assert!(after.why.iter().any(|w| {
        w.detail
            .contains("can assume role/app (AdministratorAccess)")
    }));
    assert_eq!(ranked(&mut c, "user/bystander").blast_radius, bystander);
    // A fresh inventory without the grant takes it back.
    c.update(Msg::Inventory {
        identities: crate::ingest::aws_iam::decode(&inv).unwrap(),
        now: 2,
    });
    assert_eq!(ranked(&mut c, "user/dev").blast_radius, before);
}

#[test]
fn containing_the_role_on_the_path_removes_most_of_the_reach() {
    let inv = details(
        vec![user(
            "dev",
            json!([
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "prod-admin")},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::dev-scratch/*"}]),
        )],
        vec![admin_role()],
    );
    let c = core_of(&inv);
    let dev = c.lookup(&format!("aws:{}", arn("user", "dev"))).unwrap();
    let effects = c.containments(dev);
    assert_eq!(effects[0].removes, 1.0);
    let role = effects
        .iter()
        .find(|e| e.action.contains("role/prod-admin"))
        .expect("the role on the path is a containment");
    assert!(role.action.contains("aws.deny_all"));
    assert!(role.removes > 0.5 && role.removes < 1.0, "{role:?}");
    assert!(role.blast_after < c.get(dev).unwrap().blast);
}

#[test]
fn crown_jewels_from_the_config_raise_what_reaches_them() {
    let inv = details(
        vec![
            user(
                "payroll-reader",
                json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payroll/*"}]),
            ),
            user(
                "logs-reader",
                json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]),
            ),
        ],
        vec![],
    );
    let mut c = Core::with_crown_jewels(vec![CrownJewel {
        name: Some("payroll data".into()),
        arn: Some("arn:aws:s3:::payroll*".into()),
        namespace: None,
        sensitivity: Sensitivity::Secrets,
    }]);
    c.update(Msg::Inventory {
        identities: crate::ingest::aws_iam::decode(&inv).unwrap(),
        now: 0,
    });
    let p = ranked(&mut c, "user/payroll-reader");
    let l = ranked(&mut c, "user/logs-reader");
    assert!(
        p.blast_radius > l.blast_radius + 5.0,
        "{} vs {}",
        p.blast_radius,
        l.blast_radius
    );
    assert!(
        p.why
            .iter()
            .any(|w| w.detail.contains("crown jewel: payroll data"))
    );
}

fn k8s_inventory() -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": [
        {"kind": "ServiceAccount", "metadata": {"name": "runner", "namespace": "ci"}},
        {"kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "prod"}},
        {"kind": "ServiceAccount", "metadata": {"name": "viewer", "namespace": "ci"}},
        {"kind": "Role", "metadata": {"name": "pod-starter", "namespace": "prod"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "runner-starts-pods", "namespace": "prod"},
         "roleRef": {"kind": "Role", "name": "pod-starter"},
         "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": "ci"}]},
        {"kind": "ClusterRole", "metadata": {"name": "cluster-admin"},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "deployer-admin"},
         "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "prod"}]},
        {"kind": "ClusterRole", "metadata": {"name": "view-pods"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "viewer-views"},
         "roleRef": {"kind": "ClusterRole", "name": "view-pods"},
         "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "ci"}]}
    ]})
}

#[test]
fn kubernetes_pod_creation_in_a_namespace_reaches_its_stronger_service_accounts() {
    let ids = crate::ingest::k8s_rbac::decode(&k8s_inventory()).unwrap();
    let mut c = Core::new();
    c.update(Msg::Inventory {
        identities: ids,
        now: 0,
    });
    let runner = ranked(&mut c, "ci:runner");
    let viewer = ranked(&mut c, "ci:viewer");
    let path = runner
        .why
        .iter()
        .find(|w| w.factor == "path")
        .expect("a path");
    assert_eq!(
        path.detail,
        "administrator of the account or cluster: can run a pod as serviceaccount prod/deployer (cluster-admin) via create pods"
    );
    assert!(viewer.why.iter().all(|w| w.factor != "path"));
    assert!(runner.blast_radius > viewer.blast_radius + 20.0);
}

#[test]
fn worklist_reach_matches_a_breadth_first_search_on_cycles() {
    let mut g = Graph::default();
    let item = |class: Sensitivity, w: f32| Item {
        class,
        weight: w,
        detail: "x".into(),
        via: "x".into(),
    };
    // 0 -> 1 -> 2 -> 0 (a cycle), 2 -> 3 (admin), 4 alone.
    for (i, c) in [
        (0, Sensitivity::Low),
        (1, Sensitivity::Data),
        (2, Sensitivity::Low),
        (4, Sensitivity::Data),
    ] {
        g.set_items(i, vec![item(c, c.weight() as f32)], 0);
    }
    g.set_items(3, vec![item(Sensitivity::Admin, 60.0)], 0);
    for (a, b) in [(0, 1), (1, 2), (2, 0), (2, 3)] {
        g.add_edge(a, b, EdgeKind::AssumeRole);
    }
    g.settle();
    let b0 = g.blast(0);
    assert_eq!(b0.paths[0].through.len(), 4);
    assert!((b0.paths[0].weight - 60.0 * 0.729).abs() < 0.1, "{b0:?}");
    assert!(g.score(4) < g.score(1));
    // Each node's reach equals the direct computation.
    for v in 0..5u32 {
        let direct = g.containments(v);
        assert_eq!(direct[0].node, v);
    }
}

#[test]
fn an_identity_reaching_no_one_scores_as_before() {
    let perms = vec![crate::core::model::Permission {
        action: SafeText::new("secretsmanager:GetSecretValue"),
        resource: SafeText::new("*"),
        effect: Effect::Allow,
        via: Some(SafeText::new("SecretsRead")),
        sensitivity: None,
    }];
    let (score, why) = crate::core::score::blast_radius(&perms);
    assert_eq!(score, 30.0);
    assert_eq!(
        why[0].detail,
        "secrets: secretsmanager:GetSecretValue on * (via SecretsRead)"
    );
    let rec = IdentityRecord {
        provider: crate::core::model::Provider::Aws,
        principal: SafeText::new("arn:aws:iam::1:user/x"),
        kind: crate::core::model::IdentityKind::IamUser,
        display: None,
        credentials: vec![],
        permissions: perms,
        tags: vec![],
    };
    let mut c = Core::new();
    c.update(Msg::Inventory {
        identities: vec![rec],
        now: 0,
    });
    assert_eq!(c.get(0).unwrap().blast, 30.0);
}

/// A random graph: `n` nodes with items of random classes, `m` random edges (cycles included).
fn random_graph(seed: u64, n: u32, m: usize) -> (Graph, Vec<(u32, u32)>) {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut g = Graph::default();
    for v in 0..n {
        let class = CLASSES[(next() % CLASSES.len() as u64) as usize];
        let items = if next() % 3 == 0 {
            vec![]
        } else {
            vec![Item {
                class,
                weight: (1 + next() % 100) as f32,
                detail: "x".into(),
                via: "x".into(),
            }]
        };
        g.set_items(v, items, 0);
    }
    let mut edges = Vec::new();
    for _ in 0..m {
        let (a, b) = ((next() % n as u64) as u32, (next() % n as u64) as u32);
        g.add_edge(a, b, EdgeKind::AssumeRole);
        edges.push((a, b));
    }
    (g, edges)
}

#[test]
fn recomputing_everything_at_once_gives_what_the_worklist_settles_to() {
    for seed in 1..40u64 {
        let (mut g, _) = random_graph(seed * 7919, 60, 150);
        g.settle();
        let worklist: Vec<f64> = (0..60).map(|v| g.score(v)).collect();
        let paths: Vec<f64> = (0..60).map(|v| g.blast(v).score).collect();
        g.recompute_all();
        let changed = g.settle();
        assert_eq!(
            changed.len(),
            60,
            "every node is reported after recompute_all"
        );
        for v in 0..60u32 {
            assert_eq!(g.score(v), worklist[v as usize], "seed {seed}, node {v}");
            // The successor pointers spell out paths of the same strength.
            assert_eq!(g.blast(v).score, paths[v as usize], "seed {seed}, node {v}");
        }
    }
}

#[test]
fn invalidating_after_a_loss_gives_what_a_fresh_graph_computes() {
    for seed in 1..40u64 {
        let (mut g, _) = random_graph(seed * 104_729, 60, 150);
        g.settle();
        // Node 5 loses its grants; its reverse closure is recomputed.
        g.set_items(5, vec![], 0);
        g.invalidate(5);
        g.settle();
        // The same graph built with node 5 empty from the start.
        let (mut fresh, _) = random_graph(seed * 104_729, 60, 150);
        fresh.set_items(5, vec![], 0);
        fresh.recompute_all();
        fresh.settle();
        for v in 0..60u32 {
            assert_eq!(g.score(v), fresh.score(v), "seed {seed}, node {v}");
        }
    }
}

/// Random inventories: users and roles that may assume random roles, roles trusting the account
/// or named users, random managed policies.
fn random_inventory(seed: u64, keep: impl Fn(u64) -> bool) -> Value {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    const ROLES: u64 = 12;
    const USERS: u64 = 8;
    const MANAGED: [&str; 4] = [
        "AdministratorAccess",
        "IAMFullAccess",
        "AmazonS3FullAccess",
        "SecretsManagerReadWrite",
    ];
    let mut grant = 0u64;
    let mut assume = |next: &mut dyn FnMut() -> u64| -> Value {
        let mut st = Vec::new();
        for _ in 0..(next() % 4) {
            let r = next() % ROLES;
            grant += 1;
            if keep(grant) {
                st.push(json!({"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Resource": arn("role", &format!("r{r}"))}));
            }
        }
        Value::Array(st)
    };
    let users = (0..USERS)
        .map(|u| user(&format!("u{u}"), assume(&mut next)))
        .collect();
    let roles = (0..ROLES)
        .map(|r| {
            let trust = if next() % 3 == 0 {
                json!([{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": arn("user", &format!("u{}", next() % USERS))}}])
            } else {
                trust_account()
            };
            let managed: Vec<&str> = (0..next() % 2)
                .map(|_| MANAGED[(next() % MANAGED.len() as u64) as usize])
                .collect();
            role(&format!("r{r}"), trust, assume(&mut next), &managed)
        })
        .collect();
    details(users, roles)
}

fn blasts(c: &mut Core) -> Vec<(String, f64)> {
    let n = c.len();
    let mut all: Vec<(String, f64)> = c
        .top(n, SortKey::Blast)
        .into_iter()
        .map(|r| (r.identity, r.blast_radius))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn an_inventory_that_takes_grants_away_ranks_as_a_fresh_core_with_it() {
    for seed in 1..60u64 {
        let full = random_inventory(seed * 7_919, |_| true);
        // About a third of the assume-role grants are taken away.
        let less = random_inventory(seed * 7_919, |g| (g * 2_654_435_761 + seed) % 3 != 0);
        let mut c = core_of(&full);
        c.update(Msg::Inventory {
            identities: crate::ingest::aws_iam::decode(&less).unwrap(),
            now: 1,
        });
        let mut fresh = core_of(&less);
        assert_eq!(blasts(&mut c), blasts(&mut fresh), "seed {seed}");
    }
}

#[test]
fn grants_and_edges_added_one_by_one_settle_to_what_a_fresh_graph_computes() {
    for seed in 1..40u64 {
        let (mut g, _) = random_graph(seed * 15_485_863, 60, 120);
        g.settle();
        // Grow it step by step: stronger grants, new edges (cycles included), settling each time.
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        // Each grant comes on top of what the node holds (set_items replaces them all).
        let mut held: Vec<Vec<Item>> = (0..60u32).map(|v| g.items_of(v).to_vec()).collect();
        let mut edges = Vec::new();
        for step in 0..30 {
            if step % 2 == 0 {
                let v = (next() % 60) as u32;
                let class = CLASSES[(next() % CLASSES.len() as u64) as usize];
                let weight = (100 + next() % 100) as f32;
                held[v as usize].push(Item {
                    class,
                    weight,
                    detail: "x".into(),
                    via: "x".into(),
                });
                g.set_items(v, held[v as usize].clone(), 0);
            } else {
                let (a, b) = ((next() % 60) as u32, (next() % 60) as u32);
                edges.push((a, b));
                g.add_edge(a, b, EdgeKind::AssumeRole);
            }
            g.settle();
        }
        let (mut fresh, _) = random_graph(seed * 15_485_863, 60, 120);
        for (v, items) in held.into_iter().enumerate() {
            fresh.set_items(v as u32, items, 0);
        }
        for &(a, b) in &edges {
            fresh.add_edge(a, b, EdgeKind::AssumeRole);
        }
        fresh.recompute_all();
        fresh.settle();
        for v in 0..60u32 {
            assert_eq!(g.score(v), fresh.score(v), "seed {seed}, node {v}");
            assert_eq!(
                g.blast(v).score,
                fresh.blast(v).score,
                "seed {seed}, node {v}"
            );
        }
    }
}
