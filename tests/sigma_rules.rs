//! Community detection rules (issue 18): SigmaHQ's AWS, GCP, Kubernetes and GitHub rules from
//! the corpus, loaded and evaluated on the corpus's records, in the library (the decoders with
//! the rules installed, as `--rules` installs them) and through the real binary (`rank`,
//! `explain`, `check-config`, a bad rule file).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use blastdoor::ingest::{self, sigma};
use common::{bd_in, code, json, stderr};

fn corpus() -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).to_path_buf();
    if p.join("sigma/rules").is_dir() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the corpus folder {} is missing (CI=true)", p.display());
    }
    eprintln!("SKIP: corpus folder {} is absent", p.display());
    None
}

/// The corpus's Sigma rules installed for this test process, as `--rules` does.
fn installed(corpus: &Path) -> &'static sigma::Rules {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let (rules, problems) = sigma::Rules::load(&[corpus.join("sigma/rules")]).unwrap();
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(sigma::install(rules));
    });
    sigma::active().expect("installed")
}

#[test]
fn all_114_sigmahq_rules_in_the_corpus_load() {
    let Some(c) = corpus() else { return };
    let rules = installed(&c);
    assert_eq!(rules.len(), 114);
    // Google Workspace's admin and login rules: no format blastdoor reads.
    assert_eq!(rules.unused(), 10);
    // Every CloudTrail rule is keyed on a field the typed decoder reads, so a record is parsed
    // only for the rules that can match it.
    assert_eq!(rules.unindexed_cloudtrail(), Vec::<&str>::new());
}

/// `(detonation file, rule title)` for every Sigma match on the Stratus detonation logs.
fn stratus_hits(c: &Path) -> BTreeSet<(String, String)> {
    installed(c);
    let dir = c.join("stratus-red-team/detonation-logs");
    let mut hits = BTreeSet::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        let d = ingest::decode_document(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for e in &d.events {
            for h in &e.sigma {
                hits.insert((name.clone(), h.title.to_string()));
            }
        }
    }
    hits
}

#[test]
fn the_stratus_techniques_fire_the_rules_written_for_them_and_no_others() {
    let Some(c) = corpus() else { return };
    let hits = stratus_hits(&c);
    let has = |f: &str, t: &str| hits.contains(&(format!("aws.{f}.json"), t.to_string()));
    // Each technique and the rule that reads its call.
    for (file, title) in [
        (
            "defense-evasion.cloudtrail-stop",
            "AWS CloudTrail Important Change",
        ),
        (
            "defense-evasion.cloudtrail-delete",
            "AWS CloudTrail Important Change",
        ),
        (
            "defense-evasion.vpc-remove-flow-logs",
            "AWS VPC Flow Logs Deleted",
        ),
        (
            "persistence.iam-create-admin-user",
            "AWS IAM Backdoor Users Keys",
        ),
        (
            "persistence.iam-backdoor-user",
            "AWS IAM Backdoor Users Keys",
        ),
        (
            "privilege-escalation.iam-update-user-login-profile",
            "AWS User Login Profile Was Modified",
        ),
        (
            "execution.ssm-send-command",
            "Potential Malicious Usage of CloudTrail System Manager",
        ),
        (
            "exfiltration.ec2-share-ebs-snapshot",
            "AWS Snapshot Backup Exfiltration",
        ),
        (
            "exfiltration.ec2-security-group-open-port-22-ingress",
            "Ingress/Egress Security Group Modification",
        ),
        (
            "persistence.lambda-layer-extension",
            "AWS New Lambda Layer Attached",
        ),
        (
            "initial-access.console-login-without-mfa",
            "AWS Successful Console Login Without MFA",
        ),
    ] {
        assert!(has(file, title), "{file} should match {title:?}: {hits:#?}");
    }
    // And not elsewhere: a rule about one call does not fire on another technique's calls.
    assert!(!has(
        "persistence.iam-create-admin-user",
        "AWS CloudTrail Important Change"
    ));
    assert!(!has(
        "defense-evasion.cloudtrail-stop",
        "AWS IAM Backdoor Users Keys"
    ));
    assert!(!has(
        "defense-evasion.cloudtrail-delete",
        "AWS VPC Flow Logs Deleted"
    ));
    for quiet in [
        "credential-access.secretsmanager-retrieve-secrets",
        "defense-evasion.dns-delete-logs",
        "discovery.ec2-enumerate-from-instance",
    ] {
        assert!(
            !hits.iter().any(|(f, _)| *f == format!("aws.{quiet}.json")),
            "{quiet}: {hits:#?}"
        );
    }
    // The whole set, so that a rule firing where it should not is seen too.
    let titles: BTreeSet<&str> = hits.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        titles,
        BTreeSet::from([
            "AWS CloudTrail Important Change",
            "AWS IAM Backdoor Users Keys",
            "AWS New Lambda Layer Attached",
            "AWS STS AssumeRole Misuse",
            "AWS Snapshot Backup Exfiltration",
            "AWS Successful Console Login Without MFA",
            "AWS User Login Profile Was Modified",
            "AWS VPC Flow Logs Deleted",
            "Ingress/Egress Security Group Modification",
            "Potential Malicious Usage of CloudTrail System Manager",
        ])
    );
    assert_eq!(hits.len(), 19, "{hits:#?}");
}

