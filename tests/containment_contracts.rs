//! Contract tests of the provider executors (`k8s.*`, `github.*`, `gcp.*`) against recorded-
//! contract fakes: small HTTP servers in the test that check the method, path, headers and body
//! of each request and answer as the real API does (Kubernetes API conventions, GitHub's
//! credential revocation API, Google IAM's serviceAccounts.keys). No live service is touched.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::IntoResponse;
use blastdoor::core::workflow::{self, Action, Proposal, Proposer, Rules, Via};
use blastdoor::respond::providers::from_config;
use blastdoor::respond::{ExecError, ExecStatus, Executor};
use serde_json::{Value, json};

/// One request as the fake received it.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Value,
}

impl Req {
    fn header(&self, h: &str) -> &str {
        self.headers.get(h).map(String::as_str).unwrap_or("")
    }
}

type Log = Arc<Mutex<Vec<Req>>>;
type Handler = Arc<dyn Fn(&Req) -> (u16, Value) + Send + Sync>;

/// Serve `answer` on a loopback port; every request is logged.
async fn fake(answer: Handler) -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let l2 = log.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = l2.clone();
            let answer = answer.clone();
            async move {
                let req = Req {
                    method: method.to_string(),
                    // Kubernetes clients add an empty or dry-run query; the contract is the path.
                    path: uri.path().to_string(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_lowercase(),
                                v.to_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect(),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let (code, v) = answer(&req);
                log.lock().unwrap().push(req);
                (
                    axum::http::StatusCode::from_u16(code).unwrap(),
                    [("content-type", "application/json")],
                    v.to_string(),
                )
                    .into_response()
            }
        },
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (addr, log)
}

fn requests(log: &Log, method: &str) -> Vec<Req> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == method)
        .cloned()
        .collect()
}

fn action(kind: &str, identity: &str, params: Value) -> Action {
    workflow::stage(
        Proposal {
            id: "act_contract".into(),
            identity: identity.into(),
            kind: kind.into(),
            target: json!({ "identity": identity }),
            params,
            proposed_by: Proposer {
                principal: "alice".into(),
                via: Via::Cli,
                agent: None,
            },
            reason: "contract test".into(),
            evidence: vec![],
            reversible: true,
            dry_run: Default::default(),
        },
        Rules {
            required_approvals: 1,
            approval_ttl: 900_000,
            action_ttl: 86_400_000,
        },
        false,
        1_000,
    )
}

fn executor(config: &str) -> Arc<dyn Executor> {
    let t: toml::Table = toml::from_str(config).unwrap();
    let providers = t["providers"].as_table().unwrap().clone();
    let mut all = from_config(&providers).unwrap();
    assert_eq!(all.len(), 1);
    all.remove(0)
}

/// Plan, then execute under the action's key, keeping what the desk would keep.
async fn plan_and_execute(e: &dyn Executor, a: &mut Action) -> blastdoor::respond::Outcome {
    let plan = e.plan(a).await.expect("plan");
    a.dry_run = plan.dry_run;
    a.reversible = plan.reversible;
    let key = a.key().to_string();
    let o = e.execute(a, &key).await.expect("execute");
    a.outcome = o.detail.clone();
    o
}

