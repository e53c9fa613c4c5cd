//! Triage on real incidents (issue 18): per-credential baselines, session lineage, and reasons
//! that name the calls behind them, on the public corpus and on incidents shaped like the ones
//! responders bring (a Lambda's key on a laptop, a leaked user key that assumes an admin role).

mod common;

use common::{corpus, rank, why};

use blastdoor::core::{Core, Msg, RankedIdentity, SortKey};
use serde_json::{Value, json};

fn find<'a>(r: &'a [RankedIdentity], needle: &str) -> &'a RankedIdentity {
    r.iter()
        .find(|x| x.identity.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "{needle} not ranked: {:#?}",
                r.iter().map(|x| &x.identity).collect::<Vec<_>>()
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invictus_stolen_instance_role_is_high_threat_with_the_outside_address() {
    let Some(dir) = corpus("invictus-ir-aws-dataset/CloudTrail") else {
        return;
    };
    let r = rank(dir).await;
    let stolen = find(
        &r,
        "stratus-red-team-ec2-steal-credentials-role/i-0dbc91f429e48eeed",
    );
    let w = why(stolen);
    assert!(stolen.threat >= 75.0, "threat {}: {w}", stolen.threat);
    assert!(
        w.contains("192.168.10.20") && w.contains("3.225.16.109"),
        "the outside address and its workload's are named: {w}"
    );
    // Its session was issued by EC2 for the instance, and is of the role.
    let by = stolen.issued_by.as_ref().expect("issued_by");
    assert_eq!(by.identity, "aws:ec2.amazonaws.com");
    assert_eq!(by.call, "sts:AssumeRole");
    assert_eq!(stolen.session_of.as_deref(), Some("aws:ec2.amazonaws.com"));
    assert_eq!(
        stolen.role.as_deref(),
        Some("arn:aws:iam::123837392027:role/stratus-red-team-ec2-steal-credentials-role")
    );
    // The key EC2 handed the instance says who issued it; the stolen one was never seen issued.
    let key = |id: &str| {
        stolen
            .credentials
            .iter()
            .find(|c| c.id.as_str() == id)
            .unwrap()
    };
    let issued = key("ASIATFQR7NSCSHSEVYP5")
        .issued_by
        .as_ref()
        .expect("issued_by");
    assert_eq!(
        (issued.identity.as_str(), issued.call.as_str()),
        ("aws:ec2.amazonaws.com", "sts:AssumeRole")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invictus_sessions_carry_their_issuers_threat_and_say_so() {
    let Some(dir) = corpus("invictus-ir-aws-dataset/CloudTrail") else {
        return;
    };
    let r = rank(dir).await;
    let operator = find(&r, "user/bert-jan");
    let session = find(&r, "stratus-red-team-leave-org-role/");
    let by = session.issued_by.as_ref().expect("issued_by");
    assert_eq!(by.identity, operator.identity);
    assert!(
        session.threat >= operator.threat * 0.5,
        "a session of a threat-{} issuer has threat {}",
        operator.threat,
        session.threat
    );
    // The issuer is blamed for what its sessions did, named through the session.
    let w = why(operator);
    assert!(
        w.contains("through its sessions: ")
            && w.contains("organizations:LeaveOrganization (defence evasion)"),
        "{w}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otrf_ssrf_waf_role_session_is_high_threat_with_the_laptop_named() {
    let Some(f) = corpus(
        "otrf-security-datasets/SDAWS-200914011940/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    ) else {
        return;
    };
    let r = rank(f).await;
    let waf = find(&r, "BankingWAFRole");
    let w = why(waf);
    assert!(waf.threat >= 75.0, "threat {}: {w}", waf.threat);
    assert!(w.contains("1.2.3.4") && w.contains("Darwin"), "{w}");
    assert_eq!(waf.rank, 1, "the stolen WAF credential ranks first");
}

/// Every Stratus Red Team technique: the technique's own call is named in a reason of the
/// identity that made it (or of the session it made it through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stratus_technique_names_its_call_in_a_reason() {
    let Some(dir) = corpus("stratus-red-team/detonation-logs") else {
        return;
    };
    let calls: &[(&str, &str)] = &[
        (
            "credential-access.ec2-get-password-data",
            "ec2:GetPasswordData",
        ),
        (
            "credential-access.ec2-steal-instance-credentials",
            "ssm:SendCommand",
        ),
        (
            "credential-access.secretsmanager-batch-retrieve-secrets",
            "secretsmanager:BatchGetSecretValue",
        ),
        (
            "credential-access.secretsmanager-retrieve-secrets",
            "secretsmanager:GetSecretValue",
        ),
        (
            "credential-access.ssm-retrieve-securestring-parameters",
            "ssm:GetParameters",
        ),
        (
            "defense-evasion.cloudtrail-delete",
            "cloudtrail:DeleteTrail",
        ),
        (
            "defense-evasion.cloudtrail-event-selectors",
            "cloudtrail:PutEventSelectors",
        ),
        ("defense-evasion.cloudtrail-stop", "cloudtrail:StopLogging"),
        (
            "defense-evasion.dns-delete-logs",
            "route53resolver:DeleteResolverQueryLogConfig",
        ),
        (
            "defense-evasion.organizations-leave",
            "organizations:LeaveOrganization",
        ),
        ("defense-evasion.vpc-remove-flow-logs", "ec2:DeleteFlowLogs"),
        (
            "discovery.ec2-download-user-data",
            "ec2:DescribeInstanceAttribute",
        ),
        ("execution.ec2-launch-unusual-instances", "ec2:RunInstances"),
        ("execution.ec2-user-data", "ec2:ModifyInstanceAttribute"),
        ("execution.ssm-send-command", "ssm:SendCommand"),
        ("execution.ssm-start-session", "ssm:StartSession"),
        (
            "exfiltration.ec2-security-group-open-port-22-ingress",
            "ec2:AuthorizeSecurityGroupIngress",
        ),
        ("exfiltration.ec2-share-ami", "ec2:ModifyImageAttribute"),
        (
            "exfiltration.ec2-share-ebs-snapshot",
            "ec2:ModifySnapshotAttribute",
        ),
        (
            "exfiltration.rds-share-snapshot",
            "rds:ModifyDBSnapshotAttribute",
        ),
        ("impact.bedrock-invoke-model", "bedrock:InvokeModel"),
        ("initial-access.console-login-without-mfa", "ConsoleLogin"),
        (
            "lateral-movement.ec2-instance-connect",
            "ec2-instance-connect:SendSSHPublicKey",
        ),
        (
            "lateral-movement.ec2-serial-console-send-ssh-public-key",
            "SendSerialConsoleSSHPublicKey",
        ),
        (
            "persistence.iam-backdoor-role",
            "iam:UpdateAssumeRolePolicy",
        ),
        ("persistence.iam-backdoor-user", "iam:CreateAccessKey"),
        ("persistence.iam-create-admin-user", "iam:CreateUser"),
        ("persistence.iam-create-backdoor-role", "iam:CreateRole"),
        (
            "persistence.iam-create-user-login-profile",
            "iam:CreateLoginProfile",
        ),
        (
            "persistence.lambda-backdoor-function",
            "lambda:AddPermission20150331v2",
        ),
        (
            "persistence.lambda-layer-extension",
            "lambda:UpdateFunctionConfiguration20150331v2",
        ),
        (
            "persistence.lambda-overwrite-code",
            "lambda:UpdateFunctionCode20150331v2",
        ),
        (
            "persistence.rolesanywhere-create-trust-anchor",
            "rolesanywhere:CreateTrustAnchor",
        ),
        ("persistence.sts-federation-token", "sts:GetFederationToken"),
        (
            "privilege-escalation.iam-update-user-login-profile",
            "iam:UpdateLoginProfile",
        ),
    ];
    let mut missing = Vec::new();
    for (technique, call) in calls {
        let f = dir.join(format!("aws.{technique}.json"));
        assert!(f.exists(), "{} is missing from the corpus", f.display());
        let r = rank(f).await;
        let named = r.iter().filter(|x| x.threat > 0.0).any(|x| {
            x.why
                .iter()
                .any(|w| w.factor != "permission" && w.detail.contains(call))
        });
        if !named {
            missing.push(format!(
                "{technique}: no threat reason names {call}:\n  {}",
                r.iter()
                    .take(3)
                    .map(|x| format!("{} {}: {}", x.threat, x.display, why(x)))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
    }
    assert_eq!(calls.len(), 35, "one entry per technique file");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

// ---- incidents of the kind responders bring, in CloudTrail's documented shape ----

fn record(
    time: &str,
    source: &str,
    op: &str,
    identity: Value,
    ip: &str,
    ua: &str,
    error: Option<&str>,
) -> Value {
    let mut r = json!({
        "eventVersion": "1.08", "eventTime": time, "eventSource": source, "eventName": op,
        "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": ua,
        "userIdentity": identity, "requestParameters": null, "responseElements": null,
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    });
    if let Some(e) = error {
        r["errorCode"] = json!(e);
        r["errorMessage"] = json!("User is not authorized to perform this operation");
    }
    r
}

fn core_of(records: Vec<Value>) -> Core {
    common::core_of(&[json!({ "Records": records }).to_string()])
}

fn ranked(core: &mut Core, needle: &str) -> RankedIdentity {
    let all = core.top(10_000, SortKey::Risk);
    find(&all, needle).clone()
}

fn session(arn: &str, key: &str, role: &str) -> Value {
    json!({"type": "AssumedRole", "principalId": "AROAEXAMPLE:s", "arn": arn,
        "accountId": "111122223333", "accessKeyId": key,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role,
            "accountId": "111122223333", "userName": role.rsplit('/').next().unwrap()}}})
}

/// Lambda assumes its execution role (AWS's record of it: `AWSService`, `lambda.amazonaws.com`,
/// no session ARN in the response); the key then shows up on a laptop.
#[test]
fn a_lambda_key_used_from_a_laptop_is_outside_its_workload() {
    let role = "arn:aws:iam::111122223333:role/orders-fn-role";
    let arn = "arn:aws:sts::111122223333:assumed-role/orders-fn-role/orders-fn";
    let key = "ASIAQLAMBDAEXAMPLE01";
    let mut assume = record(
        "2026-11-20T10:00:00Z",
        "sts.amazonaws.com",
        "AssumeRole",
        json!({"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}),
        "lambda.amazonaws.com",
        "lambda.amazonaws.com",
        None,
    );
    assume["requestParameters"] = json!({"roleArn": role, "roleSessionName": "orders-fn"});
    assume["responseElements"] =
        json!({"credentials": {"accessKeyId": key, "sessionToken": "<secret>", "expiration": "x"}});
    let lambda_ua = "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.209 lang/python#3.12.2 exec-env/AWS_Lambda_python3.12";
    let mut records = vec![assume];
    for (i, op) in ["GetItem", "PutItem", "GetItem"].iter().enumerate() {
        records.push(record(
            &format!("2026-11-20T10:0{}:00Z", i + 1),
            "dynamodb.amazonaws.com",
            op,
            session(arn, key, role),
            "3.91.12.40",
            lambda_ua,
            None,
        ));
    }
    for (i, op) in ["GetCallerIdentity", "ListBuckets", "ListRoles"]
        .iter()
        .enumerate()
    {
        records.push(record(
            &format!("2026-11-20T11:0{i}:00Z"),
            "sts.amazonaws.com",
            op,
            session(arn, key, role),
            "203.0.113.50",
            "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-26-generic exe/x86_64.ubuntu.22",
            None,
        ));
    }
    let mut core = core_of(records);
    let s = ranked(&mut core, "assumed-role/orders-fn-role/orders-fn");
    let w = why(&s);
    assert!(s.threat >= 60.0, "threat {}: {w}", s.threat);
    assert!(
        w.contains("lambda credential used from 203.0.113.50")
            && w.contains("not its runtime's SDK"),
        "{w}"
    );
    assert_eq!(
        s.issued_by.as_ref().unwrap().identity,
        "aws:lambda.amazonaws.com"
    );
    // The session token in the response is a secret: nothing of it is kept.
    let json = serde_json::to_string(&core.top(100, SortKey::Risk)).unwrap();
    assert!(!json.contains("<secret>"));
}

/// A leaked user key enumerates (mostly refused), assumes a role and reads S3 with it: the
/// chain user → role → data is seen, the role session carries the user's threat, and the user
/// is blamed for what the session did, with the assumption called an escalation.
#[test]
fn a_leaked_key_that_assumes_a_role_is_blamed_for_the_session_and_escalates() {
    let user = json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "userName": "ci-deployer",
        "arn": "arn:aws:iam::111122223333:user/ci-deployer", "accountId": "111122223333",
        "accessKeyId": "AKIAQLEAKEDEXAMPLE01"});
    let ua = "aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0-kali9-amd64 exe/x86_64.kali.2023";
    let ip = "198.51.100.77";
    let mut records = Vec::new();
    let ops = [
        "ListUsers",
        "ListRoles",
        "ListBuckets",
        "GetAccountAuthorizationDetails",
        "ListSecrets",
    ];
    for i in 0..60 {
        let op = ops[i % ops.len()];
        let src = if op == "ListBuckets" {
            "s3.amazonaws.com"
        } else {
            "iam.amazonaws.com"
        };
        records.push(record(
            &format!("2026-11-20T12:{:02}:{:02}Z", i / 60, i % 60),
            src,
            op,
            user.clone(),
            ip,
            ua,
            Some("AccessDenied"),
        ));
    }
    let role = "arn:aws:iam::111122223333:role/OrgAdmin";
    let arn = "arn:aws:sts::111122223333:assumed-role/OrgAdmin/loot";
    let key = "ASIAQSESSIONEXAMPLE1";
    let mut assume = record(
        "2026-11-20T12:05:00Z",
        "sts.amazonaws.com",
        "AssumeRole",
        user.clone(),
        ip,
        ua,
        None,
    );
    assume["requestParameters"] = json!({"roleArn": role, "roleSessionName": "loot"});
    assume["responseElements"] = json!({"credentials": {"accessKeyId": key, "sessionToken": "<secret>"},
        "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE:loot", "arn": arn}});
    records.push(assume);
    records.push(record(
        "2026-11-20T12:06:00Z",
        "s3.amazonaws.com",
        "ListBuckets",
        session(arn, key, role),
        ip,
        ua,
        None,
    ));
    for i in 0..5 {
        records.push(record(
            &format!("2026-11-20T12:07:0{i}Z"),
            "s3.amazonaws.com",
            "GetObject",
            session(arn, key, role),
            ip,
            ua,
            None,
        ));
    }
    let mut core = core_of(records);
    let u = ranked(&mut core, "user/ci-deployer");
    let s = ranked(&mut core, "assumed-role/OrgAdmin/loot");
    let (uw, sw) = (why(&u), why(&s));
    assert!(
        uw.contains("privilege-escalation calls")
            && uw.contains("its session OrgAdmin/loot made s3:ListBuckets, which it was refused"),
        "{uw}"
    );
    assert!(uw.contains("through OrgAdmin/loot: s3:GetObject"), "{uw}");
    assert_eq!(s.issued_by.as_ref().unwrap().identity, u.identity);
    assert_eq!(s.issued_by.as_ref().unwrap().call, "sts:AssumeRole");
    assert_eq!(s.session_of.as_deref(), Some(u.identity.as_str()));
    assert_eq!(s.role.as_deref(), Some(role));
    let k = s.credentials.iter().find(|c| c.id.as_str() == key).unwrap();
    assert_eq!(k.issued_by.as_ref().unwrap().identity, u.identity);
    assert!(u.threat >= 60.0, "user threat {}: {uw}", u.threat);
    assert!(
        s.threat >= 40.0,
        "the session carries its issuer's threat: {} {sw}",
        s.threat
    );
    assert!(
        sw.contains("session issued by ci-deployer (sts:AssumeRole"),
        "{sw}"
    );
}

/// The same workload credential seen only inside its workload stays quiet: the baseline does
/// not flag what a workload always does.
#[test]
fn an_instance_role_used_only_by_its_instance_stays_quiet() {
    let role = "arn:aws:iam::111122223333:role/web";
    let arn = "arn:aws:sts::111122223333:assumed-role/web/i-0a1b2c3d4e5f60718";
    let ua = "aws-sdk-go/1.44.0 (go1.20; linux; amd64) amazon-ssm-agent/3.2.582.0";
    let records: Vec<Value> = (0..20)
        .map(|i| {
            record(
                &format!("2026-11-20T10:{i:02}:00Z"),
                "ssm.amazonaws.com",
                "UpdateInstanceInformation",
                session(arn, "ASIAQINSTANCEEXAMPL1", role),
                "54.210.1.9",
                ua,
                None,
            )
        })
        .collect();
    let mut core = core_of(records);
    let s = ranked(&mut core, "assumed-role/web/i-0a1b2c3d4e5f60718");
    assert_eq!(s.threat, 0.0, "{}", why(&s));
}

/// `explain` says what a call was judged against, and says so when there was nothing.
#[test]
fn explain_shows_the_baseline_and_the_lineage_and_is_honest_on_a_cold_start() {
    let Some(f) = corpus(
        "otrf-security-datasets/SDAWS-200914011940/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    ) else {
        return;
    };
    let out = common::run(common::bd().args([
        "explain",
        "--format",
        "table",
        "--source",
        f.to_str().unwrap(),
        "i-0317f6c6b66ae9c40",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BASELINE"), "{text}");
    assert!(
        text.contains("no earlier use of this credential to compare with"),
        "the first call of a workload credential judged with no history says so:\n{text}"
    );
    assert!(
        text.contains("issued by aws:ec2.amazonaws.com (sts:AssumeRole"),
        "{text}"
    );
    let out = common::run(common::bd().args([
        "explain",
        "--format",
        "json",
        "--source",
        f.to_str().unwrap(),
        "i-0317f6c6b66ae9c40",
    ]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["baseline"]["calls"].as_u64().unwrap() >= 10,
        "{}",
        v["baseline"]
    );
    assert_eq!(v["issued_by"]["call"], "sts:AssumeRole");
    assert_eq!(v["session_of"], "aws:ec2.amazonaws.com");
    assert!(
        v["role"]
            .as_str()
            .unwrap()
            .ends_with(":role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0")
    );
}

/// A pod's bound service-account token, then the same token from kubectl on a laptop: the
/// Kubernetes audit record's `userAgent` feeds the same baseline.
#[test]
fn a_pod_token_used_by_kubectl_on_a_laptop_is_outside_its_workload() {
    let audit = |t: &str, verb: &str, res: &str, ip: &str, ua: &str| {
        json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": format!("a-{t}"), "stage": "ResponseComplete", "verb": verb,
            "requestURI": format!("/api/v1/namespaces/ci/{res}"),
            "user": {"username": "system:serviceaccount:ci:builder", "uid": "u-1",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:ci"],
                "extra": {"authentication.kubernetes.io/pod-name": ["builder-7d9f"],
                    "authentication.kubernetes.io/node-name": ["node-a"],
                    "authentication.kubernetes.io/credential-id": ["JTI=4b1d0f2e"]}},
            "sourceIPs": [ip], "userAgent": ua,
            "objectRef": {"resource": res, "namespace": "ci", "apiVersion": "v1"},
            "responseStatus": {"code": 200},
            "requestReceivedTimestamp": t, "stageTimestamp": t,
            "annotations": {"authorization.k8s.io/decision": "allow"}})
        .to_string()
    };
    let mut lines = Vec::new();
    for i in 0..4 {
        lines.push(audit(
            &format!("2026-11-20T10:0{i}:00.000000Z"),
            "get",
            "configmaps",
            "10.244.0.7",
            "builder/1.4.2 (linux/amd64) kubernetes/v1.29.0",
        ));
    }
    lines.push(audit(
        "2026-11-20T11:00:00.000000Z",
        "list",
        "secrets",
        "203.0.113.9",
        "kubectl/v1.29.2 (darwin/arm64) kubernetes/4b8e819",
    ));
    let mut core = Core::new();
    let mut events = Vec::new();
    for l in &lines {
        events.extend(blastdoor::ingest::decode_record(l).unwrap().events);
    }
    let now = events.iter().map(|e| e.time).max().unwrap();
    core.update(Msg::Events { events, now });
    let sa = ranked(&mut core, "system:serviceaccount:ci:builder");
    let w = why(&sa);
    assert!(
        w.contains("pod credential used from 203.0.113.9 with kubectl/v1.29.2 (darwin/arm64)"),
        "{w}"
    );
    assert!(sa.threat >= 40.0, "threat {}: {w}", sa.threat);
}

/// A session's calls read before the record that issued it are its issuer's doing, once: the
/// same session issued again (a role re-assumed under one session name) adds nothing more.
#[test]
fn a_session_issued_again_is_not_blamed_on_its_issuer_twice() {
    let user = json!({"type": "IAMUser", "userName": "ops", "accountId": "111122223333",
        "arn": "arn:aws:iam::111122223333:user/ops", "accessKeyId": "AKIAQOPSEXAMPLE00001"});
    let role = "arn:aws:iam::111122223333:role/Deploy";
    let arn = "arn:aws:sts::111122223333:assumed-role/Deploy/ops";
    let key = "ASIAQDEPLOYEXAMPLE01";
    let ua = "aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0 exe/x86_64.debian.12";
    let assume = |t: &str| {
        let mut a = record(
            t,
            "sts.amazonaws.com",
            "AssumeRole",
            user.clone(),
            "198.51.100.8",
            ua,
            None,
        );
        a["requestParameters"] = json!({"roleArn": role, "roleSessionName": "ops"});
        a["responseElements"] = json!({"credentials": {"accessKeyId": key},
            "assumedRoleUser": {"arn": arn}});
        a
    };
    // The session's calls first (delivery files overlap), then its issuing record, once or twice.
    let calls: Vec<Value> = (0..3)
        .map(|i| {
            record(
                &format!("2026-11-20T12:00:0{i}Z"),
                "cloudtrail.amazonaws.com",
                "StopLogging",
                session(arn, key, role),
                "198.51.100.8",
                ua,
                None,
            )
        })
        .collect();
    let threat_of_ops = |assumes: usize| {
        let mut records = calls.clone();
        for n in 0..assumes {
            records.push(assume(&format!("2026-11-20T12:01:0{n}Z")));
        }
        let mut core = core_of(records);
        ranked(&mut core, "user/ops").threat
    };
    let once = threat_of_ops(1);
    assert!(
        once > 20.0,
        "the session's StopLogging is blamed on ops: {once}"
    );
    assert_eq!(threat_of_ops(2), once);
}
