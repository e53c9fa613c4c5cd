//! Command-line wiring only: parse flags with clap, build engine options, hand over to a face.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use blastdoor::config::{self, Config};
use blastdoor::core::SortKey;
use blastdoor::engine::{EngineOptions, SourceSpec};
use blastdoor::exit::{Failure, code_of};
use blastdoor::headless::{self, Format};
use blastdoor::respond::redact::RedactingWriter;

#[derive(Parser, Debug)]
#[command(
    name = "blastdoor",
    version,
    about = "Incident-response console for rogue machine identities: live activity ranked by blast radius and threat",
    long_about = None,
    after_help = "With no command, runs the console (on the demo fleet when no source is configured)."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(flatten)]
    console: ConsoleOpts,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Config file [default: config.toml in the user config dir]
    #[arg(long, global = true, env = "BLASTDOOR_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Shared state: queue, journal, audit log [default: the user data dir]
    #[arg(long, global = true, env = "BLASTDOOR_STATE", value_name = "DIR")]
    state: Option<String>,
    /// Event source: PATH, http(s)://…/v1/events, or demo (repeatable)
    #[arg(long = "source", global = true, value_name = "SPEC")]
    sources: Vec<String>,
    /// Sigma rules: a folder (read recursively) or .yml file, evaluated on every event
    /// (repeatable; overrides `rules` in config.toml)
    #[arg(long = "rules", global = true, value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Permissions snapshot (blastdoor inventory JSON) (repeatable)
    #[arg(long = "inventory", global = true, value_name = "FILE")]
    inventories: Vec<PathBuf>,
    /// Headless output format [default: table on a terminal, json otherwise]
    #[arg(long, global = true, value_enum)]
    format: Option<Format>,
    /// Paint no colour (same as NO_COLOR=1)
    #[arg(long, global = true)]
    no_color: bool,
    /// Seed of the demo fleet
    #[arg(long, global = true, default_value_t = 7, hide = true)]
    demo_seed: u64,
    /// Your SSH private key, for signing approvals [default: ssh-agent via SSH_AUTH_SOCK]
    #[arg(long, global = true, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Approval policy [default: policy.toml in the user config dir]
    #[arg(long, global = true, env = "BLASTDOOR_POLICY", value_name = "FILE")]
    policy: Option<PathBuf>,
    /// An agent to execute agent.* actions through (repeatable)
    #[arg(long = "agent", global = true, value_name = "URL")]
    agents: Vec<String>,
}

/// The console's own options: on `blastdoor` itself, `tui` and `demo`, not on the headless
/// commands (whose help lists only what they use).
#[derive(Args, Debug, Clone, Default)]
struct ConsoleOpts {
    /// Theme name (built in: dark, light, high-contrast; or a file in the user config dir)
    #[arg(long, help_heading = "Console options")]
    theme: Option<String>,
    /// Keymap name (built in: default, vim; or a file in the user config dir)
    #[arg(long, help_heading = "Console options")]
    keymap: Option<String>,
    /// Look, never act: the console hides and ignores every acting key
    #[arg(long, help_heading = "Console options")]
    read_only: bool,
}

