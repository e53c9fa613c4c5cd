//! Blast radius through escalation paths, end to end: an AWS authorization-details inventory
//! ranked by the real binary (`blastdoor rank --inventory FILE --format json --by blast`), with
//! a crown jewel from `config.toml`. Identities that can become an administrator rank above a
//! broad read-only user, who ranks above a narrowly scoped reader, and each one's `why` names
//! its path.

mod common;

use serde_json::{Value, json};

const ACCT: &str = "111122223333";

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCT}:{kind}/{name}")
}

fn user(name: &str, statements: Value) -> Value {
    json!({"UserName": name, "Arn": arn("user", name), "GroupList": [], "AttachedManagedPolicies": [],
           "UserPolicyList": [{"PolicyName": format!("{name}-policy"),
                               "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]})
}

fn role(name: &str, trusted: Value, statements: Value, managed: &[&str]) -> Value {
    json!({"RoleName": name, "Arn": arn("role", name),
           "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
               {"Effect": "Allow", "Principal": trusted, "Action": "sts:AssumeRole"}]},
           "AttachedManagedPolicies": managed.iter()
               .map(|m| json!({"PolicyName": m, "PolicyArn": format!("arn:aws:iam::aws:policy/{m}")}))
               .collect::<Vec<_>>(),
           "RolePolicyList": if statements.is_null() { json!([]) } else {
               json!([{"PolicyName": format!("{name}-policy"),
                       "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]) }})
}

fn inventory() -> Value {
    let root = json!({"AWS": format!("arn:aws:iam::{ACCT}:root")});
    json!({
        "UserDetailList": [
            user("launcher", json!([
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn("role", "prod-admin-ec2")},
                {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}])),
            user("key-maker", json!([
                {"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": arn("user", "*")}])),
            user("ops-admin", json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}])),
            user("auditor", json!([
                {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "ec2:Describe*", "dynamodb:Query"], "Resource": "*"}])),
            user("payroll-clerk", json!([
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payroll-2026/march.csv"}])),
            user("q1-reader", json!([
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/q1/summary.csv"}]))
        ],
        "RoleDetailList": [
            role("prod-admin-ec2", json!({"Service": "ec2.amazonaws.com"}), Value::Null, &["AdministratorAccess"]),
            role("prod-admin", root, Value::Null, &["AdministratorAccess"]),
            role("deployer", json!({"Service": "codebuild.amazonaws.com"}), json!([
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "prod-admin")}]), &[])
        ],
        "GroupDetailList": [], "Policies": []
    })
}

#[test]
fn escalation_paths_rank_above_readers_and_name_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("authorization-details.json");
    std::fs::write(&inv, serde_json::to_string_pretty(&inventory()).unwrap()).unwrap();
    let home = dir.path().join("home");
    let cfg = home.join("config").join("blastdoor");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        "[[crown_jewels]]\nname = \"payroll\"\narn = \"arn:aws:s3:::payroll*\"\nsensitivity = \"secrets\"\n",
    )
    .unwrap();
    let out = common::run(common::bd_in(&home).args([
        "rank",
        "--inventory",
        inv.to_str().unwrap(),
        "--format",
        "json",
        "--by",
        "blast",
        "--top",
        "50",
    ]));
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    let ranked = common::json(&out);
    let rows = ranked.as_array().expect("a JSON array");
    let find = |name: &str| -> &Value {
        rows.iter()
            .find(|r| r["identity"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} missing from {ranked:#}"))
    };
    let rank = |name: &str| find(name)["rank"].as_u64().unwrap();
    let why = |name: &str| -> String {
        find(name)["why"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["detail"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    for (name, path) in [
        (
            "user/launcher",
            "can pass role/prod-admin-ec2 (AdministratorAccess) via iam:PassRole to ec2 + ec2:RunInstances",
        ),
        (
            "role/deployer",
            "can assume role/prod-admin (AdministratorAccess) via sts:AssumeRole",
        ),
        (
            "user/key-maker",
            "can create an access key for user/ops-admin (ops-admin-policy) via iam:CreateAccessKey",
        ),
    ] {
        assert!(
            rank(name) < rank("user/auditor"),
            "{name} (#{}) should outrank the broad reader (#{})",
            rank(name),
            rank("user/auditor")
        );
        assert!(why(name).contains(path), "{name}: {}", why(name));
        let paths = find(name)["paths"].as_array().expect("paths in the JSON");
        assert_eq!(paths[0]["sensitivity"], "admin");
        assert!(paths[0]["through"].as_array().unwrap().len() >= 2);
    }
    assert!(rank("user/auditor") < rank("user/q1-reader"), "{ranked:#}");
    // The crown jewel from config.toml lifts a narrow reader of payroll above the other narrow
    // reader, and the broad reader's s3:Get* on * reaches it too.
    assert!(rank("user/payroll-clerk") < rank("user/q1-reader"));
    assert!(
        why("user/payroll-clerk")
            .contains("secrets: s3:GetObject on arn:aws:s3:::payroll-2026/march.csv")
    );
    assert!(why("user/payroll-clerk").contains("crown jewel: payroll"));
    assert!(why("user/auditor").contains("crown jewel: payroll"));
    // Readers reach no one: their why has no path, and their JSON no `paths`.
    assert!(find("user/q1-reader").get("paths").is_none());
}
