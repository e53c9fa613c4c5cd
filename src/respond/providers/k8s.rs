//! The `k8s.*` kinds through the Kubernetes API (`kube`), configured by `[providers.kubernetes]`:
//! `context` (default: the kubeconfig's current context) and, optionally, `kubeconfig` (a path;
//! default `KUBECONFIG`, then `~/.kube/config`).
//!
//! - `k8s.quarantine_pod`: ensure the deny-all NetworkPolicy `blastdoor-quarantine` (selecting
//!   `blastdoor.io/quarantine=true`, no ingress or egress allowed) in the namespace, then label
//!   the pod; undo removes the label (the policy then selects nothing of ours and is left).
//! - `k8s.delete_rolebinding`: snapshot the binding, delete it; undo recreates it from the
//!   snapshot without the fields the server sets (uid, resourceVersion, creationTimestamp,
//!   managedFields, …).
//! - `k8s.scale_to_zero`: record the replica count on the deployment itself (annotation
//!   `blastdoor.io/replicas-before`) in the same patch that sets it to zero, so a retry never
//!   loses it; undo restores it.
//!
//! Every plan reads the object first and warns where something may undo the change: an owner
//! (ownerReferences: a controller or operator), a `managed-by` label, an HPA on the deployment.
//! Every execute checks the state first (never acts twice) and reads the result back.

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::core::workflow::{Action, DryRun};
use crate::respond::{BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

pub const QUARANTINE: &str = "k8s.quarantine_pod";
pub const DELETE_BINDING: &str = "k8s.delete_rolebinding";
pub const SCALE_ZERO: &str = "k8s.scale_to_zero";
pub use super::{QUARANTINE_LABEL, QUARANTINE_POLICY};
pub const REPLICAS_ANNOTATION: &str = "blastdoor.io/replicas-before";
/// Fields the API server sets; a recreated object must not carry them.
const SERVER_SET: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "managedFields",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

pub struct K8sExecutor {
    context: Option<String>,
    kubeconfig: Option<PathBuf>,
    client: OnceCell<Result<(Client, String), String>>,
}

/// An error from the API, named by what was attempted.
struct Call<'a> {
    verb: &'a str,
    resource: String,
    server: &'a str,
    context: &'a str,
}

impl Call<'_> {
    fn err(&self, e: kube::Error) -> ExecError {
        let (verb, res, server) = (self.verb, &self.resource, self.server);
        match e {
            kube::Error::Api(s) => {
                let msg = crate::core::SafeText::new(&s.message);
                match s.code {
                    401 => ExecError::Permanent(format!(
                        "{verb} {res}: not authenticated at {server} (HTTP 401: {msg}): refresh the credentials of kubeconfig context {}",
                        self.context
                    )),
                    403 => ExecError::Permanent(format!(
                        "{verb} {res}: forbidden at {server} (HTTP 403: {msg}): the user of kubeconfig context {} needs RBAC permission to {verb} {}",
                        self.context,
                        res.split(' ').next().unwrap_or(res)
                    )),
                    404 => ExecError::Permanent(format!(
                        "{verb} {res}: not found at {server} (HTTP 404): check the action's namespace and name"
                    )),
                    429 | 500..=599 => ExecError::Transient(format!(
                        "{verb} {res}: {server} answered HTTP {}: {msg}",
                        s.code
                    )),
                    c => ExecError::Permanent(format!(
                        "{verb} {res}: {server} answered HTTP {c}: {msg}"
                    )),
                }
            }
            other => ExecError::Transient(format!(
                "{verb} {res}: cannot reach the cluster at {server} ({}): check [providers.kubernetes] context in config.toml and the kubeconfig's server",
                crate::core::SafeText::new(&other.to_string())
            )),
        }
    }
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn param<'a>(a: &'a Action, k: &str) -> Result<&'a str, ExecError> {
    a.params
        .get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ExecError::Permanent(format!("{} needs --param {k}=…", a.kind)))
}

/// What may undo a change to an object: its owners and a `managed-by` label.
fn owner_warnings(what: &str, meta: &ObjectMeta, change: &str) -> Vec<String> {
    let mut out = Vec::new();
    for o in meta.owner_references.iter().flatten() {
        out.push(format!(
            "{what} is owned by {} {}: its controller or operator may {change}",
            o.kind, o.name
        ));
    }
    if let Some(m) = meta
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/managed-by"))
    {
        out.push(format!(
            "{what} is managed by {m}: its next sync may {change}"
        ));
    }
    out
}