impl ConsoleOpts {
    /// The subcommand's options over the ones given before it (`blastdoor --theme light demo`).
    fn over(self, base: ConsoleOpts) -> ConsoleOpts {
        ConsoleOpts {
            theme: self.theme.or(base.theme),
            keymap: self.keymap.or(base.keymap),
            read_only: self.read_only || base.read_only,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The console (the default command)
    Tui {
        #[command(flatten)]
        console: ConsoleOpts,
    },
    /// The console on the embedded demo fleet
    Demo {
        #[command(flatten)]
        console: ConsoleOpts,
    },
    /// Ingest finite sources and inventories to their end, print the ranking, exit
    #[command(
        after_help = "Examples:\n  blastdoor rank --source ./CloudTrail --top 20\n  blastdoor rank --source ./CloudTrail --by blast --format json | jq -r '.[].identity'\n  blastdoor rank --source http://127.0.0.1:7878/v1/events --live-for 10\n\nExits 1, naming it on stderr, when a source could not be read."
    )]
    Rank {
        /// How many identities to print
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Rank by
        #[arg(long, default_value = "risk", value_parser = parse_sort())]
        by: SortKey,
        /// Seconds to read live sources (agents, demo) before ranking
        #[arg(long, default_value_t = 3.0)]
        live_for: f64,
    },
    /// One identity explained: its scores, every reason with the calls behind it (time, call,
    /// source IP, user agent, result), its credentials and paths
    #[command(
        after_help = "Examples:\n  blastdoor --source ./CloudTrail explain ci-bot\n  blastdoor --source ./CloudTrail explain aws:arn:aws:iam::123456789012:user/ci-bot --format json | jq '.evidence[].source_ip'"
    )]
    Explain {
        /// The identity: its key as `rank` prints it, or a display name or last path segment
        /// that names one identity
        identity: String,
        /// Seconds to read live sources (agents, demo) before explaining
        #[arg(long, default_value_t = 3.0)]
        live_for: f64,
    },
    /// Shell completions for bash, zsh or fish, on stdout
    #[command(
        after_help = "Examples:\n  blastdoor completions bash > ~/.local/share/bash-completion/completions/blastdoor\n  blastdoor completions zsh > \"${fpath[1]}/_blastdoor\"\n  blastdoor completions fish > ~/.config/fish/completions/blastdoor.fish"
    )]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// The manual page (roff), on stdout
    #[command(after_help = "Example:\n  blastdoor man | man -l -")]
    Man,
    /// One ranking snapshot per interval, as NDJSON
    #[command(after_help = "Example:\n  blastdoor watch --source demo --duration 60 --interval 5")]
    Watch {
        /// Stop after this many seconds [default: run until interrupted]
        #[arg(long)]
        duration: Option<f64>,
        /// Seconds between snapshots
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// How many identities each snapshot lists
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Rank by
        #[arg(long, default_value = "risk", value_parser = parse_sort())]
        by: SortKey,
    },
    /// The agent: serves the agent protocol (events of its own --source specs, actions through
    /// its [providers.*]); callers authenticate, approvals are checked with --policy
    Agent {
        /// Address to listen on (beyond loopback only with --token-env or mutual TLS)
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: std::net::SocketAddr,
        /// Serve the simulated demo fleet
        #[arg(long)]
        demo: bool,
        /// Callers must send `Authorization: Bearer` with the token this variable holds
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// Serve HTTPS with this PEM certificate chain (with --tls-key)
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Callers may authenticate with a client certificate signed by this CA (mutual TLS)
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        client_ca: Option<PathBuf>,
        /// Check every action's approvals against these signers (one approval of anything;
        /// --policy for more)
        #[arg(long, value_name = "FILE")]
        allowed_signers: Option<PathBuf>,
    },
    /// The audit log: verify it (or an export), export it as JSONL, show the newest records
    Audit {
        #[command(subcommand)]
        verb: headless::audit::AuditCmd,
    },
    /// Validate config, themes, keymaps; name every problem; exit 0 or 2
    CheckConfig,
    /// MCP server for AI agents on stdio (or streamable HTTP with --listen): read-only tools
    /// and one that proposes containment for human approval
    Mcp {
        /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (loopback only)
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// The action queue: stage, approve, deny, execute, roll back, list, show
    Action {
        #[command(subcommand)]
        verb: headless::action::ActionCmd,
    },
    /// Run the policy's standing playbooks on the live sources: act (or propose) by themselves,
    /// inside their limits; one line per act on stdout
    Respond {
        /// Stop after this many seconds [default: run until interrupted]
        #[arg(long)]
        duration: Option<f64>,
        /// Say what would fire; stage and execute nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// The standing playbooks: list them, pause (the kill switch) or resume them
    Playbooks {
        #[command(subcommand)]
        verb: headless::respond::PlaybooksCmd,
    },
    /// A scripted session of action verbs, one per line ($LAST = the id staged last)
    Run {
        /// The script file
        #[arg(long, value_name = "FILE")]
        script: PathBuf,
    },
}

/// `--by`'s values, listed in `--help` and offered by the shell completions.
fn parse_sort() -> impl clap::builder::TypedValueParser<Value = SortKey> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("risk").help("blast radius and threat combined"),
        PossibleValue::new("blast")
            .alias("blast_radius")
            .help("what it could damage: its permissions and what they reach"),
        PossibleValue::new("threat").help("how suspicious its recent activity is"),
    ])
    .map(|s| SortKey::parse(&s).unwrap_or_default())
}

