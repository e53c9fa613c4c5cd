//! The console: a terminal face on the engine. `run` owns the terminal and the loop; `app` is
//! the state and what keys do to it; `views` draws a frame from a snapshot; `keymap` and `theme`
//! come from TOML files (see `crate::config`).
//!
//! The loop redraws only when something changed (the engine's version, input, the desk's
//! answers, or the clock's second), at most ~30 times a second, and builds each frame's data in
//! one short read of the core.
//!
//! Acting goes through the response desk (`respond::Desk`), the same one the CLI and MCP use.
//! Its calls run on their own tasks and answer through a channel, so the loop never waits on an
//! executor or a signature; the queue is read from the shared store every second (and after
//! each action), so responders on one bastion see each other's approvals within a second; a
//! PostgreSQL state announces changes (NOTIFY), so the queue is read again when another host acts. The terminal is restored on every way out: quit, error (the guard's `Drop`), panic (a
//! hook) and SIGTERM/SIGHUP/SIGINT (a flag the loop polls; a second signal exits at once).
//! A terminal that goes away (an SSH session dropped: its input hangs up, or SIGHUP) ends the
//! console with exit 1 and a message, rather than leaving it reading a dead terminal.

pub mod app;
pub mod keymap;
pub mod queue;
pub mod theme;
pub mod views;

use std::io::{self, Stdout, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste, Event};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::config::{Config, ConfigProblem};
use crate::core::Msg;
use crate::core::workflow::{Action as QueuedAction, ActionState, Via};
use crate::engine::{Engine, now_ms};
use crate::exit::{Code, code_of};
use crate::respond::{Desk, StageRequest};
use crate::tui::app::{Status, StatusKind};
use crate::tui::queue::{ActionRow, Pending, StageDraft, Verb};

pub use app::{App, Command};
pub use keymap::{Action, KeyChord, Keymap};
pub use theme::{ColorMode, Theme};
pub use views::{ViewData, render};

/// Shortest time between two frames (~30 fps): bursts of ingest coalesce into one frame.
const FRAME: Duration = Duration::from_millis(33);
/// Redraw at least this often, for the clock and "seen 5s ago" ages.
const IDLE_REDRAW: Duration = Duration::from_secs(1);
/// How often the input thread and the loop look at their stop flags.
const POLL: Duration = Duration::from_millis(100);
/// How often the queue is read from the shared store: others' approvals show within this.
const QUEUE_REFRESH: Duration = Duration::from_millis(900);
/// How often a state that announces its changes is read again all the same.
const QUEUE_SAFETY_NET: Duration = Duration::from_secs(10);
/// How often executors are asked about the actions they carried out (a rollback done there).
const EXECUTOR_REFRESH: Duration = Duration::from_secs(10);
/// How long a status line that needs no attention (done, info) stays up.
const STATUS_FADE: Duration = Duration::from_secs(10);
/// How often the desk is asked again what its executors and agents can carry out.
const OFFERS_REFRESH: Duration = Duration::from_secs(15);

/// How the console looks and behaves. Build it with `TuiOptions::from_config` (which refuses
/// bad themes and keymaps before the terminal is touched) or by hand.
#[derive(Clone, Default)]
pub struct TuiOptions {
    pub theme: Theme,
    pub keymap: Keymap,
    /// The engine runs the demo fleet because nothing else was configured: the header says so.
    pub demo_by_default: bool,
    /// `--read-only`: no acting key is bound, shown or obeyed.
    pub read_only: bool,
    /// The response desk (shared state, policy, key, executors); `None` disables acting.
    pub desk: Option<Arc<Desk>>,
    /// Why there is no desk, as the acting keys say it.
    pub no_desk: Option<String>,
    /// The demo's throwaway responders (`demo-alice`, `demo-bob`), each with its desk: the
    /// console acts as the first and switches on the `switch_responder` key. Empty otherwise.
    pub responders: Vec<(String, Arc<Desk>)>,
}