/// A role binding as it can be created again: the server-set metadata removed.
pub fn recreatable(rb: &RoleBinding) -> Value {
    let mut v = serde_json::to_value(rb).unwrap_or(Value::Null);
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in SERVER_SET {
            m.remove(*f);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        o.insert("apiVersion".into(), "rbac.authorization.k8s.io/v1".into());
        o.insert("kind".into(), "RoleBinding".into());
    }
    v
}

fn quarantine_policy(ns: &str) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": QUARANTINE_POLICY, "namespace": ns,
            "labels": {"app.kubernetes.io/managed-by": "blastdoor"},
        },
        "spec": {
            "podSelector": {"matchLabels": {QUARANTINE_LABEL: "true"}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }))
    .expect("a valid NetworkPolicy")
}

fn quarantined(p: &Pod) -> bool {
    p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(QUARANTINE_LABEL))
        .is_some_and(|v| v == "true")
}

impl K8sExecutor {
    pub fn from_section(section: &toml::Table) -> anyhow::Result<K8sExecutor> {
        let s = |k: &str| -> anyhow::Result<Option<String>> {
            match section.get(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(v) => anyhow::bail!("[providers.kubernetes] {k} = {v}: give a string"),
            }
        };
        Ok(K8sExecutor {
            context: s("context")?,
            kubeconfig: s("kubeconfig")?.map(PathBuf::from),
            client: OnceCell::new(),
        })
    }

    fn context_label(&self) -> String {
        self.context
            .clone()
            .unwrap_or_else(|| "(current context)".into())
    }

    fn kubeconfig_label(&self) -> String {
        match &self.kubeconfig {
            Some(p) => format!("{} ([providers.kubernetes] kubeconfig)", p.display()),
            None => match std::env::var("KUBECONFIG") {
                Ok(k) if !k.is_empty() => format!("{k} (KUBECONFIG)"),
                _ => "~/.kube/config".into(),
            },
        }
    }

    /// The client, built once from the kubeconfig and context; and the server it talks to.
    async fn client(&self) -> Result<Client, ExecError> {
        let r = self
            .client
            .get_or_init(|| async {
                let kc = match &self.kubeconfig {
                    Some(p) => Kubeconfig::read_from(p),
                    None => Kubeconfig::read(),
                }
                .map_err(|e| format!("cannot read the kubeconfig {}: {e}", self.kubeconfig_label()))?;
                let opts = KubeConfigOptions {
                    context: self.context.clone(),
                    ..Default::default()
                };
                let cfg = Config::from_custom_kubeconfig(kc, &opts).await.map_err(|e| {
                    format!(
                        "kubeconfig {}, context {}: {e}: set [providers.kubernetes] context in config.toml to a context it has",
                        self.kubeconfig_label(),
                        self.context_label()
                    )
                })?;
                let server = cfg.cluster_url.to_string().trim_end_matches('/').to_string();
                // ring and aws-lc-rs are both linked: rustls needs to be told which to use.
                if rustls::crypto::CryptoProvider::get_default().is_none() {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                }
                let client = Client::try_from(cfg).map_err(|e| format!("kubernetes client: {e}"))?;
                Ok((client, server))
            })
            .await;
        r.as_ref()
            .map(|(c, _)| c.clone())
            .map_err(|m| ExecError::Permanent(m.clone()))
    }

