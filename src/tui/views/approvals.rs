//! The approvals view: the shared action queue (read from the store every second, so responders
//! on one bastion see each other's approvals), and the selected action's details: why it was
//! proposed, the evidence, the dry run, whether it can be undone, and who approved it.
//!
//! Pre-authorised (playbook) actions carry a `★` and the `action.preauthorized` style; an AI
//! agent's proposal reads `agent NAME (mcp)`. Neither relies on colour.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};

use super::{ViewData, fmt_age, pane_block, safe_span, truncate};
use crate::core::workflow::ActionState;
use crate::core::{Millis, SafeText};
use crate::tui::app::App;
use crate::tui::queue::ActionRow;
use crate::tui::theme::Theme;

/// Table width from which the reason column is shown.
const REASON_WIDTH: u16 = 110;
/// The marker of a pre-authorised action.
pub const PREAUTHORIZED: &str = "★";

fn state_style(theme: &Theme, state: ActionState) -> Style {
    match state {
        ActionState::Staged | ActionState::Approved | ActionState::Executing => {
            theme.style("action.open")
        }
        ActionState::Failed => theme.style("feed.denied"),
        _ => theme.style("action.closed"),
    }
}

/// Time until `t`, or `expired`.
fn fmt_until(now: Millis, t: Millis) -> String {
    if t <= now {
        "passed".into()
    } else {
        format!("in {}", fmt_age(t, now))
    }
}

pub fn render_table(frame: &mut Frame, area: Rect, app: &App, view: &ViewData, theme: &Theme) {
    let rows_all = app.queue();
    let dim = theme.style("ui.text.dim");
    let mut title = vec![Span::raw(" Approvals ")];
    if !rows_all.is_empty() {
        let open = rows_all.iter().filter(|r| r.state.is_open()).count();
        title.push(Span::raw(format!(
            "{}/{} · {open} open ",
            app.queue_cursor() + 1,
            rows_all.len()
        )));
    }
    title.push(Span::styled(
        format!("· {PREAUTHORIZED} pre-authorised "),
        theme.style("action.preauthorized"),
    ));
    let block = pane_block(Line::from(title), true, theme);
    if rows_all.is_empty() {
        let msg = if app.acting_disabled.is_some() {
            "No shared state: give --state and --policy to see the action queue."
        } else {
            "The queue is empty. Select an identity and press the stage key to propose an action."
        };
        frame.render_widget(
            Paragraph::new(msg)
                .style(dim)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let wide = area.width >= REASON_WIDTH;
    let page = area.height.saturating_sub(3) as usize;
    let offset = view.queue_offset.min(rows_all.len().saturating_sub(1));
    let shown = &rows_all[offset..(offset + page).min(rows_all.len())];

    // At a bastion's 80 columns the age goes (the details say it) so that an agent's name
    // fits in PROPOSED BY.
    let (id_w, state_w, target_w, by_w) = if wide {
        (10, 11, 18, 24)
    } else {
        (8, 9, 10, 22)
    };
    let mut header = vec![
        Cell::new(""),
        Cell::new("ID"),
        Cell::new("STATE"),
        Cell::new("KIND"),
        Cell::new("TARGET"),
        Cell::new("PROPOSED BY"),
        Cell::new(Line::from("APPR").alignment(Alignment::Right)),
    ];
    if wide {
        header.push(Cell::new(Line::from("AGE").alignment(Alignment::Right)));
        header.push(Cell::new("REASON"));
    }
    let rows = shown.iter().map(|r| {
        let base = if r.preauthorized {
            theme.style("action.preauthorized")
        } else {
            Style::default()
        };
        let by_style = if r.agent.is_some() {
            theme.style("action.agent")
        } else {
            Style::default()
        };
        let mut cells = vec![
            Cell::new(if r.preauthorized { PREAUTHORIZED } else { " " }),
            Cell::new(short_id(&r.id, id_w)).style(theme.style("action.id")),
            Cell::new(truncate(r.state.as_str(), state_w)).style(state_style(theme, r.state)),
            Cell::new(r.kind.as_str()),
            Cell::new(truncate(&r.target, target_w)),
            Cell::new(truncate(&r.proposed_by(), by_w)).style(by_style),
            Cell::new(Line::from(r.approvals_label()).alignment(Alignment::Right)),
        ];
        if wide {
            cells.push(
                Cell::new(Line::from(fmt_age(view.now, r.created_at)).alignment(Alignment::Right))
                    .style(dim),
            );
            cells.push(Cell::new(r.reason.as_str()).style(dim));
        }
        Row::new(cells).style(base)
    });
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(id_w as u16),
        Constraint::Length(state_w as u16),
        Constraint::Fill(1),
        Constraint::Length(target_w as u16),
        Constraint::Length(by_w as u16),
        Constraint::Length(4),
    ];
    if wide {
        widths[3] = Constraint::Length(24);
        widths.push(Constraint::Length(3));
        widths.push(Constraint::Fill(1));
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.style("ui.table.header")))
        .block(block)
        .style(theme.style("ui.table"))
        .row_highlight_style(theme.style("ui.table.selected"))
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always)
        .column_spacing(1);
    let mut state = TableState::default().with_selected(app.queue_cursor().checked_sub(offset));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The selected action in full, as lines (also what a test reads).
