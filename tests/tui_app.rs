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
    // sort_next (o; s stages) cycles from what was last asked for, even before a frame shows it.
    assert_eq!(
        a.handle_event(&key("o")),
        Some(Command::SortBy(SortKey::Blast))
    );
    assert_eq!(
        a.handle_event(&key("o")),
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

// ---- acting: stage, approve, deny, execute, roll back ----

use blastdoor::core::SafeText;
use blastdoor::core::workflow::ActionState;
use blastdoor::tui::app::{Screen, StatusKind};
use blastdoor::tui::queue::{ActionRow, KindChoice, Subject, Verb};

fn subject() -> Subject {
    Subject {
        key: "aws:arn:aws:iam::123456789012:user/ci-bot".into(),
        display: SafeText::new("ci-bot"),
        facts: Default::default(),
        evidence: vec!["threat: StopLogging".into()],
        choices: vec![
            KindChoice {
                kind: "aws.disable_access_key".into(),
                params: vec![
                    ("user".into(), Some("ci-bot".into())),
                    ("access_key_id".into(), Some("AKIAEXAMPLE".into())),
                ],
                why: "access key AKIAEXAMPLE is active".into(),
                does: "set the access key to Inactive".into(),
                undo: Some("re-activate the access key".into()),
                executable: true,
                why_not: None,
                by: Some("aws".into()),
                scope: 1,
            },
            KindChoice {
                kind: "k8s.quarantine_pod".into(),
                params: vec![
                    ("namespace".into(), Some("ci".into())),
                    ("pod".into(), None),
                ],
                why: "its token".into(),
                does: "quarantine".into(),
                undo: None,
                executable: false,
                why_not: Some("needs --param pod (not in the evidence)".into()),
                by: None,
                scope: 2,
            },
        ],
    }
}

fn row(id: &str, state: ActionState) -> ActionRow {
    let s = SafeText::new;
    ActionRow {
        id: s(id),
        state,
        kind: s("aws.disable_access_key"),
        identity: s("aws:arn:aws:iam::123456789012:user/ci-bot"),
        target: s("ci-bot"),
        params: s("user=ci-bot, access_key_id=AKIAEXAMPLE"),
        principal: s("alice"),
        via: blastdoor::core::workflow::Via::Tui,
        agent: None,
        approvals: vec![],
        required: 1,
        created_at: 0,
        expires_at: 1,
        reason: s("stopped CloudTrail"),
        evidence: vec![],
        changes: vec![],
        impact: vec![],
        undo: None,
        reversible: true,
        preauthorized: false,
        error: None,
    }
}

/// An app with a selected identity and a queue of two, on the approvals view.
fn acting_app(read_only: bool) -> App {
    use blastdoor::respond::suggest::{Offer, Offers};
    let mut a = App::new(Keymap::default(), false).read_only(read_only);
    a.set_offers(Offers(vec![Offer {
        kind: "aws.disable_access_key".into(),
        by: "aws".into(),
        described: None,
    }]));
    a.set_subject(Some(subject()));
    a.set_queue(vec![
        row("act_0001", ActionState::Staged),
        row("act_0002", ActionState::Done),
    ]);
    a
}

#[test]
fn read_only_unbinds_hides_and_ignores_every_acting_key() {
    let mut a = acting_app(true);
    assert!(a.is_read_only());
    for act in [
        Action::Stage,
        Action::Approve,
        Action::Deny,
        Action::Execute,
        Action::Rollback,
    ] {
        assert!(act.is_dangerous());
        assert!(a.keymap().keys_for(act).is_empty(), "{act} still bound");
    }
    let help = blastdoor::tui::views::help::lines(a.keymap());
    assert!(
        help.iter()
            .all(|(_, what)| !what.contains("approve") && !what.contains("propose")),
        "{help:?}"
    );
    // Looking is still allowed.
    assert_eq!(a.handle_event(&key("a")), Some(Command::RefreshQueue));
    assert_eq!(a.screen(), Screen::Approvals);
    for k in ["s", "A", "d", "x", "u"] {
        assert_eq!(a.handle_event(&key(k)), None, "{k}");
        assert_eq!(a.mode(), Mode::Normal, "{k}");
    }
    // Even an action that reaches the app some other way is ignored.
    for act in [Action::Stage, Action::Approve, Action::Execute] {
        assert_eq!(a.handle_action(act), None);
        assert_eq!(a.mode(), Mode::Normal);
    }
    assert!(a.confirming().is_none());
}

#[test]
fn staging_goes_from_picker_to_justification_to_a_proposal() {
    let mut a = acting_app(false);
    a.handle_event(&key("s"));
    assert_eq!(a.mode(), Mode::Picker);
    a.handle_event(&key("enter"));
    assert_eq!(a.mode(), Mode::Justify);
    // An empty justification is not sent.
    assert_eq!(a.handle_event(&key("enter")), None);
    assert_eq!(a.mode(), Mode::Justify);
    for c in "key used from tor".chars() {
        a.handle_event(&key(&c.to_string()));
    }
    match a.handle_event(&key("enter")) {
        Some(Command::Stage(d)) => {
            assert_eq!(d.kind, "aws.disable_access_key");
            assert_eq!(d.reason, "key used from tor");
            assert_eq!(d.params["access_key_id"], "AKIAEXAMPLE");
            assert_eq!(d.identity, "aws:arn:aws:iam::123456789012:user/ci-bot");
            assert_eq!(d.evidence, vec!["threat: StopLogging".to_string()]);
        }
        other => panic!("no proposal: {other:?}"),
    }
    assert_eq!(a.mode(), Mode::Normal);
    assert_eq!(a.status().map(|s| s.kind), Some(StatusKind::Busy));
}

#[test]
fn a_kind_whose_params_the_evidence_lacks_cannot_be_picked() {
    let mut a = acting_app(false);
    a.handle_event(&key("s"));
    a.handle_event(&key("down"));
    a.handle_event(&key("enter"));
    assert_eq!(a.mode(), Mode::Picker);
    let status = a.status().expect("a status says why").text.to_string();
    assert!(status.contains("needs --param pod"), "{status}");
}

#[test]
fn executing_what_nothing_here_can_carry_out_is_refused_before_the_question() {
    let mut a = acting_app(false);
    a.set_offers(Default::default());
    a.handle_event(&key("a"));
    assert_eq!(a.handle_event(&key("x")), None);
    assert_eq!(a.mode(), Mode::Normal, "no confirmation is asked");
    let st = a.status().expect("it says why");
    assert_eq!(st.kind, StatusKind::Refused);
    assert!(
        st.text.contains("act_0001") && st.text.contains("[providers.aws]"),
        "{}",
        st.text
    );
    // Approving and rolling back still ask: only executing needs an executor here.
    a.handle_event(&key("A"));
    assert_eq!(a.mode(), Mode::Confirm);
}

#[test]
fn a_paste_into_the_justification_never_triggers_keys() {
    let mut a = acting_app(false);
    a.handle_event(&key("s"));
    a.handle_event(&key("enter"));
    // Newlines would be Enter and "q" would quit, were they keys.
    assert_eq!(
        a.handle_event(&Event::Paste("q\ny\x1b[A\r\nstolen key".into())),
        None
    );
    assert_eq!(a.mode(), Mode::Justify);
    assert!(!a.should_quit());
    assert_eq!(a.reason_input(), "q y[A  stolen key");
}

#[test]
fn a_paste_outside_an_input_does_nothing_even_in_a_confirmation() {
    let mut a = acting_app(false);
    a.handle_event(&key("a"));
    a.handle_event(&key("A"));
    assert_eq!(a.mode(), Mode::Confirm);
    assert_eq!(a.handle_event(&Event::Paste("y".into())), None);
    assert_eq!(a.mode(), Mode::Confirm, "a pasted y is not a yes");
}

#[test]
fn only_y_confirms() {
    for verb_key in ["A", "x", "u"] {
        let mut a = acting_app(false);
        a.handle_event(&key("a"));
        a.handle_event(&key(verb_key));
        assert_eq!(a.mode(), Mode::Confirm, "{verb_key}");
        for k in [
            "enter", "space", "Y", "ctrl-y", "alt-y", "A", "x", "tab", "1",
        ] {
            assert_eq!(a.handle_event(&key(k)), None, "{k} confirmed {verb_key}");
            assert_eq!(a.mode(), Mode::Confirm, "{k} closed the question");
        }
        let p = a.confirming().expect("asking").clone();
        assert_eq!(p.id.as_str(), "act_0001");
        assert!(p.target.contains("ci-bot"), "names the target");
        assert_eq!(a.handle_event(&key("y")), Some(Command::Act(p)));
        assert_eq!(a.mode(), Mode::Normal);
    }
}

#[test]
fn n_and_esc_say_no() {
    for no in ["n", "esc", "ctrl-c"] {
        let mut a = acting_app(false);
        a.handle_event(&key("a"));
        a.handle_event(&key("x"));
        assert_eq!(a.handle_event(&key(no)), None);
        assert_eq!(a.mode(), Mode::Normal, "{no}");
        assert!(!a.should_quit(), "{no} in a confirmation does not quit");
        assert_eq!(a.handle_event(&key("y")), None, "the question is gone");
    }
}

#[test]
fn deny_asks_why_then_confirms() {
    let mut a = acting_app(false);
    a.handle_event(&key("a"));
    a.handle_event(&key("down"));
    a.handle_event(&key("d"));
    assert_eq!(a.mode(), Mode::Justify);
    a.handle_event(&Event::Paste("a false positive".into()));
    assert_eq!(a.handle_event(&key("enter")), None);
    assert_eq!(a.mode(), Mode::Confirm);
    let p = a.confirming().expect("asking").clone();
    assert_eq!(p.verb, Verb::Deny);
    assert_eq!(p.id.as_str(), "act_0002");
    assert_eq!(p.reason.as_deref(), Some("a false positive"));
    assert_eq!(a.handle_event(&key("y")), Some(Command::Act(p)));
}

#[test]
fn without_a_desk_acting_keys_say_why_instead_of_acting() {
    let mut a = acting_app(false);
    a.disable_acting("acting disabled: no state/policy configured");
    for k in ["s", "A", "x"] {
        assert_eq!(a.handle_event(&key(k)), None);
        assert_eq!(a.mode(), Mode::Normal);
        let s = a.status().expect("status").text.to_string();
        assert!(s.contains("no state/policy configured"), "{s}");
    }
}

#[test]
fn the_queue_cursor_stays_on_its_action_when_the_queue_refreshes() {
    let mut a = acting_app(false);
    a.handle_event(&key("a"));
    a.handle_event(&key("down"));
    assert_eq!(
        a.selected_action().map(|r| r.id.to_string()),
        Some("act_0002".into())
    );
    // Another responder stages a new action: it sorts first, the cursor follows act_0002.
    let mut newer = row("act_0003", ActionState::Staged);
    newer.created_at = 10;
    a.set_queue(vec![
        row("act_0001", ActionState::Staged),
        row("act_0002", ActionState::Done),
        newer,
    ]);
    assert_eq!(
        a.selected_action().map(|r| r.id.to_string()),
        Some("act_0002".into())
    );
    assert_eq!(a.queue()[0].id.as_str(), "act_0003");
}

#[test]
fn the_built_in_keymaps_bind_the_acting_keys_without_duplicates() {
    for name in ["default", "vim"] {
        let km = Keymap::builtin(name).expect("built-in keymap resolves without problems");
        let one = |a: Action| km.keys_for(a).first().map(|k| k.label());
        assert_eq!(one(Action::Stage).as_deref(), Some("s"), "{name}");
        assert_eq!(one(Action::Approvals).as_deref(), Some("a"), "{name}");
        assert_eq!(one(Action::Approve).as_deref(), Some("A"), "{name}");
        assert_eq!(one(Action::Deny).as_deref(), Some("d"), "{name}");
        assert_eq!(one(Action::Execute).as_deref(), Some("x"), "{name}");
        assert_eq!(one(Action::Rollback).as_deref(), Some("u"), "{name}");
        assert_eq!(one(Action::SortNext).as_deref(), Some("o"), "{name}");
    }
    // The file itself: a key spelt twice would be a problem named here.
    let text = include_str!("../keymaps/default.toml");
    let table: toml::Table = toml::from_str(text).expect("toml");
    let mut problems = Vec::new();
    let _ =
        blastdoor::tui::keymap::KeymapSpec::parse(&table, "keymaps/default.toml", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
}
