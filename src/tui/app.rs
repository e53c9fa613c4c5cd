//! The console's state and what input does to it. Pure: no terminal, no engine, no clock, so
//! the whole interaction can be driven and checked in tests. Keys become `Action`s through the
//! active keymap; an action changes the state and may ask the engine for something (`Command`).
//!
//! Positions (cursor, scroll offsets) may be pushed past the end here; `ViewData::build` clamps
//! them against the data and `App::sync` keeps the clamped values, so the state never needs a
//! lock on the core to stay consistent.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Size;
use ratatui_textarea::{CursorMove, TextArea};

use crate::core::SortKey;
use crate::tui::keymap::{Action, Keymap};
use crate::tui::views::{ViewData, help};

/// The longest filter kept; more is noise and slows every match.
const MAX_FILTER_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Table,
    Feed,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The `/` filter input is open and receives the keys.
    Filter,
    /// The help overlay is shown.
    Help,
}

/// Whose events the feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedScope {
    All,
    /// Only the identity under the cursor.
    Selected,
}

/// What the app asks of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    SortBy(SortKey),
}

/// The console's state.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) keymap: Keymap,
    pub(crate) demo_by_default: bool,
    pub(crate) size: Size,
    pub(crate) focus: Pane,
    /// The pane the compact layout shows under the table (feed or details).
    pub(crate) lower: Pane,
    pub(crate) mode: Mode,
    /// Selected row, 0-based within the (filtered) ranking.
    pub(crate) cursor: usize,
    /// First row shown.
    pub(crate) offset: usize,
    pub(crate) filter: Option<String>,
    pub(crate) input: TextArea<'static>,
    /// The feed is frozen at this event sequence number.
    pub(crate) paused_at: Option<u64>,
    pub(crate) scope: FeedScope,
    pub(crate) feed_scroll: usize,
    pub(crate) detail_scroll: usize,
    pub(crate) help_scroll: usize,
    pub(crate) quit: bool,
    /// The sort key the core ranks by, as last seen (or just asked for).
    pub(crate) sort: SortKey,
    /// Events seen by the core at the last frame: where a pause freezes the feed.
    events_seen: u64,
    /// Table rows on screen at the last frame: a page.
    page: usize,
}