    async fn call<'a>(
        &'a self,
        verb: &'a str,
        resource: String,
    ) -> Result<(Client, Call<'a>), ExecError> {
        let client = self.client().await?;
        let server = match self.client.get() {
            Some(Ok((_, s))) => s.as_str(),
            _ => "the cluster",
        };
        let context = self.context.as_deref().unwrap_or("(current)");
        Ok((
            client,
            Call {
                verb,
                resource,
                server,
                context,
            },
        ))
    }

    // ---- k8s.quarantine_pod ----

    async fn plan_quarantine(&self, a: &Action) -> Result<Plan, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "pod")?);
        let (client, call) = self.call("get", format!("pods {ns}/{name}")).await?;
        let pod = Api::<Pod>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .map_err(|e| call.err(e))?;
        let (_, pcall) = self
            .call("get", format!("networkpolicies {ns}/{QUARANTINE_POLICY}"))
            .await?;
        let policy = Api::<NetworkPolicy>::namespaced(client, ns)
            .get_opt(QUARANTINE_POLICY)
            .await
            .map_err(|e| pcall.err(e))?;
        let mut changes = Vec::new();
        if policy.is_none() {
            changes.push(format!(
                "create NetworkPolicy {ns}/{QUARANTINE_POLICY}: deny all ingress and egress of pods labelled {QUARANTINE_LABEL}=true"
            ));
        }
        changes.push(format!("label pod {ns}/{name} {QUARANTINE_LABEL}=true"));
        let mut impact = vec![format!(
            "pod {ns}/{name} can neither send nor receive traffic (where the cluster's network plugin enforces NetworkPolicy); it keeps running for forensics"
        )];
        if quarantined(&pod) {
            impact.insert(
                0,
                "the pod is already labelled: executing will only confirm it".into(),
            );
        }
        impact.extend(owner_warnings(
            &format!("pod {ns}/{name}"),
            &pod.metadata,
            "replace the pod with one that does not carry the quarantine label",
        ));
        Ok(Plan {
            reversible: true,
            dry_run: DryRun {
                changes,
                impact,
                undo: Some(format!("remove the label {QUARANTINE_LABEL} from the pod")),
                before: json!({
                    "pod": format!("{ns}/{name}"),
                    "labels": pod.metadata.labels,
                    "owners": pod.metadata.owner_references.iter().flatten().map(|o| format!("{}/{}", o.kind, o.name)).collect::<Vec<_>>(),
                    "policy_exists": policy.is_some(),
                }),
            },
        })
    }

    async fn quarantine(&self, a: &Action) -> Result<Outcome, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "pod")?);
        let (client, call) = self.call("get", format!("pods {ns}/{name}")).await?;
        let pods = Api::<Pod>::namespaced(client.clone(), ns);
        let pod = pods.get(name).await.map_err(|e| call.err(e))?;
        let policies = Api::<NetworkPolicy>::namespaced(client, ns);
        let (_, pcall) = self
            .call("get", format!("networkpolicies {ns}/{QUARANTINE_POLICY}"))
            .await?;
        let mut created_policy = false;
        if policies
            .get_opt(QUARANTINE_POLICY)
            .await
            .map_err(|e| pcall.err(e))?
            .is_none()
        {
            let (_, ccall) = self
                .call(
                    "create",
                    format!("networkpolicies {ns}/{QUARANTINE_POLICY}"),
                )
                .await?;
            match policies
                .create(&PostParams::default(), &quarantine_policy(ns))
                .await
            {
                Ok(_) => created_policy = true,
                // Someone (a concurrent retry) created it meanwhile: fine.
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(ccall.err(e)),
            }
        }
        if !quarantined(&pod) {
            let (_, lcall) = self.call("patch", format!("pods {ns}/{name}")).await?;
            pods.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {QUARANTINE_LABEL: "true"}}})),
            )
            .await
            .map_err(|e| lcall.err(e))?;
        }
        let now = pods.get(name).await.map_err(|e| call.err(e))?;
        let policy_now = policies
            .get_opt(QUARANTINE_POLICY)
            .await
            .map_err(|e| pcall.err(e))?
            .is_some();
        let ok = quarantined(&now) && policy_now;
        let detail = json!({
            "pod": format!("{ns}/{name}"), "label": format!("{QUARANTINE_LABEL}=true"),
            "labelled": quarantined(&now), "network_policy": format!("{ns}/{QUARANTINE_POLICY}"),
            "policy_present": policy_now, "created_policy": created_policy,
        });
        Ok(if ok {
            Outcome {
                status: ExecStatus::Done,
                detail,
            }
        } else {
            let mut d = detail;
            d["error"] = format!(
                "pod {ns}/{name} reads back labelled={} and policy present={policy_now}: the quarantine is not in place",
                quarantined(&now)
            )
            .into();
            Outcome {
                status: ExecStatus::Failed,
                detail: d,
            }
        })
    }

    async fn unquarantine(&self, a: &Action) -> Result<Outcome, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "pod")?);
        let (client, call) = self.call("patch", format!("pods {ns}/{name}")).await?;
        let pods = Api::<Pod>::namespaced(client, ns);
        let pod = pods.get(name).await.map_err(|e| call.err(e))?;
        if quarantined(&pod) {
            pods.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {QUARANTINE_LABEL: null}}})),
            )
            .await
            .map_err(|e| call.err(e))?;
        }
        let now = pods.get(name).await.map_err(|e| call.err(e))?;
        Ok(if quarantined(&now) {
            Outcome {
                status: ExecStatus::Failed,
                detail: json!({"pod": format!("{ns}/{name}"), "error": "the quarantine label reads back still set"}),
            }
        } else {
            Outcome {
                status: ExecStatus::RolledBack,
                detail: json!({"pod": format!("{ns}/{name}"), "labelled": false}),
            }
        })
    }

    // ---- k8s.delete_rolebinding ----

    async fn plan_delete_binding(&self, a: &Action) -> Result<Plan, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "name")?);
        let (client, call) = self
            .call("get", format!("rolebindings {ns}/{name}"))
            .await?;
        let rb = Api::<RoleBinding>::namespaced(client, ns)
            .get(name)
            .await
            .map_err(|e| call.err(e))?;
        let subjects: Vec<String> = rb
            .subjects
            .iter()
            .flatten()
            .map(|s| match &s.namespace {
                Some(n) => format!("{} {n}/{}", s.kind, s.name),
                None => format!("{} {}", s.kind, s.name),
            })
            .collect();
        let mut impact = vec![format!(
            "{} lose what {} {} grants in namespace {ns}",
            if subjects.is_empty() {
                "no subject".to_string()
            } else {
                subjects.join(", ")
            },
            rb.role_ref.kind,
            rb.role_ref.name
        )];
        impact.extend(owner_warnings(
            &format!("role binding {ns}/{name}"),
            &rb.metadata,
            "recreate the binding",
        ));
        Ok(Plan {
            reversible: true,
            dry_run: DryRun {
                changes: vec![format!(
                    "delete RoleBinding {ns}/{name} (a snapshot is kept)"
                )],
                impact,
                undo: Some("recreate the binding from its snapshot".into()),
                before: json!({"snapshot": recreatable(&rb)}),
            },
        })
    }

    async fn delete_binding(&self, a: &Action) -> Result<Outcome, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "name")?);
        let (client, call) = self
            .call("get", format!("rolebindings {ns}/{name}"))
            .await?;
        let api = Api::<RoleBinding>::namespaced(client, ns);
        let planned = a.dry_run.before.get("snapshot").cloned();
        let rb = match api.get(name).await {
            Ok(rb) => rb,
            // Gone already, and it existed when planned: an earlier attempt under this key
            // deleted it (or someone did). Either way the binding no longer grants anything.
            Err(e) if not_found(&e) && planned.is_some() => {
                return Ok(Outcome {
                    status: ExecStatus::Done,
                    detail: json!({"binding": format!("{ns}/{name}"), "already_absent": true, "snapshot": planned}),
                });
            }
            Err(e) => return Err(call.err(e)),
        };
        let snapshot = recreatable(&rb);
        let (_, dcall) = self
            .call("delete", format!("rolebindings {ns}/{name}"))
            .await?;
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(dcall.err(e)),
        }
        match api.get_opt(name).await.map_err(|e| call.err(e))? {
            None => Ok(Outcome {
                status: ExecStatus::Done,
                detail: json!({"binding": format!("{ns}/{name}"), "deleted": true, "snapshot": snapshot}),
            }),
            Some(again) => Ok(Outcome {
                status: ExecStatus::Failed,
                detail: json!({
                    "binding": format!("{ns}/{name}"), "snapshot": snapshot,
                    "error": format!(
                        "role binding {ns}/{name} still reads back after delete (uid {}): a finalizer or an operator keeps it",
                        again.metadata.uid.unwrap_or_default()
                    ),
                }),
            }),
        }
    }

    async fn recreate_binding(&self, a: &Action) -> Result<Outcome, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "name")?);
        let snapshot = a
            .outcome
            .get("snapshot")
            .filter(|v| !v.is_null())
            .or_else(|| a.dry_run.before.get("snapshot"))
            .cloned()
            .ok_or_else(|| {
                ExecError::Permanent(format!(
                    "role binding {ns}/{name}: no snapshot was kept, so it cannot be recreated"
                ))
            })?;
        let rb: RoleBinding = serde_json::from_value(snapshot).map_err(|e| {
            ExecError::Permanent(format!(
                "role binding {ns}/{name}: unreadable snapshot ({e})"
            ))
        })?;
        let (client, call) = self
            .call("create", format!("rolebindings {ns}/{name}"))
            .await?;
        let api = Api::<RoleBinding>::namespaced(client, ns);
        match api.create(&PostParams::default(), &rb).await {
            Ok(_) => {}
            // Recreated already (by an earlier attempt, or its operator).
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(call.err(e)),
        }
        let now = api.get(name).await.map_err(|e| call.err(e))?;
        Ok(Outcome {
            status: ExecStatus::RolledBack,
            detail: json!({
                "binding": format!("{ns}/{name}"), "recreated": true,
                "role_ref": format!("{}/{}", now.role_ref.kind, now.role_ref.name),
                "uid": now.metadata.uid,
            }),
        })
    }

    // ---- k8s.scale_to_zero ----

    async fn plan_scale(&self, a: &Action) -> Result<Plan, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "deployment")?);
        let (client, call) = self.call("get", format!("deployments {ns}/{name}")).await?;
        let d = Api::<Deployment>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .map_err(|e| call.err(e))?;
        let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let mut impact = vec![format!(
            "deployment {ns}/{name} stops serving: its {replicas} pod(s) are terminated"
        )];
        if replicas == 0 {
            impact.insert(0, "the deployment is already at zero replicas".into());
        }
        impact.extend(self.hpa_warnings(&client, ns, name).await?);
        impact.extend(owner_warnings(
            &format!("deployment {ns}/{name}"),
            &d.metadata,
            "scale it back up",
        ));
        Ok(Plan {
            reversible: true,
            dry_run: DryRun {
                changes: vec![format!(
                    "scale deployment {ns}/{name} from {replicas} to 0 replicas"
                )],
                impact,
                undo: Some(format!("restore {replicas} replica(s)")),
                before: json!({"deployment": format!("{ns}/{name}"), "replicas": replicas}),
            },
        })
    }

    async fn hpa_warnings(
        &self,
        client: &Client,
        ns: &str,
        name: &str,
    ) -> Result<Vec<String>, ExecError> {
        let (_, call) = self
            .call("list", format!("horizontalpodautoscalers in {ns}"))
            .await?;
        let hpas = match Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
        {
            Ok(l) => l.items,
            // Not allowed to look: say so rather than fail the plan.
            Err(kube::Error::Api(s)) if s.code == 403 || s.code == 404 => {
                return Ok(vec![format!(
                    "could not list HorizontalPodAutoscalers in {ns} (HTTP {}): one may scale the deployment back up",
                    s.code
                )]);
            }
            Err(e) => return Err(call.err(e)),
        };
        Ok(hpas
            .iter()
            .filter(|h| {
                h.spec
                    .as_ref()
                    .is_some_and(|s| s.scale_target_ref.kind == "Deployment" && s.scale_target_ref.name == name)
            })
            .map(|h| {
                let min = h.spec.as_ref().and_then(|s| s.min_replicas).unwrap_or(1);
                format!(
                    "HorizontalPodAutoscaler {ns}/{} targets it (minReplicas {min}) and may scale it back up: delete or pause it too",
                    h.metadata.name.clone().unwrap_or_default()
                )
            })
            .collect())
    }

    async fn scale_zero(&self, a: &Action) -> Result<Outcome, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "deployment")?);
        let (client, call) = self.call("get", format!("deployments {ns}/{name}")).await?;
        let api = Api::<Deployment>::namespaced(client, ns);
        let d = api.get(name).await.map_err(|e| call.err(e))?;
        let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let recorded = recorded_replicas(&d);
        // Already at zero with our annotation: an earlier attempt under this key did it.
        let previous = match (replicas, recorded) {
            (0, Some(r)) => r,
            (r, _) => {
                let (_, pcall) = self
                    .call("patch", format!("deployments {ns}/{name}"))
                    .await?;
                api.patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({
                        "metadata": {"annotations": {REPLICAS_ANNOTATION: r.to_string()}},
                        "spec": {"replicas": 0},
                    })),
                )
                .await
                .map_err(|e| pcall.err(e))?;
                r
            }
        };
        let now = api.get(name).await.map_err(|e| call.err(e))?;
        let now_replicas = now.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let detail = json!({
            "deployment": format!("{ns}/{name}"), "previous_replicas": previous,
            "replicas": now_replicas,
            "running": now.status.as_ref().and_then(|s| s.replicas).unwrap_or(0),
        });
        Ok(if now_replicas == 0 {
            Outcome {
                status: ExecStatus::Done,
                detail,
            }
        } else {
            let mut d = detail;
            d["error"] = format!(
                "deployment {ns}/{name} reads back {now_replicas} replica(s) after scaling to zero: something (an HPA, an operator) scaled it back"
            )
            .into();
            Outcome {
                status: ExecStatus::Failed,
                detail: d,
            }
        })
    }

    async fn restore_scale(&self, a: &Action) -> Result<Outcome, ExecError> {
        let (ns, name) = (param(a, "namespace")?, param(a, "deployment")?);
        let (client, call) = self
            .call("patch", format!("deployments {ns}/{name}"))
            .await?;
        let api = Api::<Deployment>::namespaced(client, ns);
        let d = api.get(name).await.map_err(|e| call.err(e))?;
        let want = a
            .outcome
            .get("previous_replicas")
            .and_then(Value::as_i64)
            .map(|r| r as i32)
            .or_else(|| recorded_replicas(&d))
            .or_else(|| {
                a.dry_run
                    .before
                    .get("replicas")
                    .and_then(Value::as_i64)
                    .map(|r| r as i32)
            })
            .ok_or_else(|| {
                ExecError::Permanent(format!(
                    "deployment {ns}/{name}: the replica count before scaling is not known"
                ))
            })?;
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({
                "metadata": {"annotations": {REPLICAS_ANNOTATION: null}},
                "spec": {"replicas": want},
            })),
        )
        .await
        .map_err(|e| call.err(e))?;
        let now = api.get(name).await.map_err(|e| call.err(e))?;
        let got = now.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        Ok(if got == want {
            Outcome {
                status: ExecStatus::RolledBack,
                detail: json!({"deployment": format!("{ns}/{name}"), "replicas": got}),
            }
        } else {
            Outcome {
                status: ExecStatus::Failed,
                detail: json!({"deployment": format!("{ns}/{name}"), "replicas": got,
                    "error": format!("restored {want} replica(s) but it reads back {got}")}),
            }
        })
    }
}

