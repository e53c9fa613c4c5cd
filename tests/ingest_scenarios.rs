//! Scenario tests on real attack data: the identities whose credentials were abused, and the
//! ones the attacker created or empowered, rank above the benign ones, with reasons visible.

mod common;

use common::{core_of, corpus, rank, why};

use blastdoor::core::{RankedIdentity, SortKey};

fn find<'a>(r: &'a [RankedIdentity], needle: &str) -> &'a RankedIdentity {
    r.iter()
        .find(|x| x.identity.ends_with(needle))
        .unwrap_or_else(|| {
            panic!(
                "{needle} not ranked: {:#?}",
                r.iter().map(|x| &x.identity).collect::<Vec<_>>()
            )
        })
}

fn table(r: &[RankedIdentity]) -> String {
    r.iter()
        .take(25)
        .map(|x| {
            format!(
                "{:>3} {:>5.1} {:>5.1} {:>5.1} {} :: {}",
                x.rank,
                x.risk,
                x.blast_radius,
                x.threat,
                x.identity,
                why(x)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invictus_abused_and_created_identities_rank_above_the_benign() {
    let Some(dir) = corpus("invictus-ir-aws-dataset/CloudTrail") else {
        return;
    };
    let r = rank(dir).await;
    let t = table(&r);
    // Abused: the operator's keys drove the whole attack; an instance-profile credential was
    // stolen and used off the instance. Created/empowered: a user given AdministratorAccess and
    // an access key, a backdoor role with AdministratorAccess, a backdoor user with a new key,
    // a user given a console password that then logged in.
    // Must outrank every benign identity, the busy console user benjamin included (an hour of
    // S3-console browsing, a boto3 inventory sweep and the console's health polling).
    let bad = [
        "user/bert-jan",
        "user/malicious-iam-user",
        "role/stratus-red-team-backdoor-r-role",
        "assumed-role/stratus-red-team-ec2-steal-credentials-role/i-0dbc91f429e48eeed",
        "user/stratus-red-team-backdoor-u-user",
        "user/stratus-red-team-nmfalu-gfjyeaypjt",
    ];
    let benign = [
        "user/benjamin",
        "aws:secretsmanager.amazonaws.com",
        "aws:rds.amazonaws.com",
        "assumed-role/AWSServiceRoleForRDS/SLRManagement",
    ];
    let worst_benign = benign
        .iter()
        .map(|b| find(&r, b).risk)
        .fold(0.0f64, f64::max);
    for b in bad {
        let x = find(&r, b);
        assert!(
            x.risk > worst_benign,
            "{b} risk {} <= benign {worst_benign}\n{}\n{t}",
            x.risk,
            why(x)
        );
    }
    // The backdoor users were created and credentialed by the operator while it was turning
    // off logging and escalating: that is why they rank, and the why says so.
    for b in [
        "user/stratus-red-team-backdoor-u-user",
        "user/stratus-red-team-nmfalu-gfjyeaypjt",
    ] {
        let w = why(find(&r, b));
        assert!(
            w.contains("persistence calls") && w.contains("bert-jan showed threat"),
            "{b}: {w}"
        );
    }
    // benjamin's console browsing is not a new network, and AWS polling for him is not recon.
    let ben = why(find(&r, "user/benjamin"));
    assert!(!ben.contains("new network"), "{ben}");
    let admin = find(&r, "user/malicious-iam-user");
    let w = why(admin);
    assert!(
        w.contains("granted AdministratorAccess by bert-jan (AttachUserPolicy)"),
        "{w}"
    );
    assert!(
        w.contains("created by bert-jan (CreateAccessKey)") || w.contains("access key"),
        "{w}"
    );
    // The operator cleaned up (Stratus Red Team's revert): the key deleted, the policy detached,
    // the user deleted. The history stays in the why; the grants and the key are gone.
    assert!(
        w.contains("AdministratorAccess detached by bert-jan (DetachUserPolicy)")
            && w.contains("deleted by bert-jan (DeleteUser)"),
        "{w}"
    );
    assert!(
        admin.blast_radius < 10.0,
        "a deleted user reaches nothing: {w}"
    );
    let key = admin
        .credentials
        .iter()
        .find(|c| c.id.as_str() == "AKIATFQR7NSCQLA2F4OD")
        .expect("the key it was given");
    assert_eq!(key.status, blastdoor::core::CredentialStatus::Revoked);
    let role = find(&r, "role/stratus-red-team-backdoor-r-role");
    let w = why(role);
    assert!(w.contains("granted AdministratorAccess"), "{w}");
    assert!(w.contains("deleted by bert-jan (DeleteRole)"), "{w}");
    assert!(role.blast_radius < 10.0, "{w}");
    assert!(role.events == 0, "the backdoor role never acts, yet ranks");
    let stolen = find(&r, "i-0dbc91f429e48eeed");
    assert!(
        why(stolen).contains("workload credential used outside its workload"),
        "{}",
        why(stolen)
    );
    let op = find(&r, "user/bert-jan");
    let w = why(op);
    for label in [
        "privilege-escalation",
        "persistence",
        "defence evasion",
        "reconnaissance",
    ] {
        assert!(
            w.contains(label),
            "{label} missing from bert-jan's why: {w}"
        );
    }
    eprintln!("{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otrf_ssrf_instance_credentials_used_elsewhere_rank_first() {
    let Some(dir) = corpus("otrf-security-datasets/SDAWS-200914011940") else {
        return;
    };
    let r = rank(dir).await;
    let t = table(&r);
    let stolen = &r[0];
    assert!(
        stolen.identity.contains(
            "assumed-role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0/i-0317f6c6b66ae9c40"
        ),
        "{t}"
    );
    let w = why(stolen);
    assert!(
        w.contains("workload credential used outside its workload"),
        "{w}"
    );
    assert!(
        w.contains("reconnaissance") && w.contains("data reads"),
        "{w}"
    );
    let pedro = find(&r, "user/pedro");
    assert!(stolen.risk > pedro.risk, "{t}");
    assert!(stolen.threat > pedro.threat, "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stratus_detonations_each_show_their_technique_in_why() {
    let Some(dir) = corpus("stratus-red-team/detonation-logs") else {
        return;
    };
    for (file, label) in [
        (
            "aws.defense-evasion.cloudtrail-stop.json",
            "defence evasion",
        ),
        (
            "aws.defense-evasion.cloudtrail-delete.json",
            "defence evasion",
        ),
        (
            "aws.defense-evasion.vpc-remove-flow-logs.json",
            "defence evasion",
        ),
        (
            "aws.defense-evasion.organizations-leave.json",
            "defence evasion",
        ),
        (
            "aws.credential-access.secretsmanager-retrieve-secrets.json",
            "secret reads",
        ),
        (
            "aws.persistence.iam-create-admin-user.json",
            "AdministratorAccess",
        ),
        ("aws.persistence.iam-backdoor-user.json", "access key"),
        (
            "aws.persistence.iam-backdoor-role.json",
            "trust policy changed",
        ),
    ] {
        let r = rank(dir.join(file)).await;
        let all: String = r.iter().map(why).collect::<Vec<_>>().join("\n");
        assert!(
            all.contains(label),
            "{file}: no '{label}' in\n{}",
            table(&r)
        );
    }
}

// ---- deletions in the data take grants and credentials away ----

fn ranked(core: &mut blastdoor::core::Core, needle: &str) -> RankedIdentity {
    let all = core.top(10_000, SortKey::Risk);
    find(&all, needle).clone()
}

/// A CloudTrail record as AWS documents it, from `arn:…:user/admin`.
fn iam_call(op: &str, params: serde_json::Value) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "1.08", "eventTime": "2026-11-26T03:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": op, "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.17.20",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/admin",
            "accountId": "123456789012", "accessKeyId": "AKIAADMINEXAMPLE0001", "userName": "admin"},
        "requestParameters": params, "responseElements": null,
        "eventID": "5b4e9f1a-0000-4000-8000-000000000000", "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012"}]})
    .to_string()
}