pub fn detail_lines<'a>(r: &'a ActionRow, now: Millis, theme: &Theme) -> Vec<Line<'a>> {
    let label = theme.style("detail.label");
    let text = theme.style("detail");
    let heading = theme.style("detail.heading");
    let field = |name: &'static str, spans: Vec<Span<'a>>| {
        let mut v = vec![Span::styled(format!("{name:<10}"), label)];
        v.extend(spans);
        Line::from(v)
    };
    let bullet =
        |t: &'a SafeText| Line::from(vec![Span::styled("  - ", label), safe_span(t, text)]);
    let mut lines = Vec::new();
    let undo = if r.reversible {
        Span::styled("reversible", text)
    } else {
        Span::styled("cannot be undone", theme.style("ui.warning"))
    };
    lines.push(field(
        "kind",
        vec![
            safe_span(&r.kind, text),
            Span::styled("  state ", label),
            Span::styled(r.state.as_str(), state_style(theme, r.state)),
            Span::raw("  "),
            undo,
        ],
    ));
    lines.push(field("target", vec![Span::styled(r.target_label(), text)]));
    if r.identity.as_str() != r.target.as_str() {
        lines.push(field("identity", vec![safe_span(&r.identity, label)]));
    }
    let by_style = if r.agent.is_some() {
        theme.style("action.agent")
    } else {
        text
    };
    lines.push(field(
        "proposed",
        vec![
            Span::styled(r.proposed_by(), by_style),
            Span::styled(format!(" · {} ago", fmt_age(now, r.created_at)), label),
        ],
    ));
    let approvals = if r.preauthorized {
        vec![Span::styled(
            format!("{PREAUTHORIZED} pre-authorised by a standing playbook: no approval needed"),
            theme.style("action.preauthorized"),
        )]
    } else if r.approvals.is_empty() {
        vec![Span::styled(
            format!("none yet ({} required)", r.required),
            text,
        )]
    } else {
        let who = r
            .approvals
            .iter()
            .map(|(p, at)| format!("{p} {} ago", fmt_age(now, *at)))
            .collect::<Vec<_>>()
            .join(", ");
        vec![Span::styled(
            format!("{}/{}: {who}", r.approvals.len(), r.required),
            text,
        )]
    };
    lines.push(field("approvals", approvals));
    if r.state.is_open() {
        lines.push(field(
            "expires",
            vec![Span::styled(fmt_until(now, r.expires_at), text)],
        ));
    }
    lines.push(field("reason", vec![safe_span(&r.reason, text)]));
    if let Some(e) = &r.error {
        lines.push(field(
            "error",
            vec![safe_span(e, theme.style("feed.denied"))],
        ));
    }
    if !r.evidence.is_empty() {
        lines.push(Line::styled("Evidence", heading));
        lines.extend(r.evidence.iter().map(bullet));
    }
    lines.push(Line::styled("Dry run: changes", heading));
    if r.changes.is_empty() {
        lines.push(Line::styled("  none described", theme.style("ui.text.dim")));
    }
    lines.extend(r.changes.iter().map(bullet));
    if !r.impact.is_empty() {
        lines.push(Line::styled("Impact", heading));
        lines.extend(r.impact.iter().map(bullet));
    }
    if let Some(u) = &r.undo {
        lines.push(field("undo", vec![safe_span(u, text)]));
    }
    lines
}

pub fn render_detail(frame: &mut Frame, area: Rect, app: &App, view: &ViewData, theme: &Theme) {
    let Some(r) = app.selected_action() else {
        let block = pane_block(Line::from(" Action "), false, theme);
        frame.render_widget(
            Paragraph::new("No action selected.")
                .style(theme.style("ui.text.dim"))
                .block(block),
            area,
        );
        return;
    };
    let mut title = vec![Span::raw(" Action · "), safe_span(&r.id, Style::default())];
    if r.preauthorized {
        title.push(Span::styled(
            format!(" {PREAUTHORIZED} pre-authorised"),
            theme.style("action.preauthorized"),
        ));
    }
    title.push(Span::raw(" "));
    let block = pane_block(Line::from(title), false, theme);
    frame.render_widget(
        Paragraph::new(detail_lines(r, view.now, theme))
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

/// An action id cut to `w` characters keeping its end: ids begin with `act_` and the time they
/// were made, so actions staged in the same minute share their beginning and differ in their
/// random end. The details pane shows the whole id.
pub fn short_id(id: &str, w: usize) -> String {
    let n = id.chars().count();
    id.chars().skip(n.saturating_sub(w)).collect()
}
