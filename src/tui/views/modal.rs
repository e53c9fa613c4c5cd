//! The acting overlays: the picker (the action kinds that fit the selected identity, best first,
//! each with its dry run, how it is undone, and what to configure when it cannot run here), the
//! justification input, and the confirmation that names
//! the action and its target. Keys shown here are fixed (Enter, Esc, `y`, `n`), never remapped:
//! a confirmation must read the same on every responder's screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, BorderType, Borders, Clear, HighlightSpacing, List, ListItem, ListState, Paragraph, Wrap,
};

use super::{safe_span, truncate};
use crate::tui::app::{App, Justifying};
use crate::tui::theme::Theme;

/// A centred box of at most `width`×`height` inside `area`, cleared.
fn popup(frame: &mut Frame, area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width.saturating_sub(2));
    let height = height.min(area.height.saturating_sub(2));
    let [r] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(r);
    frame.render_widget(Clear, r);
    r
}

fn modal_block<'a>(title: Line<'a>, theme: &Theme, confirm: bool) -> Block<'a> {
    let (style, title_style) = if confirm {
        (theme.style("ui.confirm"), theme.style("ui.confirm.title"))
    } else {
        (theme.style("ui.modal"), theme.style("ui.modal.title"))
    };
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style("ui.border.focused"))
        .style(style)
        .title(title.patch_style(title_style))
}

/// `enter choose  esc cancel`.
fn keys_line<'a>(keys: &[(&'a str, &'a str)], theme: &Theme) -> Line<'a> {
    let key = theme.style("ui.modal.key");
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(format!(" {k}"), key));
        spans.push(Span::raw(format!(" {what} ")));
    }
    Line::from(spans)
}

pub fn render_picker(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(subject) = app.picking() else {
        return;
    };
    let width = area.width.saturating_sub(4).min(100);
    let rows: usize = subject
        .choices
        .iter()
        .map(|c| {
            3 + usize::from(!c.params_label().is_empty()) + usize::from(!c.executable && c.ready())
        })
        .sum();
    let height = (rows as u16 + 3).min(area.height.saturating_sub(2));
    let r = popup(frame, area, width, height);
    let title = Line::from(vec![
        Span::raw(" Stage an action on "),
        safe_span(&subject.display, Default::default()),
        Span::raw(" "),
    ]);
    let block = modal_block(title, theme, false);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [list_area, keys_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    let dim = theme.style("ui.text.dim");
    let label = theme.style("detail.label");
    let text_w = list_area.width.saturating_sub(6) as usize;
    let items: Vec<ListItem> = subject
        .choices
        .iter()
        .map(|c| {
            let mut lines = vec![Line::styled(c.kind.clone(), theme.style("detail.heading"))];
            if !c.params_label().is_empty() {
                lines.push(Line::from(vec![
                    Span::styled("  params  ", label),
                    Span::raw(truncate(&c.params_label(), text_w.saturating_sub(10))),
                ]));
            }
            let dry = Line::from(vec![
                Span::styled("  dry run ", label),
                Span::raw(truncate(&c.does, text_w.saturating_sub(10))),
            ]);
            let undo = match (&c.undo, c.ready()) {
                (_, false) => Line::from(vec![
                    Span::styled("  needs   ", label),
                    Span::styled(
                        truncate(
                            &format!(
                                "{}: not known from the evidence (use the CLI)",
                                c.missing().join(", ")
                            ),
                            text_w.saturating_sub(10),
                        ),
                        theme.style("ui.warning"),
                    ),
                ]),
                (Some(u), true) => Line::from(vec![
                    Span::styled("  undo    ", label),
                    Span::raw(truncate(u, text_w.saturating_sub(10))),
                ]),
                (None, true) => Line::from(vec![
                    Span::styled("  undo    ", label),
                    Span::styled("none: this cannot be undone", theme.style("ui.warning")),
                ]),
            };
            lines.push(dry);
            lines.push(undo);
            // What cannot run here says so, and what to configure (missing params said above).
            if let (false, true, Some(why)) = (c.executable, c.ready(), &c.why_not) {
                lines.push(Line::from(vec![
                    Span::styled("  cannot  ", label),
                    Span::styled(
                        truncate(&format!("run here: {why}"), text_w.saturating_sub(10)),
                        theme.style("ui.warning"),
                    ),
                ]));
            }
            let item = ListItem::new(Text::from(lines));
            if c.executable { item } else { item.style(dim) }
        })
        .collect();
    let list = List::new(items)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always)
        .highlight_style(Modifier::BOLD | Modifier::REVERSED);
    let mut state = ListState::default().with_selected(Some(app.picker_cursor()));
    frame.render_stateful_widget(list, list_area, &mut state);
    frame.render_widget(
        Paragraph::new(keys_line(
            &[("↑↓", "choose"), ("enter", "justify it"), ("esc", "cancel")],
            theme,
        )),
        keys_area,
    );
}