impl App {
    pub fn new(keymap: Keymap, demo_by_default: bool) -> App {
        App {
            keymap,
            demo_by_default,
            size: Size::new(80, 24),
            focus: Pane::Table,
            lower: Pane::Feed,
            mode: Mode::Normal,
            cursor: 0,
            offset: 0,
            filter: None,
            input: TextArea::default(),
            paused_at: None,
            scope: FeedScope::All,
            feed_scroll: 0,
            detail_scroll: 0,
            help_scroll: 0,
            quit: false,
            sort: SortKey::Risk,
            events_seen: 0,
            page: 1,
        }
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }
    pub fn should_quit(&self) -> bool {
        self.quit
    }
    pub fn mode(&self) -> Mode {
        self.mode
    }
    pub fn focus(&self) -> Pane {
        self.focus
    }
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }
    pub fn cursor(&self) -> usize {
        self.cursor
    }
    pub fn feed_paused(&self) -> bool {
        self.paused_at.is_some()
    }
    pub fn feed_scope(&self) -> FeedScope {
        self.scope
    }
    /// The text in the filter input (open or not).
    pub fn filter_input(&self) -> String {
        self.input.lines().join("")
    }

    /// The terminal size the next frame is laid out for.
    pub fn set_size(&mut self, size: Size) {
        self.size = size;
    }

    /// Adopt what a frame was built with: clamped positions, the sort key, the event count.
    pub fn sync(&mut self, view: &ViewData) {
        self.cursor = view.cursor;
        self.offset = view.offset;
        self.feed_scroll = view.feed.scroll;
        self.detail_scroll = view.detail_scroll;
        self.sort = view.sort;
        self.events_seen = view.header.events_seen;
        self.page = view.page.max(1);
    }

    /// Terminal input: key presses (not releases or repeats), pastes and resizes.
    pub fn handle_event(&mut self, ev: &Event) -> Option<Command> {
        match ev {
            Event::Key(k) if k.kind == KeyEventKind::Press => self.handle_key(*k),
            Event::Paste(text) => {
                self.paste(text);
                None
            }
            Event::Resize(w, h) => {
                self.size = Size::new(*w, *h);
                None
            }
            _ => None,
        }
    }

    /// Pasted text goes into the filter input when it is open and nowhere else: a paste must
    /// never fire key bindings. Control characters (newlines included) are dropped.
    pub fn paste(&mut self, text: &str) {
        if self.mode != Mode::Filter {
            return;
        }
        let room = MAX_FILTER_CHARS.saturating_sub(self.filter_input().chars().count());
        let clean: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(room)
            .collect();
        self.input.insert_str(clean);
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Command> {
        match self.mode {
            Mode::Filter => {
                self.filter_key(key);
                None
            }
            Mode::Help => {
                match self.keymap.action_for(&key) {
                    Some(Action::Quit) => self.quit = true,
                    Some(
                        a @ (Action::Up
                        | Action::Down
                        | Action::PageUp
                        | Action::PageDown
                        | Action::Top
                        | Action::Bottom),
                    ) => {
                        let len = help::lines(&self.keymap).len();
                        let page = self.page.max(1);
                        self.help_scroll =
                            step(self.help_scroll, a, page).min(len.saturating_sub(1));
                    }
                    // Esc always closes an overlay, whatever the keymap says.
                    Some(Action::Help | Action::Cancel) => self.mode = Mode::Normal,
                    _ if key.code == KeyCode::Esc => self.mode = Mode::Normal,
                    _ => {}
                }
                None
            }
            Mode::Normal => self
                .keymap
                .action_for(&key)
                .and_then(|a| self.handle_action(a)),
        }
    }

    fn filter_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            // ctrl-m and ctrl-j are Enter to a terminal; the input is one line.
            KeyCode::Enter => self.apply_filter(),
            KeyCode::Char('m' | 'j') if ctrl => self.apply_filter(),
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Char('c') if ctrl => self.mode = Mode::Normal,
            KeyCode::Tab | KeyCode::BackTab => {}
            _ => {
                if self.filter_input().chars().count() < MAX_FILTER_CHARS
                    || !matches!(key.code, KeyCode::Char(_))
                {
                    self.input.input(key);
                }
            }
        }
    }

    fn apply_filter(&mut self) {
        let text = self.filter_input();
        let text = text.trim();
        self.filter = (!text.is_empty()).then(|| text.to_string());
        self.mode = Mode::Normal;
        self.cursor = 0;
        self.offset = 0;
    }

    pub fn handle_action(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Quit => self.quit = true,
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.move_in_focus(action),
            Action::NextPane => self.set_focus(match self.focus {
                Pane::Table => Pane::Feed,
                Pane::Feed => Pane::Detail,
                Pane::Detail => Pane::Table,
            }),
            Action::PrevPane => self.set_focus(match self.focus {
                Pane::Table => Pane::Detail,
                Pane::Feed => Pane::Table,
                Pane::Detail => Pane::Feed,
            }),
            Action::Filter => {
                let mut input = TextArea::new(vec![self.filter.clone().unwrap_or_default()]);
                input.move_cursor(CursorMove::End);
                self.input = input;
                self.mode = Mode::Filter;
            }
            Action::ClearFilter => self.clear_filter(),
            Action::Cancel => {
                if self.mode == Mode::Help {
                    self.mode = Mode::Normal;
                } else if self.filter.is_some() {
                    self.clear_filter();
                } else {
                    self.focus = Pane::Table;
                }
            }
            Action::Help => {
                self.mode = if self.mode == Mode::Help {
                    Mode::Normal
                } else {
                    Mode::Help
                };
                self.help_scroll = 0;
            }
            Action::SortNext => return Some(self.sort_by(self.sort.next())),
            Action::SortRisk => return Some(self.sort_by(SortKey::Risk)),
            Action::SortBlast => return Some(self.sort_by(SortKey::Blast)),
            Action::SortThreat => return Some(self.sort_by(SortKey::Threat)),
            Action::PauseFeed => {
                self.paused_at = match self.paused_at {
                    Some(_) => {
                        self.feed_scroll = 0;
                        None
                    }
                    None => Some(self.events_seen),
                }
            }
            Action::FeedScope => {
                self.scope = match self.scope {
                    FeedScope::All => FeedScope::Selected,
                    FeedScope::Selected => FeedScope::All,
                };
                self.feed_scroll = 0;
            }
            Action::None => {}
        }
        None
    }

    fn clear_filter(&mut self) {
        self.filter = None;
        self.cursor = 0;
        self.offset = 0;
    }

    fn set_focus(&mut self, pane: Pane) {
        self.focus = pane;
        if pane != Pane::Table {
            self.lower = pane;
        }
    }

    fn sort_by(&mut self, key: SortKey) -> Command {
        self.sort = key;
        // A new order makes the old position meaningless: show the new top.
        self.cursor = 0;
        self.offset = 0;
        Command::SortBy(key)
    }

    fn move_in_focus(&mut self, action: Action) {
        match self.focus {
            Pane::Table => {
                self.cursor = step(self.cursor, action, self.page);
                self.detail_scroll = 0;
            }
            Pane::Feed => {
                self.feed_scroll = step(self.feed_scroll, action, self.page);
                // Reading back through a live feed is hopeless if it keeps moving: freeze it.
                if self.feed_scroll > 0 && self.paused_at.is_none() {
                    self.paused_at = Some(self.events_seen);
                }
            }
            Pane::Detail => self.detail_scroll = step(self.detail_scroll, action, self.page),
        }
    }
}

/// Move a position; `Bottom` goes past the end and is clamped by the next frame.
fn step(pos: usize, action: Action, page: usize) -> usize {
    match action {
        Action::Up => pos.saturating_sub(1),
        Action::Down => pos.saturating_add(1),
        Action::PageUp => pos.saturating_sub(page),
        Action::PageDown => pos.saturating_add(page),
        Action::Top => 0,
        Action::Bottom => usize::MAX / 2,
        _ => pos,
    }
}
