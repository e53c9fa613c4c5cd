//! The header: what the console is watching and how well. The first line says where the data
//! comes from (loudly when it is the demo fleet), the time, how many identities and the sort; the
//! second gives ingest rate, totals, dropped events (always shown, loud when non-zero: a
//! responder must know when the picture is incomplete) and each source's health in words.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{ViewData, WIDE_WIDTH, fmt_clock, fmt_count, fmt_short, loud, safe_span};
use crate::core::SafeText;
use crate::engine::Health;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, view: &ViewData, theme: &Theme) {
    let narrow = area.width < WIDE_WIDTH;
    let h = &view.header;
    let label = theme.style("ui.header.label");
    let sep = || Span::styled(" · ", label);

    let mut first = vec![Span::styled(" BLASTDOOR ", theme.style("ui.header.title"))];
    let only_demo = h.sources.len() == 1 && h.sources[0].name.as_str() == "demo";
    if h.demo_by_default {
        let text = if narrow {
            " DEMO FLEET "
        } else {
            " DEMO FLEET · no source configured, try --source "
        };
        first.push(Span::styled(text, theme.style("ui.header.demo")));
    } else if only_demo {
        first.push(Span::styled(" demo fleet ", theme.style("ui.header.demo")));
    }
    if let Some(who) = &h.responder {
        // Playing the demo's throwaway responders: who signs now, marked as the demo's.
        let text = if narrow {
            format!("· you: {who} ")
        } else {
            format!("· you: {who} (a throwaway demo key) ")
        };
        first.push(Span::styled(text, theme.style("ui.header.demo")));
    }
    if h.responder.is_none() {
        match &h.me {
            super::Me::ReadOnly => {
                first.push(Span::styled(" READ-ONLY ", theme.style("ui.header.demo")));
            }
            super::Me::Responder(who) => {
                first.push(Span::styled("· you: ", label));
                first.push(safe_span(who, theme.style("ui.header.title")));
                first.push(Span::raw(" "));
            }
            super::Me::NoActing => {
                let text = if narrow {
                    " VIEW ONLY "
                } else {
                    " VIEW ONLY: acting is off (s says why) "
                };
                first.push(Span::styled(text, theme.style("ui.warning")));
            }
            super::Me::Unknown => {}
        }
    }
    if h.leaks > 0 {
        // A contained credential acting again is the loudest thing on screen, colour or not.
        first.push(Span::styled(
            format!(" CONTAINMENT LEAK ×{}! ", h.leaks),
            loud(theme.style("stats.dropped")),
        ));
    }
    first.push(Span::styled(format!(" {} UTC", fmt_clock(view.now)), label));
    first.push(sep());
    let ids = if narrow {
        format!("{} ids", fmt_short(view.total as u64))
    } else {
        format!("{} identities", fmt_count(view.total as u64))
    };
    first.push(Span::raw(ids));
    first.push(sep());
    first.push(Span::styled("sort ", label));
    first.push(Span::styled(
        format!("{}▼", view.sort.as_str()),
        theme.style("ui.table.header.sorted"),
    ));
    if let Some(f) = &view.filter {
        first.push(sep());
        first.push(Span::styled("filter ", label));
        first.push(Span::styled(
            format!("\"{}\"", SafeText::new(f)),
            theme.style("ui.filter"),
        ));
        first.push(Span::styled(
            format!(" {} match", fmt_count(view.matching as u64)),
            label,
        ));
    }

    let mut second = vec![Span::raw(" ")];
    second.push(Span::styled(
        format!("{:.0} ev/s", h.rate),
        theme.style("stats.rate"),
    ));
    second.push(sep());
    second.push(Span::styled("ingested ", label));
    second.push(Span::raw(if narrow {
        fmt_short(h.ingested)
    } else {
        fmt_count(h.ingested)
    }));
    second.push(sep());
    if h.dropped > 0 {
        // Non-zero drops get the loud style and an exclamation mark: visible without colour.
        second.push(Span::styled(
            format!("DROPPED {}!", fmt_count(h.dropped)),
            loud(theme.style("stats.dropped")),
        ));
    } else {
        second.push(Span::styled("dropped ", label));
        second.push(Span::raw("0"));
    }
    if !narrow || h.rejected > 0 {
        second.push(sep());
        second.push(Span::styled("rejected ", label));
        second.push(Span::raw(fmt_short(h.rejected)));
    }
    second.push(Span::styled(" │ ", label));
    let room = (area.width as usize).saturating_sub(Line::from(second.clone()).width());
    // Each source with the reason a failing one gives, if that fits; else without reasons.
    let with_reasons = named_sources(view, theme, true);
    let named = if Line::from(with_reasons.clone()).width() <= room {
        with_reasons
    } else {
        named_sources(view, theme, false)
    };
    if h.sources.is_empty() {
        second.push(Span::styled("no sources", theme.style("ui.warning")));
    } else if Line::from(named.clone()).width() <= room {
        second.extend(named);
    } else {
        // Too many to name in the room left: count them by health, worst first.
        let mut first_part = true;
        for health in [
            Health::Error,
            Health::Retrying,
            Health::Connecting,
            Health::Up,
            Health::Done,
        ] {
            let n = h.sources.iter().filter(|s| s.health == health).count();
            if n > 0 {
                if !first_part {
                    second.push(Span::raw(", "));
                }
                first_part = false;
                let word = if n == 1 { "source" } else { "sources" };
                second.push(Span::raw(format!("{n} {word} ")));
                second.push(Span::styled(
                    health_word(health),
                    health_style(theme, health),
                ));
            }
        }
    }
    let text = vec![Line::from(first), Line::from(second)];
    frame.render_widget(Paragraph::new(text).style(theme.style("ui.header")), area);
}

/// Each source by name with its health, and the last problem of a failing one with `reasons`.
fn named_sources<'a>(view: &'a ViewData, theme: &Theme, reasons: bool) -> Vec<Span<'a>> {
    let label = theme.style("ui.header.label");
    let mut out = Vec::new();
    for (i, s) in view.header.sources.iter().enumerate() {
        if i > 0 {
            out.push(Span::raw(", "));
        }
        out.push(safe_span(&s.name, ratatui::style::Style::default()));
        out.push(Span::raw(" "));
        out.push(Span::styled(
            health_word(s.health),
            health_style(theme, s.health),
        ));
        if let (true, Some(d), Health::Error | Health::Retrying) = (reasons, &s.detail, s.health) {
            out.push(Span::styled(" (", label));
            out.push(safe_span(d, label));
            out.push(Span::styled(")", label));
        } else if let (true, Some(lag), Health::Up) = (reasons, &s.lag, s.health) {
            // A collector's lag: how far behind the newest object or message it is.
            out.push(Span::styled(format!(" ({})", lag.show()), label));
        }
    }
    out
}

pub fn health_word(h: Health) -> &'static str {
    match h {
        Health::Connecting => "connecting",
        Health::Up => "up",
        Health::Retrying => "retrying",
        Health::Error => "error",
        Health::Done => "done",
    }
}

fn health_style(theme: &Theme, h: Health) -> ratatui::style::Style {
    theme.style(match h {
        Health::Connecting => "health.connecting",
        Health::Up => "health.up",
        Health::Retrying => "health.retrying",
        Health::Error => "health.error",
        Health::Done => "health.done",
    })
}