fn recorded_replicas(d: &Deployment) -> Option<i32> {
    d.metadata
        .annotations
        .as_ref()?
        .get(REPLICAS_ANNOTATION)?
        .parse()
        .ok()
}

fn anyhow_of(e: ExecError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl Executor for K8sExecutor {
    fn name(&self) -> String {
        format!("kubernetes:{}", self.context_label())
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async {
            vec![
                QUARANTINE.to_string(),
                DELETE_BINDING.to_string(),
                SCALE_ZERO.to_string(),
            ]
        })
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            match a.kind.as_str() {
                QUARANTINE => self.plan_quarantine(a).await,
                DELETE_BINDING => self.plan_delete_binding(a).await,
                SCALE_ZERO => self.plan_scale(a).await,
                k => Err(ExecError::Permanent(format!("{k}: not a kubernetes kind"))),
            }
            .map_err(anyhow_of)
        })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            match a.kind.as_str() {
                QUARANTINE => self.quarantine(a).await,
                DELETE_BINDING => self.delete_binding(a).await,
                SCALE_ZERO => self.scale_zero(a).await,
                k => Err(ExecError::Permanent(format!("{k}: not a kubernetes kind"))),
            }
        })
    }

    fn status<'a>(&'a self, _key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        // The cluster keeps no record by key; execute reads the object's state first (label
        // present, binding absent, replicas at zero with our annotation), so a resend under the
        // same key never acts twice.
        Box::pin(async { Ok(None) })
    }

    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            match a.kind.as_str() {
                QUARANTINE => self.unquarantine(a).await,
                DELETE_BINDING => self.recreate_binding(a).await,
                SCALE_ZERO => self.restore_scale(a).await,
                k => Err(ExecError::Permanent(format!("{k}: not a kubernetes kind"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recreatable_binding_has_no_server_set_fields() {
        let rb: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "b", "namespace": "ci", "uid": "u", "resourceVersion": "9",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "kubectl"}], "labels": {"team": "x"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": "ci"}],
        }))
        .unwrap();
        let v = recreatable(&rb);
        let m = v["metadata"].as_object().unwrap();
        for f in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
        ] {
            assert!(!m.contains_key(f), "{f} kept: {v}");
        }
        assert_eq!(m["labels"]["team"], "x");
        assert_eq!(v["roleRef"]["name"], "r");
    }
}