impl std::fmt::Debug for TuiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TuiOptions")
            .field("theme", &self.theme)
            .field("keymap", &self.keymap)
            .field("demo_by_default", &self.demo_by_default)
            .field("read_only", &self.read_only)
            .field("desk", &self.desk.is_some())
            .field("no_desk", &self.no_desk)
            .field(
                "responders",
                &self.responders.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TuiOptions {
    /// Theme and keymap from the config, overridden by `--theme`/`--keymap`; `no_color` is
    /// `--no-color`. Every problem is returned, each naming its file and entry.
    pub fn from_config(
        config: &Config,
        theme: Option<&str>,
        keymap: Option<&str>,
        no_color: bool,
        demo_by_default: bool,
    ) -> Result<TuiOptions, Vec<ConfigProblem>> {
        let (theme, keymap) = crate::config::load_ui(config, theme, keymap, no_color)?;
        Ok(TuiOptions {
            theme: theme.with_ascii(theme::ascii_locale()),
            keymap,
            demo_by_default,
            ..TuiOptions::default()
        })
    }

    /// Play the demo's throwaway responders: act as the first of `responders`, switch on a key.
    pub fn with_demo_responders(mut self, responders: Vec<(String, Desk)>) -> TuiOptions {
        self.responders = responders
            .into_iter()
            .map(|(n, d)| (n, Arc::new(d.with_via(Via::Tui))))
            .collect();
        if let Some((_, d)) = self.responders.first() {
            self.desk = Some(d.clone());
            self.no_desk = None;
        }
        self
    }

    /// Act through `desk`, or say why acting is off (`Err` is the reason). Everything done
    /// through it is recorded as done in the console (`via: tui`).
    pub fn with_desk(mut self, desk: Result<Desk, String>) -> TuiOptions {
        match desk {
            Ok(d) => {
                self.desk = Some(Arc::new(d.with_via(Via::Tui)));
                self.no_desk = None;
            }
            Err(why) => {
                self.desk = None;
                self.no_desk = Some(why);
            }
        }
        self
    }
}

/// What the desk's tasks hand back to the loop.
enum DeskReply {
    Queue(Vec<QueuedAction>),
    /// The queue could not be read (logged; the last one stays on screen).
    QueueError(String),
    Done(StatusKind, String),
    /// What the desk's executors and agents can carry out now.
    Offers(crate::respond::suggest::Offers),
}

/// The loop's side of the desk: starts calls on their own tasks and polls the queue.
struct DeskLink {
    desk: Option<Arc<Desk>>,
    /// The demo's throwaway responders, each with its desk (empty otherwise), and who acts.
    responders: Vec<(String, Arc<Desk>)>,
    current: std::cell::Cell<usize>,
    tx: mpsc::UnboundedSender<DeskReply>,
    /// Wakes the queue poller at once (after an action, on opening the view).
    refresh: Arc<tokio::sync::Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DeskLink {
    fn start(
        desk: Option<Arc<Desk>>,
        responders: Vec<(String, Arc<Desk>)>,
    ) -> (DeskLink, mpsc::UnboundedReceiver<DeskReply>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let desk = responders.first().map(|(_, d)| d.clone()).or(desk);
        let refresh = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        if let Some(d) = desk.clone() {
            tasks.push(tokio::spawn(poll_queue(
                d.clone(),
                tx.clone(),
                refresh.clone(),
            )));
            tasks.push(tokio::spawn(poll_executors(d.clone(), refresh.clone())));
            tasks.push(tokio::spawn(poll_offers(d, tx.clone())));
        }
        (
            DeskLink {
                desk,
                responders,
                current: std::cell::Cell::new(0),
                tx,
                refresh,
                tasks,
            },
            rx,
        )
    }

    /// The desk acting now: the current demo responder's, else the one desk.
    fn acting(&self) -> Option<Arc<Desk>> {
        match self.responders.get(self.current.get()) {
            Some((_, d)) => Some(d.clone()),
            None => self.desk.clone(),
        }
    }

    /// Who acts now among the demo's responders.
    fn responder(&self) -> Option<&str> {
        self.responders
            .get(self.current.get())
            .map(|(n, _)| n.as_str())
    }

    /// Act as the next demo responder; returns who that is.
    fn switch(&self) -> Option<&str> {
        if self.responders.is_empty() {
            return None;
        }
        self.current
            .set((self.current.get() + 1) % self.responders.len());
        self.responder()
    }

    fn stage(&self, draft: StageDraft) {
        let Some(desk) = self.acting() else {
            return;
        };
        let tx = self.tx.clone();
        let refresh = self.refresh.clone();
        tokio::spawn(async move {
            let display = draft.display.to_string();
            let req = StageRequest {
                identity: draft.identity,
                kind: draft.kind,
                target: None,
                params: draft.params,
                reason: draft.reason,
                evidence: draft.evidence,
                via: Via::Tui,
                agent: None,
                facts: draft.facts,
            };
            let reply = match desk.stage(req).await {
                Ok(a) => DeskReply::Done(StatusKind::Done, staged_message(&a, &display)),
                Err(e) => failure(&e),
            };
            let _ = tx.send(reply);
            refresh.notify_one();
        });
    }

    fn act(&self, p: Pending) {
        let Some(desk) = self.acting() else {
            return;
        };
        let tx = self.tx.clone();
        let refresh = self.refresh.clone();
        tokio::spawn(async move {
            let id = p.id.to_string();
            let result = match p.verb {
                Verb::Approve => desk.approve(&id).await,
                Verb::Deny => desk.deny(&id, p.reason.as_deref().unwrap_or("")).await,
                Verb::Execute => desk.execute(&id).await,
                Verb::Rollback => desk.rollback(&id).await,
            };
            let reply = match result {
                Ok(a) => DeskReply::Done(StatusKind::Done, acted_message(p.verb, &a)),
                Err(e) => failure(&e),
            };
            let _ = tx.send(reply);
            refresh.notify_one();
        });
    }
}

impl Drop for DeskLink {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Refusals are the rules working (exit 4 to the CLI): said as such, not as errors.
fn failure(e: &anyhow::Error) -> DeskReply {
    if code_of(e) == Code::Refused as u8 {
        DeskReply::Done(StatusKind::Refused, format!("{e}"))
    } else {
        DeskReply::Done(StatusKind::Failed, format!("{e:#}"))
    }
}

fn staged_message(a: &QueuedAction, display: &str) -> String {
    match a.state {
        ActionState::Done if a.preauthorized => format!(
            "{} {} on {display}: pre-authorised by a playbook and executed",
            a.id, a.kind
        ),
        ActionState::Approved => format!(
            "staged {} {} on {display}: approved already, ready to execute",
            a.id, a.kind
        ),
        state => format!(
            "staged {} {} on {display}: {state}, needs {} approval(s) by another responder",
            a.id, a.kind, a.required_approvals
        ),
    }
}

fn acted_message(verb: Verb, a: &QueuedAction) -> String {
    let approvals = if verb == Verb::Approve {
        format!(" ({}/{})", a.approvals.len(), a.required_approvals)
    } else {
        String::new()
    };
    format!(
        "{} {} {}{approvals}: now {}",
        verb.done(),
        a.id,
        a.kind,
        a.state
    )
}

/// Ask the executors every few seconds whether a done action was undone at their end, so the
/// queue shows a rollback done at an agent; the queue is read again when one was.
async fn poll_executors(desk: Arc<Desk>, refresh: Arc<tokio::sync::Notify>) {
    let mut tick = tokio::time::interval(EXECUTOR_REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match desk.sync_with_executors().await {
            Ok(changed) if !changed.is_empty() => refresh.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::warn!("asking the executors: {e:#}"),
        }
    }
}

/// Read the queue from the shared store about once a second, and at once when asked.
async fn poll_queue(
    desk: Arc<Desk>,
    tx: mpsc::UnboundedSender<DeskReply>,
    refresh: Arc<tokio::sync::Notify>,
) {
    // A state that announces its changes (PostgreSQL's NOTIFY) is read again when another
    // console acts; the timer is then only a safety net (and keeps expiries current).
    let mut changes = desk.store().changes();
    let period = if changes.is_some() {
        QUEUE_SAFETY_NET
    } else {
        QUEUE_REFRESH
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = refresh.notified() => {}
            _ = async {
                match &mut changes {
                    Some(c) => {
                        if c.changed().await.is_err() {
                            std::future::pending::<()>().await
                        }
                    }
                    None => std::future::pending().await,
                }
            } => {}
        }
        let d = desk.clone();
        // SQLite reads block: keep them off the runtime's workers.
        let reply = match tokio::task::spawn_blocking(move || d.list()).await {
            Ok(Ok(list)) => DeskReply::Queue(list),
            Ok(Err(e)) => DeskReply::QueueError(format!("{e:#}")),
            Err(e) => DeskReply::QueueError(e.to_string()),
        };
        if tx.send(reply).is_err() {
            return;
        }
    }
}

/// Ask the desk what its executors and agents can carry out, now and again later (an agent
/// that was down comes back; the picker and the execute key judge by the latest answer).
async fn poll_offers(desk: Arc<Desk>, tx: mpsc::UnboundedSender<DeskReply>) {
    loop {
        if tx.send(DeskReply::Offers(desk.offers().await)).is_err() {
            return;
        }
        tokio::time::sleep(OFFERS_REFRESH).await;
    }
}

/// Run the console until the user quits or a signal asks us to stop.
pub async fn run(engine: Engine, opts: TuiOptions) -> anyhow::Result<()> {
    // Signals first: once raw mode is on, a default SIGTERM would leave the terminal broken.
    let signals = Signals::register()?;
    let mut terminal = TerminalGuard::enter()?;
    let tty = TtyWatch::open();
    let mut input = InputThread::spawn();
    let result = event_loop(
        &engine,
        opts,
        &mut terminal.terminal,
        &mut input.rx,
        &signals,
        &tty,
    )
    .await;
    drop(input);
    if tty.check().is_err() {
        // Nothing can be written to a terminal that went away: restore what can be (the modes)
        // and skip ratatui's own try, which would print "Failed to show the cursor".
        tracing::warn!("{}", TtyWatch::GONE);
        restore_terminal();
        std::mem::forget(terminal);
    } else {
        drop(terminal);
    }
    if signals.stopped() {
        tracing::info!("console stopped by a signal");
    }
    result
}

async fn event_loop(
    engine: &Engine,
    opts: TuiOptions,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    input: &mut mpsc::Receiver<io::Result<Event>>,
    signals: &Signals,
    tty: &TtyWatch,
) -> anyhow::Result<()> {
    let TuiOptions {
        theme,
        keymap,
        demo_by_default,
        read_only,
        desk,
        no_desk,
        responders,
    } = opts;
    let mut app = App::new(keymap, demo_by_default).read_only(read_only);
    if desk.is_none() {
        app.disable_acting(format!(
            "acting disabled: {}",
            no_desk.as_deref().unwrap_or(app::NO_DESK)
        ));
    }
    if let (Some(d), true) = (&desk, responders.is_empty()) {
        // Preconditions before input: a missing or unknown key is found now, not after a
        // justification has been typed.
        match d.whoami() {
            Ok(who) => app.set_acting_as(Some(&who)),
            Err(e) => app.disable_acting(format!("acting disabled: {e:#}")),
        }
    }
    let (link, mut replies) = DeskLink::start(desk, responders);
    app.set_responder(link.responder());
    let mut seen_status: Option<Status> = None;
    let mut status_at = Instant::now();
    let mut changed = engine.changed();
    let mut engine_alive = true;
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if signals.hung_up() {
            anyhow::bail!("{} (SIGHUP)", TtyWatch::GONE);
        }
        if app.should_quit() || signals.stopped() {
            return Ok(());
        }
        let due = last_draw.map_or_else(Instant::now, |t| t + FRAME);
        if dirty && Instant::now() >= due {
            if let Err(e) = draw(terminal, engine, &mut app, &theme) {
                tty.check()?;
                return Err(e.into());
            }
            dirty = false;
            last_draw = Some(Instant::now());
        }
        let waiting_for_frame = dirty;
        let frame_wait = async move {
            if waiting_for_frame {
                tokio::time::sleep_until(due.into()).await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            ev = input.recv() => match ev {
                Some(Ok(ev)) => {
                    handle(engine, &link, &mut app, &ev);
                    // Take whatever else is already queued (a held key) before drawing.
                    while let Ok(Ok(ev)) = input.try_recv() {
                        handle(engine, &link, &mut app, &ev);
                    }
                    dirty = true;
                }
                Some(Err(e)) => {
                    tty.check()?;
                    return Err(anyhow::Error::new(e).context("reading terminal input"));
                }
                None => {
                    tty.check()?;
                    anyhow::bail!("terminal input stopped");
                }
            },
            r = changed.changed(), if engine_alive => {
                // A closed channel means the engine is gone: keep showing the last state.
                engine_alive = r.is_ok();
                dirty = true;
            }
            Some(reply) = replies.recv() => {
                on_reply(engine, &mut app, reply);
                dirty = true;
            }
            _ = poll.tick() => {
                tty.check()?;
                if last_draw.is_none_or(|t| t.elapsed() >= IDLE_REDRAW) {
                    dirty = true;
                }
                // Fade a status that needs no attention; refusals and failures stay up.
                if app.status() != seen_status.as_ref() {
                    seen_status = app.status().cloned();
                    status_at = Instant::now();
                } else if seen_status
                    .as_ref()
                    .is_some_and(|s| matches!(s.kind, StatusKind::Done | StatusKind::Info))
                    && status_at.elapsed() >= STATUS_FADE
                {
                    app.clear_status();
                    dirty = true;
                }
            }
            _ = frame_wait => {}
        }
    }
}

fn handle(engine: &Engine, link: &DeskLink, app: &mut App, ev: &Event) {
    match app.handle_event(ev) {
        Some(Command::SortBy(k)) => engine.write(|c| {
            c.update(Msg::SortBy(k));
        }),
        Some(Command::Stage(draft)) => link.stage(draft),
        Some(Command::Act(p)) => link.act(p),
        Some(Command::RefreshQueue) => link.refresh.notify_one(),
        Some(Command::SwitchResponder) => app.switched_to(link.switch()),
        None => {}
    }
}

fn on_reply(engine: &Engine, app: &mut App, reply: DeskReply) {
    match reply {
        DeskReply::Queue(actions) => {
            let rows = engine.read(|core| {
                actions
                    .iter()
                    .map(|a| {
                        let display = core
                            .lookup(&a.identity)
                            .and_then(|i| core.get(i))
                            .map(|s| s.display());
                        ActionRow::from_action(a, display)
                    })
                    .collect()
            });
            app.set_queue(rows);
        }
        DeskReply::QueueError(e) => tracing::warn!("reading the action queue: {e}"),
        DeskReply::Done(kind, text) => app.set_status(kind, &text),
        DeskReply::Offers(offers) => app.set_offers(offers),
    }
}

fn draw(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    engine: &Engine,
    app: &mut App,
    theme: &Theme,
) -> io::Result<()> {
    app.set_size(terminal.size()?);
    let stats = engine.stats();
    let now = now_ms();
    let view = engine.read(|core| ViewData::build(core, &stats, app, now));
    app.sync(&view);
    // Synchronized update: the terminal shows the whole frame at once, never half of one.
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|f| views::render(f, app, &view, theme))?;
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}

/// Raw mode, alternate screen and bracketed paste, undone on drop and on panic.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

/// Whether the terminal is in our modes, so restoring is done once and only when needed (a
/// panic after the console has exited must not print escape codes).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore_terminal();
                previous(info);
            }));
        });
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = execute!(
            stdout(),
            EnterAlternateScreen,
            EnableBracketedPaste,
            cursor::Hide
        )
        .and_then(|_| Terminal::new(CrosstermBackend::new(stdout())));
        match setup {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        // Raw mode first: it has the most side effects if left on. Errors are ignored: there is
        // nothing better to do with them on the way out.
        let _ = disable_raw_mode();
        let _ = execute!(
            stdout(),
            DisableBracketedPaste,
            LeaveAlternateScreen,
            cursor::Show
        );
    }
}

