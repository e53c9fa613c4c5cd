//! The MCP face: AI agents may look (read-only tools over the same engine the console shows)
//! and propose (one acting tool, `propose_containment`, that stages an action in the shared
//! queue). There is deliberately no tool to approve, execute or roll back: people keep the
//! authority to act. What an agent may do is the policy's `[agents.NAME]` section, where NAME is
//! the client name the agent gave at `initialize`; the desk enforces it and audits every try.

use std::net::SocketAddr;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{
    Peer, RoleServer, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::policy::IdentityFacts;
use crate::core::state::format_time;
use crate::core::workflow::{ActionState, Via};
use crate::core::{SafeText, SortKey};
use crate::engine::Engine;
use crate::respond::{Desk, StageRequest};

/// Most rows a read tool returns, whatever the agent asks.
const MAX_ROWS: usize = 500;

#[derive(Clone)]
pub struct BlastdoorMcp {
    engine: Option<Engine>,
    desk: Arc<Desk>,
    tool_router: ToolRouter<BlastdoorMcp>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListIdentities {
    /// How many identities to return (default 20, at most 500).
    pub top: Option<usize>,
    /// Rank by "risk" (default), "blast" or "threat".
    pub by: Option<String>,
    /// Keep identities whose key, name, kind or provider contains this text.
    pub filter: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ExplainIdentity {
    /// The identity key as `list_identities` returns it (`aws:arn:aws:iam::…:user/ci-bot`).
    pub identity: String,
    /// How many recent events to include as evidence (default 20).
    pub events: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RecentEvents {
    /// Only this identity's events.
    pub identity: Option<String>,
    /// How many (default 50, at most 500).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListActions {
    /// Only actions in this state (staged, approved, executing, done, failed, rolled_back, denied, expired).
    pub state: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ProposeContainment {
    /// The identity to contain, as `list_identities` returns it.
    pub identity: String,
    /// The action kind, `provider.verb` (e.g. `aws.disable_access_key`, `agent.isolate_workload`).
    pub kind: String,
    /// The parameters the kind needs (e.g. {"user": "ci-bot", "access_key_id": "AKIA…"}).
    pub params: Option<serde_json::Map<String, Value>>,
    /// Why: shown to the responders who approve or deny it.
    pub reason: String,
    /// Evidence for the responders (event summaries, detection ids).
    pub evidence: Option<Vec<String>>,
}

/// Every answer goes out through the output sanitiser: actions read back from the shared state
/// and messages quoting what someone wrote are escaped like the rest.
fn ok(mut v: Value) -> Result<CallToolResult, rmcp::ErrorData> {
    crate::core::text::escape_value(&mut v);
    Ok(CallToolResult::structured(v))
}

fn refused(msg: impl Into<String>) -> Result<CallToolResult, rmcp::ErrorData> {
    let msg = crate::core::text::escape_lines(&msg.into()).into_owned();
    Ok(CallToolResult::error(vec![ContentBlock::text(msg)]))
}

/// Strings in evidence are sanitised like everything else that leaves blastdoor: an agent may
/// well paste them into a terminal.
fn sanitise(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(SafeText::new(s).to_string()),
        Value::Array(a) => Value::Array(a.iter().map(sanitise).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (SafeText::new(k).to_string(), sanitise(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn client_name(peer: &Peer<RoleServer>) -> Option<String> {
    peer.peer_info()
        .map(|i| SafeText::new(&i.client_info.name).to_string())
        .filter(|n| !n.is_empty())
}

#[tool_router]
impl BlastdoorMcp {
    pub fn new(engine: Option<Engine>, desk: Arc<Desk>) -> BlastdoorMcp {
        BlastdoorMcp {
            engine,
            desk,
            tool_router: Self::tool_router(),
        }
    }

    /// Identities ranked by risk (or blast radius, or threat), each with its scores and the
    /// reasons behind them.
    #[tool(annotations(
        title = "Ranked identities",
        read_only_hint = true,
        open_world_hint = false
    ))]
    async fn list_identities(
        &self,
        Parameters(p): Parameters<ListIdentities>,
    ) -> Result<CallToolResult, rmcp::ErrorData> {
        let Some(engine) = &self.engine else {
            return ok(
                json!({"identities": [], "note": "no sources configured: start blastdoor mcp with --source"}),
            );
        };
        let by = match p.by.as_deref() {
            None => SortKey::Risk,
            Some(s) => match SortKey::parse(s) {
                Some(k) => k,
                None => return refused(format!("by = {s:?}: rank by risk, blast or threat")),
            },
        };
        let top = p.top.unwrap_or(20).min(MAX_ROWS);
        let rows = engine.write(|c| {
            c.update(crate::core::Msg::SortBy(by));
            c.window(0, top, p.filter.as_deref())
                .into_iter()
                .filter_map(|idx| c.ranked(idx, c.position(idx).map_or(0, |p| p + 1)))
                .collect::<Vec<_>>()
        });
        ok(json!({"by": by.as_str(), "identities": rows}))
    }

    /// One identity explained: scores, the reasons behind each, credentials, permissions and its
    /// recent events as evidence.
    #[tool(annotations(
        title = "Explain an identity",
        read_only_hint = true,
        open_world_hint = false
    ))]
    async fn explain_identity(
        &self,
        Parameters(p): Parameters<ExplainIdentity>,
    ) -> Result<CallToolResult, rmcp::ErrorData> {
        let Some(engine) = &self.engine else {
            return refused("no sources configured: start blastdoor mcp with --source");
        };
        let n = p.events.unwrap_or(20).min(MAX_ROWS);
        let offers = self.desk.offers().await;
        let found = engine.read(|c| {
            let idx = c.lookup(&p.identity)?;
            let ranked = c.ranked(idx, c.position(idx).map_or(0, |p| p + 1))?;
            let st = c.get(idx)?;
            let events: Vec<Value> = c
                .feed(Some(idx), n)
                .into_iter()
                .map(|f| {
                    json!({
                        "time": format_time(f.event.time),
                        "summary": f.event.summary(),
                        "signals": f.signals,
                        "src_ip": f.event.src_ip,
                        "raw": sanitise(&f.event.raw.value()),
                    })
                })
                .collect();
            let recent: Vec<&crate::core::Event> =
                c.feed(Some(idx), n).into_iter().map(|f| &f.event).collect();
            let suggestions = crate::respond::suggest::suggest(&st.record, &recent, &offers);
            Some(json!({
                "identity": ranked,
                "permissions": st.record.permissions,
                "tags": st.record.tags,
                "recent_events": events,
                "suggested_actions": suggestions,
            }))
        });
        match found {
            Some(v) => ok(v),
            None => refused(format!(
                "no identity {:?}: list_identities gives the keys",
                SafeText::new(&p.identity).as_str()
            )),
        }
    }

    /// The most recent events, for everyone or one identity, newest first.
    #[tool(annotations(
        title = "Recent events",
        read_only_hint = true,
        open_world_hint = false
    ))]
    async fn recent_events(
        &self,
        Parameters(p): Parameters<RecentEvents>,
    ) -> Result<CallToolResult, rmcp::ErrorData> {
        let Some(engine) = &self.engine else {
            return ok(json!({"events": [], "note": "no sources configured"}));
        };
        let n = p.limit.unwrap_or(50).min(MAX_ROWS);
        let events = engine.read(|c| {
            let only = match &p.identity {
                Some(id) => match c.lookup(id) {
                    Some(i) => Some(i),
                    None => return None,
                },
                None => None,
            };
            Some(
                c.feed(only, n)
                    .into_iter()
                    .map(|f| {
                        let who = c.get(f.identity).map(|s| s.key()).unwrap_or_default();
                        json!({
                            "time": format_time(f.event.time),
                            "identity": who,
                            "summary": f.event.summary(),
                            "signals": f.signals,
                        })
                    })
                    .collect::<Vec<_>>(),
            )
        });
        match events {
            Some(e) => ok(json!({"events": e})),
            None => refused("no such identity: list_identities gives the keys"),
        }
    }

    /// The shared action queue: what is staged, approved, done, with who proposed it and why.
    #[tool(annotations(title = "Action queue", read_only_hint = true, open_world_hint = false))]
    async fn list_actions(
        &self,
        Parameters(p): Parameters<ListActions>,
    ) -> Result<CallToolResult, rmcp::ErrorData> {
        let all = match self.desk.list() {
            Ok(a) => a,
            Err(e) => return refused(format!("{e:#}")),
        };
        let keep: Vec<_> = all
            .into_iter()
            .filter(|a| p.state.as_deref().is_none_or(|s| state_name(a.state) == s))
            .collect();
        ok(json!({"actions": keep}))
    }

    /// Propose a containment action. It lands in the shared queue as `staged` and waits for a
    /// human's signed approval; agents never approve or execute. Where the policy has a
    /// pre-authorised playbook for it, the playbook runs it at once and the result says so.
    #[tool(annotations(
        title = "Propose containment",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn propose_containment(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(p): Parameters<ProposeContainment>,
    ) -> Result<CallToolResult, rmcp::ErrorData> {
        // Over HTTP the bearer token says which agent this is (`serve_http`); over stdio, the
        // process that started the server vouches for the client name given at initialize.
        let by_token = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<TokenAgent>())
            .map(|t| t.0.clone());
        let Some(agent) = by_token.or_else(|| client_name(&ctx.peer)) else {
            return refused(
                "this MCP client gave no name at initialize: the policy names agents by client name",
            );
        };
        let facts = self.facts(&p.identity);
        let req = StageRequest {
            identity: p.identity.clone(),
            kind: p.kind.clone(),
            target: None,
            params: Value::Object(p.params.unwrap_or_default()),
            reason: p.reason.clone(),
            evidence: p.evidence.unwrap_or_default(),
            via: Via::Mcp,
            agent: Some(agent.clone()),
            facts,
        };
        match self.desk.stage(req).await {
            Ok(a) => {
                let executed = a.proposed_by.via == Via::Playbook;
                ok(json!({
                    "id": a.id,
                    "state": state_name(a.state),
                    "pending_approval": a.state == ActionState::Staged,
                    "required_approvals": a.required_approvals,
                    "preauthorized": a.preauthorized,
                    "executed_by_playbook": executed,
                    "hash": a.hash,
                    "message": if executed {
                        format!("a pre-authorised playbook matched: {} ran at once and is {}", a.id, state_name(a.state))
                    } else {
                        format!("{} is staged and waits for {} human approval(s)", a.id, a.required_approvals)
                    },
                }))
            }
            Err(e) => refused(format!("{e:#}")),
        }
    }
}