/// Every decode thread allocates and frees a JSON tree per record: mimalloc's per-thread heaps
/// keep that off a shared lock (see the README's performance notes).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            headless::say(&format!("blastdoor: cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            headless::say(&format!("blastdoor: {e:#}"));
            ExitCode::from(code_of(&e))
        }
    }
}

/// Engine options from the flags, falling back to the config file's `sources` and `inventory`.
fn engine_options(g: &Global, config: &Config) -> anyhow::Result<EngineOptions> {
    let from_config = g.sources.is_empty() && g.inventories.is_empty();
    let (sources, inventories): (Vec<String>, Vec<PathBuf>) = if from_config {
        let base = config
            .path
            .as_deref()
            .and_then(|p| p.parent())
            .map(PathBuf::from);
        let rel = |s: &String| match &base {
            Some(b)
                if !s.contains("://") && s != "demo" && !std::path::Path::new(s).is_absolute() =>
            {
                b.join(s).display().to_string()
            }
            _ => s.clone(),
        };
        (
            config.sources.iter().map(rel).collect(),
            config
                .inventory
                .iter()
                .map(|i| PathBuf::from(rel(i)))
                .collect(),
        )
    } else {
        (g.sources.clone(), g.inventories.clone())
    };
    let mut specs = Vec::new();
    for s in &sources {
        specs.push(SourceSpec::parse(s).map_err(Failure::usage)?);
    }
    for inv in &inventories {
        if !inv.exists() {
            return Err(Failure::usage(format!(
                "--inventory {}: no such file",
                inv.display()
            )));
        }
        if let Some(kind) = blastdoor::engine::sources::special_file(inv) {
            return Err(Failure::usage(format!(
                "--inventory {}: {kind}, not a regular file: give the inventory JSON file",
                inv.display()
            )));
        }
    }
    let rules = if g.rules.is_empty() {
        config.rule_paths()
    } else {
        g.rules.clone()
    };
    blastdoor::ingest::sigma::load_and_install(&rules)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let specs_cursor = specs.iter().find(|s| s.keeps_cursor()).map(|s| s.name());
    Ok(EngineOptions {
        background_decode: false,
        sources: specs,
        inventories,
        demo_seed: g.demo_seed,
        data_clock: false,
        crown_jewels: config.crown_jewels.clone(),
        endpoints: config.endpoints(),
        webhook: config.webhook.clone(),
        relay: None,
        limits: config.limits,
        aws: config
            .providers
            .get("aws")
            .and_then(|a| a.as_table())
            .cloned()
            .unwrap_or_default(),
        cursors: cursor_state(g, &specs_cursor)?,
    })
}

/// The state where `s3://` sources keep their cursors, opened (and created) only when one is
/// used: resuming after a restart is what such a source promises.
fn cursor_state(
    g: &Global,
    needed: &Option<String>,
) -> anyhow::Result<Option<std::sync::Arc<blastdoor::store::Store>>> {
    let Some(source) = needed else {
        return Ok(None);
    };
    let loc = blastdoor::store::resolve_state(g.state.as_deref())?;
    let store = blastdoor::store::Store::open_at(&loc).map_err(|e| {
        Failure::usage(format!(
            "--source {source} keeps its cursor in the state, which cannot be opened: {e:#} \
             (give --state DIR, or add ?once to read what is there without one)"
        ))
    })?;
    Ok(Some(std::sync::Arc::new(store)))
}

