//! The ranked identities table. Rows are built for the visible window only (the core hands out
//! just those), so a million identities cost what twenty do. The selected row is reversed and
//! bold and carries a `▶` marker, and the sorted column is marked `▼`: neither relies on colour.
//! A contained identity is badged `[contained]`, one that acted again after it `[LEAK]`.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

use super::{ViewData, fmt_age, fmt_count, level_style, pane_block, safe_span, sparkline};
use crate::core::{SafeText, SortKey};
use crate::tui::app::{App, Pane};
use crate::tui::theme::Theme;

/// Table width from which the kind and provider columns are shown.
const FULL_COLUMNS_WIDTH: u16 = 110;
/// Table width from which the identity key is shown after the display name.
const KEY_WIDTH: u16 = 150;

/// The display name; with room to spare, the full key too (ARNs and namespaces matter when
/// two identities share a short name).
fn identity_cell<'a>(
    r: &'a super::RowData,
    with_key: bool,
    dim: ratatui::style::Style,
    theme: &Theme,
) -> Cell<'a> {
    let mut spans = Vec::new();
    // Contained (or leaking) says so in words first: the badge must not rely on colour.
    match r.contained {
        Some(false) => spans.push(Span::styled(
            "[contained] ",
            theme.style("containment.held"),
        )),
        Some(true) => spans.push(Span::styled("[LEAK] ", theme.style("containment.leak"))),
        None => {}
    }
    spans.push(safe_span(&r.display, Default::default()));
    if with_key && r.key.as_str() != r.display.as_str() {
        spans.push(Span::raw("  "));
        spans.push(safe_span(&r.key, dim));
    }
    Cell::new(Line::from(spans))
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, view: &ViewData, theme: &Theme) {
    let full = area.width >= FULL_COLUMNS_WIDTH;
    let focused = app.focus == Pane::Table;
    let label = theme.style("ui.text.dim");

    let mut title = vec![Span::raw(" Identities ")];
    if view.matching > 0 {
        title.push(Span::raw(format!(
            "{}/{} ",
            view.cursor + 1,
            fmt_count(view.matching as u64)
        )));
    }
    if let Some(f) = &view.filter {
        title.push(Span::styled(
            format!("matching \"{}\" ", SafeText::new(f)),
            theme.style("ui.filter"),
        ));
        title.push(Span::styled(
            format!("of {} ", fmt_count(view.total as u64)),
            label,
        ));
    }
    let block = pane_block(Line::from(title), focused, theme);

    if view.rows.is_empty() {
        let msg = match &view.filter {
            Some(f) => format!(
                "No identity matches \"{}\". Esc clears the filter.",
                SafeText::new(f)
            ),
            None if view.total == 0 => "Waiting for events or an inventory…".to_string(),
            None => "Nothing to show.".to_string(),
        };
        frame.render_widget(
            Paragraph::new(msg)
                .style(label)
                .alignment(Alignment::Center)
                .block(block),
            area,
        );
        return;
    }

    let sorted = |k: SortKey, name: &'static str| -> Cell<'static> {
        if view.sort == k {
            Cell::new(Line::from(format!("{name}▼")).alignment(Alignment::Right))
                .style(theme.style("ui.table.header.sorted"))
        } else {
            Cell::new(Line::from(name).alignment(Alignment::Right))
        }
    };
    let mut header = vec![
        Cell::new(Line::from("#").alignment(Alignment::Right)),
        Cell::new("IDENTITY"),
    ];
    if full {
        header.push(Cell::new("KIND"));
        header.push(Cell::new("PROVIDER"));
    }
    header.push(sorted(SortKey::Risk, "RISK"));
    header.push(sorted(SortKey::Blast, "BLAST"));
    header.push(sorted(SortKey::Threat, "THREAT"));
    header.push(Cell::new("ACTIVITY"));
    header.push(Cell::new(Line::from("SEEN").alignment(Alignment::Right)));

    let score = |v: f64| {
        Cell::new(Line::from(format!("{v:.1}")).alignment(Alignment::Right))
            .style(theme.style(level_style(v)))
    };
    let spark = theme.style("sparkline");
    let rows = view.rows.iter().map(|r| {
        let mut cells = vec![
            Cell::new(Line::from(r.rank.to_string()).alignment(Alignment::Right)).style(label),
            identity_cell(r, area.width >= KEY_WIDTH, label, theme),
        ];
        if full {
            cells.push(Cell::new(r.kind));
            cells.push(Cell::new(r.provider));
        }
        cells.push(score(r.risk));
        cells.push(score(r.blast));
        cells.push(score(r.threat));
        cells.push(Cell::new(sparkline(&r.activity)).style(spark));
        let seen = r
            .last_seen
            .map_or_else(|| "—".to_string(), |t| fmt_age(view.now, t));
        cells.push(Cell::new(Line::from(seen).alignment(Alignment::Right)).style(label));
        Row::new(cells)
    });

    // The rank shown is the identity's place in the whole ranking (a filter keeps it), so the
    // column is as wide as the largest rank on screen, not the row count.
    let rank_width = view
        .rows
        .iter()
        .map(|r| r.rank)
        .max()
        .unwrap_or(0)
        .max(view.offset + view.rows.len())
        .to_string()
        .len()
        .max(2) as u16;
    let mut widths = vec![Constraint::Length(rank_width), Constraint::Fill(1)];
    if full {
        widths.push(Constraint::Length(15));
        widths.push(Constraint::Length(10));
    }
    widths.extend([
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(5),
    ]);

    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.style("ui.table.header")))
        .block(block)
        .style(theme.style("ui.table"))
        .row_highlight_style(theme.style("ui.table.selected"))
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always)
        .column_spacing(1);
    let mut state = TableState::default().with_selected(view.cursor.checked_sub(view.offset));
    frame.render_stateful_widget(table, area, &mut state);
}