/// Terminal events read on a plain thread (crossterm's reads block) and sent to the loop.
struct InputThread {
    rx: mpsc::Receiver<io::Result<Event>>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl InputThread {
    fn spawn() -> InputThread {
        let (tx, rx) = mpsc::channel(256);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("blastdoor-input".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    // Poll with a timeout so the thread notices `stop` and ends.
                    let ev = match event::poll(POLL) {
                        Ok(false) => continue,
                        Ok(true) => event::read(),
                        Err(e) => Err(e),
                    };
                    let failed = ev.is_err();
                    if tx.blocking_send(ev).is_err() || failed {
                        break;
                    }
                }
            })
            .ok();
        InputThread { rx, stop, handle }
    }
}

impl Drop for InputThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock a pending send, then wait (a few poll periods) for the thread to end. On a
        // terminal that went away crossterm's read never returns: the thread is left behind
        // (the process is about to exit) rather than waited for.
        self.rx.close();
        if let Some(h) = self.handle.take() {
            let deadline = Instant::now() + POLL * 3;
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

/// Watches the terminal's input for a hangup: after an SSH session drops, the terminal reads
/// as end-of-file or EIO forever, and crossterm's reader spins on it at 100% of a core instead
/// of returning an error. poll(2) says so directly.
struct TtyWatch {
    #[cfg(unix)]
    fd: Option<std::os::fd::RawFd>,
    /// `/dev/tty`, when stdin is not the terminal (crossterm reads it then).
    #[cfg(unix)]
    _tty: Option<std::fs::File>,
}

impl TtyWatch {
    const GONE: &'static str =
        "the console's terminal went away (the session hung up); the console stopped";

    fn open() -> TtyWatch {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: isatty only inspects the descriptor.
            if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
                return TtyWatch {
                    fd: Some(libc::STDIN_FILENO),
                    _tty: None,
                };
            }
            let tty = std::fs::File::open("/dev/tty").ok();
            TtyWatch {
                fd: tty.as_ref().map(|f| f.as_raw_fd()),
                _tty: tty,
            }
        }
        #[cfg(not(unix))]
        TtyWatch {}
    }

    /// `Err` (saying so) when the terminal has hung up or errs.
    fn check(&self) -> anyhow::Result<()> {
        #[cfg(unix)]
        if let Some(fd) = self.fd {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, a zero timeout: poll only reports the state.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n > 0 && p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                anyhow::bail!(Self::GONE);
            }
        }
        Ok(())
    }
}

/// SIGTERM, SIGHUP and SIGINT set a flag the loop polls, so the terminal is restored before we
/// exit; a second signal exits at once, in case the loop is stuck.
struct Signals {
    flag: Arc<AtomicBool>,
    /// SIGHUP: the terminal hung up, which ends the console with an error.
    hup: Arc<AtomicBool>,
    #[cfg(unix)]
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    fn register() -> io::Result<Signals> {
        let flag = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let mut ids = Vec::new();
            for sig in [SIGTERM, SIGHUP, SIGINT] {
                ids.push(signal_hook::flag::register_conditional_shutdown(
                    sig,
                    1,
                    flag.clone(),
                )?);
                ids.push(signal_hook::flag::register(sig, flag.clone())?);
            }
            ids.push(signal_hook::flag::register(SIGHUP, hup.clone())?);
            Ok(Signals { flag, hup, ids })
        }
        #[cfg(not(unix))]
        Ok(Signals { flag, hup })
    }

    fn stopped(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    fn hung_up(&self) -> bool {
        self.hup.load(Ordering::Relaxed)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        #[cfg(unix)]
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