/// The shared state whose done actions `rank` and `watch` show as containment (and check for
/// leaks): only one that exists (ranking or watching never creates a state).
fn watched_state(g: &Global) -> Option<std::sync::Arc<blastdoor::store::Store>> {
    let loc = blastdoor::store::resolve_state(g.state.as_deref()).ok()?;
    if !blastdoor::store::Store::exists(&loc) {
        return None;
    }
    match blastdoor::store::Store::open_at(&loc) {
        Ok(s) => Some(std::sync::Arc::new(s)),
        Err(e) => {
            tracing::warn!("watch: containment leaks not checked: {e:#}");
            None
        }
    }
}

fn desk_options(g: &Global) -> anyhow::Result<headless::action::DeskOptions> {
    let config = load_config(g)?;
    Ok(headless::action::DeskOptions {
        state: g.state.clone(),
        key: g.key.clone(),
        policy: g.policy.clone(),
        agents: g.agents.clone(),
        endpoints: config.endpoints(),
        sources: engine_options(g, &config)?.sources,
        providers: config.providers,
    })
}

/// Whether no responder is given: no `--key`, no policy (flag, variable or the user's
/// `policy.toml`) and no key in ssh-agent. Only then does the demo play its throwaway ones.
fn no_responder_given(g: &Global) -> bool {
    let policy_file = blastdoor::core::policy::locate(None).is_some_and(|(p, _)| p.exists());
    let agent_key = matches!(blastdoor::auth::Signer::from_agent(None), Ok(Some(_)));
    g.key.is_none() && g.policy.is_none() && !policy_file && !agent_key
}

/// The demo's throwaway responders, each with a desk on the demo's state signing as them.
fn demo_responders(
    o: &headless::action::DeskOptions,
) -> anyhow::Result<Vec<(String, blastdoor::respond::Desk)>> {
    let state = match blastdoor::store::resolve_state(o.state.as_deref())? {
        blastdoor::store::Location::Dir(d) => d,
        blastdoor::store::Location::Postgres(t) => {
            return Err(Failure::usage(format!(
                "--state {}: the demo's throwaway responders keep their keys in a folder state; \
                 give --key and --policy to use a PostgreSQL state",
                t.label()
            )));
        }
    };
    let team = blastdoor::respond::demo_responders::ensure(&state)?;
    team.keys
        .into_iter()
        .map(|(name, key)| {
            let desk = headless::action::open_desk(&headless::action::DeskOptions {
                key: Some(key),
                policy: Some(team.policy.clone()),
                ..o.clone()
            })?;
            Ok((name, desk))
        })
        .collect()
}

fn load_config(g: &Global) -> anyhow::Result<Config> {
    Config::load(g.config.as_deref()).map_err(|e| Failure::usage(e.to_string()))
}

/// Logs go to a file in TUI mode (never to the terminal it draws on), to stderr otherwise;
/// either way through the output sanitiser and the secret redactor.
fn init_logging(tui: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = |default: &str| {
        let mut f =
            EnvFilter::try_from_env("BLASTDOOR_LOG").unwrap_or_else(|_| EnvFilter::new(default));
        // The SDK's and the HTTP stack's request traces print credentials (sigv4's canonical
        // request holds the AWS session token; request dumps hold X-Vault-Token): never below
        // these levels, whatever BLASTDOOR_LOG asks. A cap only ever lowers a level: added
        // to a filter that asks for less (the default), it would turn those traces on.
        let asked = f
            .max_level_hint()
            .unwrap_or(tracing_subscriber::filter::LevelFilter::OFF);
        for cap in [
            "aws_sigv4=info",
            "aws_smithy_runtime=debug",
            "aws_smithy_runtime_api=debug",
            "aws_smithy_http_client=debug",
            "aws_runtime=debug",
            "aws_config=debug",
            "hyper=debug",
            "hyper_util=debug",
            "reqwest=debug",
            "h2=info",
        ] {
            let level = cap
                .rsplit_once('=')
                .and_then(|(_, l)| l.parse::<tracing_subscriber::filter::LevelFilter>().ok());
            if level.is_some_and(|l| asked > l)
                && let Ok(d) = cap.parse()
            {
                f = f.add_directive(d);
            }
        }
        f
    };
    let safe = |w| headless::sanitised(RedactingWriter(w), Format::Table);
    if tui {
        let dir = directories::ProjectDirs::from("", "", "blastdoor")
            .map(|d| d.data_local_dir().to_path_buf());
        let file = dir.and_then(|dir| {
            std::fs::create_dir_all(&dir).ok()?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("blastdoor.log"))
                .ok()
        });
        if let Some(file) = file {
            let file = std::sync::Arc::new(file);
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter("warn"))
                .with_ansi(false)
                .with_writer(move || safe(LogSink::File(file.clone())))
                .try_init();
        }
    } else {
        // Plain text (no colour codes): every byte goes through the output sanitiser.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter("error"))
            .with_ansi(false)
            .with_writer(move || safe(LogSink::Stderr(std::io::stderr())))
            .try_init();
    }
}

