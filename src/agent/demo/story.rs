//! The scripted incident: one round of the storyline as timed calls (`Beat`s). Whether a call
//! succeeds follows from the victim's grants, so a less privileged victim leaves denied calls.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::*;

impl Fleet {
    /// The scripted calls of one round, in time order.
    pub(super) fn script_for(&self, round: u64, t0: Millis) -> Vec<Beat> {
        use Signal::*;
        let inc = self.incident(round);
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut beats = Vec::new();
        let nth = |list: &[usize]| list.get((round as usize) % list.len().max(1)).copied();
        let (Some(ci), Some(target), Some(sa), Some(ai)) = (
            nth(&self.cast.ci),
            nth(&self.cast.escalated),
            nth(&self.cast.service_accounts),
            nth(&self.cast.ai),
        ) else {
            return beats;
        };
        let bucket = self
            .cast
            .ci_bucket
            .get((round as usize) % self.cast.ci_bucket.len().max(1))
            .copied()
            .unwrap_or("acme-prod-customer-exports");
        let ci_perms = &self.members[ci].record.permissions;
        // The storyline succeeds only where the stolen token's grants allow: a less privileged
        // victim produces denied calls instead, as it would in real life.
        let may = |service: &str, op: &str, resource: &str| {
            allows(ci_perms, &format!("{service}:{op}"), resource)
        };
        let target_name = self.members[target].short.clone();
        let a = inc.attacker_ip.as_str();
        let x = inc.exfil_ip.as_str();
        let s = |secs: f64| t0 + (secs * 1000.0) as Millis;

        // -- the stolen CI token: first use from a new address, then recon --
        beats.push(beat(
            s(0.0),
            ci,
            aws("sts", "GetCallerIdentity", "*"),
            a,
            true,
            &[NewNetwork, CredentialOutsideWorkload],
        ));
        let recon: [(&str, &str, &str); 15] = [
            ("iam", "ListUsers", "*"),
            ("iam", "ListRoles", "*"),
            ("iam", "ListPolicies", "*"),
            ("iam", "GetAccountAuthorizationDetails", "*"),
            ("iam", "ListAttachedUserPolicies", "user"),
            ("iam", "ListAccessKeys", "user"),
            ("s3", "ListBuckets", "*"),
            ("ec2", "DescribeInstances", "*"),
            ("rds", "DescribeDBInstances", "*"),
            ("secretsmanager", "ListSecrets", "*"),
            ("lambda", "ListFunctions", "*"),
            ("cloudtrail", "DescribeTrails", "*"),
            ("guardduty", "ListDetectors", "*"),
            ("organizations", "ListAccounts", "*"),
            ("eks", "ListClusters", "*"),
        ];
        for (k, (svc, op, res)) in recon.iter().enumerate() {
            let res = if *res == "user" {
                format!("arn:aws:iam::{PROD}:user/{target_name}")
            } else {
                res.to_string()
            };
            // Organizations answers only the management account: denied even for an admin.
            let ok = *svc != "organizations" && may(svc, op, &res);
            let sig: &[Signal] = if k == 0 {
                &[Recon, CredentialOutsideWorkload]
            } else {
                &[Recon]
            };
            beats.push(beat(
                s(2.0 + k as f64 * 0.4),
                ci,
                aws(svc, op, res),
                a,
                ok,
                sig,
            ));
        }

        // -- privilege escalation and persistence --
        let user_arn = format!("arn:aws:iam::{PROD}:user/{target_name}");
        let attach_ok = may("iam", "AttachUserPolicy", &user_arn);
        let mut b = beat(
            s(12.0),
            ci,
            aws("iam", "AttachUserPolicy", user_arn.clone()),
            a,
            attach_ok,
            &[PrivilegeEscalation, CredentialOutsideWorkload],
        );
        b.extra = Some(
            json!({"requestParameters": {"userName": target_name, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}),
        );
        beats.push(b);
        let key_ok = may("iam", "CreateAccessKey", &user_arn);
        let new_key = access_key_id(&mut rng, "AKIA");
        let mut b = beat(
            s(13.5),
            ci,
            aws("iam", "CreateAccessKey", user_arn.clone()),
            a,
            key_ok,
            &[Persistence, PrivilegeEscalation],
        );
        if key_ok {
            // The key id only: a secret never appears in evidence.
            b.extra = Some(
                json!({"responseElements": {"accessKey": {"userName": target_name, "accessKeyId": new_key, "status": "Active"}}}),
            );
        }
        beats.push(b);
        let admin_role = format!("arn:aws:iam::{PROD}:role/admin-automation");
        let pass_ok = may("iam", "PassRole", &admin_role);
        beats.push(beat(
            s(15.0),
            ci,
            aws("iam", "PassRole", admin_role),
            a,
            pass_ok,
            &[PrivilegeEscalation],
        ));
        let function = format!("arn:aws:lambda:{REGION}:{PROD}:function:cleanup-tmp");
        let fn_ok = pass_ok && may("lambda", "CreateFunction", &function);
        beats.push(beat(
            s(15.4),
            ci,
            aws("lambda", "CreateFunction", function),
            a,
            fn_ok,
            &[PrivilegeEscalation],
        ));

        // -- the attacker switches to the access key it created --
        if key_ok {
            let cred = Credential {
                id: SafeText::new(&new_key),
                kind: CredentialKind::AccessKey,
                status: CredentialStatus::Active,
            };
            let grant = attach_ok.then(|| {
                perm(
                    "*",
                    "*",
                    "AdministratorAccess (attached by a stolen CI token)",
                )
            });
            let secret =
                format!("arn:aws:secretsmanager:{REGION}:{PROD}:secret:prod/payments/db-password");
            let flow_logs = format!("arn:aws:ec2:{REGION}:{PROD}:vpc-flow-log/fl-0a1b2c3d");
            let target_calls: [(f64, Call, &[Signal]); 5] = [
                (
                    17.0,
                    aws("sts", "GetCallerIdentity", "*"),
                    &[NewNetwork, CredentialOutsideWorkload],
                ),
                (17.6, aws("s3", "ListBuckets", "*"), &[Recon]),
                (18.2, aws("iam", "ListUsers", "*"), &[Recon]),
                (
                    24.0,
                    aws("secretsmanager", "GetSecretValue", secret),
                    &[SecretRead],
                ),
                (
                    31.5,
                    aws("ec2", "DeleteFlowLogs", flow_logs),
                    &[DefenseEvasion],
                ),
            ];
            for (k, (at, call, sig)) in target_calls.into_iter().enumerate() {
                // Without the attached policy the new key can only do what the user could.
                let ok = attach_ok
                    || !matches!(call.op, "GetSecretValue" | "DeleteFlowLogs" | "ListUsers");
                let mut b = beat(s(at), target, call, a, ok, sig);
                b.credential = Some(cred.clone());
                if k == 0 {
                    b.grant = grant.clone();
                }
                beats.push(b);
            }
        }

        // -- secrets and defence evasion --
        let secrets = [
            "prod/payments/db-password",
            "prod/payments/stripe-api-key",
            "prod/github/deploy-key",
            "prod/datadog/api-key",
            "prod/snowflake/loader",
        ];
        for (k, name) in secrets.iter().enumerate() {
            let arn = format!("arn:aws:secretsmanager:{REGION}:{PROD}:secret:{name}");
            let ok = may("secretsmanager", "GetSecretValue", &arn);
            beats.push(beat(
                s(22.0 + k as f64 * 1.2),
                ci,
                aws("secretsmanager", "GetSecretValue", arn),
                a,
                ok,
                &[SecretRead],
            ));
        }
        let trail = format!("arn:aws:cloudtrail:{REGION}:{PROD}:trail/org-trail");
        let ok = may("cloudtrail", "StopLogging", &trail);
        beats.push(beat(
            s(30.0),
            ci,
            aws("cloudtrail", "StopLogging", trail),
            a,
            ok,
            &[DefenseEvasion, CredentialOutsideWorkload],
        ));

        // -- exfiltration from a second new address --
        let day = format_time(t0)
            .get(..10)
            .unwrap_or("2026-01-01")
            .to_string();
        for k in 0..40 {
            let obj = format!("arn:aws:s3:::{bucket}/exports/{day}/part-{k:05}.csv.gz");
            let ok = may("s3", "GetObject", &obj);
            let sig: &[Signal] = if k == 0 {
                &[Exfiltration, DataRead, NewNetwork]
            } else {
                &[Exfiltration, DataRead]
            };
            let mut b = beat(
                s(34.0 + k as f64 * 0.35),
                ci,
                aws("s3", "GetObject", obj),
                x,
                ok,
                sig,
            );
            b.extra = Some(
                json!({"additionalEventData": {"bytesTransferredOut": rng.random_range(40_000_000u64..250_000_000)}}),
            );
            beats.push(b);
        }

        // -- a service-account token replayed from another workload's pod --
        let ns = self.members[sa].scope.clone();
        let foothold = self
            .cast
            .foothold
            .get((round as usize) % self.cast.foothold.len().max(1))
            .copied();
        let pod_ip = foothold
            .and_then(|f| self.members.get(f))
            .and_then(|m| m.ips.first().cloned())
            .unwrap_or_else(|| "10.42.99.7".into());
        let pod = pod_ip.as_str();
        let sa_calls: [(f64, Call, bool, &[Signal]); 9] = [
            (
                20.0,
                kube("selfsubjectrulesreviews", "create", format!("{ns}/")),
                true,
                &[CredentialOutsideWorkload, NewNetwork, Recon],
            ),
            (
                21.5,
                kube("secrets", "list", format!("{ns}/")),
                true,
                &[Recon, SecretRead, CredentialOutsideWorkload],
            ),
            (
                23.0,
                kube("secrets", "get", format!("{ns}/{ns}-db-credentials")),
                true,
                &[SecretRead],
            ),
            (
                24.0,
                kube("secrets", "get", format!("{ns}/{ns}-stripe-webhook-secret")),
                true,
                &[SecretRead],
            ),
            (
                25.0,
                kube("secrets", "get", format!("{ns}/{ns}-tls")),
                true,
                &[SecretRead],
            ),
            (
                29.0,
                kube("pods/exec", "create", format!("{ns}/{ns}-db-0")),
                true,
                &[PrivilegeEscalation, CredentialOutsideWorkload],
            ),
            (
                31.0,
                kube(
                    "pods",
                    "create",
                    format!("{ns}/debug-shell-{}", hex(&mut rng, 5)),
                ),
                true,
                &[PrivilegeEscalation, Persistence],
            ),
            (
                33.0,
                kube("secrets", "get", "kube-system/aws-secret"),
                false,
                &[SecretRead],
            ),
            (
                35.5,
                kube("clusterrolebindings", "create", "/debug-admin"),
                false,
                &[PrivilegeEscalation],
            ),
        ];
        for (at, call, ok, sig) in sa_calls {
            beats.push(beat(s(at), sa, call, pod, ok, sig));
        }

        // -- an AI agent following instructions planted in a support ticket --
        let ai_ip = self.members[ai]
            .ips
            .first()
            .cloned()
            .unwrap_or_else(|| "10.30.0.9".into());
        let ai_ip = ai_ip.as_str();
        let ticket = rng.random_range(48_000..49_000u32);
        beats.push(beat(
            s(38.0),
            ai,
            tool("tickets", "read", format!("tickets/{ticket}")),
            ai_ip,
            true,
            &[],
        ));
        for k in 0..6 {
            let call = tool(
                "crm",
                "search_customers",
                format!("crm/customers?q=*&page={k}"),
            );
            beats.push(beat(
                s(40.0 + k as f64 * 0.6),
                ai,
                call,
                ai_ip,
                true,
                &[Recon],
            ));
        }
        for k in 0..15 {
            let call = tool(
                "crm",
                "export_customer",
                format!("crm/customers/cus_{}", rng.random_range(10_000..99_999u32)),
            );
            beats.push(beat(
                s(44.0 + k as f64 * 0.5),
                ai,
                call,
                ai_ip,
                true,
                &[DataRead],
            ));
        }
        let call = tool(
            "secretsmanager",
            "GetSecretValue",
            "prod/payments/stripe-api-key",
        );
        beats.push(beat(s(52.0), ai, call, ai_ip, false, &[]));
        let paste = format!("https://paste.example.net/raw/{}", hex(&mut rng, 8));
        beats.push(beat(
            s(54.0),
            ai,
            tool("http", "post", paste.clone()),
            ai_ip,
            true,
            &[Exfiltration],
        ));
        beats.push(beat(
            s(56.5),
            ai,
            tool("http", "post", paste),
            ai_ip,
            true,
            &[Exfiltration],
        ));
        beats.push(beat(
            s(58.0),
            ai,
            tool("tickets", "reply", format!("tickets/{ticket}")),
            ai_ip,
            true,
            &[],
        ));

        beats.sort_by_key(|b| b.at);
        beats
    }
}

pub(super) fn beat(
    at: Millis,
    who: usize,
    call: Call,
    ip: &str,
    ok: bool,
    signals: &[Signal],
) -> Beat {
    Beat {
        at,
        who,
        call,
        ip: ip.to_string(),
        ok,
        signals: signals.to_vec(),
        credential: None,
        grant: None,
        extra: None,
        refusal: None,
    }
}
