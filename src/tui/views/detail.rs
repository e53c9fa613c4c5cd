//! The details of the selected identity: its key, scores, the reasons behind each score (as the
//! core explains them, with weights), its credentials and a summary of its permissions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{DetailLine, ViewData, level_style, pane_block, safe_span};
use crate::core::model::Effect;
use crate::tui::app::{App, Pane};
use crate::tui::theme::Theme;

pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    view: &ViewData,
    theme: &Theme,
    shared: bool,
) {
    let mut title = vec![Span::raw(" Details ")];
    if let Some(d) = &view.detail {
        title.push(Span::raw("· "));
        title.push(safe_span(&d.title, theme.style("feed.identity")));
        title.push(Span::raw(" "));
    }
    if shared {
        title.push(Span::styled("│ tab: feed ", theme.style("ui.text.dim")));
    }
    let block = pane_block(Line::from(title), app.focus == Pane::Detail, theme);
    let Some(d) = &view.detail else {
        frame.render_widget(
            Paragraph::new("No identity selected.")
                .style(theme.style("ui.text.dim"))
                .block(block),
            area,
        );
        return;
    };
    let label = theme.style("detail.label");
    let lines: Vec<Line> = d
        .lines
        .iter()
        .map(|l| match l {
            DetailLine::Heading(h) => Line::styled(h.as_str(), theme.style("detail.heading")),
            DetailLine::Field(name, value) => Line::from(vec![
                Span::styled(format!("{name:<9}"), label),
                safe_span(value, theme.style("detail")),
            ]),
            DetailLine::Scores {
                risk,
                blast,
                threat,
            } => {
                let mut spans = vec![Span::styled(format!("{:<9}", "scores"), label)];
                for (name, v) in [("risk", risk), ("blast", blast), ("threat", threat)] {
                    spans.push(Span::styled(format!("{name} "), label));
                    spans.push(Span::styled(
                        format!("{v:.1}"),
                        theme.style(level_style(*v)),
                    ));
                    spans.push(Span::raw("  "));
                }
                Line::from(spans)
            }
            DetailLine::Reason {
                weight,
                factor,
                detail,
            } => Line::from(vec![
                Span::styled(format!("{weight:>+6.1} "), theme.style("detail.weight")),
                safe_span(factor, label),
                Span::styled(": ", label),
                safe_span(detail, theme.style("detail")),
            ]),
            DetailLine::Credential { id, kind, status } => Line::from(vec![
                Span::raw("  "),
                safe_span(id, theme.style("detail")),
                Span::styled(format!("  {kind}, {status}"), label),
            ]),
            DetailLine::Grant { effect, text } => {
                let (word, style) = match effect {
                    Effect::Allow => ("allow", label),
                    Effect::Deny => ("deny ", theme.style("feed.denied")),
                };
                Line::from(vec![
                    Span::styled(format!("  {word} "), style),
                    safe_span(text, theme.style("detail")),
                ])
            }
            DetailLine::Note(t) => Line::from(vec![
                Span::raw("  "),
                safe_span(t, theme.style("ui.text.dim")),
            ]),
            DetailLine::Call { text, denied } => Line::from(vec![
                Span::raw("    "),
                safe_span(
                    text,
                    if *denied {
                        theme.style("feed.denied")
                    } else {
                        theme.style("ui.text.dim")
                    },
                ),
            ]),
        })
        .collect();
    let scroll = u16::try_from(view.detail_scroll).unwrap_or(u16::MAX);
    // Long lines wrap (a reason's detail, a call's user agent) rather than being cut.
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