/// The call index only narrows the rules evaluated: on every CloudTrail record of the corpus
/// it gives what evaluating every CloudTrail rule gives.
#[test]
fn the_call_index_agrees_with_evaluating_every_rule_on_every_cloudtrail_record() {
    let Some(c) = corpus() else { return };
    let rules = installed(&c);
    let mut records = Vec::new();
    let mut add = |v: &serde_json::Value| {
        if let Some(rs) = v.get("Records").and_then(|r| r.as_array()) {
            records.extend(rs.iter().cloned());
        } else if let Some(rs) = v.as_array() {
            records.extend(rs.iter().cloned());
        }
    };
    for d in [
        "stratus-red-team/detonation-logs",
        "invictus-ir-aws-dataset/CloudTrail",
    ] {
        for f in std::fs::read_dir(c.join(d)).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            add(&serde_json::from_str(&text).unwrap());
        }
    }
    assert!(records.len() > 1_000, "{}", records.len());
    let mut matched = 0;
    for r in &records {
        let fields = sigma::INDEXED_FIELDS.map(|f| {
            f.split('.')
                .try_fold(r, |v, k| v.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or("")
        });
        let indexed = rules.cloudtrail(fields, || std::borrow::Cow::Borrowed(r));
        let mut full = rules.matches(sigma::LogSource::CloudTrail, r);
        let mut got = indexed.clone();
        got.sort_by(|a, b| a.title.cmp(&b.title));
        full.sort_by(|a, b| a.title.cmp(&b.title));
        assert_eq!(got, full, "{fields:?}");
        matched += got.len();
    }
    assert!(matched > 20, "{matched}");
}

#[test]
fn kubernetes_audit_records_fire_the_kubernetes_rules() {
    let Some(c) = corpus() else { return };
    installed(&c);
    let dir = c.join("falco/k8s_audit_trace_files");
    let titles_of = |file: &str| -> BTreeSet<String> {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let mut out = BTreeSet::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(d) = ingest::decode_record(line) {
                out.extend(
                    d.events
                        .iter()
                        .flat_map(|e| e.sigma.iter().map(|h| h.title.to_string())),
                );
            }
        }
        out
    };
    assert!(
        titles_of("attach_cluster_admin_role.json").contains("Kubernetes Rolebinding Modification"),
        "{:?}",
        titles_of("attach_cluster_admin_role.json")
    );
    assert!(
        titles_of("exec_pod.json").contains("Potential Remote Command Execution In Pod Container"),
        "{:?}",
        titles_of("exec_pod.json")
    );
    // The index gives what evaluating every Kubernetes rule gives, on every audit record.
    let rules = sigma::active().unwrap();
    let mut n = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Ok(d) = ingest::decode_record(line) else {
                continue;
            };
            let mut indexed: Vec<String> = d
                .events
                .iter()
                .flat_map(|e| e.sigma.iter().map(|h| h.title.to_string()))
                .collect();
            let mut full: Vec<String> = rules
                .matches(sigma::LogSource::K8sAudit, &v)
                .iter()
                .map(|h| h.title.to_string())
                .collect();
            if d.events.is_empty() {
                continue;
            }
            indexed.sort();
            full.sort();
            assert_eq!(indexed, full, "{line}");
            n += full.len();
        }
    }
    assert!(n >= 5, "{n}");
    // Creating a config map is none of the rules' business.
    assert!(titles_of("create_configmap.json").is_empty());
}

const STRATUS_STOP: &str =
    "stratus-red-team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json";