/// Where log lines go: an appended file (each line one write) or stderr.
enum LogSink {
    File(std::sync::Arc<std::fs::File>),
    Stderr(std::io::Stderr),
}

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            LogSink::File(f) => (&**f).write(buf),
            LogSink::Stderr(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            LogSink::File(f) => (&**f).flush(),
            LogSink::Stderr(e) => e.flush(),
        }
    }
}

fn secs(flag: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| Failure::usage(format!("{flag} {v}: give a number of seconds >= 0")))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = cli.global.clone();
    let no_color = g.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let is_tui = matches!(
        cli.command,
        None | Some(Command::Tui { .. }) | Some(Command::Demo { .. })
    );
    init_logging(is_tui);
    match cli.command {
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "blastdoor", &mut out);
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Some(Command::Explain { identity, live_for }) => {
            let config = load_config(&g)?;
            let format = Format::resolve(g.format);
            let opts = headless::explain::ExplainOptions {
                engine: engine_options(&g, &config)?,
                identity,
                format,
                live_for: secs("--live-for", live_for)?,
                store: watched_state(&g),
            };
            let mut out = headless::sanitised(std::io::stdout().lock(), format);
            headless::explain::run(opts, &mut out).await?;
            std::io::Write::flush(&mut out)?;
            // As for `rank`: nothing is left to write, the engine need not be torn down.
            std::process::exit(0);
        }
        Some(Command::Rank { top, by, live_for }) => {
            let config = load_config(&g)?;
            let format = Format::resolve(g.format);
            let opts = headless::rank::RankOptions {
                engine: engine_options(&g, &config)?,
                top,
                by,
                format,
                live_for: secs("--live-for", live_for)?,
                store: watched_state(&g),
            };
            let mut out = headless::sanitised(std::io::stdout().lock(), format);
            headless::rank::run(opts, &mut out).await?;
            // The ranking is printed and nothing is left to write: exit without tearing down a
            // core that may hold millions of identities and thousands of decoded events (5% of
            // `rank`'s time on the jq comparison, perf). `rank` holds no state or audit log.
            std::io::Write::flush(&mut out)?;
            std::process::exit(0);
        }
        Some(Command::Watch {
            duration,
            interval,
            top,
            by,
        }) => {
            let config = load_config(&g)?;
            let opts = headless::watch::WatchOptions {
                engine: engine_options(&g, &config)?,
                top,
                by,
                interval: secs("--interval", interval)?,
                duration: duration.map(|d| secs("--duration", d)).transpose()?,
                store: watched_state(&g),
            };
            let mut out = headless::sanitised(std::io::stdout(), Format::Ndjson);
            headless::watch::run(opts, &mut out).await
        }
        Some(Command::Audit { verb }) => {
            let format = Format::resolve(g.format);
            // Not locked: a PostgreSQL state's export is written from the client's own thread.
            let mut out = headless::sanitised(std::io::stdout(), format);
            headless::audit::run(g.state.as_deref(), verb, format, &mut out)
        }
        Some(Command::Agent {
            listen,
            demo,
            token_env,
            tls_cert,
            tls_key,
            client_ca,
            allowed_signers,
        }) => {
            let config = load_config(&g)?;
            let mut engine = engine_options(&g, &config)?;
            engine.sources.retain(|s| !matches!(s, SourceSpec::Demo));
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(blastdoor::agent::tls::TlsFiles {
                    cert,
                    key,
                    client_ca,
                }),
                _ => None,
            };
            headless::agent::run(headless::agent::AgentOptions {
                listen,
                demo,
                seed: g.demo_seed,
                token_env,
                tls,
                policy: g.policy.clone(),
                allowed_signers,
                engine,
                providers: config.providers,
            })
            .await
        }
        Some(Command::Mcp { listen }) => {
            let config = load_config(&g)?;
            let opts = engine_options(&g, &config)?;
            let desk = std::sync::Arc::new(headless::action::open_desk(&desk_options(&g)?)?);
            // With no source the read tools answer empty, saying why: an agent must never be
            // shown the demo fleet as if it were real.
            let engine = if opts.sources.is_empty() && opts.inventories.is_empty() {
                None
            } else {
                Some(blastdoor::engine::Engine::start(opts).await?)
            };
            let server = blastdoor::mcp::BlastdoorMcp::new(engine, desk);
            match listen {
                Some(addr) => blastdoor::mcp::serve_http(server, addr).await,
                None => blastdoor::mcp::serve_stdio(server).await,
            }
        }
        Some(Command::Action {
            verb: headless::action::ActionCmd::Suggest { identity, live_for },
        }) => {
            let desk = headless::action::open_desk(&desk_options(&g)?)?;
            let engine = engine_options(&g, &load_config(&g)?)?;
            let format = Format::resolve(g.format);
            let mut out = headless::sanitised(std::io::stdout().lock(), format);
            headless::action::suggest(
                &desk,
                engine,
                &identity,
                secs("--live-for", live_for)?,
                format,
                &mut out,
            )
            .await?;
            std::io::Write::flush(&mut out)?;
            // As for `rank`: nothing is left to write, the engine need not be torn down.
            std::process::exit(0);
        }
        Some(Command::Action { verb }) => {
            let desk = headless::action::open_desk(&desk_options(&g)?)?;
            let format = Format::resolve(g.format);
            let mut out = headless::sanitised(std::io::stdout().lock(), format);
            headless::action::run(&desk, &verb, format, &mut out).await?;
            Ok(())
        }
        Some(Command::Respond { duration, dry_run }) => {
            let config = load_config(&g)?;
            let engine = engine_options(&g, &config)?;
            let desk = std::sync::Arc::new(headless::action::open_desk(&desk_options(&g)?)?);
            let format = Format::resolve(g.format.or(Some(Format::Ndjson)));
            let mut out = headless::sanitised(std::io::stdout(), format);
            headless::respond::run(
                desk,
                engine,
                blastdoor::respond::runner::RunnerOptions {
                    dry_run,
                    duration: duration.map(|d| secs("--duration", d)).transpose()?,
                },
                format,
                &mut out,
            )
            .await
        }
        Some(Command::Playbooks { verb }) => {
            let desk = headless::action::open_desk(&desk_options(&g)?)?;
            let format = Format::resolve(g.format);
            let mut out = headless::sanitised(std::io::stdout().lock(), format);
            headless::respond::playbooks(&desk, &verb, format, &mut out)
        }
        Some(Command::Run { script }) => {
            let desk = headless::action::open_desk(&desk_options(&g)?)?;
            let format = Format::resolve(g.format);
            let mut out = headless::sanitised(std::io::stdout().lock(), format);
            headless::script::run(&desk, &script, format, &mut out).await
        }
        Some(Command::CheckConfig) => {
            let mut problems = config::check(g.config.as_deref());
            if !g.rules.is_empty() {
                match blastdoor::ingest::sigma::Rules::load(&g.rules) {
                    Err(e) => {
                        problems.push(config::ConfigProblem::new("--rules", "", e.to_string()))
                    }
                    Ok((_, bad)) => problems.extend(bad.iter().map(|p| {
                        let at = p.line.map(|l| format!("line {l}: ")).unwrap_or_default();
                        config::ConfigProblem::file(
                            p.file.display().to_string(),
                            format!("{at}Sigma rule not loaded: {}", p.reason),
                        )
                    })),
                }
            }
            if let Some((path, explicit)) = blastdoor::core::policy::locate(g.policy.as_deref())
                && (explicit || path.exists())
            {
                problems.extend(blastdoor::core::policy::check(&path).into_iter().map(|m| {
                    match m.split_once(": ") {
                        Some((file, msg)) => config::ConfigProblem::file(file, msg),
                        None => config::ConfigProblem::file(path.display().to_string(), m),
                    }
                }));
            }
            if problems.is_empty() {
                println!("blastdoor: config, themes and keymaps are valid");
                Ok(())
            } else {
                for p in &problems {
                    headless::say(&p.to_string());
                }
                Err(Failure::usage(format!(
                    "check-config: {} problem(s) found",
                    problems.len()
                )))
            }
        }
        Some(Command::Tui { .. }) | Some(Command::Demo { .. }) | None => {
            let demo = matches!(cli.command, Some(Command::Demo { .. }));
            let c = match cli.command {
                Some(Command::Tui { console }) | Some(Command::Demo { console }) => {
                    console.over(cli.console)
                }
                _ => cli.console,
            };
            let config = load_config(&g)?;
            let mut opts = engine_options(&g, &config)?;
            let demo_by_default = !demo && opts.sources.is_empty() && opts.inventories.is_empty();
            if demo || demo_by_default {
                opts.sources = vec![SourceSpec::Demo];
            }
            // The screen first: a backfill decodes below it.
            opts.background_decode = true;
            // Every config problem is reported before the terminal is touched.
            let tui_opts = blastdoor::tui::TuiOptions::from_config(
                &config,
                c.theme.as_deref(),
                c.keymap.as_deref(),
                no_color,
                demo_by_default,
            )
            .map_err(|problems| {
                for p in &problems {
                    headless::say(&p.to_string());
                }
                Failure::usage(format!(
                    "{} configuration problem(s); run `blastdoor check-config`",
                    problems.len()
                ))
            })?;
            // The same desk the `action` verbs use. Without one the console still runs: acting
            // keys say why they are off. A state or policy named explicitly must work, though.
            // Under --read-only it is only read (the approvals view), never acted through.
            let named = g.state.is_some() || g.policy.is_some() || g.key.is_some();
            let on_demo = demo || demo_by_default;
            let engine = blastdoor::engine::Engine::start(opts).await?;
            // The agents behind the event streams (the demo's own among them) execute too.
            let mut desk_opts = desk_options(&g)?;
            desk_opts.agents.extend(engine.agents());
            // The demo acts on its own state unless one is named: never on the real queue.
            if on_demo && desk_opts.state.is_none() {
                desk_opts.state = blastdoor::store::default_state_dir()
                    .map(|d| d.join("demo").display().to_string());
            }
            let responders = if on_demo && !c.read_only && no_responder_given(&g) {
                demo_responders(&desk_opts)?
            } else {
                Vec::new()
            };
            let desk = match headless::action::open_desk(&desk_opts) {
                Ok(d) => Ok(d),
                Err(e) if named && !c.read_only => return Err(e),
                Err(e) => {
                    tracing::warn!("no response desk: {e:#}");
                    Err(format!("{e:#}"))
                }
            };
            let leak_store = desk.as_ref().ok().map(|d| d.store().clone());
            let tui_opts = blastdoor::tui::TuiOptions {
                read_only: c.read_only,
                ..tui_opts
            }
            .with_desk(desk)
            .with_demo_responders(responders);
            if let Some(store) = leak_store {
                blastdoor::engine::containment::spawn(&engine, store, false);
            }
            blastdoor::tui::run(engine, tui_opts).await
        }
    }
}