fn state_name(s: ActionState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

impl BlastdoorMcp {
    /// What the engine knows about an identity, for the policy's playbook conditions.
    fn facts(&self, identity: &str) -> IdentityFacts {
        let Some(engine) = &self.engine else {
            return IdentityFacts::default();
        };
        engine.read(|c| {
            let Some(st) = c.lookup(identity).and_then(|i| c.get(i)) else {
                return IdentityFacts::default();
            };
            IdentityFacts {
                kind: Some(st.record.kind.as_str().to_string()),
                provider: Some(st.record.provider.as_str().to_string()),
                threat: Some(st.threat),
                risk: Some(st.risk),
                blast_radius: Some(st.blast),
            }
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BlastdoorMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("blastdoor", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "blastdoor ranks machine identities by blast radius and threat. Read tools look; \
                 propose_containment stages an action for human approval. Agents never approve or execute.",
            )
    }
}

/// Serve MCP over stdio until the client closes it.
pub async fn serve_stdio(server: BlastdoorMcp) -> anyhow::Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("mcp: the client did not initialize: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| anyhow::anyhow!("mcp: {e}"))?;
    Ok(())
}

/// The agent a request's bearer token belongs to (`[agents.NAME] token_env`).
#[derive(Debug, Clone)]
struct TokenAgent(String);

/// Each agent's token, from the variables the policy names; an agent without `token_env`
/// cannot be reached over HTTP. A variable that is not set is a usage error naming it.
fn agent_tokens(policy: &crate::core::policy::Policy) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (name, grant) in &policy.agents {
        let Some(var) = &grant.token_env else {
            continue;
        };
        match std::env::var(var) {
            Ok(t) if !t.trim().is_empty() => out.push((t.trim().to_string(), name.clone())),
            _ => {
                return Err(crate::exit::Failure::usage(format!(
                    "mcp --listen: [agents.{name}] token_env = \"{var}\": the variable {var} is not set"
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(crate::exit::Failure::usage(format!(
            "mcp --listen: no agent in the policy ({}) has a token_env, so no MCP client could \
             authenticate over HTTP; add token_env = \"VAR\" to its [agents.NAME], or use stdio",
            policy
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none given".into())
        )));
    }
    Ok(out)
}

/// Serve MCP over streamable HTTP at `http://ADDR/mcp`, loopback only. Every request carries
/// `Authorization: Bearer` with the token of an agent named in the policy, which decides who
/// it is: a local process cannot pose as `triage-bot` by giving its name.
pub async fn serve_http(server: BlastdoorMcp, addr: SocketAddr) -> anyhow::Result<()> {
    let tokens = std::sync::Arc::new(agent_tokens(server.desk.policy())?);
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    if !addr.ip().is_loopback() {
        return Err(crate::exit::Failure::usage(format!(
            "mcp --listen {addr}: MCP over HTTP is served on loopback only (127.0.0.1 or [::1])"
        )));
    }
    let service: StreamableHttpService<BlastdoorMcp, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Default::default(),
            StreamableHttpServerConfig::default(),
        );

    let guard = axum::middleware::from_fn(
        move |mut req: axum::extract::Request, next: axum::middleware::Next| {
            let tokens = tokens.clone();
            async move {
                let given = req
                    .headers()
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::trim)
                    .unwrap_or("");
                let agent = tokens
                    .iter()
                    .find(|(t, _)| crate::auth::constant_time_eq(t.as_bytes(), given.as_bytes()))
                    .map(|(_, name)| name.clone());
                match agent {
                    Some(name) => {
                        req.extensions_mut().insert(TokenAgent(name));
                        next.run(req).await
                    }
                    None => axum::response::IntoResponse::into_response((
                        axum::http::StatusCode::UNAUTHORIZED,
                        "blastdoor mcp: send Authorization: Bearer <token> of an agent the policy names ([agents.NAME] token_env)\n",
                    )),
                }
            }
        },
    );
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(guard);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("mcp --listen {addr}: {e}"))?;
    eprintln!(
        "blastdoor mcp: serving streamable HTTP on http://{}/mcp",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}
