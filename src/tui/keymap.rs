//! Keymaps: which key does what. A keymap file is TOML with an optional `inherits = "NAME"` and a
//! `[keys]` table mapping key strings (`"q"`, `"ctrl-c"`, `"pgdn"`, `"G"`) to action names
//! (`quit`, `page_down`, `bottom`). Key strings are normalised (`"Ctrl+C"` is `ctrl-c`, `"shift-g"`
//! is `G`) so that two spellings of one key are caught as a duplicate instead of one silently
//! shadowing the other. The help overlay and the hint bar are generated from the active keymap,
//! so what the screen says is always what the keys do.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::problem::ConfigProblem;

/// The keymaps compiled into the binary: name and TOML text.
pub const BUILTIN_KEYMAPS: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

/// Everything a key can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Filter,
    ClearFilter,
    Cancel,
    Help,
    SortNext,
    SortRisk,
    SortBlast,
    SortThreat,
    PauseFeed,
    FeedScope,
    /// Show or hide the approvals view (the shared action queue).
    Approvals,
    /// Propose an action on the selected identity (opens the picker).
    Stage,
    /// Approve the selected action (asks for confirmation).
    Approve,
    /// Deny the selected action (asks for a reason, then confirmation).
    Deny,
    /// Execute the selected, approved action (asks for confirmation).
    Execute,
    /// Roll back the selected, executed action (asks for confirmation).
    Rollback,
    /// In the demo: act as the other throwaway responder (to approve what the first proposed).
    SwitchResponder,
    /// Every message of the session, whole (the status line shows only the last one).
    Messages,
    /// Bound in a derived keymap to remove a binding it inherits.
    None,
}

impl Action {
    /// In the order the help overlay lists them.
    pub const ALL: [Action; 28] = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::NextPane,
        Action::PrevPane,
        Action::Filter,
        Action::ClearFilter,
        Action::Cancel,
        Action::SortNext,
        Action::SortRisk,
        Action::SortBlast,
        Action::SortThreat,
        Action::PauseFeed,
        Action::FeedScope,
        Action::Help,
        Action::Messages,
        Action::Quit,
        Action::Approvals,
        Action::Stage,
        Action::Approve,
        Action::Deny,
        Action::Execute,
        Action::Rollback,
        Action::SwitchResponder,
        Action::None,
    ];

    /// Actions that change the world (or the shared queue): confirmed before they run, hidden
    /// and ignored under `--read-only`.
    pub fn is_dangerous(self) -> bool {
        matches!(
            self,
            Action::Stage
                | Action::Approve
                | Action::Deny
                | Action::Execute
                | Action::Rollback
                | Action::SwitchResponder
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::Filter => "filter",
            Action::ClearFilter => "clear_filter",
            Action::Cancel => "cancel",
            Action::Help => "help",
            Action::SortNext => "sort_next",
            Action::SortRisk => "sort_risk",
            Action::SortBlast => "sort_blast",
            Action::SortThreat => "sort_threat",
            Action::PauseFeed => "pause_feed",
            Action::Approvals => "approvals",
            Action::Stage => "stage",
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Execute => "execute",
            Action::Rollback => "rollback",
            Action::SwitchResponder => "switch_responder",
            Action::FeedScope => "feed_scope",
            Action::Messages => "messages",
            Action::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }

    /// What the help overlay says the action does.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Up => "move up (rows, feed or details, by focused pane)",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "go to the top",
            Action::Bottom => "go to the bottom",
            Action::NextPane => "focus the next pane",
            Action::PrevPane => "focus the previous pane",
            Action::Filter => "filter identities (Enter applies, Esc cancels)",
            Action::ClearFilter => "clear the filter",
            Action::Cancel => "close help, clear the filter, or back to the table",
            Action::Help => "show or hide this help",
            Action::SortNext => "sort by the next score (risk, blast, threat)",
            Action::SortRisk => "sort by risk",
            Action::SortBlast => "sort by blast radius",
            Action::SortThreat => "sort by threat",
            Action::PauseFeed => "pause or resume the feed",
            Action::FeedScope => "feed: all identities or the selected one",
            Action::Approvals => "show or hide the approvals view (the shared action queue)",
            Action::Stage => "propose an action on the selected identity",
            Action::Approve => "approve the selected action (signed; asks to confirm)",
            Action::Deny => "deny the selected action (asks why, then to confirm)",
            Action::Execute => "execute the selected approved action (asks to confirm)",
            Action::Rollback => "roll back the selected executed action (asks to confirm)",
            Action::SwitchResponder => {
                "demo only: act as the other throwaway responder (demo-alice, demo-bob)"
            }
            Action::Messages => "every message of this session, whole (newest last)",
            Action::None => "nothing (unbinds the key)",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key with its modifiers, normalised so that one physical key has one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    /// Only CONTROL, ALT and SHIFT; SHIFT never accompanies a character (it is in the case).
    pub mods: KeyModifiers,
}