#[test]
fn rank_json_why_names_the_rule_its_level_and_tags() {
    let Some(c) = corpus() else { return };
    let home = tempfile::tempdir().unwrap();
    let out = bd_in(home.path())
        .args(["rank", "--format", "json", "--source"])
        .arg(c.join(STRATUS_STOP))
        .arg("--rules")
        .arg(c.join("sigma/rules"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let why = v[0]["why"].as_array().unwrap();
    let sigma: Vec<&str> = why
        .iter()
        .filter(|r| r["factor"] == "sigma")
        .map(|r| r["detail"].as_str().unwrap())
        .collect();
    assert_eq!(sigma.len(), 1, "{why:#?}");
    let d = sigma[0];
    assert!(
        d.starts_with("Sigma: AWS CloudTrail Important Change (medium; attack."),
        "{d}"
    );
    assert!(d.ends_with(" ×1"), "{d}");
    let sigma_weight = why.iter().find(|r| r["factor"] == "sigma").unwrap()["weight"]
        .as_f64()
        .unwrap();
    assert!(sigma_weight > 5.0, "{why:#?}");

    // Without rules: exactly as before, no Sigma reason and less threat.
    let plain = bd_in(home.path())
        .args(["rank", "--format", "json", "--source"])
        .arg(c.join(STRATUS_STOP))
        .output()
        .unwrap();
    let p = json(&plain);
    assert!(
        !p[0]["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["factor"] == "sigma")
    );
    assert!(p[0]["threat"].as_f64().unwrap() < v[0]["threat"].as_f64().unwrap());
}

#[test]
fn explain_shows_the_rule_and_the_call_that_matched_it() {
    let Some(c) = corpus() else { return };
    let home = tempfile::tempdir().unwrap();
    let out = bd_in(home.path())
        .args(["explain", "christophe", "--format", "json", "--source"])
        .arg(c.join(STRATUS_STOP))
        .arg("--rules")
        .arg(c.join("sigma/rules"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let r = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["factor"] == "sigma")
        .expect("a Sigma reason");
    let ev = r["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 1, "{r:#?}");
    let call = &v["evidence"][ev[0].as_u64().unwrap() as usize];
    assert_eq!(call["operation"], "StopLogging");
    assert_eq!(call["sigma"][0], "AWS CloudTrail Important Change");
}

const BAD_RULE: &str = "title: Broken\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    selection:\n        eventName|frobnicate: StopLogging\n    condition: selection\nlevel: high\n";

const GOOD_RULE: &str = "title: Trail Stopped Here\nid: 0d2c9b5e-5a34-4e5c-9c6e-4f43d8a4f1a1\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    selection:\n        eventName: StopLogging\n    condition: selection\ntags:\n    - attack.t1562.008\nlevel: critical\n";

#[test]
fn a_bad_rule_file_is_named_with_its_line_and_the_good_ones_still_fire() {
    let Some(c) = corpus() else { return };
    let home = tempfile::tempdir().unwrap();
    let rules = home.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("broken.yml"), BAD_RULE).unwrap();
    std::fs::write(rules.join("good.yml"), GOOD_RULE).unwrap();
    let out = bd_in(home.path())
        .args(["rank", "--format", "json", "--source"])
        .arg(c.join(STRATUS_STOP))
        .arg("--rules")
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:7: ", rules.join("broken.yml").display()))
            && err.contains("frobnicate"),
        "{err}"
    );
    let v = json(&out);
    let why = v[0]["why"].as_array().unwrap();
    assert!(
        why.iter().any(|r| r["detail"]
            .as_str()
            .unwrap()
            .starts_with("Sigma: Trail Stopped Here (critical; attack.t1562.008) ×1")),
        "{why:#?}"
    );

    // A folder that does not exist: named, with the fix, exit 2.
    let out = bd_in(home.path())
        .args(["rank", "--source"])
        .arg(c.join(STRATUS_STOP))
        .arg("--rules")
        .arg(home.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("nope does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rules_in_config_toml_are_used_and_checked() {
    let Some(c) = corpus() else { return };
    let home = tempfile::tempdir().unwrap();
    let rules = home.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("good.yml"), GOOD_RULE).unwrap();
    let cfg = home.path().join("config.toml");
    // Relative to the config file.
    std::fs::write(&cfg, "rules = [\"rules\"]\n").unwrap();
    let out = bd_in(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["rank", "--format", "json", "--source"])
        .arg(c.join(STRATUS_STOP))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert!(
        v[0]["why"].as_array().unwrap().iter().any(|r| r["detail"]
            .as_str()
            .unwrap()
            .starts_with("Sigma: Trail Stopped Here")),
        "{v:#?}"
    );
    let check = bd_in(home.path())
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(code(&check), 0, "{}", stderr(&check));

    // A bad rule among them: check-config names its file and line and fails.
    std::fs::write(rules.join("broken.yml"), BAD_RULE).unwrap();
    let check = bd_in(home.path())
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(code(&check), 2, "{}", stderr(&check));
    let err = stderr(&check);
    assert!(
        err.contains("broken.yml") && err.contains("line 7") && err.contains("frobnicate"),
        "{err}"
    );

    // A missing folder in `rules`: named.
    std::fs::write(&cfg, "rules = [\"missing-rules\"]\n").unwrap();
    let check = bd_in(home.path())
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(code(&check), 2);
    assert!(
        stderr(&check).contains("missing-rules does not exist"),
        "{}",
        stderr(&check)
    );
}
