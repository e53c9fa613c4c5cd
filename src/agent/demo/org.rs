//! The simulated organisation: who exists, what each identity may do and what it usually does.
//! Names and grants are fixed tables (so the demo reads the same every time); credentials,
//! addresses and activity rates come from the seed.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// Workloads, each with the Kubernetes namespace it runs in.
const SERVICES: [(&str, &str); 36] = [
    ("payments-api", "payments"),
    ("billing", "payments"),
    ("ledger", "payments"),
    ("fraud-scoring", "payments"),
    ("checkout", "checkout"),
    ("orders", "checkout"),
    ("pricing", "checkout"),
    ("shipping", "checkout"),
    ("returns", "checkout"),
    ("inventory", "checkout"),
    ("catalog", "checkout"),
    ("graphql-gateway", "web"),
    ("mobile-bff", "web"),
    ("search", "web"),
    ("recommendations", "web"),
    ("user-profile", "web"),
    ("auth-service", "web"),
    ("session-store", "web"),
    ("support-portal", "web"),
    ("partner-api", "web"),
    ("webhooks", "web"),
    ("cdn-purger", "web"),
    ("image-resizer", "web"),
    ("pdf-renderer", "web"),
    ("notifications", "messaging"),
    ("email-sender", "messaging"),
    ("sms-gateway", "messaging"),
    ("reporting", "data"),
    ("analytics-etl", "data"),
    ("data-lake-ingest", "data"),
    ("audit-export", "data"),
    ("backup-agent", "data"),
    ("ml-training", "ml"),
    ("feature-store", "ml"),
    ("log-shipper", "observability"),
    ("metrics-exporter", "observability"),
];

const GITHUB_REPOS: [&str; 35] = [
    "infra-live",
    "payments-api",
    "data-pipelines",
    "checkout",
    "orders",
    "web-frontend",
    "mobile-app",
    "ml-models",
    "terraform-modules",
    "helm-charts",
    "platform-tools",
    "auth-service",
    "search",
    "billing",
    "ledger",
    "notifications",
    "graphql-gateway",
    "partner-api",
    "support-portal",
    "analytics-etl",
    "feature-store",
    "image-resizer",
    "pdf-renderer",
    "webhooks",
    "catalog",
    "pricing",
    "shipping",
    "returns",
    "inventory",
    "recommendations",
    "user-profile",
    "session-store",
    "fraud-scoring",
    "docs",
    "design-system",
];

const GITLAB_PROJECTS: [&str; 25] = [
    "ansible-playbooks",
    "packer-images",
    "vault-config",
    "network-config",
    "dns-zones",
    "monitoring-rules",
    "runbooks",
    "k8s-manifests",
    "base-images",
    "sre-tools",
    "chaos-tests",
    "load-tests",
    "backup-scripts",
    "cost-reports",
    "compliance-scans",
    "secrets-rotation",
    "db-migrations",
    "edge-config",
    "firewall-rules",
    "iam-policies",
    "status-page",
    "oncall-bots",
    "log-pipelines",
    "kafka-topics",
    "cert-automation",
];

const AI_AGENTS: [&str; 20] = [
    "support-copilot",
    "data-analyst-agent",
    "code-review-bot",
    "sre-agent",
    "incident-summariser",
    "sales-assistant",
    "docs-writer",
    "pr-triage-bot",
    "security-triage",
    "finops-agent",
    "hr-helpdesk-bot",
    "onboarding-buddy",
    "release-notes-bot",
    "qa-test-writer",
    "sql-copilot",
    "k8s-operator-agent",
    "ticket-router",
    "marketing-copy-agent",
    "legal-review-assistant",
    "dependency-updater",
];