const NAMED: &[(&str, KeyCode)] = &[
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pgup", KeyCode::PageUp),
    ("pageup", KeyCode::PageUp),
    ("page_up", KeyCode::PageUp),
    ("page-up", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("pgdown", KeyCode::PageDown),
    ("pagedown", KeyCode::PageDown),
    ("page_down", KeyCode::PageDown),
    ("page-down", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("enter", KeyCode::Enter),
    ("return", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("escape", KeyCode::Esc),
    ("space", KeyCode::Char(' ')),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("del", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("ins", KeyCode::Insert),
];

impl KeyChord {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> KeyChord {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) => {
                // The case carries shift for characters; ctrl-C and ctrl-c are one key to a
                // terminal, so ctrl letters are kept lower case.
                let shifted = mods.contains(KeyModifiers::SHIFT);
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else if shifted {
                    KeyCode::Char(c.to_ascii_uppercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        KeyChord { code, mods }
    }

    pub fn from_event(ev: &KeyEvent) -> KeyChord {
        KeyChord::new(ev.code, ev.modifiers)
    }

    /// Parse `"q"`, `"ctrl-c"`, `"Ctrl+C"`, `"alt-x"`, `"shift-up"`, `"pgdn"`, `"f5"`, `"-"`.
    pub fn parse(s: &str) -> Result<KeyChord, String> {
        if s.is_empty() {
            return Err("empty key".into());
        }
        let mut mods = KeyModifiers::empty();
        let mut rest = s;
        // Peel modifier prefixes; a lone "-" or "+" is the key itself.
        while let Some(sep) = rest
            .find(['-', '+'])
            .filter(|i| *i > 0 && *i + 1 < rest.len())
        {
            let m = match rest[..sep].to_ascii_lowercase().as_str() {
                "ctrl" | "control" | "c" => KeyModifiers::CONTROL,
                "alt" | "meta" | "option" | "m" => KeyModifiers::ALT,
                "shift" | "s" => KeyModifiers::SHIFT,
                _ => break,
            };
            mods |= m;
            rest = &rest[sep + 1..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if mods.contains(KeyModifiers::SHIFT) && !c.is_ascii_alphabetic() {
                    return Err(format!(
                        "\"shift\" with {c:?}: write the shifted character itself"
                    ));
                }
                KeyCode::Char(c)
            }
            _ => {
                let lower = rest.to_ascii_lowercase();
                if let Some((_, k)) = NAMED.iter().find(|(n, _)| *n == lower) {
                    *k
                } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    if !(1..=24).contains(&n) {
                        return Err(format!("no such function key {rest:?}"));
                    }
                    KeyCode::F(n)
                } else {
                    return Err(format!(
                        "unknown key {rest:?} (use a character or up, down, left, right, pgup, pgdn, home, end, tab, backtab, enter, esc, space, backspace, delete, insert, f1-f24)"
                    ));
                }
            }
        };
        Ok(KeyChord::new(code, mods))
    }

    /// The canonical spelling, as the help overlay shows it (`ctrl-c`, `pgdn`, `G`).
    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            s.push_str("shift-");
        }
        match self.code {
            KeyCode::Char(' ') => s.push_str("space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::Up => s.push('↑'),
            KeyCode::Down => s.push('↓'),
            KeyCode::Left => s.push('←'),
            KeyCode::Right => s.push('→'),
            KeyCode::PageUp => s.push_str("pgup"),
            KeyCode::PageDown => s.push_str("pgdn"),
            KeyCode::Home => s.push_str("home"),
            KeyCode::End => s.push_str("end"),
            KeyCode::Tab => s.push_str("tab"),
            KeyCode::BackTab => s.push_str("shift-tab"),
            KeyCode::Enter => s.push_str("enter"),
            KeyCode::Esc => s.push_str("esc"),
            KeyCode::Backspace => s.push_str("backspace"),
            KeyCode::Delete => s.push_str("delete"),
            KeyCode::Insert => s.push_str("insert"),
            KeyCode::F(n) => s.push_str(&format!("f{n}")),
            _ => s.push('?'),
        }
        s
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// A resolved keymap: each key bound to one action.
#[derive(Debug, Clone)]
pub struct Keymap {
    name: String,
    bindings: HashMap<KeyChord, Action>,
    /// Every bound key once, in the order it was first bound (stable listings).
    order: Vec<KeyChord>,
}

impl Keymap {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn action(&self, chord: &KeyChord) -> Option<Action> {
        self.bindings
            .get(chord)
            .copied()
            .filter(|a| *a != Action::None)
    }

    pub fn action_for(&self, ev: &KeyEvent) -> Option<Action> {
        self.action(&KeyChord::from_event(ev))
    }

    /// The keys bound to an action, simplest first (plain keys before chords, short before
    /// long, arrows before letters), so hints show the key most people would press.
    pub fn keys_for(&self, action: Action) -> Vec<KeyChord> {
        let mut keys: Vec<KeyChord> = self
            .order
            .iter()
            .filter(|k| self.bindings.get(k) == Some(&action))
            .copied()
            .collect();
        keys.sort_by_cached_key(|k| {
            let label = k.label();
            (
                !k.mods.is_empty(),
                label.chars().count(),
                matches!(k.code, KeyCode::Char(_)),
                label,
            )
        });
        keys
    }

    /// The same keymap with every dangerous action unbound (`--read-only`): the keys do
    /// nothing, and the help and hint bar, generated from the keymap, never offer them.
    pub fn without_dangerous(&self) -> Keymap {
        let bindings: HashMap<KeyChord, Action> = self
            .bindings
            .iter()
            .filter(|(_, a)| !a.is_dangerous())
            .map(|(k, a)| (*k, *a))
            .collect();
        let order = self
            .order
            .iter()
            .filter(|k| bindings.contains_key(k))
            .copied()
            .collect();
        Keymap {
            name: self.name.clone(),
            bindings,
            order,
        }
    }

    /// A built-in keymap without user overrides. `None` for an unknown name.
    pub fn builtin(name: &str) -> Option<Keymap> {
        let mut problems = Vec::new();
        let spec = builtin_spec(name, &mut problems, &mut Vec::new())?;
        let km = spec.resolve(name, &mut problems);
        problems.is_empty().then_some(km)
    }
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap::builtin("default").unwrap_or_else(|| Keymap {
            name: "minimal".into(),
            bindings: HashMap::from([(
                KeyChord::new(KeyCode::Char('q'), KeyModifiers::NONE),
                Action::Quit,
            )]),
            order: vec![KeyChord::new(KeyCode::Char('q'), KeyModifiers::NONE)],
        })
    }
}

fn builtin_spec(
    name: &str,
    problems: &mut Vec<ConfigProblem>,
    seen: &mut Vec<String>,
) -> Option<KeymapSpec> {
    let (_, text) = BUILTIN_KEYMAPS.iter().find(|(n, _)| *n == name)?;
    let file = format!("built-in keymaps/{name}.toml");
    let table: toml::Table = toml::from_str(text).ok()?;
    let spec = KeymapSpec::parse(&table, &file, problems);
    seen.push(name.to_string());
    match spec.inherits.clone() {
        Some(parent) if !seen.contains(&parent) => {
            Some(spec.merge_over(builtin_spec(&parent, problems, seen)?))
        }
        _ => Some(spec),
    }
}

/// One keymap file (or several merged), before checks that need the whole keymap.
#[derive(Debug, Clone, Default)]
pub struct KeymapSpec {
    pub inherits: Option<String>,
    bindings: Vec<(KeyChord, Action, Arc<str>)>,
}

impl KeymapSpec {
    /// Parse one keymap file's table; every problem names `file` and the entry.
    pub fn parse(table: &toml::Table, file: &str, problems: &mut Vec<ConfigProblem>) -> KeymapSpec {
        let file: Arc<str> = file.into();
        let mut spec = KeymapSpec::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("inherits", toml::Value::String(s)) => spec.inherits = Some(s.clone()),
                ("inherits", _) => problems.push(ConfigProblem::new(
                    &file,
                    "inherits",
                    "must be a keymap name",
                )),
                ("keys", toml::Value::Table(keys)) => {
                    let mut seen: HashMap<KeyChord, &str> = HashMap::new();
                    for (k, v) in keys {
                        let entry = format!("[keys] {k:?}");
                        let chord = match KeyChord::parse(k) {
                            Ok(c) => c,
                            Err(e) => {
                                problems.push(ConfigProblem::new(&file, entry, e));
                                continue;
                            }
                        };
                        let action = match v.as_str().map(|s| (s, Action::parse(s))) {
                            Some((_, Some(a))) => a,
                            Some((s, None)) => {
                                let names: Vec<&str> =
                                    Action::ALL.iter().map(|a| a.name()).collect();
                                let hint = crate::tui::theme::suggest(s, &names)
                                    .map(|n| format!(" (did you mean {n:?}?)"))
                                    .unwrap_or_default();
                                problems.push(ConfigProblem::new(
                                    &file,
                                    entry,
                                    format!("unknown action {s:?}{hint}"),
                                ));
                                continue;
                            }
                            None => {
                                problems.push(ConfigProblem::new(
                                    &file,
                                    entry,
                                    "must be an action name such as \"quit\"",
                                ));
                                continue;
                            }
                        };
                        if let Some(first) = seen.insert(chord, k) {
                            problems.push(ConfigProblem::new(
                                &file,
                                entry,
                                format!("duplicate key binding: {first:?} already binds {chord}"),
                            ));
                            continue;
                        }
                        spec.bindings.push((chord, action, file.clone()));
                    }
                }
                ("keys", _) => problems.push(ConfigProblem::new(&file, "keys", "must be a table")),
                _ => problems.push(ConfigProblem::new(
                    &file,
                    format!("{key:?}"),
                    "unknown key (a keymap has inherits and [keys])",
                )),
            }
        }
        spec
    }

    /// `self` over `base`: a key bound in `self` replaces the base binding of the same key,
    /// however either file spelt it.
    pub fn merge_over(self, base: KeymapSpec) -> KeymapSpec {
        let mut out = base;
        out.inherits = self.inherits.or(out.inherits);
        for (chord, action, file) in self.bindings {
            match out.bindings.iter_mut().find(|(c, _, _)| *c == chord) {
                Some(slot) => *slot = (chord, action, file),
                None => out.bindings.push((chord, action, file)),
            }
        }
        out
    }

    /// The final keymap; a keymap with no way to quit is refused.
    pub fn resolve(&self, name: &str, problems: &mut Vec<ConfigProblem>) -> Keymap {
        let mut bindings = HashMap::new();
        let mut order = Vec::new();
        for (chord, action, _) in &self.bindings {
            if bindings.insert(*chord, *action).is_none() {
                order.push(*chord);
            }
        }
        if !bindings.values().any(|a| *a == Action::Quit) {
            let file = self
                .bindings
                .last()
                .map(|(_, _, f)| f.to_string())
                .unwrap_or_else(|| format!("keymaps/{name}.toml"));
            problems.push(ConfigProblem::new(
                file,
                "[keys]",
                "no key is bound to \"quit\"",
            ));
        }
        Keymap {
            name: name.to_string(),
            bindings,
            order,
        }
    }
}