#[test]
fn update_access_key_to_inactive_and_back_is_the_keys_status() {
    // The shape of UpdateAccessKey in CloudTrail (AWS IAM docs: logging IAM API calls).
    let key = "AKIAIOSFODNN7EXAMPLE";
    let create = serde_json::json!({"Records": [{
        "eventVersion": "1.08", "eventTime": "2026-11-26T02:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/admin",
            "accountId": "123456789012", "accessKeyId": "AKIAADMINEXAMPLE0001"},
        "requestParameters": {"userName": "ci-bot"},
        "responseElements": {"accessKey": {"userName": "ci-bot", "accessKeyId": key, "status": "Active"}},
        "recipientAccountId": "123456789012"}]})
    .to_string();
    let off = iam_call(
        "UpdateAccessKey",
        serde_json::json!({"userName": "ci-bot", "accessKeyId": key, "status": "Inactive"}),
    );
    let mut core = core_of(&[create.clone(), off.clone()]);
    let bot = ranked(&mut core, "user/ci-bot");
    let k = bot
        .credentials
        .iter()
        .find(|c| c.id.as_str() == key)
        .unwrap();
    assert_eq!(k.status, blastdoor::core::CredentialStatus::Inactive);
    assert!(why(&bot).contains(&format!(
        "access key {key} made inactive by admin (UpdateAccessKey)"
    )));
    let on = iam_call(
        "UpdateAccessKey",
        serde_json::json!({"userName": "ci-bot", "accessKeyId": key, "status": "Active"}),
    );
    let mut core = core_of(&[create, off, on]);
    let bot = ranked(&mut core, "user/ci-bot");
    let k = bot
        .credentials
        .iter()
        .find(|c| c.id.as_str() == key)
        .unwrap();
    assert_eq!(k.status, blastdoor::core::CredentialStatus::Active);
}