/// A grant in a table: (action, resource, via).
type Grant = (&'static str, &'static str, &'static str);
/// A call in a table: (service, operation, resource).
type Op = (&'static str, &'static str, &'static str);
type SpecialUser = (
    &'static str,
    &'static str,
    f64,
    &'static [Grant],
    &'static [Op],
);
type PlatformRole = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [Op],
);

/// Platform service accounts: (namespace, name, grants with resources under the cluster).
#[rustfmt::skip]
const PLATFORM_SAS: [(&str, &str, &[Grant]); 46] = [
    ("kube-system", "coredns", &[("endpoints:watch", "endpoints/*", "ClusterRole system:coredns")]),
    ("kube-system", "kube-proxy", &[("endpointslices:watch", "endpointslices/*", "ClusterRole system:node-proxier")]),
    ("kube-system", "aws-node", &[("nodes:get", "nodes/*", "ClusterRole aws-node")]),
    ("kube-system", "ebs-csi-controller-sa", &[("persistentvolumes:create", "persistentvolumes/*", "ClusterRole ebs-csi")]),
    ("kube-system", "cluster-autoscaler", &[("nodes:update", "nodes/*", "ClusterRole cluster-autoscaler"), ("pods:delete", "pods/*", "ClusterRole cluster-autoscaler")]),
    ("kube-system", "metrics-server", &[("nodes/metrics:get", "nodes/*", "ClusterRole system:metrics-server")]),
    ("kube-system", "replicaset-controller", &[("pods:create", "pods/*", "ClusterRole system:controller:replicaset-controller")]),
    ("kube-system", "deployment-controller", &[("replicasets:create", "replicasets/*", "ClusterRole system:controller:deployment-controller")]),
    ("kube-system", "job-controller", &[("pods:create", "pods/*", "ClusterRole system:controller:job-controller")]),
    ("kube-system", "namespace-controller", &[("*:delete", "namespaces/*", "ClusterRole system:controller:namespace-controller")]),
    ("kube-system", "clusterrole-aggregation-controller", &[("clusterroles:escalate", "clusterroles/*", "ClusterRole system:controller:clusterrole-aggregation-controller")]),
    ("kube-system", "generic-garbage-collector", &[("*:delete", "*", "ClusterRole system:controller:generic-garbage-collector")]),
    ("kube-system", "horizontal-pod-autoscaler", &[("deployments/scale:update", "deployments/*", "ClusterRole system:controller:horizontal-pod-autoscaler")]),
    ("argocd", "argocd-application-controller", &[("*", "*", "cluster-admin")]),
    ("argocd", "argocd-server", &[("applications:update", "applications/*", "ClusterRole argocd-server"), ("secrets:get", "namespaces/argocd/secrets/*", "Role argocd/argocd-server")]),
    ("argocd", "argocd-repo-server", &[("configmaps:get", "namespaces/argocd/configmaps/*", "Role argocd/argocd-repo-server")]),
    ("argocd", "argocd-dex-server", &[("secrets:get", "namespaces/argocd/secrets/argocd-dex-*", "Role argocd/argocd-dex-server")]),
    ("cert-manager", "cert-manager", &[("secrets:create", "secrets/*", "ClusterRole cert-manager-controller-certificates")]),
    ("cert-manager", "cert-manager-cainjector", &[("validatingwebhookconfigurations:update", "*", "ClusterRole cert-manager-cainjector")]),
    ("cert-manager", "cert-manager-webhook", &[("subjectaccessreviews:create", "*", "ClusterRole cert-manager-webhook")]),
    ("ingress-nginx", "ingress-nginx", &[("secrets:get", "secrets/*", "ClusterRole ingress-nginx"), ("ingresses:watch", "ingresses/*", "ClusterRole ingress-nginx")]),
    ("ingress-nginx", "ingress-nginx-admission", &[("validatingwebhookconfigurations:update", "*", "ClusterRole ingress-nginx-admission")]),
    ("monitoring", "prometheus", &[("pods:list", "pods/*", "ClusterRole prometheus"), ("nodes/metrics:get", "nodes/*", "ClusterRole prometheus")]),
    ("monitoring", "grafana", &[("configmaps:get", "namespaces/monitoring/configmaps/*", "Role monitoring/grafana")]),
    ("monitoring", "alertmanager", &[("secrets:get", "namespaces/monitoring/secrets/alertmanager-*", "Role monitoring/alertmanager")]),
    ("monitoring", "kube-state-metrics", &[("*:list", "*", "ClusterRole kube-state-metrics")]),
    ("monitoring", "node-exporter", &[]),
    ("monitoring", "datadog-agent", &[("pods:list", "pods/*", "ClusterRole datadog-agent"), ("secrets:get", "namespaces/monitoring/secrets/datadog-*", "Role monitoring/datadog-agent")]),
    ("logging", "fluent-bit", &[("pods:get", "pods/*", "ClusterRole fluent-bit")]),
    ("logging", "loki", &[("configmaps:get", "namespaces/logging/configmaps/*", "Role logging/loki")]),
    ("ci", "jenkins", &[("pods:create", "namespaces/ci/pods/*", "Role ci/jenkins"), ("pods/exec:create", "namespaces/ci/pods/*", "Role ci/jenkins"), ("secrets:get", "namespaces/ci/secrets/*", "Role ci/jenkins")]),
    ("ci", "jenkins-agent", &[("deployments:update", "deployments/*", "ClusterRole ci-deployer")]),
    ("ci", "gitlab-runner", &[("pods:create", "namespaces/ci/pods/*", "Role ci/gitlab-runner"), ("pods/exec:create", "namespaces/ci/pods/*", "Role ci/gitlab-runner")]),
    ("ci", "buildkit", &[]),
    ("security", "falco", &[("pods:list", "pods/*", "ClusterRole falco")]),
    ("security", "trivy-operator", &[("*:list", "*", "ClusterRole trivy-operator"), ("secrets:get", "secrets/*", "ClusterRole trivy-operator")]),
    ("security", "kyverno", &[("*:*", "policies/*", "ClusterRole kyverno"), ("rolebindings:create", "rolebindings/*", "ClusterRole kyverno:generate")]),
    ("security", "external-secrets", &[("secrets:create", "secrets/*", "ClusterRole external-secrets-controller"), ("secrets:update", "secrets/*", "ClusterRole external-secrets-controller")]),
    ("security", "vault-agent-injector", &[("mutatingwebhookconfigurations:update", "*", "ClusterRole vault-agent-injector")]),
    ("data", "airflow-scheduler", &[("pods:create", "namespaces/data/pods/*", "Role data/airflow-pod-launcher")]),
    ("data", "airflow-worker", &[("secrets:get", "namespaces/data/secrets/*", "Role data/airflow-worker"), ("secrets:list", "namespaces/data/secrets/*", "Role data/airflow-worker"), ("pods:create", "namespaces/data/pods/*", "Role data/airflow-worker"), ("pods/exec:create", "namespaces/data/pods/*", "Role data/airflow-worker")]),
    ("data", "airflow-webserver", &[("configmaps:get", "namespaces/data/configmaps/*", "Role data/airflow-webserver")]),
    ("data", "spark-operator", &[("pods:create", "namespaces/data/pods/*", "Role data/spark-operator"), ("services:create", "namespaces/data/services/*", "Role data/spark-operator")]),
    ("ml", "kubeflow-pipeline-runner", &[("pods:create", "namespaces/ml/pods/*", "Role ml/pipeline-runner"), ("secrets:get", "namespaces/ml/secrets/*", "Role ml/pipeline-runner")]),
    ("ml", "jupyter-notebook", &[("pods:get", "namespaces/ml/pods/*", "Role ml/jupyter")]),
    ("ml", "ray-head", &[("pods:create", "namespaces/ml/pods/*", "Role ml/ray")]),
];

/// IAM users with a job of their own: (name, team, calls per second, grants, usual calls).
#[rustfmt::skip]
const SPECIAL_USERS: [SpecialUser; 21] = [
    ("terraform-ci", "platform", 0.05, &[("*", "*", "AdministratorAccess"), ("s3:*", "arn:aws:s3:::acme-terraform-state/*", "policy/terraform-state")], &[("s3", "GetObject", "arn:aws:s3:::acme-terraform-state/live/prod/terraform.tfstate"), ("dynamodb", "PutItem", "arn:aws:dynamodb:eu-west-1:111122223333:table/terraform-locks"), ("iam", "GetRole", "arn:aws:iam::111122223333:role/payments-api-task-role")]),
    ("breakglass-admin", "security", 0.002, &[("*", "*", "AdministratorAccess")], &[("sts", "GetSessionToken", "*")]),
    ("ci-deploy", "platform", 0.04, &[("ecr:*", "arn:aws:ecr:eu-west-1:111122223333:repository/*", "policy/ci-deploy"), ("ecs:UpdateService", "*", "policy/ci-deploy"), ("iam:PassRole", "arn:aws:iam::111122223333:role/*-task-role", "policy/ci-deploy")], &[("ecr", "PutImage", "arn:aws:ecr:eu-west-1:111122223333:repository/checkout"), ("ecs", "UpdateService", "arn:aws:ecs:eu-west-1:111122223333:service/prod/checkout")]),
    ("svc-backup", "platform", 0.03, &[("s3:GetObject", "arn:aws:s3:::acme-prod-*", "policy/backup-read-all"), ("s3:PutObject", "arn:aws:s3:::acme-prod-backups/*", "policy/backup-write"), ("rds:CreateDBSnapshot", "*", "policy/backup-rds")], &[("s3", "PutObject", "arn:aws:s3:::acme-prod-backups/nightly/db.dump.gz"), ("rds", "CreateDBSnapshot", "arn:aws:rds:eu-west-1:111122223333:db:payments")]),
    ("legacy-reporting", "data", 0.03, &[("athena:StartQueryExecution", "*", "policy/legacy-reporting"), ("s3:GetObject", "arn:aws:s3:::acme-prod-data-lake/*", "policy/legacy-reporting"), ("iam:CreateAccessKey", "arn:aws:iam::111122223333:user/legacy-reporting", "policy/self-rotate")], &[("athena", "StartQueryExecution", "arn:aws:athena:eu-west-1:111122223333:workgroup/reporting"), ("s3", "GetObject", "arn:aws:s3:::acme-prod-data-lake/reports/daily.parquet")]),
    ("snowflake-loader", "data", 0.08, &[("s3:GetObject", "arn:aws:s3:::acme-prod-data-lake/*", "policy/snowflake-loader"), ("s3:ListBucket", "arn:aws:s3:::acme-prod-data-lake", "policy/snowflake-loader")], &[("s3", "GetObject", "arn:aws:s3:::acme-prod-data-lake/events/2026/11/part-0042.parquet")]),
    ("datadog-integration", "observability", 0.15, &[("ec2:Describe*", "*", "policy/datadog-integration"), ("rds:Describe*", "*", "policy/datadog-integration"), ("cloudwatch:GetMetricData", "*", "policy/datadog-integration"), ("tag:GetResources", "*", "policy/datadog-integration")], &[("cloudwatch", "GetMetricData", "*"), ("ec2", "DescribeInstances", "*"), ("rds", "DescribeDBInstances", "*"), ("tag", "GetResources", "*")]),
    ("splunk-forwarder", "security", 0.1, &[("s3:GetObject", "arn:aws:s3:::acme-org-cloudtrail/*", "policy/splunk"), ("sqs:ReceiveMessage", "*", "policy/splunk")], &[("s3", "GetObject", "arn:aws:s3:::acme-org-cloudtrail/AWSLogs/111122223333/CloudTrail/eu-west-1/latest.json.gz"), ("sqs", "ReceiveMessage", "arn:aws:sqs:eu-west-1:111122223333:cloudtrail-notifications")]),
    ("tableau-export", "data", 0.02, &[("s3:GetObject", "arn:aws:s3:::acme-prod-data-lake/marts/*", "policy/tableau")], &[("s3", "GetObject", "arn:aws:s3:::acme-prod-data-lake/marts/revenue.parquet")]),
    ("s3-sync-nightly", "web", 0.03, &[("s3:*", "arn:aws:s3:::acme-prod-static-assets/*", "policy/s3-sync")], &[("s3", "PutObject", "arn:aws:s3:::acme-prod-static-assets/js/app.js")]),
    ("ses-smtp-user", "messaging", 0.15, &[("ses:SendRawEmail", "*", "policy/ses-smtp")], &[("ses", "SendRawEmail", "arn:aws:ses:eu-west-1:111122223333:identity/acme.example")]),
    ("cloud-custodian", "security", 0.02, &[("ec2:*", "*", "policy/custodian"), ("s3:PutBucketPolicy", "*", "policy/custodian")], &[("ec2", "DescribeSecurityGroups", "*"), ("ec2", "CreateTags", "arn:aws:ec2:eu-west-1:111122223333:instance/*")]),
    ("vanta-auditor", "security", 0.01, &[("iam:Get*", "*", "SecurityAudit"), ("iam:List*", "*", "SecurityAudit"), ("cloudtrail:DescribeTrails", "*", "SecurityAudit")], &[("iam", "GetAccountPasswordPolicy", "*"), ("iam", "GetAccountSummary", "*")]),
    ("sftp-partner-globex", "partners", 0.01, &[("s3:PutObject", "arn:aws:s3:::acme-prod-partner-exchange/globex/*", "policy/partner-globex")], &[("s3", "PutObject", "arn:aws:s3:::acme-prod-partner-exchange/globex/inbound/orders.csv")]),
    ("sftp-partner-initech", "partners", 0.01, &[("s3:PutObject", "arn:aws:s3:::acme-prod-partner-exchange/initech/*", "policy/partner-initech")], &[("s3", "PutObject", "arn:aws:s3:::acme-prod-partner-exchange/initech/inbound/stock.csv")]),
    ("sftp-partner-umbrella", "partners", 0.01, &[("s3:GetObject", "arn:aws:s3:::acme-prod-partner-exchange/umbrella/*", "policy/partner-umbrella")], &[("s3", "GetObject", "arn:aws:s3:::acme-prod-partner-exchange/umbrella/outbound/invoices.csv")]),
    ("sftp-partner-hooli", "partners", 0.01, &[("s3:GetObject", "arn:aws:s3:::acme-prod-partner-exchange/hooli/*", "policy/partner-hooli")], &[("s3", "GetObject", "arn:aws:s3:::acme-prod-partner-exchange/hooli/outbound/catalog.json")]),
    ("sftp-partner-wayne", "partners", 0.01, &[("s3:PutObject", "arn:aws:s3:::acme-prod-partner-exchange/wayne/*", "policy/partner-wayne")], &[("s3", "PutObject", "arn:aws:s3:::acme-prod-partner-exchange/wayne/inbound/returns.csv")]),
    ("sftp-partner-stark", "partners", 0.01, &[("s3:PutObject", "arn:aws:s3:::acme-prod-partner-exchange/stark/*", "policy/partner-stark")], &[("s3", "PutObject", "arn:aws:s3:::acme-prod-partner-exchange/stark/inbound/parts.csv")]),
    ("github-actions-legacy", "web", 0.01, &[("s3:*", "arn:aws:s3:::acme-prod-static-assets/*", "policy/gha-legacy"), ("cloudfront:CreateInvalidation", "*", "policy/gha-legacy"), ("iam:PassRole", "*", "policy/gha-legacy")], &[("cloudfront", "CreateInvalidation", "arn:aws:cloudfront::111122223333:distribution/E2QWRUHAPOMQZL")]),
    ("log-archiver", "security", 0.02, &[("s3:PutObject", "arn:aws:s3:::acme-org-cloudtrail/*", "policy/log-archiver"), ("logs:CreateExportTask", "*", "policy/log-archiver")], &[("logs", "CreateExportTask", "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/prod")]),
];

/// Platform and access roles: (role, grants as (action, resource), calls of its one running
/// session; no calls means no session, the role only sits in the inventory).
#[rustfmt::skip]
const PLATFORM_ROLES: [PlatformRole; 15] = [
    ("OrganizationAccountAccessRole", &[("*", "*")], &[]),
    ("AWSReservedSSO_AdministratorAccess_4f1c2b", &[("*", "*")], &[]),
    ("AWSReservedSSO_ReadOnly_9a7e31", &[("s3:GetObject", "*"), ("ec2:Describe*", "*")], &[]),
    ("AWSReservedSSO_PowerUser_c02d88", &[("ec2:*", "*"), ("s3:*", "*"), ("lambda:*", "*")], &[]),
    ("gha-terraform-apply", &[("*", "*")], &[]),
    ("gha-deploy-prod", &[("iam:PassRole", "arn:aws:iam::111122223333:role/*-task-role"), ("ecs:UpdateService", "*"), ("ecr:*", "*")], &[]),
    ("admin-automation", &[("*", "*")], &[]),
    ("eks-node-role", &[("ec2:DescribeInstances", "*"), ("ecr:GetAuthorizationToken", "*")], &[("ecr", "GetAuthorizationToken", "*"), ("ecr", "BatchGetImage", "arn:aws:ecr:eu-west-1:111122223333:repository/checkout")]),
    ("karpenter-controller", &[("ec2:RunInstances", "*"), ("ec2:TerminateInstances", "*"), ("iam:PassRole", "arn:aws:iam::111122223333:role/eks-node-role")], &[("ec2", "RunInstances", "arn:aws:ec2:eu-west-1:111122223333:instance/*"), ("pricing", "GetProducts", "*")]),
    ("external-dns", &[("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z0ACME")], &[("route53", "ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z0ACME"), ("route53", "GetChange", "*")]),
    ("aws-load-balancer-controller", &[("elasticloadbalancing:*", "*"), ("ec2:AuthorizeSecurityGroupIngress", "*")], &[("elasticloadbalancing", "ModifyTargetGroup", "*"), ("elasticloadbalancing", "RegisterTargets", "*")]),
    ("ebs-csi-driver", &[("ec2:CreateVolume", "*"), ("ec2:AttachVolume", "*")], &[("ec2", "CreateVolume", "*"), ("ec2", "AttachVolume", "*")]),
    ("cluster-autoscaler", &[("autoscaling:SetDesiredCapacity", "*")], &[("autoscaling", "SetDesiredCapacity", "arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:*:prod-eu1-workers")]),
    ("SecurityAudit", &[("iam:Get*", "*"), ("cloudtrail:DescribeTrails", "*"), ("config:Get*", "*")], &[]),
    ("datadog-integration-role", &[("cloudwatch:GetMetricData", "*"), ("ec2:Describe*", "*")], &[("cloudwatch", "GetMetricData", "*"), ("ec2", "DescribeInstances", "*")]),
];

/// Builds the members with one RNG, so the whole organisation follows from the seed.
/// The whole organisation for `seed`, and the RNG where building it left it (the activity
/// continues from there, so one seed decides everything).
pub(super) fn organisation(seed: u64) -> (ChaCha8Rng, Vec<Member>, Cast) {
    let mut b = Builder {
        rng: ChaCha8Rng::seed_from_u64(seed),
        members: Vec::new(),
        cast: Cast::default(),
    };
    b.iam_users();
    b.roles_and_sessions();
    b.service_accounts();
    b.vault_tokens();
    b.ci_tokens();
    b.ai_agents();
    b.noise();
    b.workload_tags();
    (b.rng, b.members, b.cast)
}

struct Builder {
    rng: ChaCha8Rng,
    members: Vec<Member>,
    cast: Cast,
}

fn add(members: &mut Vec<Member>, s: Spec) -> usize {
    let credential = s.credential.map(|(id, kind)| Credential {
        id: SafeText::new(&id),
        kind,
        status: CredentialStatus::Active,
    });
    let record = IdentityRecord {
        provider: s.provider,
        principal: SafeText::new(&s.principal),
        kind: s.kind,
        display: Some(SafeText::new(&s.display)),
        credentials: credential.iter().cloned().collect(),
        permissions: s.permissions,
        tags: s.tags.iter().map(|t| SafeText::new(t)).collect(),
    };
    let actor = IdentityRecord {
        credentials: Vec::new(),
        permissions: Vec::new(),
        tags: Vec::new(),
        ..record.clone()
    };
    members.push(Member {
        record,
        actor,
        credential,
        scope: s.scope,
        short: s.short,
        ips: s.ips,
        rate: s.rate,
        usual: s.usual,
        denied: s.denied,
        raw_display: None,
        deny_p: DENY_P,
    });
    members.len() - 1
}

fn rate(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    rng.random_range(lo..hi)
}

impl Builder {
    /// What an AWS workload of service `s` in `account` can do and normally does.
    fn app_grants(
        &mut self,
        s: &str,
        env: &str,
        account: &str,
        via: &str,
    ) -> (Vec<Permission>, Vec<Call>) {
        let bucket = format!("arn:aws:s3:::acme-{env}-{s}");
        let queue = format!("arn:aws:sqs:{REGION}:{account}:{s}-events");
        let table = format!("arn:aws:dynamodb:{REGION}:{account}:table/{s}");
        let key = format!("arn:aws:kms:{REGION}:{account}:key/{}", uuid(&mut self.rng));
        let mut perms = vec![
            perm("s3:GetObject", &format!("{bucket}/*"), via),
            perm("s3:PutObject", &format!("{bucket}/*"), via),
            perm("sqs:SendMessage", &queue, via),
            perm("dynamodb:Query", &table, via),
            perm("dynamodb:PutItem", &table, via),
        ];
        let mut calls = vec![
            aws(
                "s3",
                "GetObject",
                format!("{bucket}/data/part-0001.parquet"),
            ),
            aws("s3", "GetObject", format!("{bucket}/config/settings.json")),
            aws("s3", "PutObject", format!("{bucket}/uploads/batch.csv")),
            aws("sqs", "SendMessage", queue),
            aws("dynamodb", "Query", table.clone()),
            aws("dynamodb", "PutItem", table),
        ];
        if self.rng.random_bool(0.4) {
            perms.push(perm(
                "secretsmanager:GetSecretValue",
                &format!("arn:aws:secretsmanager:{REGION}:{account}:secret:{env}/{s}/*"),
                via,
            ));
        }
        if self.rng.random_bool(0.5) {
            perms.push(perm("kms:Decrypt", &key, via));
            calls.push(aws("kms", "Decrypt", key));
        }
        (perms, calls)
    }

    fn aws_denied(account: &str) -> Vec<Call> {
        vec![
            aws(
                "s3",
                "GetObject",
                "arn:aws:s3:::acme-prod-finance-reports/2026/q3-board.xlsx",
            ),
            aws(
                "dynamodb",
                "Scan",
                format!("arn:aws:dynamodb:{REGION}:{account}:table/ledger"),
            ),
            aws(
                "sqs",
                "ReceiveMessage",
                format!("arn:aws:sqs:{REGION}:{account}:payments-events"),
            ),
        ]
    }

    fn iam_users(&mut self) {
        // One long-lived user per service in production, most also in staging: the classic
        // "access key in an environment variable" pattern that machine-identity sprawl is made of.
        for (i, (s, ns)) in SERVICES.iter().enumerate() {
            for (env, account) in [("prod", PROD), ("staging", STAGING)] {
                if env == "staging" && i >= 30 {
                    continue;
                }
                let name = if env == "prod" {
                    format!("svc-{s}")
                } else {
                    format!("svc-{s}-staging")
                };
                let via = format!("policy/{s}-app");
                let (perms, usual) = self.app_grants(s, env, account, &via);
                let spec = Spec {
                    provider: Provider::Aws,
                    principal: format!("arn:aws:iam::{account}:user/{name}"),
                    kind: IdentityKind::IamUser,
                    display: name.clone(),
                    credential: Some((
                        access_key_id(&mut self.rng, "AKIA"),
                        CredentialKind::AccessKey,
                    )),
                    permissions: perms,
                    tags: vec![
                        format!("env={env}"),
                        format!("team={ns}"),
                        format!("service={s}"),
                    ],
                    scope: account.into(),
                    short: name,
                    ips: some_ips(&mut self.rng, "10.20.", 2),
                    rate: rate(&mut self.rng, 0.01, 0.08),
                    usual,
                    denied: Self::aws_denied(account),
                };
                add(&mut self.members, spec);
            }
        }
        for (name, team, rate, grants, calls) in SPECIAL_USERS {
            let usual = calls.iter().map(|(s, o, r)| aws(s, o, *r)).collect();
            let idx = add(
                &mut self.members,
                Spec {
                    provider: Provider::Aws,
                    principal: format!("arn:aws:iam::{PROD}:user/{name}"),
                    kind: IdentityKind::IamUser,
                    display: name.into(),
                    credential: Some((
                        access_key_id(&mut self.rng, "AKIA"),
                        CredentialKind::AccessKey,
                    )),
                    permissions: grants.iter().map(|(a, r, v)| perm(a, r, v)).collect(),
                    tags: vec!["env=prod".into(), format!("team={team}")],
                    scope: PROD.into(),
                    short: name.into(),
                    ips: some_ips(&mut self.rng, "10.20.", 2),
                    rate,
                    usual,
                    denied: Self::aws_denied(PROD),
                },
            );
            if matches!(name, "svc-backup" | "legacy-reporting" | "snowflake-loader") {
                self.cast.escalated.push(idx);
            }
        }
    }

    fn roles_and_sessions(&mut self) {
        // Task roles: the role itself never calls; its sessions (one per running task) do.
        for (i, (s, ns)) in SERVICES.iter().enumerate() {
            let role = format!("{s}-task-role");
            let via = format!("role/{role}");
            let (perms, usual) = self.app_grants(s, "prod", PROD, &via);
            add(
                &mut self.members,
                Spec {
                    provider: Provider::Aws,
                    principal: format!("arn:aws:iam::{PROD}:role/{role}"),
                    kind: IdentityKind::IamRole,
                    display: role.clone(),
                    credential: None,
                    permissions: perms.clone(),
                    tags: vec![
                        "env=prod".into(),
                        format!("team={ns}"),
                        format!("service={s}"),
                    ],
                    scope: PROD.into(),
                    short: role.clone(),
                    ips: Vec::new(),
                    rate: 0.0,
                    usual: Vec::new(),
                    denied: Vec::new(),
                },
            );
            let session = format!("ecs-task-{}", hex(&mut self.rng, 12));
            add(
                &mut self.members,
                Spec {
                    provider: Provider::Aws,
                    principal: format!("arn:aws:sts::{PROD}:assumed-role/{role}/{session}"),
                    kind: IdentityKind::AssumedRole,
                    display: format!("{role}/{session}"),
                    credential: Some((
                        access_key_id(&mut self.rng, "ASIA"),
                        CredentialKind::Session,
                    )),
                    permissions: perms.clone(),
                    tags: vec![
                        "env=prod".into(),
                        format!("team={ns}"),
                        format!("service={s}"),
                    ],
                    scope: PROD.into(),
                    short: role.clone(),
                    ips: some_ips(&mut self.rng, "10.21.", 1),
                    rate: rate(&mut self.rng, 0.08, 0.35),
                    usual: usual.clone(),
                    denied: Self::aws_denied(PROD),
                },
            );
            if i < 20 {
                let role = format!("{s}-lambda-role");
                let via = format!("role/{role}");
                let perms: Vec<Permission> = perms
                    .iter()
                    .map(|p| Permission {
                        via: Some(SafeText::new(&via)),
                        ..p.clone()
                    })
                    .collect();
                add(
                    &mut self.members,
                    Spec {
                        provider: Provider::Aws,
                        principal: format!("arn:aws:iam::{PROD}:role/{role}"),
                        kind: IdentityKind::IamRole,
                        display: role.clone(),
                        credential: None,
                        permissions: perms.clone(),
                        tags: vec!["env=prod".into(), format!("team={ns}")],
                        scope: PROD.into(),
                        short: role.clone(),
                        ips: Vec::new(),
                        rate: 0.0,
                        usual: Vec::new(),
                        denied: Vec::new(),
                    },
                );
                if i < 15 {
                    let session = format!("{s}-fn");
                    add(
                        &mut self.members,
                        Spec {
                            provider: Provider::Aws,
                            principal: format!("arn:aws:sts::{PROD}:assumed-role/{role}/{session}"),
                            kind: IdentityKind::AssumedRole,
                            display: format!("{role}/{session}"),
                            credential: Some((
                                access_key_id(&mut self.rng, "ASIA"),
                                CredentialKind::Session,
                            )),
                            permissions: perms,
                            tags: vec!["env=prod".into(), format!("team={ns}")],
                            scope: PROD.into(),
                            short: role,
                            ips: some_ips(&mut self.rng, "10.22.", 2),
                            rate: rate(&mut self.rng, 0.02, 0.1),
                            usual,
                            denied: Self::aws_denied(PROD),
                        },
                    );
                }
            }
        }
        for (role, grants, calls) in PLATFORM_ROLES {
            let via = if grants.iter().any(|(a, _)| *a == "*") {
                "AdministratorAccess".to_string()
            } else {
                format!("role/{role}")
            };
            let perms: Vec<Permission> = grants.iter().map(|(a, r)| perm(a, r, &via)).collect();
            add(
                &mut self.members,
                Spec {
                    provider: Provider::Aws,
                    principal: format!("arn:aws:iam::{PROD}:role/{role}"),
                    kind: IdentityKind::IamRole,
                    display: role.into(),
                    credential: None,
                    permissions: perms.clone(),
                    tags: vec!["env=prod".into(), "team=platform".into()],
                    scope: PROD.into(),
                    short: role.into(),
                    ips: Vec::new(),
                    rate: 0.0,
                    usual: Vec::new(),
                    denied: Vec::new(),
                },
            );
            if !calls.is_empty() {
                let session = format!("i-0{}", hex(&mut self.rng, 16));
                add(
                    &mut self.members,
                    Spec {
                        provider: Provider::Aws,
                        principal: format!("arn:aws:sts::{PROD}:assumed-role/{role}/{session}"),
                        kind: IdentityKind::AssumedRole,
                        display: format!("{role}/{session}"),
                        credential: Some((
                            access_key_id(&mut self.rng, "ASIA"),
                            CredentialKind::Session,
                        )),
                        permissions: perms,
                        tags: vec!["env=prod".into(), "team=platform".into()],
                        scope: PROD.into(),
                        short: role.into(),
                        ips: some_ips(&mut self.rng, "10.23.", 1),
                        rate: rate(&mut self.rng, 0.05, 0.2),
                        usual: calls.iter().map(|(s, o, r)| aws(s, o, *r)).collect(),
                        denied: Self::aws_denied(PROD),
                    },
                );
            }
        }
        // The hostile one: a partner's session whose SourceIdentity (a string the caller chooses
        // when assuming the role) carries a terminal escape and a bidi override.
        let role = "partner-sftp-ingest";
        let via = format!("role/{role}");
        let idx = add(
            &mut self.members,
            Spec {
                provider: Provider::Aws,
                principal: format!("arn:aws:sts::{PROD}:assumed-role/{role}/partner-sync-7731"),
                kind: IdentityKind::AssumedRole,
                display: HOSTILE_DISPLAY.into(),
                credential: Some((
                    access_key_id(&mut self.rng, "ASIA"),
                    CredentialKind::Session,
                )),
                permissions: vec![
                    perm(
                        "s3:GetObject",
                        "arn:aws:s3:::acme-prod-partner-exchange/*",
                        &via,
                    ),
                    perm(
                        "s3:PutObject",
                        "arn:aws:s3:::acme-prod-partner-exchange/*",
                        &via,
                    ),
                    perm(
                        "s3:ListBucket",
                        "arn:aws:s3:::acme-prod-partner-exchange",
                        &via,
                    ),
                    perm(
                        "iam:PassRole",
                        "arn:aws:iam::111122223333:role/partner-*",
                        &via,
                    ),
                ],
                tags: vec!["env=prod".into(), "team=partners".into()],
                scope: PROD.into(),
                short: role.into(),
                ips: vec![ip_in(&mut self.rng, "192.0.2.")],
                rate: 0.05,
                usual: vec![
                    aws(
                        "s3",
                        "GetObject",
                        "arn:aws:s3:::acme-prod-partner-exchange/outbound/manifest.json",
                    ),
                    aws(
                        "s3",
                        "PutObject",
                        "arn:aws:s3:::acme-prod-partner-exchange/inbound/batch.csv",
                    ),
                    aws(
                        "s3",
                        "ListObjectsV2",
                        "arn:aws:s3:::acme-prod-partner-exchange",
                    ),
                ],
                denied: vec![aws(
                    "s3",
                    "GetObject",
                    "arn:aws:s3:::acme-prod-customer-exports/latest.csv.gz",
                )],
            },
        );
        self.members[idx].raw_display = Some(HOSTILE_DISPLAY.into());
    }

    fn service_accounts(&mut self) {
        let mut web_pods = Vec::new();
        for (i, (s, ns)) in SERVICES.iter().enumerate() {
            let prefix = format!("{CLUSTER}/namespaces/{ns}");
            let mut variants = vec![
                (s.to_string(), 0.05, 0.25),
                (format!("{s}-migrations"), 0.002, 0.01),
            ];
            if i < 20 {
                variants.push((format!("{s}-worker"), 0.02, 0.12));
            }
            for (name, lo, hi) in variants {
                let role = format!("Role {ns}/{name}");
                let mut perms = vec![
                    perm("configmaps:get", &format!("{prefix}/configmaps/*"), &role),
                    perm("leases:update", &format!("{prefix}/leases/*"), &role),
                ];
                let mut usual = vec![
                    kube("configmaps", "get", format!("{ns}/{s}-config")),
                    kube("leases", "update", format!("{ns}/{name}-leader")),
                    kube("endpoints", "watch", format!("{ns}/{s}")),
                ];
                if name.ends_with("-migrations") || self.rng.random_bool(0.5) {
                    perms.push(perm(
                        "secrets:get",
                        &format!("{prefix}/secrets/{s}-*"),
                        &role,
                    ));
                    usual.push(kube("secrets", "get", format!("{ns}/{s}-db-credentials")));
                }
                let victim = name == "payments-api";
                if victim {
                    // A debugging grant nobody removed: what makes a stolen token dangerous.
                    let debug = format!("Role {ns}/payments-api-debug");
                    perms.push(perm("secrets:list", &format!("{prefix}/secrets/*"), &debug));
                    perms.push(perm("secrets:get", &format!("{prefix}/secrets/*"), &debug));
                    perms.push(perm("pods:create", &format!("{prefix}/pods/*"), &debug));
                    perms.push(perm(
                        "pods/exec:create",
                        &format!("{prefix}/pods/*"),
                        &debug,
                    ));
                }
                let idx = add(
                    &mut self.members,
                    Spec {
                        provider: Provider::Kubernetes,
                        principal: format!("system:serviceaccount:{ns}:{name}"),
                        kind: IdentityKind::ServiceAccount,
                        display: format!("{ns}/{name}"),
                        credential: Some((uuid(&mut self.rng), CredentialKind::SaToken)),
                        permissions: perms,
                        tags: vec![
                            "env=prod".into(),
                            format!("cluster={CLUSTER}"),
                            format!("team={ns}"),
                        ],
                        scope: ns.to_string(),
                        short: name.clone(),
                        ips: some_ips(&mut self.rng, "10.42.", 2),
                        rate: if victim {
                            0.4
                        } else {
                            rate(&mut self.rng, lo, hi)
                        },
                        usual,
                        denied: vec![
                            kube("secrets", "get", "kube-system/aws-secret"),
                            kube("pods", "list", "kube-system/"),
                        ],
                    },
                );
                if victim {
                    self.cast.service_accounts.insert(0, idx);
                }
                if *ns == "web" && name == *s {
                    web_pods.push(idx);
                }
            }
        }
        let namespaces = [
            "payments",
            "checkout",
            "web",
            "messaging",
            "data",
            "ml",
            "observability",
            "ci",
            "security",
            "monitoring",
            "argocd",
            "logging",
        ];
        for ns in namespaces {
            add(
                &mut self.members,
                Spec {
                    provider: Provider::Kubernetes,
                    principal: format!("system:serviceaccount:{ns}:default"),
                    kind: IdentityKind::ServiceAccount,
                    display: format!("{ns}/default"),
                    credential: Some((uuid(&mut self.rng), CredentialKind::SaToken)),
                    permissions: Vec::new(),
                    tags: vec!["env=prod".into(), format!("cluster={CLUSTER}")],
                    scope: ns.into(),
                    short: "default".into(),
                    ips: some_ips(&mut self.rng, "10.42.", 1),
                    rate: 0.003,
                    usual: vec![kube("namespaces", "get", format!("/{ns}"))],
                    denied: vec![kube("pods", "list", format!("{ns}/"))],
                },
            );
        }
        for (ns, name, grants) in PLATFORM_SAS {
            let perms: Vec<Permission> = grants
                .iter()
                .map(|(a, r, via)| perm(a, &format!("{CLUSTER}/{r}"), via))
                .collect();
            let mut usual: Vec<Call> = Vec::new();
            for (a, _, _) in grants.iter().take(2) {
                let (res, verb) = a.split_once(':').unwrap_or((a, "get"));
                let res = match res {
                    "*" => "pods",
                    "pods" => "pods",
                    "secrets" => "secrets",
                    "configmaps" => "configmaps",
                    "nodes" => "nodes",
                    "endpoints" => "endpoints",
                    "leases" => "leases",
                    "deployments" => "deployments",
                    _ => "configmaps",
                };
                let verb = match verb {
                    "create" => "create",
                    "update" => "update",
                    "delete" => "delete",
                    "list" => "list",
                    "watch" => "watch",
                    _ => "get",
                };
                usual.push(kube(res, verb, format!("{ns}/{name}")));
            }
            if usual.is_empty() {
                usual.push(kube("leases", "get", format!("{ns}/{name}")));
            }
            let victim = ns == "data" && name == "airflow-worker";
            let idx = add(
                &mut self.members,
                Spec {
                    provider: Provider::Kubernetes,
                    principal: format!("system:serviceaccount:{ns}:{name}"),
                    kind: IdentityKind::ServiceAccount,
                    display: format!("{ns}/{name}"),
                    credential: Some((uuid(&mut self.rng), CredentialKind::SaToken)),
                    permissions: perms,
                    tags: vec![
                        "env=prod".into(),
                        format!("cluster={CLUSTER}"),
                        "team=platform".into(),
                    ],
                    scope: ns.into(),
                    short: name.into(),
                    ips: some_ips(&mut self.rng, "10.42.", 2),
                    rate: if victim {
                        0.4
                    } else {
                        rate(&mut self.rng, 0.02, 0.2)
                    },
                    usual,
                    denied: vec![kube("secrets", "get", "kube-system/bootstrap-token-abcdef")],
                },
            );
            if victim {
                self.cast.service_accounts.push(idx);
            }
        }
        self.cast.foothold = web_pods;
    }

    fn vault_tokens(&mut self) {
        let token = |b: &mut Builder,
                     method: &str,
                     role: &str,
                     policy_paths: Vec<Permission>,
                     usual: Vec<Call>,
                     rate: f64| {
            let accessor = chars_from(&mut b.rng, BASE62, 24);
            add(
                &mut b.members,
                Spec {
                    provider: Provider::Vault,
                    principal: format!("auth/{method}/role/{role}"),
                    kind: IdentityKind::VaultToken,
                    display: format!("vault {method}/{role}"),
                    credential: Some((accessor, CredentialKind::VaultToken)),
                    permissions: policy_paths,
                    tags: vec!["env=prod".into(), format!("auth={method}")],
                    scope: method.into(),
                    short: role.into(),
                    ips: some_ips(
                        &mut b.rng,
                        if method == "kubernetes" {
                            "10.42."
                        } else {
                            "10.20."
                        },
                        2,
                    ),
                    rate,
                    usual,
                    denied: vec![vault(
                        "secret/data",
                        "read",
                        "secret/data/prod/payments-api/stripe",
                    )],
                },
            );
        };
        for (s, _) in SERVICES {
            let policy = format!("{s}-read");
            let perms = vec![
                perm("read", &format!("secret/data/prod/{s}/*"), &policy),
                perm("read", &format!("database/creds/prod-{s}"), &policy),
            ];
            let usual = vec![
                vault(
                    "secret/data",
                    "read",
                    format!("secret/data/prod/{s}/config"),
                ),
                vault("database/creds", "read", format!("database/creds/prod-{s}")),
                vault("auth/token", "update", "auth/token/renew-self"),
            ];
            let rate = rate(&mut self.rng, 0.01, 0.08);
            token(self, "kubernetes", s, perms, usual, rate);
        }
        let approles = [
            ("terraform", "*", "sys/*", "vault-admin"),
            ("jenkins", "read", "secret/data/ci/*", "jenkins-read"),
            (
                "etl-nightly",
                "read",
                "database/creds/prod-analytics-*",
                "etl",
            ),
            ("backup", "read", "secret/data/prod/*", "backup-read-all"),
            (
                "cert-renewer",
                "update",
                "pki/issue/acme-internal",
                "pki-issuer",
            ),
            ("db-rotator", "update", "database/rotate-root/*", "db-admin"),
            (
                "github-actions",
                "read",
                "secret/data/ci/github/*",
                "gha-read",
            ),
            (
                "gitlab-runner",
                "read",
                "secret/data/ci/gitlab/*",
                "gitlab-read",
            ),
            ("airflow", "read", "secret/data/prod/data/*", "airflow-read"),
            (
                "spark",
                "read",
                "secret/data/prod/data/spark/*",
                "spark-read",
            ),
            ("rundeck", "update", "transit/encrypt/*", "rundeck"),
            (
                "ansible",
                "read",
                "secret/data/prod/hosts/*",
                "ansible-read",
            ),
        ];
        for (role, action, path, policy) in approles {
            let usual = if path.starts_with("sys/") {
                vec![vault("sys/policies", "read", "sys/policies/acl/default")]
            } else {
                vec![vault(
                    "secret/data",
                    action,
                    path.trim_end_matches('*').to_string() + "current",
                )]
            };
            let rate = rate(&mut self.rng, 0.005, 0.05);
            token(
                self,
                "approle",
                role,
                vec![perm(action, path, policy)],
                usual,
                rate,
            );
        }
        for (s, _) in SERVICES.iter().take(10) {
            let role = format!("{s}-task-role");
            let usual = vec![vault(
                "secret/data",
                "read",
                format!("secret/data/prod/{s}/api-keys"),
            )];
            let rate = rate(&mut self.rng, 0.005, 0.03);
            token(
                self,
                "aws",
                &role,
                vec![perm(
                    "read",
                    &format!("secret/data/prod/{s}/*"),
                    &format!("{s}-read"),
                )],
                usual,
                rate,
            );
        }
        token(
            self,
            "token",
            "ops-admin",
            vec![perm("*", "*", "root")],
            vec![vault("sys/health", "read", "sys/health")],
            0.001,
        );
        token(
            self,
            "oidc",
            "vault-admins",
            vec![perm("*", "sys/*", "vault-admin")],
            vec![vault("sys/mounts", "read", "sys/mounts")],
            0.002,
        );
    }

    fn ci_tokens(&mut self) {
        for (i, repo) in GITHUB_REPOS.iter().enumerate() {
            let deployer = i < 20;
            let principal = if deployer {
                format!("repo:acme/{repo}:environment:production")
            } else {
                format!("repo:acme/{repo}:ref:refs/heads/main")
            };
            let role = format!("role/gha-deploy-{repo}");
            let mut perms = vec![
                perm("contents:read", &format!("acme/{repo}"), "GITHUB_TOKEN"),
                perm(
                    "packages:write",
                    &format!("ghcr.io/acme/{repo}"),
                    "GITHUB_TOKEN",
                ),
            ];
            let mut usual = vec![
                gh("git", "clone", format!("acme/{repo}")),
                gh("packages", "write", format!("ghcr.io/acme/{repo}")),
                gh("checks", "create", format!("acme/{repo}")),
            ];
            let mut bucket = "";
            if deployer {
                let ecr = format!("arn:aws:ecr:{REGION}:{PROD}:repository/{repo}");
                perms.push(perm("ecr:PutImage", &ecr, &role));
                perms.push(perm(
                    "ecs:UpdateService",
                    &format!("arn:aws:ecs:{REGION}:{PROD}:service/prod/{repo}"),
                    &role,
                ));
                usual.push(aws("ecr", "PutImage", ecr.clone()));
                usual.push(aws("ecr", "InitiateLayerUpload", ecr));
                usual.push(aws(
                    "ecs",
                    "UpdateService",
                    format!("arn:aws:ecs:{REGION}:{PROD}:service/prod/{repo}"),
                ));
                match *repo {
                    "infra-live" => {
                        // Terraform pipelines are administrators: the crown jewel of CI.
                        perms.push(perm(
                            "*",
                            "*",
                            "AdministratorAccess (role/gha-terraform-apply)",
                        ));
                        perms.push(perm("s3:*", "arn:aws:s3:::acme-terraform-state/*", &role));
                        usual = vec![
                            aws(
                                "s3",
                                "GetObject",
                                "arn:aws:s3:::acme-terraform-state/live/prod/terraform.tfstate",
                            ),
                            aws(
                                "s3",
                                "PutObject",
                                "arn:aws:s3:::acme-terraform-state/live/prod/terraform.tfstate",
                            ),
                            aws(
                                "dynamodb",
                                "PutItem",
                                format!("arn:aws:dynamodb:{REGION}:{PROD}:table/terraform-locks"),
                            ),
                            aws(
                                "iam",
                                "GetRole",
                                format!("arn:aws:iam::{PROD}:role/payments-api-task-role"),
                            ),
                            aws(
                                "sts",
                                "AssumeRoleWithWebIdentity",
                                format!("arn:aws:iam::{PROD}:role/gha-terraform-apply"),
                            ),
                        ];
                        bucket = "acme-prod-customer-exports";
                    }
                    "payments-api" => {
                        perms.push(perm(
                            "iam:PassRole",
                            &format!("arn:aws:iam::{PROD}:role/payments-api-task-role"),
                            &role,
                        ));
                        perms.push(perm("s3:*", "arn:aws:s3:::acme-prod-payments-api/*", &role));
                        perms.push(perm(
                            "secretsmanager:GetSecretValue",
                            &format!(
                                "arn:aws:secretsmanager:{REGION}:{PROD}:secret:prod/payments/*"
                            ),
                            &role,
                        ));
                        bucket = "acme-prod-payments-api";
                    }
                    "data-pipelines" => {
                        perms.push(perm(
                            "iam:PassRole",
                            &format!("arn:aws:iam::{PROD}:role/glue-*"),
                            &role,
                        ));
                        perms.push(perm("s3:*", "arn:aws:s3:::acme-prod-data-lake/*", &role));
                        perms.push(perm("glue:*", "*", &role));
                        perms.push(perm(
                            "secretsmanager:GetSecretValue",
                            &format!(
                                "arn:aws:secretsmanager:{REGION}:{PROD}:secret:prod/snowflake/*"
                            ),
                            &role,
                        ));
                        bucket = "acme-prod-data-lake";
                    }
                    _ => {}
                }
            }
            let victim = !bucket.is_empty();
            let display = if deployer {
                format!("gha acme/{repo} (production)")
            } else {
                format!("gha acme/{repo}")
            };
            let idx = add(
                &mut self.members,
                Spec {
                    provider: Provider::Github,
                    principal,
                    kind: IdentityKind::CiToken,
                    display,
                    credential: Some((uuid(&mut self.rng), CredentialKind::CiToken)),
                    permissions: perms,
                    tags: vec![
                        if deployer {
                            "env=prod".into()
                        } else {
                            "env=ci".into()
                        },
                        format!("repo=acme/{repo}"),
                    ],
                    scope: format!("acme/{repo}"),
                    short: repo.to_string(),
                    // GitHub-hosted runners: a small pool per repository (benchmark range, never routed).
                    ips: some_ips(&mut self.rng, "198.18.", 2),
                    rate: if victim {
                        0.4
                    } else {
                        rate(&mut self.rng, 0.01, 0.1)
                    },
                    usual,
                    denied: vec![gh(
                        "secrets",
                        "read",
                        format!("acme/{repo}/environments/production"),
                    )],
                },
            );
            if victim {
                self.cast.ci.push(idx);
                self.cast.ci_bucket.push(bucket);
            }
        }
        for p in GITLAB_PROJECTS {
            let project = format!("acme-platform/{p}");
            let mut perms = vec![
                perm(
                    "registry:push",
                    &format!("registry.gitlab.acme.example/{project}"),
                    "CI_JOB_TOKEN",
                ),
                perm("repository:read", &project, "CI_JOB_TOKEN"),
            ];
            let mut usual = vec![
                gl("repository", "clone", project.clone()),
                gl(
                    "registry",
                    "push",
                    format!("registry.gitlab.acme.example/{project}"),
                ),
                gl("packages", "read", project.clone()),
            ];
            match p {
                "iam-policies" => {
                    perms.push(perm(
                        "iam:CreatePolicyVersion",
                        "*",
                        "role/gitlab-iam-policies",
                    ));
                    perms.push(perm(
                        "iam:AttachRolePolicy",
                        "*",
                        "role/gitlab-iam-policies",
                    ));
                }
                "secrets-rotation" => {
                    perms.push(perm(
                        "secretsmanager:PutSecretValue",
                        &format!("arn:aws:secretsmanager:{REGION}:{PROD}:secret:prod/*"),
                        "role/gitlab-secrets-rotation",
                    ));
                    usual.push(aws("secretsmanager", "PutSecretValue", format!("arn:aws:secretsmanager:{REGION}:{PROD}:secret:prod/payments/db-password")));
                }
                "vault-config" => perms.push(perm("*", "sys/*", "vault-admin")),
                "dns-zones" => perms.push(perm("route53:*", "*", "role/gitlab-dns")),
                "db-migrations" => {
                    perms.push(perm("read", "database/creds/prod-*", "vault db-migrations"))
                }
                _ => {}
            }
            add(
                &mut self.members,
                Spec {
                    provider: Provider::Ci,
                    principal: format!("project_path:{project}:ref_type:branch:ref:main"),
                    kind: IdentityKind::CiToken,
                    display: format!("gitlab-ci {project}"),
                    credential: Some((
                        format!(
                            "job-{}",
                            self.rng.random_range(4_000_000_000u64..5_000_000_000)
                        ),
                        CredentialKind::CiToken,
                    )),
                    permissions: perms,
                    tags: vec!["env=ci".into(), format!("project={project}")],
                    scope: project.clone(),
                    short: p.into(),
                    ips: some_ips(&mut self.rng, "198.19.", 2),
                    rate: rate(&mut self.rng, 0.01, 0.08),
                    usual,
                    denied: vec![gl(
                        "registry",
                        "push",
                        "registry.gitlab.acme.example/acme-platform/base-images",
                    )],
                },
            );
        }
    }

    /// Benign identities that look suspicious, as every real fleet has: a staging job pointed at
    /// a production bucket, denied in a loop. A responder learns to tell them from an attack.
    fn noise(&mut self) {
        let principal = format!("arn:aws:iam::{STAGING}:user/svc-analytics-etl-staging");
        if let Some(m) = self
            .members
            .iter_mut()
            .find(|m| m.record.principal.as_str() == principal)
        {
            m.rate = 0.2;
            m.deny_p = 0.35;
            m.denied = vec![aws(
                "s3",
                "GetObject",
                "arn:aws:s3:::acme-prod-analytics-etl/data/part-0001.parquet",
            )];
        }
    }

    /// What a real inventory tells of a service account's workload: the pod its token is bound
    /// to, and the role bindings that give it its namespaced roles (named after the role, as
    /// most are). Containment acts on these.
    fn workload_tags(&mut self) {
        for m in &mut self.members {
            let Some(pod) = super::contain::pod_of(m) else {
                continue;
            };
            let mut tags = vec![format!("pod={}/{pod}", m.scope)];
            for p in &m.record.permissions {
                let Some((ns, role)) = p
                    .via
                    .as_deref()
                    .and_then(|v| v.strip_prefix("Role "))
                    .and_then(|v| v.split_once('/'))
                else {
                    continue;
                };
                let tag = crate::core::binding_tag(Some(ns), role, role);
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            // The debugging grant nobody removed is the one to take away first.
            tags[1..].sort_by_key(|t| !t.contains("-debug"));
            m.record.tags.extend(tags.iter().map(|t| SafeText::new(t)));
        }
    }

    fn ai_agents(&mut self) {
        for name in AI_AGENTS {
            let via = format!("agent-policy/{name}");
            let mut perms = vec![perm_as("tickets:read", "tickets/*", &via, Sensitivity::Low)];
            let mut usual = vec![tool("tickets", "read", "tickets/queue/open")];
            match name {
                "support-copilot" => {
                    // Over-granted on purpose: a help-desk agent that can reach customer data,
                    // production attachments and secrets is the real-world failure mode.
                    perms.push(perm_as(
                        "crm:read",
                        "crm/customers/*",
                        &via,
                        Sensitivity::Data,
                    ));
                    perms.push(perm_as(
                        "crm:export",
                        "crm/customers/*",
                        &via,
                        Sensitivity::Data,
                    ));
                    perms.push(perm(
                        "s3:GetObject",
                        "arn:aws:s3:::acme-prod-support-attachments/*",
                        &via,
                    ));
                    perms.push(perm(
                        "secretsmanager:GetSecretValue",
                        &format!("arn:aws:secretsmanager:{REGION}:{PROD}:secret:prod/support/*"),
                        &via,
                    ));
                    perms.push(perm_as("http:post", "*", &via, Sensitivity::Low));
                    usual.push(tool("crm", "get_customer", "crm/customers/cus_8842"));
                    usual.push(tool("kb", "search", "kb/articles?q=refund"));
                    usual.push(tool("tickets", "reply", "tickets/48190"));
                }
                "data-analyst-agent" | "sql-copilot" => {
                    perms.push(perm(
                        "s3:GetObject",
                        "arn:aws:s3:::acme-prod-data-lake/*",
                        &via,
                    ));
                    perms.push(perm_as(
                        "warehouse:query",
                        "snowflake/ANALYTICS/*",
                        &via,
                        Sensitivity::Data,
                    ));
                    perms.push(perm_as("http:post", "*", &via, Sensitivity::Low));
                    usual.push(tool(
                        "warehouse",
                        "run_query",
                        "snowflake/ANALYTICS/MARTS.REVENUE_DAILY",
                    ));
                }
                "code-review-bot" | "pr-triage-bot" | "dependency-updater"
                | "release-notes-bot" | "qa-test-writer" | "docs-writer" => {
                    perms.push(perm_as(
                        "pull_requests:write",
                        "acme/*",
                        &via,
                        Sensitivity::Low,
                    ));
                    perms.push(perm_as(
                        "contents:write",
                        "acme/*",
                        &via,
                        Sensitivity::Production,
                    ));
                    usual.push(tool(
                        "github",
                        "create_review",
                        "acme/payments-api/pull/1842",
                    ));
                }
                "sre-agent" | "k8s-operator-agent" | "incident-summariser" => {
                    perms.push(perm(
                        "deployments:update",
                        &format!("{CLUSTER}/deployments/*"),
                        &via,
                    ));
                    perms.push(perm("pods:delete", &format!("{CLUSTER}/pods/*"), &via));
                    usual.push(tool(
                        "kubectl",
                        "rollout_status",
                        "checkout/deployment/checkout",
                    ));
                    usual.push(tool("grafana", "query", "dashboards/slo-overview"));
                }
                "security-triage" => {
                    perms.push(perm("guardduty:GetFindings", "*", &via));
                    usual.push(tool("guardduty", "get_findings", "detector/acme-prod"));
                }
                "finops-agent" => {
                    perms.push(perm("ce:GetCostAndUsage", "*", &via));
                    usual.push(tool(
                        "aws_cost",
                        "get_cost_and_usage",
                        "account/111122223333",
                    ));
                }
                _ => {
                    perms.push(perm_as("kb:search", "kb/*", &via, Sensitivity::Low));
                    usual.push(tool("kb", "search", "kb/articles"));
                }
            }
            let victim = matches!(name, "support-copilot" | "data-analyst-agent");
            let idx = add(
                &mut self.members,
                Spec {
                    provider: Provider::Ai,
                    principal: format!("agents/{name}"),
                    kind: IdentityKind::AiAgent,
                    display: name.into(),
                    credential: Some((
                        format!("key_{}", hex(&mut self.rng, 20)),
                        CredentialKind::ApiKey,
                    )),
                    permissions: perms,
                    tags: vec!["env=prod".into(), "runtime=mcp".into()],
                    scope: name.into(),
                    short: name.into(),
                    ips: some_ips(&mut self.rng, "10.30.", 1),
                    rate: if victim {
                        0.3
                    } else {
                        rate(&mut self.rng, 0.03, 0.2)
                    },
                    usual,
                    denied: vec![tool(
                        "secretsmanager",
                        "GetSecretValue",
                        "prod/payments/stripe-api-key",
                    )],
                },
            );
            if victim {
                self.cast.ai.push(idx);
            }
        }
    }
}