fn permanent(r: Result<blastdoor::respond::Outcome, ExecError>) -> String {
    match r {
        Err(ExecError::Permanent(m)) => m,
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes: a small API server keeping objects by path, as the API conventions describe:
// GET an object or 404 Status, POST to a collection (409 AlreadyExists), PATCH with
// application/merge-patch+json (RFC 7386), DELETE answering a Success Status, LIST as a List.

const TOKEN: &str = "fake-bearer-for-contract";

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[derive(Default)]
struct Cluster {
    objects: HashMap<String, Value>,
    /// `(method, path)` pairs the user may not do.
    forbidden: Vec<(String, String)>,
    rv: u64,
}

fn kube_api(cluster: Arc<Mutex<Cluster>>) -> Handler {
    Arc::new(move |r: &Req| {
        assert_eq!(
            r.header("authorization"),
            format!("Bearer {TOKEN}"),
            "every request carries the kubeconfig user's token: {r:?}"
        );
        let mut c = cluster.lock().unwrap();
        let path = r.path.split('?').next().unwrap().to_string();
        if c.forbidden.contains(&(r.method.clone(), path.clone())) {
            let resource = path.rsplit('/').nth(1).unwrap_or("");
            return status(
                403,
                "Forbidden",
                &format!(
                    "{resource} is forbidden: User \"responder\" cannot {} resource \"{resource}\" in the namespace \"ci\"",
                    r.method.to_lowercase()
                ),
            );
        }
        c.rv += 1;
        let rv = c.rv.to_string();
        match r.method.as_str() {
            "GET" => {
                if let Some(o) = c.objects.get(&path) {
                    return (200, o.clone());
                }
                let items: Vec<Value> = c
                    .objects
                    .iter()
                    .filter(|(k, _)| k.rsplit_once('/').is_some_and(|(col, _)| col == path))
                    .map(|(_, v)| v.clone())
                    .collect();
                if path.ends_with("horizontalpodautoscalers") {
                    return (
                        200,
                        json!({"kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v2",
                               "metadata": {"resourceVersion": rv}, "items": items}),
                    );
                }
                let name = path.rsplit('/').next().unwrap();
                status(404, "NotFound", &format!("\"{name}\" not found"))
            }
            "POST" => {
                assert_eq!(r.header("content-type"), "application/json");
                let name = r.body["metadata"]["name"].as_str().unwrap().to_string();
                let key = format!("{path}/{name}");
                if c.objects.contains_key(&key) {
                    return status(409, "AlreadyExists", &format!("\"{name}\" already exists"));
                }
                let mut o = r.body.clone();
                o["metadata"]["uid"] = json!(format!("uid-{rv}"));
                o["metadata"]["resourceVersion"] = json!(rv);
                o["metadata"]["creationTimestamp"] = json!("2026-11-26T09:00:00Z");
                c.objects.insert(key, o.clone());
                (201, o)
            }
            "PATCH" => {
                assert_eq!(
                    r.header("content-type"),
                    "application/merge-patch+json",
                    "a merge patch: {r:?}"
                );
                match c.objects.get_mut(&path) {
                    Some(o) => {
                        merge(o, &r.body);
                        o["metadata"]["resourceVersion"] = json!(rv);
                        (200, o.clone())
                    }
                    None => status(404, "NotFound", "not found"),
                }
            }
            "DELETE" => match c.objects.remove(&path) {
                Some(o) => (
                    200,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                           "details": {"name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}}),
                ),
                None => status(404, "NotFound", "not found"),
            },
            m => panic!("unexpected {m} {path}"),
        }
    })
}

struct Kube {
    _dir: tempfile::TempDir,
    exec: Arc<dyn Executor>,
    log: Log,
    cluster: Arc<Mutex<Cluster>>,
}

fn kubeconfig(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\ncontexts:\n- name: prod\n  context:\n    cluster: fake\n    user: responder\n- name: other\n  context:\n    cluster: fake\n    user: responder\ncurrent-context: other\nusers:\n- name: responder\n  user:\n    token: {TOKEN}\n"
        ),
    )
    .unwrap();
    path
}

async fn kube(objects: Vec<(&str, Value)>) -> Kube {
    let cluster = Arc::new(Mutex::new(Cluster {
        objects: objects
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ..Default::default()
    }));
    let (addr, log) = fake(kube_api(cluster.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &format!("http://{addr}"));
    let exec = executor(&format!(
        "[providers.kubernetes]\ncontext = \"prod\"\nkubeconfig = \"{}\"\n",
        kc.display()
    ));
    Kube {
        _dir: dir,
        exec,
        log,
        cluster,
    }
}

const POD: &str = "/api/v1/namespaces/ci/pods/runner-7";
const POLICIES: &str = "/apis/networking.k8s.io/v1/namespaces/ci/networkpolicies";
const BINDING: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/ci/rolebindings/ci-admin";
const DEPLOY: &str = "/apis/apps/v1/namespaces/ci/deployments/web";
const SA: &str = "k8s:system:serviceaccount:ci:runner";

fn pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "runner-7", "namespace": "ci", "uid": "p1", "resourceVersion": "1",
                        "labels": {"app": "runner"},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                             "name": "runner-5d9c", "uid": "rs1", "controller": true}]},
           "spec": {"serviceAccountName": "runner", "containers": [{"name": "r", "image": "runner:1"}]}})
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_k8s_quarantine_pod_applies_a_deny_all_policy_then_the_label_and_undo_removes_it()
{
    let k = kube(vec![(POD, pod())]).await;
    let mut a = action(
        "k8s.quarantine_pod",
        SA,
        json!({"namespace": "ci", "pod": "runner-7"}),
    );
    let plan = k.exec.plan(&a).await.unwrap();
    let text = format!("{:?}", plan.dry_run);
    assert!(
        text.contains("owned by ReplicaSet runner-5d9c"),
        "the plan warns that the pod's controller may replace it: {text}"
    );
    assert!(
        text.contains("create NetworkPolicy ci/blastdoor-quarantine"),
        "{text}"
    );
    assert!(plan.reversible);
    assert!(
        requests(&k.log, "POST").is_empty() && requests(&k.log, "PATCH").is_empty(),
        "planning changes nothing"
    );

    let o = plan_and_execute(k.exec.as_ref(), &mut a).await;
    assert_eq!(o.status, ExecStatus::Done, "{o:?}");
    assert_eq!(o.detail["labelled"], true);
    let posts = requests(&k.log, "POST");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, POLICIES);
    let np = &posts[0].body;
    assert_eq!(np["kind"], "NetworkPolicy");
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"]["blastdoor.io/quarantine"],
        "true"
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert!(
        np["spec"].get("ingress").is_none() && np["spec"].get("egress").is_none(),
        "no rule: deny all"
    );
    let patches = requests(&k.log, "PATCH");
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].path.split('?').next().unwrap(), POD);
    assert_eq!(
        patches[0].body,
        json!({"metadata": {"labels": {"blastdoor.io/quarantine": "true"}}})
    );

    // The same key again (a retry, a recovery): state is read first and nothing is sent.
    let key = a.key().to_string();
    let again = k.exec.execute(&a, &key).await.unwrap();
    assert_eq!(again.status, ExecStatus::Done);
    assert_eq!(requests(&k.log, "PATCH").len(), 1, "never acts twice");
    assert_eq!(requests(&k.log, "POST").len(), 1);

    let r = k.exec.rollback(&a, &key).await.unwrap();
    assert_eq!(r.status, ExecStatus::RolledBack, "{r:?}");
    let patches = requests(&k.log, "PATCH");
    assert_eq!(
        patches.last().unwrap().body,
        json!({"metadata": {"labels": {"blastdoor.io/quarantine": null}}})
    );
    let c = k.cluster.lock().unwrap();
    assert!(
        c.objects[POD]["metadata"]["labels"]
            .get("blastdoor.io/quarantine")
            .is_none()
    );
    assert_eq!(c.objects[POD]["metadata"]["labels"]["app"], "runner");
}

