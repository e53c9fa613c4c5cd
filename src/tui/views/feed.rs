//! The live activity feed: newest first, all identities or the selected one's. Paused (or
//! scrolled back), it stays frozen and counts what arrived meanwhile. Denied calls and threat
//! signals are marked in words (`(denied)`, `[privesc]`), not by colour alone.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{
    ViewData, fmt_clock, fmt_count, pane_block, safe_span, same_day, signal_tag, truncate,
};
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
    let feed = &view.feed;
    let mut title = vec![Span::raw(" Feed ")];
    match &feed.scope {
        Some(who) => {
            title.push(Span::raw("· "));
            title.push(safe_span(who, theme.style("feed.identity")));
            title.push(Span::raw(" "));
        }
        None => title.push(Span::raw("· all ")),
    }
    if feed.paused {
        title.push(Span::styled(
            format!(" PAUSED +{} ", fmt_count(feed.waiting)),
            theme.style("feed.paused"),
        ));
        title.push(Span::raw(" "));
    }
    if shared {
        title.push(Span::styled("│ tab: details ", theme.style("ui.text.dim")));
    }
    let block = pane_block(Line::from(title), app.focus == Pane::Feed, theme);

    if feed.items.is_empty() {
        let msg = if feed.scope_empty {
            "Select an identity to see its events."
        } else {
            "No events yet."
        };
        frame.render_widget(
            Paragraph::new(msg)
                .style(theme.style("ui.text.dim"))
                .block(block),
            area,
        );
        return;
    }
    // Narrow panes give the event more room than the name.
    let name_width = if area.width < 100 { 16 } else { 22 };
    // One time format for the whole pane, so the columns stay aligned: the date joins the
    // clock when any line shown is not from today.
    let dated = feed.items.iter().any(|f| !same_day(view.now, f.time));
    let when = |t| {
        if dated {
            chrono::DateTime::from_timestamp_millis(t)
                .map(|d| d.format("%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "--------------".into())
        } else {
            fmt_clock(t)
        }
    };
    let lines: Vec<Line> = feed
        .items
        .iter()
        .map(|f| {
            let mut spans = vec![
                Span::styled(when(f.time), theme.style("feed.time")),
                Span::raw(" "),
                Span::styled(
                    format!("{:<name_width$}", truncate(f.identity.as_str(), name_width)),
                    theme.style("feed.identity"),
                ),
                Span::raw(" "),
            ];
            let style = if f.denied {
                // Marked first, in words too: a long resource would push "(denied)" off a
                // narrow pane, and a contained credential's refused calls must show.
                spans.push(Span::styled("✗ ", theme.style("feed.denied")));
                theme.style("feed.denied")
            } else {
                theme.style("feed")
            };
            spans.push(safe_span(&f.summary, style));
            for s in &f.signals {
                spans.push(Span::styled(
                    format!(" [{}]", signal_tag(*s)),
                    theme.style("feed.signal"),
                ));
            }
            // The address goes at the end, and only whole: a cut address misleads.
            if let Some(ip) = &f.src_ip {
                let used = Line::from(spans.clone()).width();
                let inner = area.width.saturating_sub(2) as usize;
                if used + 6 + ip.as_str().chars().count() <= inner {
                    spans.push(Span::styled(" from ", theme.style("ui.text.dim")));
                    spans.push(safe_span(ip, theme.style("feed.time")));
                }
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