#[test]
fn deleting_an_inline_policy_takes_its_grants_away_and_leaves_the_others() {
    let put = |name: &str, action: &str| {
        iam_call(
            "PutUserPolicy",
            serde_json::json!({"userName": "ci-bot", "policyName": name,
                "policyDocument": serde_json::json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": action, "Resource": "*"}]}).to_string()}),
        )
    };
    let docs = [put("everything", "*"), put("reads", "s3:GetObject")];
    let mut core = core_of(&docs);
    let before = ranked(&mut core, "user/ci-bot").blast_radius;
    let del = iam_call(
        "DeleteUserPolicy",
        serde_json::json!({"userName": "ci-bot", "policyName": "everything"}),
    );
    let mut core = core_of(&[docs[0].clone(), docs[1].clone(), del]);
    let bot = ranked(&mut core, "user/ci-bot");
    assert!(
        bot.blast_radius < before / 2.0,
        "blast {before} → {}",
        bot.blast_radius
    );
    let w = why(&bot);
    assert!(
        w.contains("everything deleted by admin (DeleteUserPolicy)"),
        "{w}"
    );
    assert!(w.contains("s3:GetObject"), "the other policy stays: {w}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invictus_deleted_roles_lose_their_policies() {
    let Some(dir) = corpus("invictus-ir-aws-dataset/CloudTrail") else {
        return;
    };
    let r = rank(dir).await;
    // Created, given a policy, then detached and deleted by the operator's cleanup.
    for role in [
        "role/stratus-red-team-ec2-steal-credentials-role",
        "role/stratus-red-team-usr-data-role",
    ] {
        let x = find(&r, role);
        let w = why(x);
        assert!(
            w.contains("detached by bert-jan (DetachRolePolicy)"),
            "{role}: {w}"
        );
        assert!(
            w.contains("deleted by bert-jan (DeleteRole)"),
            "{role}: {w}"
        );
        assert!(x.blast_radius < 10.0, "{role}: {w}");
    }
}

fn falco_k8s(name: &str) -> Option<String> {
    let dir = corpus("falco/k8s_audit_trace_files")?;
    Some(std::fs::read_to_string(dir.join(name)).unwrap())
}

#[test]
fn a_deleted_cluster_role_binding_takes_cluster_admin_away_from_its_subject() {
    let (Some(bind), Some(unbind)) = (
        falco_k8s("attach_cluster_admin_role.json"),
        falco_k8s("delete_clusterrolebinding.json"),
    ) else {
        return;
    };
    let mut core = core_of(std::slice::from_ref(&bind));
    let all = core.top(100, SortKey::Blast);
    let bound = all
        .iter()
        .find(|x| why(x).contains("cluster-admin"))
        .unwrap_or_else(|| panic!("nobody bound to cluster-admin: {}", table(&all)))
        .clone();
    let mut core = core_of(&[bind, unbind]);
    let after = ranked(&mut core, &bound.identity);
    let w = why(&after);
    assert!(
        w.contains("binding some-reader-binding deleted by minikube-user"),
        "{w}"
    );
    assert!(!w.contains("(via cluster-admin)"), "{w}");
    assert!(
        after.blast_radius < bound.blast_radius,
        "{} → {}",
        bound.blast_radius,
        after.blast_radius
    );
}

#[test]
fn a_deleted_service_account_loses_its_grants_and_its_token() {
    let Some(delete) = falco_k8s("delete_serviceaccount.json") else {
        return;
    };
    let rbac = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"kind": "ServiceAccount", "metadata": {"name": "myacct", "namespace": "default"}},
        {"kind": "Role", "metadata": {"name": "reader", "namespace": "default"},
         "rules": [{"verbs": ["get", "list"], "resources": ["secrets"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "myacct-reader", "namespace": "default"},
         "roleRef": {"kind": "Role", "name": "reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "myacct", "namespace": "default"}]}]})
    .to_string();
    let mut core = core_of(std::slice::from_ref(&rbac));
    let before = ranked(&mut core, "system:serviceaccount:default:myacct");
    assert!(why(&before).contains("secrets"), "{}", why(&before));
    let mut core = core_of(&[rbac, delete]);
    let after = ranked(&mut core, "system:serviceaccount:default:myacct");
    let w = why(&after);
    assert!(
        w.contains("deleted by minikube-user (delete serviceaccounts)"),
        "{w}"
    );
    assert!(!w.contains("secrets:get"), "{w}");
    assert!(after.blast_radius < before.blast_radius.max(0.1), "{w}");
}

/// The Falco Kubernetes audit traces: the control plane's own identities (the replica-set
/// controller creating pods, the controller manager creating a token secret, the kubelet
/// reading its pod) score threat under 20, each lowered rule said in its `why`, while the
/// user who bound cluster-admin, exec'ed into a pod and created service accounts ranks above
/// every one of them with its reasons; and an anonymous caller creating a namespace is outside
/// what anonymous requests ever do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falco_k8s_traces_score_the_control_plane_low_and_the_attacker_above_it() {
    use blastdoor::core::k8s_baseline::role_of;
    let Some(dir) = corpus("falco/k8s_audit_trace_files") else {
        return;
    };
    let engine = common::replay(&dir).await;
    let problems = engine.problems();
    assert!(
        problems.iter().all(|p| p.contains("fal_01_003.json")),
        "{problems:?}"
    );
    let all = engine.write(|c| c.top(10_000, SortKey::Risk));
    let control: Vec<&RankedIdentity> = all
        .iter()
        .filter(|x| x.events > 0)
        .filter(|x| {
            x.identity
                .strip_prefix("k8s:")
                .is_some_and(|u| role_of(u).is_some() && u != "system:anonymous")
        })
        .collect();
    assert!(control.len() >= 3, "{}", table(&all));
    for c in &control {
        assert!(
            c.threat < 20.0,
            "{}: {}\n{}",
            c.identity,
            why(c),
            table(&all)
        );
    }
    let rs = find(&all, "kube-system:replicaset-controller");
    assert!(
        why(rs).contains("control plane: a workload controller creating pods from their template"),
        "{}",
        why(rs)
    );
    let kcm = find(&all, "k8s:system:kube-controller-manager");
    assert!(
        why(kcm)
            .contains("control plane: the token controller creating service-account token secrets"),
        "{}",
        why(kcm)
    );
    let top = control.iter().map(|c| c.threat).fold(0.0, f64::max);
    let attacker = find(&all, "k8s:minikube-user");
    assert!(attacker.threat > top + 20.0, "{}", table(&all));
    let w = why(attacker);
    assert!(w.contains("privilege-escalation calls"), "{w}");
    assert!(
        w.contains("bound minikube to cluster-admin (binding some-reader-binding)"),
        "{w}"
    );

    let anon = falco_k8s("anonymous_creates_namespace_foo.json").unwrap();
    let mut core = core_of(&[anon]);
    let a = ranked(&mut core, "k8s:system:anonymous");
    assert!(a.threat >= 20.0, "{}", why(&a));
    assert!(
        why(&a).contains("control-plane identity outside its baseline"),
        "{}",
        why(&a)
    );
    assert!(!why(&a).contains("workload credential"), "{}", why(&a));
}
