//! Scenario tests on real attack data: the identities whose credentials were abused, and the
//! ones the attacker created or empowered, rank above the benign ones, with reasons visible.

mod common;

use std::path::{Path, PathBuf};

use blastdoor::core::{RankedIdentity, SortKey};

fn corpus(sub: &str) -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).join(sub);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("corpus folder {} is missing (CI=true)", p.display());
    }
    eprintln!("SKIP: corpus folder {} is absent", p.display());
    None
}

async fn rank(path: PathBuf) -> Vec<RankedIdentity> {
    let engine = common::replay(&path).await;
    assert!(engine.problems().is_empty(), "{:?}", engine.problems());
    engine.write(|c| c.top(10_000, SortKey::Risk))
}

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

fn why(r: &RankedIdentity) -> String {
    r.why
        .iter()
        .map(|w| w.detail.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
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
    assert!(admin.blast_radius >= 50.0, "{w}");
    let role = find(&r, "role/stratus-red-team-backdoor-r-role");
    assert!(why(role).contains("AdministratorAccess"), "{}", why(role));
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