pub fn render_justify(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(purpose) = &app.justifying else {
        return;
    };
    let width = area.width.saturating_sub(4).min(90);
    let r = popup(frame, area, width, 9);
    let (title, question) = match purpose {
        Justifying::Stage(d) => (
            Line::from(vec![
                Span::raw(" Stage "),
                Span::raw(d.kind.clone()),
                Span::raw(" on "),
                safe_span(&d.display, Default::default()),
                Span::raw(" "),
            ]),
            "Why? The justification goes to the approvers and the audit log.",
        ),
        Justifying::Deny(p) => (
            Line::from(vec![
                Span::raw(" Deny "),
                safe_span(&p.id, Default::default()),
                Span::raw(" "),
                safe_span(&p.kind, Default::default()),
                Span::raw(" "),
            ]),
            "Why deny it? The reason goes to the proposer and the audit log.",
        ),
    };
    let block = modal_block(title, theme, false);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [q, input, count, _, keys] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(question).wrap(Wrap { trim: true }), q);
    let mut input_box = app.reason.clone();
    let style = theme.style("ui.filter.input");
    input_box.set_style(style);
    input_box.set_cursor_line_style(style);
    input_box.set_cursor_style(style.add_modifier(Modifier::REVERSED));
    input_box.set_placeholder_text("e.g. key used from an unknown network to stop CloudTrail");
    input_box.set_placeholder_style(theme.style("ui.text.dim"));
    input_box.set_block(
        Block::new()
            .borders(Borders::ALL)
            .border_style(theme.style("ui.border.focused")),
    );
    frame.render_widget(&input_box, input);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!(
                "{}/{} characters",
                app.reason_input().chars().count(),
                crate::tui::app::MAX_REASON_CHARS
            ),
            theme.style("ui.text.dim"),
        )),
        count,
    );
    frame.render_widget(
        Paragraph::new(keys_line(&[("enter", "submit"), ("esc", "cancel")], theme)),
        keys,
    );
}

pub fn render_confirm(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(p) = app.confirming() else {
        return;
    };
    let width = area.width.saturating_sub(4).min(72);
    let bold = theme.style("ui.confirm.title");
    let mut lines = vec![
        Line::from(vec![
            Span::styled(p.verb.title(), bold),
            Span::raw(" "),
            safe_span(&p.id, Default::default()),
            Span::raw(" "),
            safe_span(&p.kind, Default::default()),
        ]),
        Line::from(vec![
            Span::raw("on "),
            safe_span(&p.target, bold),
            Span::raw("?"),
        ]),
    ];
    if let Some(reason) = &p.reason {
        lines.push(Line::from(vec![
            Span::styled("reason: ", theme.style("detail.label")),
            Span::raw(crate::core::SafeText::new(reason).to_string()),
        ]));
    }
    // As tall as the wrapped question, a blank line and the keys.
    let inner_w = usize::from(width.saturating_sub(2).max(1));
    let body_h: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let r = popup(frame, area, width, body_h as u16 + 4);
    let block = modal_block(Line::from(format!(" {}? ", p.verb.title())), theme, true);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [body, keys] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), body);
    let key = theme.style("ui.modal.key");
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" [y]", key),
            Span::raw("es  "),
            Span::styled("[n]", key),
            Span::raw("o  (only y confirms)"),
        ])),
        keys,
    );
}
