//! The `?` overlay: every bound action and its keys, generated from the active keymap so that
//! the help can never disagree with what the keys do.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::tui::app::{App, StatusKind};
use crate::tui::keymap::{Action, Keymap};
use crate::tui::theme::Theme;

/// `(keys, what they do)` for each bound action, then the fixed keys of the filter input.
pub fn lines(keymap: &Keymap) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Action::ALL
        .iter()
        .filter(|a| **a != Action::None)
        .filter_map(|a| {
            let keys = keymap.keys_for(*a);
            (!keys.is_empty()).then(|| {
                (
                    keys.iter()
                        .map(|k| k.label())
                        .collect::<Vec<_>>()
                        .join(", "),
                    a.describe(),
                )
            })
        })
        .collect();
    out.push(("enter".into(), "in the filter input: apply the filter"));
    out.push((
        "esc".into(),
        "in an input or a question: cancel; in this help: close",
    ));
    // Under --read-only no acting key is bound, and nothing is ever asked.
    let acting = [
        Action::Stage,
        Action::Approve,
        Action::Deny,
        Action::Execute,
        Action::Rollback,
    ];
    if acting.iter().any(|a| !keymap.keys_for(*a).is_empty()) {
        out.push((
            "y".into(),
            "in a confirmation: yes (only y confirms; n or esc says no)",
        ));
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let entries = lines(app.keymap());
    let key_width = entries
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4)
        .min(24);
    let width = area.width.saturating_sub(4).min(76);
    let height = area.height.saturating_sub(2).min(entries.len() as u16 + 2);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);

    let key = theme.style("ui.help.key");
    let body: Vec<Line> = entries
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:>key_width$}  "), key),
                Span::raw(*what),
            ])
        })
        .collect();
    let title = Line::from(vec![
        Span::raw(" Help · keymap "),
        Span::raw(app.keymap().name().to_string()),
        Span::raw(" "),
    ])
    .style(theme.style("ui.help.title"));
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style("ui.border.focused"))
        .title(title);
    let scroll = u16::try_from(app.help_scroll).unwrap_or(u16::MAX);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(body)
            .style(theme.style("ui.help"))
            .block(block)
            .scroll((scroll, 0)),
        popup,
    );
}

/// The mark a status message carries in words (so it reads without colour) and its style.
pub fn status_mark(kind: StatusKind) -> (&'static str, &'static str) {
    match kind {
        StatusKind::Info => ("·", "status.info"),
        StatusKind::Busy => ("…", "status.busy"),
        StatusKind::Done => ("✓", "status.done"),
        StatusKind::Refused => ("✗ refused:", "status.refused"),
        StatusKind::Failed => ("✗ failed:", "status.failed"),
    }
}

/// The `m` overlay: every message of the session, whole and wrapped, oldest first.
pub fn render_messages(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let width = area.width.saturating_sub(2);
    let height = area.height.saturating_sub(2);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    let dim = theme.style("ui.text.dim");
    let mut body: Vec<Line> = app
        .messages()
        .skip(app.messages_scroll)
        .map(|(at, s)| {
            let (mark, style) = status_mark(s.kind);
            let style = theme.style(style);
            Line::from(vec![
                Span::styled(format!("{at} "), dim),
                Span::styled(format!("{mark} "), style),
                Span::styled(s.text.as_str(), style),
            ])
        })
        .collect();
    if body.is_empty() {
        body.push(Line::styled("No messages yet.", dim));
    }
    let n = app.messages().count();
    let title = Line::from(format!(" Messages · {n} (UTC) ")).style(theme.style("ui.help.title"));
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style("ui.border.focused"))
        .title(title);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(body)
            .style(theme.style("ui.help"))
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
}
