//! What keys, pastes and other terminal events do to the console's state, without a terminal:
//! the keymap decides, pastes never fire bindings, releases are ignored.

use blastdoor::core::SortKey;
use blastdoor::tui::app::{FeedScope, Mode, Pane};
use blastdoor::tui::{Action, App, Command, KeyChord, Keymap};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

fn key(s: &str) -> Event {
    let c = KeyChord::parse(s).expect("test key");
    Event::Key(KeyEvent::new(c.code, c.mods))
}

fn app() -> App {
    App::new(Keymap::default(), false)
}

#[test]
fn q_and_ctrl_c_quit() {
    for k in ["q", "ctrl-c"] {
        let mut a = app();
        a.handle_event(&key(k));
        assert!(a.should_quit(), "{k}");
    }
}

#[test]
fn a_paste_never_fires_key_bindings() {
    let mut a = app();
    a.handle_event(&Event::Paste("q/?s".into()));
    assert!(!a.should_quit());
    assert_eq!(a.mode(), Mode::Normal);
    assert_eq!(a.filter_input(), "");
}

#[test]
fn a_paste_goes_into_the_open_filter_without_control_characters() {
    let mut a = app();
    a.handle_event(&key("/"));
    a.handle_event(&Event::Paste("ci-\x1b[31mbot\n".into()));
    assert_eq!(a.filter_input(), "ci-[31mbot");
    a.handle_event(&key("enter"));
    assert_eq!(a.filter(), Some("ci-[31mbot"));
}

#[test]
fn key_releases_and_repeats_do_nothing() {
    let mut a = app();
    for kind in [KeyEventKind::Release, KeyEventKind::Repeat] {
        let ev = KeyEvent::new_with_kind_and_state(
            KeyCode::Char('q'),
            KeyModifiers::NONE,
            kind,
            KeyEventState::NONE,
        );
        a.handle_event(&Event::Key(ev));
    }
    assert!(!a.should_quit());
}

#[test]
fn sort_keys_ask_the_engine_to_rank_by_another_score() {
    let mut a = app();
    assert_eq!(
        a.handle_event(&key("b")),
        Some(Command::SortBy(SortKey::Blast))
    );
    assert_eq!(
        a.handle_event(&key("t")),
        Some(Command::SortBy(SortKey::Threat))
    );
    assert_eq!(
        a.handle_event(&key("r")),
        Some(Command::SortBy(SortKey::Risk))
    );
    // sort_next cycles from what was last asked for, even before a frame shows it.
    assert_eq!(
        a.handle_event(&key("s")),
        Some(Command::SortBy(SortKey::Blast))
    );
    assert_eq!(
        a.handle_event(&key("s")),
        Some(Command::SortBy(SortKey::Threat))
    );
}

#[test]
fn the_vim_keymap_moves_with_j_and_k() {
    let mut a = App::new(Keymap::builtin("vim").expect("vim"), false);
    for k in ["j", "j", "j", "k"] {
        a.handle_event(&key(k));
    }
    assert_eq!(a.cursor(), 2);
    a.handle_event(&key("g"));
    assert_eq!(a.cursor(), 0);
    // The default keymap's bindings are inherited.
    a.handle_event(&key("down"));
    assert_eq!(a.cursor(), 1);
}

#[test]
fn tab_cycles_the_panes_and_up_down_follow_the_focus() {
    let mut a = app();
    assert_eq!(a.focus(), Pane::Table);
    a.handle_event(&key("tab"));
    assert_eq!(a.focus(), Pane::Feed);
    a.handle_event(&key("down"));
    assert_eq!(
        a.cursor(),
        0,
        "the table cursor stays put while the feed is focused"
    );
    assert!(
        a.feed_paused(),
        "scrolling back through the feed freezes it"
    );
    a.handle_event(&key("tab"));
    assert_eq!(a.focus(), Pane::Detail);
    a.handle_event(&key("backtab"));
    assert_eq!(a.focus(), Pane::Feed);
    a.handle_event(&key("esc"));
    assert_eq!(a.focus(), Pane::Table);
}

