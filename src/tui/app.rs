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

use crate::core::{SafeText, SortKey};
use crate::respond::suggest::Offers;
use crate::respond::what_to_configure;
use crate::tui::keymap::{Action, Keymap};
use crate::tui::queue::{ActionRow, Pending, StageDraft, Subject, Verb, sort_rows};
use crate::tui::views::{ViewData, help};

/// The longest filter kept; more is noise and slows every match.
const MAX_FILTER_CHARS: usize = 256;
/// The longest justification kept (the audit log keeps it whole).
pub const MAX_REASON_CHARS: usize = 500;
/// Messages kept for the messages view (`m`).
pub const MAX_MESSAGES: usize = 500;
/// What the acting keys say when no desk (state, policy) is configured.
pub const NO_DESK: &str = "no state/policy configured: acting disabled (give --state and --policy)";

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
    /// The messages of the session, whole.
    Messages,
    /// Choosing an action kind for the selected identity.
    Picker,
    /// Typing a justification (for a proposal) or a reason (for a denial).
    Justify,
    /// A yes/no question naming the target; only `y` says yes.
    Confirm,
}

/// What the body of the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The ranked identities, the feed and the details.
    Identities,
    /// The shared action queue and the selected action's details.
    Approvals,
}

/// How a status message reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    /// The desk is working on it.
    Busy,
    Done,
    /// The rules said no: normal, not an error.
    Refused,
    Failed,
}

/// The one-line answer to the last thing asked of the desk.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub kind: StatusKind,
    pub text: SafeText,
}

/// What the justification input is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Justifying {
    Stage(StageDraft),
    Deny(Pending),
}

/// Whose events the feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedScope {
    All,
    /// Only the identity under the cursor.
    Selected,
}

