//! The bottom line: the keys that matter most, read from the active keymap (so a remapped key
//! is shown as it is; under `--read-only` the acting keys are not in it), or the filter input
//! while it is open. Above it, when there is one, the status line: the desk's answer to the last
//! thing asked of it, marked in words as well as colour.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Mode, Screen};
use crate::tui::keymap::{Action, Keymap};
use crate::tui::theme::Theme;

/// The actions the hint bar offers, most important first (the line is cut at the right edge).
const HINTS: &[(&[Action], &str)] = &[
    (&[Action::Quit], "quit"),
    (&[Action::Up, Action::Down], "move"),
    (&[Action::Stage], "stage"),
    (&[Action::Approvals], "approvals"),
    (&[Action::NextPane], "pane"),
    (&[Action::Filter], "filter"),
    (&[Action::Help], "help"),
    (&[Action::SortNext], "sort"),
    (&[Action::PauseFeed], "pause"),
    (&[Action::FeedScope], "scope"),
];

/// The approvals view's hints.
const QUEUE_HINTS: &[(&[Action], &str)] = &[
    (&[Action::Quit], "quit"),
    (&[Action::Up, Action::Down], "move"),
    (&[Action::Approve], "approve"),
    (&[Action::Deny], "deny"),
    (&[Action::Execute], "execute"),
    (&[Action::Rollback], "rollback"),
    (&[Action::Approvals], "back"),
    (&[Action::Help], "help"),
];

/// The status line: `✓ approved act_…`, `✗ refused: …`.
pub fn render_status(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(status) = app.status() else {
        return;
    };
    let (mark, style) = super::help::status_mark(status.kind);
    let style = theme.style(style);
    let lead = format!(" {mark} ");
    let whole = Line::from(vec![
        Span::raw(lead.as_str()),
        Span::raw(status.text.as_str()),
    ])
    .width();
    let line = if whole <= area.width as usize {
        Line::from(vec![
            Span::styled(lead, style),
            Span::styled(status.text.as_str(), style),
        ])
    } else {
        // Never cut without saying so: the rest is in the messages view.
        let more = match app.keymap().keys_for(Action::Messages).first() {
            Some(k) => format!(" … {} more", k.label()),
            None => " …".to_string(),
        };
        let room =
            (area.width as usize).saturating_sub(lead.chars().count() + more.chars().count());
        let cut: String = status.text.as_str().chars().take(room).collect();
        Line::from(vec![
            Span::styled(lead, style),
            Span::styled(cut, style),
            Span::styled(more, theme.style("hint.key")),
        ])
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Fixed keys of an overlay, as `(key, what)`.
fn fixed(spans: &mut Vec<Span<'static>>, keys: &[(&'static str, &'static str)], theme: &Theme) {
    for (k, what) in keys {
        spans.push(Span::styled(format!(" {k}"), theme.style("hint.key")));
        spans.push(Span::styled(format!(" {what} "), theme.style("hint.text")));
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let key = theme.style("hint.key");
    let text = theme.style("hint.text");
    match app.mode {
        Mode::Filter => {
            let [label, input, help] = Layout::horizontal([
                Constraint::Length(8),
                Constraint::Fill(1),
                Constraint::Length(26),
            ])
            .areas(area);
            frame.render_widget(
                Paragraph::new(Span::styled(" Filter ", theme.style("ui.filter"))),
                label,
            );
            // The input is styled per frame from the theme; its built-in colours would ignore
            // NO_COLOR.
            let mut input_box = app.input.clone();
            let style = theme.style("ui.filter.input");
            input_box.set_style(style);
            input_box.set_cursor_line_style(style);
            input_box.set_cursor_style(style.add_modifier(Modifier::REVERSED));
            input_box.set_selection_style(style.add_modifier(Modifier::REVERSED));
            input_box.set_placeholder_text("identity, kind or provider");
            input_box.set_placeholder_style(theme.style("ui.text.dim"));
            frame.render_widget(&input_box, input);
            let spans = vec![
                Span::styled(" enter", key),
                Span::styled(" apply  ", text),
                Span::styled("esc", key),
                Span::styled(" cancel", text),
            ];
            frame.render_widget(Paragraph::new(Line::from(spans)), help);
        }
        Mode::Help | Mode::Messages => {
            let spans = vec![
                Span::styled(" esc", key),
                Span::styled(" close  ", text),
                Span::styled("↑↓", key),
                Span::styled(" scroll  ", text),
                Span::styled(format!("keymap: {}", app.keymap().name()), text),
            ];
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
        }
        Mode::Picker | Mode::Justify | Mode::Confirm => {
            let mut spans = Vec::new();
            let keys: &[(&str, &str)] = match app.mode {
                Mode::Picker => &[("↑↓", "choose"), ("enter", "justify it"), ("esc", "cancel")],
                Mode::Justify => &[("enter", "submit"), ("esc", "cancel")],
                _ => &[("y", "yes"), ("n", "no"), ("esc", "no")],
            };
            fixed(&mut spans, keys, theme);
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
        }
        Mode::Normal => {
            let mut spans = Vec::new();
            let hints = match app.screen() {
                Screen::Identities => HINTS,
                Screen::Approvals => QUEUE_HINTS,
            };
            // Playing the demo's responders: who acts now, and how to become the other one.
            let demo: &[(&[Action], &str)] = if app.responder().is_some() {
                &[(&[Action::SwitchResponder], "other responder")]
            } else {
                &[]
            };
            // Whole hints only: one that does not fit is left out (`?` lists every key), never
            // cut in the middle ("p pa").
            let mut room = area.width as usize;
            for (actions, what) in demo.iter().chain(hints) {
                let Some(keys) = keys_label(app.keymap(), actions) else {
                    continue;
                };
                let what = match (*what, app.feed_paused()) {
                    ("pause", true) => "resume",
                    (w, _) => w,
                };
                let k = format!(" {keys}");
                let w = format!(" {what} ");
                let width = Line::from(vec![Span::raw(&k), Span::raw(&w)]).width();
                if width > room {
                    continue;
                }
                room -= width;
                spans.push(Span::styled(k, key));
                spans.push(Span::styled(w, text));
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
        }
    }
}

/// The first key of each action, joined: `↑↓` for up and down. `None` if any is unbound.
fn keys_label(keymap: &Keymap, actions: &[Action]) -> Option<String> {
    let mut out = String::new();
    for a in actions {
        out.push_str(&keymap.keys_for(*a).first()?.label());
    }
    Some(out)
}