fn binding() -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
           "metadata": {"name": "ci-admin", "namespace": "ci", "uid": "b-uid-1", "resourceVersion": "4711",
                        "creationTimestamp": "2026-01-02T03:04:05Z", "generation": 1,
                        "labels": {"team": "platform"},
                        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}]},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
           "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": "ci"}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_k8s_delete_rolebinding_keeps_a_snapshot_and_undo_recreates_it_without_server_fields()
 {
    let k = kube(vec![(BINDING, binding())]).await;
    let mut a = action(
        "k8s.delete_rolebinding",
        SA,
        json!({"namespace": "ci", "name": "ci-admin"}),
    );
    let o = plan_and_execute(k.exec.as_ref(), &mut a).await;
    let text = format!("{:?}", a.dry_run);
    assert!(
        text.contains("ServiceAccount ci/runner lose what ClusterRole admin grants"),
        "{text}"
    );
    assert_eq!(o.status, ExecStatus::Done, "{o:?}");
    let deletes = requests(&k.log, "DELETE");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].path.split('?').next().unwrap(), BINDING);
    assert!(!k.cluster.lock().unwrap().objects.contains_key(BINDING));

    // A resend finds it gone: done, no second delete.
    let key = a.key().to_string();
    assert_eq!(
        k.exec.execute(&a, &key).await.unwrap().status,
        ExecStatus::Done
    );
    assert_eq!(requests(&k.log, "DELETE").len(), 1);

    let r = k.exec.rollback(&a, &key).await.unwrap();
    assert_eq!(r.status, ExecStatus::RolledBack, "{r:?}");
    let posts = requests(&k.log, "POST");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].path,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ci/rolebindings"
    );
    let meta = posts[0].body["metadata"].as_object().unwrap();
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
    ] {
        assert!(
            !meta.contains_key(f),
            "{f} is set by the server: {:?}",
            posts[0].body
        );
    }
    assert_eq!(meta["labels"]["team"], "platform");
    assert_eq!(posts[0].body["roleRef"]["name"], "admin");
    assert_eq!(posts[0].body["subjects"][0]["name"], "runner");
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_k8s_scale_to_zero_warns_of_an_hpa_and_undo_restores_the_replica_count() {
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ci", "uid": "d1", "resourceVersion": "3"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "web:1"}]}}},
        "status": {"replicas": 3}});
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web-hpa", "namespace": "ci"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": 10}});
    let k = kube(vec![
        (DEPLOY, deploy),
        (
            "/apis/autoscaling/v2/namespaces/ci/horizontalpodautoscalers/web-hpa",
            hpa,
        ),
    ])
    .await;
    let mut a = action(
        "k8s.scale_to_zero",
        SA,
        json!({"namespace": "ci", "deployment": "web"}),
    );
    let o = plan_and_execute(k.exec.as_ref(), &mut a).await;
    let text = format!("{:?}", a.dry_run);
    assert!(
        text.contains("HorizontalPodAutoscaler ci/web-hpa targets it (minReplicas 2)"),
        "the plan warns the HPA may undo it: {text}"
    );
    assert!(text.contains("from 3 to 0 replicas"), "{text}");
    assert_eq!(o.status, ExecStatus::Done, "{o:?}");
    assert_eq!(o.detail["previous_replicas"], 3);
    let patch = &requests(&k.log, "PATCH")[0];
    assert_eq!(patch.body["spec"]["replicas"], 0);
    assert_eq!(
        patch.body["metadata"]["annotations"]["blastdoor.io/replicas-before"], "3",
        "the count is kept on the object in the same patch"
    );

    let key = a.key().to_string();
    let again = k.exec.execute(&a, &key).await.unwrap();
    assert_eq!(again.detail["previous_replicas"], 3, "a resend remembers 3");
    assert_eq!(requests(&k.log, "PATCH").len(), 1, "never acts twice");

    let r = k.exec.rollback(&a, &key).await.unwrap();
    assert_eq!(r.status, ExecStatus::RolledBack, "{r:?}");
    assert_eq!(
        k.cluster.lock().unwrap().objects[DEPLOY]["spec"]["replicas"],
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_k8s_forbidden_and_missing_objects_fail_permanently_naming_them() {
    let k = kube(vec![(POD, pod())]).await;
    k.cluster
        .lock()
        .unwrap()
        .forbidden
        .push(("PATCH".into(), POD.into()));
    let a = action(
        "k8s.quarantine_pod",
        SA,
        json!({"namespace": "ci", "pod": "runner-7"}),
    );
    let m = permanent(k.exec.execute(&a, a.key()).await);
    assert!(
        m.contains("patch pods ci/runner-7") && m.contains("403") && m.contains("RBAC"),
        "{m}"
    );

    let gone = action(
        "k8s.scale_to_zero",
        SA,
        json!({"namespace": "ci", "deployment": "nope"}),
    );
    let m = permanent(k.exec.execute(&gone, gone.key()).await);
    assert!(
        m.contains("deployments ci/nope") && m.contains("not found"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_k8s_an_unreachable_cluster_is_transient_and_names_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let kc = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
    let exec = executor(&format!(
        "[providers.kubernetes]\ncontext = \"prod\"\nkubeconfig = \"{}\"\n",
        kc.display()
    ));
    let a = action(
        "k8s.scale_to_zero",
        SA,
        json!({"namespace": "ci", "deployment": "web"}),
    );
    match exec.execute(&a, a.key()).await {
        Err(ExecError::Transient(m)) => assert!(
            m.contains(&format!("127.0.0.1:{port}"))
                && m.contains("[providers.kubernetes] context"),
            "{m}"
        ),
        other => panic!("expected transient: {other:?}"),
    }
    let bad = executor(&format!(
        "[providers.kubernetes]\ncontext = \"staging\"\nkubeconfig = \"{}\"\n",
        kc.display()
    ));
    let m = permanent(bad.execute(&a, a.key()).await);
    assert!(
        m.contains("staging") && m.contains("[providers.kubernetes] context"),
        "{m}"
    );
}

// ---------------------------------------------------------------------------------------------
// GitHub: POST /credentials/revoke answers 202 Accepted; a revoked token then gets 401
// "Bad credentials" on any request (here GET /rate_limit).

#[tokio::test(flavor = "multi_thread")]
async fn contract_github_revoke_credential_posts_it_reads_back_the_rejection_and_never_prints_it() {
    let secret = "ghp_C0ntractTestTokenNotReal0123456789ab";
    let revoked: Arc<Mutex<Vec<String>>> = Arc::default();
    let rv = revoked.clone();
    let (addr, log) = fake(Arc::new(move |r: &Req| {
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/rate_limit") => {
                let tok = r.header("authorization").trim_start_matches("Bearer ").to_string();
                if rv.lock().unwrap().contains(&tok) {
                    (401, json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}))
                } else {
                    (200, json!({"resources": {"core": {"limit": 5000, "remaining": 4999}}, "rate": {"limit": 5000, "remaining": 4999}}))
                }
            }
            ("POST", "/credentials/revoke") => {
                assert_eq!(r.header("accept"), "application/vnd.github+json");
                assert_eq!(r.header("x-github-api-version"), "2022-11-28");
                assert_eq!(r.header("content-type"), "application/json");
                let creds = r.body["credentials"].as_array().expect("credentials array");
                for c in creds {
                    rv.lock().unwrap().push(c.as_str().unwrap().to_string());
                }
                (202, json!({}))
            }
            (m, p) => panic!("unexpected {m} {p}"),
        }
    }))
    .await;
    let exec = executor(&format!(
        "[providers.github]\napi_url = \"http://{addr}\"\n"
    ));
    let mut a = action(
        "github.revoke_credential",
        "github:acme/deploy-bot",
        json!({"credential": secret}),
    );
    let o = plan_and_execute(exec.as_ref(), &mut a).await;
    assert_eq!(o.status, ExecStatus::Done, "{o:?}");
    assert_eq!(o.detail["state"], "rejected", "read back, not assumed");
    let posts = requests(&log, "POST");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body, json!({"credentials": [secret]}));
    let shown = format!("{:?} {:?}", a.dry_run, o.detail);
    assert!(!shown.contains(secret), "the token is never shown: {shown}");
    assert!(shown.contains("sha256:"), "a fingerprint instead: {shown}");
    assert!(!a.reversible, "a revocation cannot be undone");

    // Again under the same key: GitHub already rejects it, so nothing is posted.
    let again = exec.execute(&a, a.key()).await.unwrap();
    assert_eq!(again.status, ExecStatus::Done);
    assert_eq!(requests(&log, "POST").len(), 1, "never acts twice");
    assert!(matches!(
        exec.rollback(&a, a.key()).await,
        Err(ExecError::Permanent(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// GCP IAM: GET keys/KEY (`disabled` only present when true), POST keys/KEY:disable and
// :enable with `{}`, errors as `{"error": {"code", "message", "status"}}`.

const GCP_KEY: &str =
    "/v1/projects/-/serviceAccounts/ci-runner@acme.iam.gserviceaccount.com/keys/1f2e3d4c5b6a";

fn google_error(code: u16, status: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

async fn iam() -> (SocketAddr, Log) {
    let disabled = Arc::new(Mutex::new(false));
    fake(Arc::new(move |r: &Req| {
        let tok = r.header("authorization");
        if tok == "Bearer ya29.denied" {
            return google_error(
                403,
                "PERMISSION_DENIED",
                "Permission 'iam.serviceAccountKeys.get' denied on resource (or it may not exist).",
            );
        }
        assert_eq!(tok, "Bearer ya29.contract-token");
        let (path, verb) = match r.path.rsplit_once(':') {
            Some((p, v)) if !v.contains('/') => (p, Some(v)),
            _ => (r.path.as_str(), None),
        };
        if path != GCP_KEY {
            return google_error(
                404,
                "NOT_FOUND",
                &format!("Service account key {path} does not exist."),
            );
        }
        let mut d = disabled.lock().unwrap();
        match (r.method.as_str(), verb) {
            ("GET", None) => {
                let mut k = json!({"name": "projects/acme/serviceAccounts/ci-runner@acme.iam.gserviceaccount.com/keys/1f2e3d4c5b6a",
                    "validAfterTime": "2026-01-01T00:00:00Z", "validBeforeTime": "9999-12-31T23:59:59Z",
                    "keyAlgorithm": "KEY_ALG_RSA_2048", "keyOrigin": "GOOGLE_PROVIDED", "keyType": "USER_MANAGED"});
                if *d {
                    k["disabled"] = json!(true);
                }
                (200, k)
            }
            ("POST", Some(v @ ("disable" | "enable"))) => {
                assert_eq!(r.body, json!({}), "an empty request object");
                assert_eq!(r.header("content-type"), "application/json");
                *d = v == "disable";
                (200, json!({}))
            }
            (m, v) => panic!("unexpected {m} {path} {v:?}"),
        }
    }))
    .await
}

fn set_env(k: &str, v: &str) {
    // Each test uses its own variable name, so parallel tests never race on one.
    unsafe { std::env::set_var(k, v) };
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_gcp_disable_key_reads_first_disables_reads_back_and_undo_enables() {
    let (addr, log) = iam().await;
    set_env("BD_CONTRACT_GCP_TOKEN_A", "ya29.contract-token");
    let exec = executor(&format!(
        "[providers.gcp]\napi_url = \"http://{addr}\"\ntoken_env = \"BD_CONTRACT_GCP_TOKEN_A\"\n"
    ));
    let mut a = action(
        "gcp.disable_service_account_key",
        "gcp:ci-runner@acme.iam.gserviceaccount.com",
        json!({"service_account": "ci-runner@acme.iam.gserviceaccount.com", "key_id": "1f2e3d4c5b6a"}),
    );
    let o = plan_and_execute(exec.as_ref(), &mut a).await;
    assert_eq!(a.dry_run.before["disabled"], false, "the plan read the key");
    assert_eq!(o.status, ExecStatus::Done, "{o:?}");
    assert_eq!(o.detail["disabled"], true);
    let posts = requests(&log, "POST");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, format!("{GCP_KEY}:disable"));
    let gets = requests(&log, "GET");
    assert!(gets.len() >= 3, "plan, check first, read back: {gets:?}");

    assert_eq!(
        exec.execute(&a, a.key()).await.unwrap().status,
        ExecStatus::Done
    );
    assert_eq!(requests(&log, "POST").len(), 1, "never acts twice");

    let r = exec.rollback(&a, a.key()).await.unwrap();
    assert_eq!(r.status, ExecStatus::RolledBack, "{r:?}");
    assert_eq!(
        requests(&log, "POST").last().unwrap().path,
        format!("{GCP_KEY}:enable")
    );
    let shown = format!("{:?} {:?}", a.dry_run, o.detail);
    assert!(!shown.contains("ya29."), "no token shown: {shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_gcp_errors_name_the_permission_the_missing_key_the_endpoint_and_the_token_variable()
 {
    let (addr, _log) = iam().await;
    let cfg = |var: &str, url: &str| {
        executor(&format!(
            "[providers.gcp]\napi_url = \"{url}\"\ntoken_env = \"{var}\"\n"
        ))
    };
    let a = action(
        "gcp.disable_service_account_key",
        "gcp:ci-runner@acme.iam.gserviceaccount.com",
        json!({"service_account": "ci-runner@acme.iam.gserviceaccount.com", "key_id": "1f2e3d4c5b6a"}),
    );
    set_env("BD_CONTRACT_GCP_TOKEN_DENIED", "ya29.denied");
    let m = permanent(
        cfg("BD_CONTRACT_GCP_TOKEN_DENIED", &format!("http://{addr}"))
            .execute(&a, a.key())
            .await,
    );
    assert!(
        m.contains("403") && m.contains("iam.serviceAccountKeys.get") && m.contains("token_env"),
        "{m}"
    );

    set_env("BD_CONTRACT_GCP_TOKEN_B", "ya29.contract-token");
    let mut missing = a.clone();
    missing.params["key_id"] = json!("000000dead");
    let m = permanent(
        cfg("BD_CONTRACT_GCP_TOKEN_B", &format!("http://{addr}"))
            .execute(&missing, missing.key())
            .await,
    );
    assert!(m.contains("000000dead") && m.contains("not found"), "{m}");

    let m = permanent(
        cfg("BD_CONTRACT_GCP_TOKEN_UNSET", &format!("http://{addr}"))
            .execute(&a, a.key())
            .await,
    );
    assert!(
        m.contains("BD_CONTRACT_GCP_TOKEN_UNSET") && m.contains("gcloud auth print-access-token"),
        "{m}"
    );

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    match cfg(
        "BD_CONTRACT_GCP_TOKEN_B",
        &format!("http://127.0.0.1:{port}"),
    )
    .execute(&a, a.key())
    .await
    {
        Err(ExecError::Transient(m)) => assert!(
            m.contains(&format!("127.0.0.1:{port}")) && m.contains("[providers.gcp] api_url"),
            "{m}"
        ),
        other => panic!("expected transient: {other:?}"),
    }
}