#[test]
fn pause_and_scope_toggle() {
    let mut a = app();
    a.handle_event(&key("p"));
    assert!(a.feed_paused());
    a.handle_event(&key("p"));
    assert!(!a.feed_paused());
    a.handle_event(&key("f"));
    assert_eq!(a.feed_scope(), FeedScope::Selected);
    a.handle_event(&key("f"));
    assert_eq!(a.feed_scope(), FeedScope::All);
}

#[test]
fn help_opens_closes_and_still_lets_you_quit() {
    let mut a = app();
    a.handle_event(&key("?"));
    assert_eq!(a.mode(), Mode::Help);
    a.handle_event(&key("s"));
    assert_eq!(
        a.mode(),
        Mode::Help,
        "other keys do nothing under the overlay"
    );
    a.handle_event(&key("?"));
    assert_eq!(a.mode(), Mode::Normal);
    a.handle_event(&key("?"));
    a.handle_event(&key("q"));
    assert!(a.should_quit());
}

#[test]
fn the_filter_input_is_one_line_and_ctrl_c_cancels_it() {
    let mut a = app();
    a.handle_event(&key("/"));
    for k in ["a", "b", "tab", "c"] {
        a.handle_event(&key(k));
    }
    assert_eq!(a.filter_input(), "abc");
    a.handle_event(&key("ctrl-c"));
    assert_eq!(a.mode(), Mode::Normal);
    assert!(
        !a.should_quit(),
        "ctrl-c in the input cancels the input, not the console"
    );
    assert_eq!(a.filter(), None);
}

#[test]
fn reopening_the_filter_starts_from_the_applied_one() {
    let mut a = app();
    a.handle_event(&key("/"));
    a.handle_event(&key("x"));
    a.handle_event(&key("enter"));
    a.handle_event(&key("/"));
    a.handle_event(&key("y"));
    a.handle_event(&key("enter"));
    assert_eq!(a.filter(), Some("xy"));
    // An empty filter clears it.
    a.handle_event(&key("/"));
    a.handle_event(&key("backspace"));
    a.handle_event(&key("backspace"));
    a.handle_event(&key("enter"));
    assert_eq!(a.filter(), None);
}

#[test]
fn key_strings_normalise_so_one_key_has_one_spelling() {
    let p = |s| KeyChord::parse(s).expect(s);
    assert_eq!(p("Ctrl+C"), p("ctrl-c"));
    assert_eq!(p("ctrl-C"), p("ctrl-c"));
    assert_eq!(p("shift-g"), p("G"));
    assert_eq!(p("PgDn"), p("pagedown"));
    assert_eq!(p("shift-tab"), p("backtab"));
    assert_eq!(
        p("-"),
        KeyChord::new(KeyCode::Char('-'), KeyModifiers::NONE)
    );
    assert_eq!(
        p("ctrl--"),
        KeyChord::new(KeyCode::Char('-'), KeyModifiers::CONTROL)
    );
    assert_eq!(p("ctrl-c").label(), "ctrl-c");
    assert!(KeyChord::parse("hyper-x").is_err());
    assert!(
        KeyChord::parse("shift-1").is_err(),
        "shift with a non-letter is ambiguous across layouts"
    );
    assert!(KeyChord::parse("f99").is_err());
}

#[test]
fn terminal_key_events_match_their_bindings() {
    let km = Keymap::builtin("vim").expect("vim");
    // A terminal reports G as 'G' with SHIFT; the binding says "G".
    let ev = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
    assert_eq!(km.action_for(&ev), Some(Action::Bottom));
    let ev = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(km.action_for(&ev), Some(Action::PrevPane));
    let ev = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL);
    assert_eq!(km.action_for(&ev), Some(Action::PageDown));
}
