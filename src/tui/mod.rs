//! The console: a terminal face on the engine. `run` owns the terminal and the loop; `app` is
//! the state and what keys do to it; `views` draws a frame from a snapshot; `keymap` and `theme`
//! come from TOML files (see `crate::config`).
//!
//! The loop redraws only when something changed (the engine's version, input, or the clock's
//! second), at most ~30 times a second, and builds each frame's data in one short read of the
//! core. The terminal is restored on every way out: quit, error (the guard's `Drop`), panic (a
//! hook) and SIGTERM/SIGHUP/SIGINT (a flag the loop polls; a second signal exits at once).

pub mod app;
pub mod keymap;
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
use crate::engine::{Engine, now_ms};

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

/// How the console looks and behaves. Build it with `TuiOptions::from_config` (which refuses
/// bad themes and keymaps before the terminal is touched) or by hand.
#[derive(Debug, Clone, Default)]
pub struct TuiOptions {
    pub theme: Theme,
    pub keymap: Keymap,
    /// The engine runs the demo fleet because nothing else was configured: the header says so.
    pub demo_by_default: bool,
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
            theme,
            keymap,
            demo_by_default,
        })
    }
}

/// Run the console until the user quits or a signal asks us to stop.
pub async fn run(engine: Engine, opts: TuiOptions) -> anyhow::Result<()> {
    // Signals first: once raw mode is on, a default SIGTERM would leave the terminal broken.
    let signals = Signals::register()?;
    let mut terminal = TerminalGuard::enter()?;
    let mut input = InputThread::spawn();
    let result = event_loop(
        &engine,
        opts,
        &mut terminal.terminal,
        &mut input.rx,
        &signals,
    )
    .await;
    drop(input);
    drop(terminal);
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
) -> anyhow::Result<()> {
    let TuiOptions {
        theme,
        keymap,
        demo_by_default,
    } = opts;
    let mut app = App::new(keymap, demo_by_default);
    let mut changed = engine.changed();
    let mut engine_alive = true;
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if app.should_quit() || signals.stopped() {
            return Ok(());
        }
        let due = last_draw.map_or_else(Instant::now, |t| t + FRAME);
        if dirty && Instant::now() >= due {
            draw(terminal, engine, &mut app, &theme)?;
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
                    handle(engine, &mut app, &ev);
                    // Take whatever else is already queued (a held key) before drawing.
                    while let Ok(Ok(ev)) = input.try_recv() {
                        handle(engine, &mut app, &ev);
                    }
                    dirty = true;
                }
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading terminal input")),
                None => anyhow::bail!("terminal input stopped"),
            },
            r = changed.changed(), if engine_alive => {
                // A closed channel means the engine is gone: keep showing the last state.
                engine_alive = r.is_ok();
                dirty = true;
            }
            _ = poll.tick() => {
                if last_draw.is_none_or(|t| t.elapsed() >= IDLE_REDRAW) {
                    dirty = true;
                }
            }
            _ = frame_wait => {}
        }
    }
}

fn handle(engine: &Engine, app: &mut App, ev: &Event) {
    if let Some(Command::SortBy(k)) = app.handle_event(ev) {
        engine.write(|c| {
            c.update(Msg::SortBy(k));
        });
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
        // Unblock a pending send, then wait (at most one poll period) for the thread to end.
        self.rx.close();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// SIGTERM, SIGHUP and SIGINT set a flag the loop polls, so the terminal is restored before we
/// exit; a second signal exits at once, in case the loop is stuck.
struct Signals {
    flag: Arc<AtomicBool>,
    #[cfg(unix)]
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    fn register() -> io::Result<Signals> {
        let flag = Arc::new(AtomicBool::new(false));
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
            Ok(Signals { flag, ids })
        }
        #[cfg(not(unix))]
        Ok(Signals { flag })
    }

    fn stopped(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
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
