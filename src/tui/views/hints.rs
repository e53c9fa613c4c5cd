//! The bottom line: the keys that matter most, read from the active keymap (so a remapped key
//! is shown as it is), or the filter input while it is open.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Mode};
use crate::tui::keymap::{Action, Keymap};
use crate::tui::theme::Theme;

/// The actions the hint bar offers, most important first (the line is cut at the right edge).
const HINTS: &[(&[Action], &str)] = &[
    (&[Action::Quit], "quit"),
    (&[Action::Up, Action::Down], "move"),
    (&[Action::NextPane], "pane"),
    (&[Action::Filter], "filter"),
    (&[Action::SortNext], "sort"),
    (&[Action::PauseFeed], "pause"),
    (&[Action::FeedScope], "scope"),
    (&[Action::Help], "help"),
];

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
        Mode::Help => {
            let spans = vec![
                Span::styled(" esc", key),
                Span::styled(" close  ", text),
                Span::styled("↑↓", key),
                Span::styled(" scroll  ", text),
                Span::styled(format!("keymap: {}", app.keymap().name()), text),
            ];
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
        }
        Mode::Normal => {
            let mut spans = Vec::new();
            for (actions, what) in HINTS {
                let Some(keys) = keys_label(app.keymap(), actions) else {
                    continue;
                };
                let what = match (*what, app.feed_paused()) {
                    ("pause", true) => "resume",
                    (w, _) => w,
                };
                spans.push(Span::styled(format!(" {keys}"), key));
                spans.push(Span::styled(format!(" {what} "), text));
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