/// What the app asks of the engine or the response desk.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SortBy(SortKey),
    /// Propose an action.
    Stage(StageDraft),
    /// Approve, deny, execute or roll back an action, as confirmed.
    Act(Pending),
    /// Read the queue from the store now.
    RefreshQueue,
    /// Act as the demo's other throwaway responder.
    SwitchResponder,
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
    /// The identity the last frame selected, and the cursor it was at: while the cursor has not
    /// moved since, the next frame puts the cursor back on that identity wherever the ranking
    /// has moved it (a re-rank must not swap the identity under a responder's hands).
    pub(crate) pinned: Option<(u32, usize)>,
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
    /// `--read-only`: the keymap has no acting keys, and acting actions are ignored.
    pub(crate) read_only: bool,
    /// Why acting is impossible (no desk), if it is.
    pub(crate) acting_disabled: Option<String>,
    pub(crate) screen: Screen,
    /// The selected identity at the last frame, with the kinds that fit it.
    pub(crate) subject: Option<Subject>,
    /// The kinds the desk's executors and agents can carry out now.
    pub(crate) offers: Offers,
    /// The picker's identity (fixed when it opened) and cursor.
    pub(crate) picking: Option<Subject>,
    pub(crate) picker_cursor: usize,
    pub(crate) justifying: Option<Justifying>,
    pub(crate) reason: TextArea<'static>,
    pub(crate) confirming: Option<Pending>,
    /// The shared queue as last read, in display order.
    pub(crate) queue: Vec<ActionRow>,
    pub(crate) queue_cursor: usize,
    pub(crate) queue_offset: usize,
    pub(crate) status: Option<Status>,
    /// Who acts here, when the console plays the demo's throwaway responders (`demo-alice`).
    pub(crate) responder: Option<SafeText>,
    /// The responder the allowed signers name for this console's key (a real one, not the
    /// demo's), shown in the header.
    pub(crate) acting_as: Option<SafeText>,
    /// Every status message of the session, with the wall-clock time it was given (UTC
    /// `HH:MM:SS`), oldest first; the oldest go past [`MAX_MESSAGES`].
    pub(crate) messages: std::collections::VecDeque<(String, Status)>,
    pub(crate) messages_scroll: usize,
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
            pinned: None,
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
            read_only: false,
            acting_disabled: None,
            screen: Screen::Identities,
            subject: None,
            offers: Offers::default(),
            picking: None,
            picker_cursor: 0,
            justifying: None,
            reason: TextArea::default(),
            confirming: None,
            queue: Vec::new(),
            queue_cursor: 0,
            queue_offset: 0,
            status: None,
            responder: None,
            acting_as: None,
            messages: Default::default(),
            messages_scroll: 0,
        }
    }

    /// `--read-only`: every acting key is unbound (so help and hints never offer it) and
    /// acting actions are ignored.
    pub fn read_only(mut self, on: bool) -> App {
        if on {
            self.keymap = self.keymap.without_dangerous();
        }
        self.read_only = on;
        self
    }

    /// Acting is impossible (no state or policy): acting keys say `why` instead.
    pub fn disable_acting(&mut self, why: impl Into<String>) {
        self.acting_disabled = Some(why.into());
    }

    /// The responder this console signs as (from its key and the allowed signers).
    pub fn set_acting_as(&mut self, who: Option<&str>) {
        self.acting_as = who.map(SafeText::new);
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
    pub fn screen(&self) -> Screen {
        self.screen
    }
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }
    pub fn set_status(&mut self, kind: StatusKind, text: &str) {
        let status = Status {
            kind,
            text: SafeText::new(text),
        };
        let repeated = self.messages.back().is_some_and(|(_, s)| *s == status);
        if !repeated {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let clock = format!(
                "{:02}:{:02}:{:02}",
                secs / 3600 % 24,
                secs / 60 % 60,
                secs % 60
            );
            if self.messages.len() == MAX_MESSAGES {
                self.messages.pop_front();
            }
            self.messages.push_back((clock, status.clone()));
        }
        self.status = Some(status);
    }

    /// The session's messages, oldest first, each with its UTC time.
    pub fn messages(&self) -> impl Iterator<Item = (&str, &Status)> {
        self.messages.iter().map(|(t, s)| (t.as_str(), s))
    }
    pub fn clear_status(&mut self) {
        self.status = None;
    }
    /// The selected identity as the last frame found it (`sync` sets it; tests may too).
    pub fn set_subject(&mut self, subject: Option<Subject>) {
        self.subject = subject;
    }
    /// The demo's throwaway responder acting here now (`None`: a real responder, or no desk).
    pub fn set_responder(&mut self, who: Option<&str>) {
        self.responder = who.map(SafeText::new);
    }
    pub fn responder(&self) -> Option<&SafeText> {
        self.responder.as_ref()
    }

    /// The console now acts as `who`, the demo's other throwaway responder: it says so.
    pub fn switched_to(&mut self, who: Option<&str>) {
        self.set_responder(who);
        if let Some(who) = who {
            self.set_status(
                StatusKind::Info,
                &format!(
                    "you are now {who} (a throwaway demo key): approve and execute what the other responder proposed (a, then A and x)"
                ),
            );
        }
    }

    /// The kinds the desk's executors and agents can carry out now.
    pub fn set_offers(&mut self, offers: Offers) {
        self.offers = offers;
    }
    pub fn offers(&self) -> &Offers {
        &self.offers
    }
    /// The text in the justification input.
    pub fn reason_input(&self) -> String {
        self.reason.lines().join(" ")
    }
    pub fn confirming(&self) -> Option<&Pending> {
        self.confirming.as_ref()
    }
    pub fn picking(&self) -> Option<&Subject> {
        self.picking.as_ref()
    }
    pub fn picker_cursor(&self) -> usize {
        self.picker_cursor
    }
    pub fn queue(&self) -> &[ActionRow] {
        &self.queue
    }
    pub fn queue_cursor(&self) -> usize {
        self.queue_cursor
    }
    /// The action under the cursor in the approvals view.
    pub fn selected_action(&self) -> Option<&ActionRow> {
        self.queue.get(self.queue_cursor)
    }

    /// A fresh read of the queue. The cursor stays on the action it was on (others' approvals
    /// arrive every second and must not move it).
    pub fn set_queue(&mut self, mut rows: Vec<ActionRow>) {
        sort_rows(&mut rows);
        let was = self.selected_action().map(|r| r.id.clone());
        self.queue = rows;
        if let Some(id) = was
            && let Some(i) = self.queue.iter().position(|r| r.id == id)
        {
            self.queue_cursor = i;
        }
        self.queue_cursor = self.queue_cursor.min(self.queue.len().saturating_sub(1));
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
        self.pinned = view.selected.map(|id| (id, view.cursor));
        self.offset = view.offset;
        self.feed_scroll = view.feed.scroll;
        self.detail_scroll = view.detail_scroll;
        self.sort = view.sort;
        self.events_seen = view.header.events_seen;
        self.page = view.page.max(1);
        self.subject = view.subject.clone();
        self.queue_offset = view.queue_offset;
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

    /// Pasted text goes into the open input (filter or justification) and nowhere else: a
    /// paste must never fire key bindings, nor answer a confirmation. Control characters are
    /// dropped from a filter; in a justification, line breaks and tabs become spaces.
    pub fn paste(&mut self, text: &str) {
        if self.mode == Mode::Justify {
            let room = MAX_REASON_CHARS.saturating_sub(self.reason_input().chars().count());
            let clean: String = text
                .chars()
                .map(|c| if c.is_whitespace() { ' ' } else { c })
                .filter(|c| !c.is_control())
                .take(room)
                .collect();
            self.reason.insert_str(clean);
            return;
        }
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
            Mode::Messages => {
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
                        let page = self.page.max(1);
                        self.messages_scroll = step(self.messages_scroll, a, page)
                            .min(self.messages.len().saturating_sub(1));
                    }
                    Some(Action::Messages | Action::Cancel) => self.mode = Mode::Normal,
                    _ if key.code == KeyCode::Esc => self.mode = Mode::Normal,
                    _ => {}
                }
                None
            }
            Mode::Picker => {
                self.picker_key(key);
                None
            }
            Mode::Justify => self.justify_key(key),
            Mode::Confirm => self.confirm_key(key),
            Mode::Normal => self
                .keymap
                .action_for(&key)
                .and_then(|a| self.handle_action(a)),
        }
    }

    fn close_modal(&mut self) {
        self.mode = Mode::Normal;
        self.picking = None;
        self.justifying = None;
        self.confirming = None;
    }

    fn picker_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let len = self.picking.as_ref().map_or(0, |s| s.choices.len());
        if key.code == KeyCode::Esc || (ctrl && key.code == KeyCode::Char('c')) {
            return self.close_modal();
        }
        match (key.code, self.keymap.action_for(&key)) {
            (KeyCode::Enter, _) => self.pick(),
            (KeyCode::Up, _) | (_, Some(Action::Up)) => {
                self.picker_cursor = self.picker_cursor.saturating_sub(1)
            }
            (KeyCode::Down, _) | (_, Some(Action::Down)) => {
                self.picker_cursor = (self.picker_cursor + 1).min(len.saturating_sub(1))
            }
            (KeyCode::Home, _) | (_, Some(Action::Top)) => self.picker_cursor = 0,
            (KeyCode::End, _) | (_, Some(Action::Bottom)) => {
                self.picker_cursor = len.saturating_sub(1)
            }
            (_, Some(Action::Cancel)) => self.close_modal(),
            _ => {}
        }
    }

    /// Enter in the picker: a kind whose params are all known goes on to its justification.
    fn pick(&mut self) {
        let Some(subject) = self.picking.clone() else {
            return self.close_modal();
        };
        let Some(choice) = subject.choices.get(self.picker_cursor) else {
            return;
        };
        if !choice.ready() {
            let text = format!(
                "{}: {}",
                choice.kind,
                choice.why_not.as_deref().unwrap_or("params are missing")
            );
            self.set_status(StatusKind::Info, &text);
            return;
        }
        self.justifying = Some(Justifying::Stage(StageDraft {
            identity: subject.key.clone(),
            display: subject.display.clone(),
            kind: choice.kind.clone(),
            params: choice.params_json(),
            reason: String::new(),
            evidence: subject.evidence.clone(),
            facts: subject.facts.clone(),
        }));
        self.picking = None;
        self.reason = TextArea::default();
        self.mode = Mode::Justify;
    }

    fn justify_key(&mut self, key: KeyEvent) -> Option<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => return self.submit_reason(),
            KeyCode::Char('m' | 'j') if ctrl => return self.submit_reason(),
            KeyCode::Esc => self.close_modal(),
            KeyCode::Char('c') if ctrl => self.close_modal(),
            KeyCode::Tab | KeyCode::BackTab => {}
            _ => {
                if self.reason_input().chars().count() < MAX_REASON_CHARS
                    || !matches!(key.code, KeyCode::Char(_))
                {
                    self.reason.input(key);
                }
            }
        }
        None
    }

    fn submit_reason(&mut self) -> Option<Command> {
        let text = self.reason_input().trim().to_string();
        if text.is_empty() {
            self.set_status(
                StatusKind::Info,
                "a justification is required: it goes into the audit log",
            );
            return None;
        }
        match self.justifying.take()? {
            Justifying::Stage(mut draft) => {
                draft.reason = text;
                self.close_modal();
                self.set_status(
                    StatusKind::Busy,
                    &format!("staging {} on {}…", draft.kind, draft.display),
                );
                Some(Command::Stage(draft))
            }
            Justifying::Deny(mut pending) => {
                pending.reason = Some(text);
                self.close_modal();
                self.confirming = Some(pending);
                self.mode = Mode::Confirm;
                None
            }
        }
    }

    /// Only `y` confirms; `n`, Esc and ctrl-c say no; anything else leaves the question open.
    fn confirm_key(&mut self, key: KeyEvent) -> Option<Command> {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('y') if plain => {
                let pending = self.confirming.take();
                self.close_modal();
                let pending = pending?;
                self.set_status(
                    StatusKind::Busy,
                    &format!("{} {} {}…", pending.verb.doing(), pending.id, pending.kind),
                );
                Some(Command::Act(pending))
            }
            KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                self.close_modal();
                self.set_status(StatusKind::Info, "cancelled");
                None
            }
            KeyCode::Char('c') if !plain => {
                self.close_modal();
                self.set_status(StatusKind::Info, "cancelled");
                None
            }
            _ => None,
        }
    }

    /// Whether an acting action may go on; if not, the status says why.
    fn may_act(&mut self) -> bool {
        if self.read_only {
            self.set_status(StatusKind::Info, "read-only: acting keys are off");
            return false;
        }
        if let Some(why) = self.acting_disabled.clone() {
            self.set_status(StatusKind::Info, &why);
            return false;
        }
        true
    }

    fn open_picker(&mut self) {
        if self.screen != Screen::Identities {
            self.set_status(
                StatusKind::Info,
                "stage from the identities view: select an identity there",
            );
            return;
        }
        let Some(subject) = self.subject.clone() else {
            self.set_status(StatusKind::Info, "no identity selected");
            return;
        };
        if subject.choices.is_empty() {
            let text = format!(
                "nothing here contains {}: no built-in kind fits it and no agent offers agent.* kinds (give --agent URL)",
                subject.display
            );
            self.set_status(StatusKind::Info, &text);
            return;
        }
        self.picking = Some(subject);
        self.picker_cursor = 0;
        self.mode = Mode::Picker;
    }

    fn ask(&mut self, verb: Verb) {
        if self.screen != Screen::Approvals {
            self.set_status(
                StatusKind::Info,
                "open the approvals view (a) and select the action first",
            );
            return;
        }
        let Some(row) = self.selected_action() else {
            self.set_status(StatusKind::Info, "the queue is empty");
            return;
        };
        // Refuse before spending: what nothing here can carry out is not even asked.
        if verb == Verb::Execute && self.offers.get(row.kind.as_str()).is_none() {
            let text = format!(
                "{} cannot run here: {}",
                row.id,
                what_to_configure(row.kind.as_str())
            );
            self.set_status(StatusKind::Refused, &text);
            return;
        }
        let pending = row.pending(verb, None);
        if verb == Verb::Deny {
            self.justifying = Some(Justifying::Deny(pending));
            self.reason = TextArea::default();
            self.mode = Mode::Justify;
        } else {
            self.confirming = Some(pending);
            self.mode = Mode::Confirm;
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
        self.pinned = None;
        self.offset = 0;
    }

    pub fn handle_action(&mut self, action: Action) -> Option<Command> {
        if action.is_dangerous() && !self.may_act() {
            return None;
        }
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
                } else if self.status.is_some() {
                    self.status = None;
                } else if self.screen == Screen::Approvals {
                    self.screen = Screen::Identities;
                } else if self.filter.is_some() {
                    self.clear_filter();
                } else {
                    self.focus = Pane::Table;
                }
            }
            Action::Messages => {
                self.mode = Mode::Messages;
                // Open at the newest page.
                let page = self.page.max(1);
                self.messages_scroll = self.messages.len().saturating_sub(page);
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
            Action::Approvals => {
                self.screen = match self.screen {
                    Screen::Identities => Screen::Approvals,
                    Screen::Approvals => Screen::Identities,
                };
                return Some(Command::RefreshQueue);
            }
            Action::Stage => self.open_picker(),
            Action::Approve => self.ask(Verb::Approve),
            Action::Deny => self.ask(Verb::Deny),
            Action::Execute => self.ask(Verb::Execute),
            Action::Rollback => self.ask(Verb::Rollback),
            Action::SwitchResponder => {
                if self.responder.is_some() {
                    return Some(Command::SwitchResponder);
                }
                self.set_status(
                    StatusKind::Info,
                    "only the demo's throwaway responders can be switched: a real responder is whoever holds the key (--key, ssh-agent)",
                );
            }
            Action::None => {}
        }
        None
    }

    fn clear_filter(&mut self) {
        self.filter = None;
        self.cursor = 0;
        self.pinned = None;
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
        self.pinned = None;
        self.offset = 0;
        Command::SortBy(key)
    }

    fn move_in_focus(&mut self, action: Action) {
        if self.screen == Screen::Approvals {
            let len = self.queue.len();
            self.queue_cursor =
                step(self.queue_cursor, action, self.page).min(len.saturating_sub(1));
            return;
        }
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
