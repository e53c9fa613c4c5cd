//! What the console draws, as plain functions over a snapshot: `ViewData::build` copies what one
//! frame needs out of the core (only the visible rows, in one short read lock) and `render`
//! draws it. Neither touches the terminal or the engine, so screens are tested on a
//! `TestBackend` with a hand-made `Core`, a fixed clock and fixed stats.
//!
//! Layout is responsive: from about 110×30 every column and pane is shown side by side; below
//! that (80×24, a bastion host's terminal) the table drops the kind and provider columns and the
//! feed and the details share one lower pane, switched with Tab.

pub mod approvals;
pub mod detail;
pub mod feed;
pub mod header;
pub mod help;
pub mod hints;
pub mod modal;
pub mod table;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

use crate::core::model::{Credential, CredentialKind, CredentialStatus, Effect, Signal, Status};
use crate::core::state::{ACTIVITY_BUCKETS, FEED_CAP};
use crate::core::{Core, Millis, SafeText, SortKey};
use crate::engine::{Health, Stats};
use crate::tui::app::{App, FeedScope, Mode, Pane, Screen};
use crate::tui::queue::Subject;
use crate::tui::theme::Theme;

/// Smallest terminal the console lays out; below it a message says so.
pub const MIN_WIDTH: u16 = 50;
pub const MIN_HEIGHT: u16 = 12;
/// From this size on, the wide layout shows everything at once.
pub const WIDE_WIDTH: u16 = 110;
pub const WIDE_HEIGHT: u16 = 30;
/// Grants listed in the details before "and N more".
const MAX_GRANTS_SHOWN: usize = 8;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub table: Rect,
    pub feed: Option<Rect>,
    pub detail: Option<Rect>,
    pub hints: Rect,
    /// The answer to the last thing asked of the desk, when there is one.
    pub status: Option<Rect>,
    /// Feed and details side by side (otherwise they share the lower pane).
    pub wide: bool,
    pub too_small: bool,
    /// In the approvals view, `table` is the queue and `detail` the selected action.
    pub screen: Screen,
}

impl Areas {
    /// Table rows that fit (inside the borders, under the column header).
    pub fn table_rows(&self) -> usize {
        self.table.height.saturating_sub(3) as usize
    }
    pub fn feed_rows(&self) -> usize {
        self.feed.map_or(0, |r| r.height.saturating_sub(2) as usize)
    }
    pub fn detail_rows(&self) -> usize {
        self.detail
            .map_or(0, |r| r.height.saturating_sub(2) as usize)
    }
}

/// Lay out a screen of `area` for the app's state.
pub fn areas(area: Rect, app: &App) -> Areas {
    layout(area, app, app.screen)
}

/// Lay out `screen` (whichever is shown).
pub fn layout(area: Rect, app: &App, screen: Screen) -> Areas {
    let too_small = area.width < MIN_WIDTH || area.height < MIN_HEIGHT;
    let [header, body, status, hints] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(u16::from(app.status.is_some())),
        Constraint::Length(1),
    ])
    .areas(area);
    let status = app.status.is_some().then_some(status);
    let wide = area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT;
    if screen == Screen::Approvals {
        let [table, detail] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(body);
        return Areas {
            header,
            table,
            feed: None,
            detail: Some(detail),
            hints,
            status,
            wide,
            too_small,
            screen,
        };
    }
    if wide {
        let [table, lower] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(body);
        let [feed, detail] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(lower);
        Areas {
            header,
            table,
            feed: Some(feed),
            detail: Some(detail),
            hints,
            status,
            wide,
            too_small,
            screen,
        }
    } else {
        let [table, lower] =
            Layout::vertical([Constraint::Percentage(57), Constraint::Fill(1)]).areas(body);
        let (feed, detail) = match app.lower {
            Pane::Detail => (None, Some(lower)),
            _ => (Some(lower), None),
        };
        Areas {
            header,
            table,
            feed,
            detail,
            hints,
            status,
            wide,
            too_small,
            screen,
        }
    }
}

/// One table row.
#[derive(Debug, Clone)]
pub struct RowData {
    pub id: u32,
    /// 1-based rank under the current sort (over all identities, also when filtered).
    pub rank: usize,
    pub display: SafeText,
    /// The stable identity key (`aws:arn:…`).
    pub key: SafeText,
    pub kind: &'static str,
    pub provider: &'static str,
    pub risk: f64,
    pub blast: f64,
    pub threat: f64,
    pub activity: [u16; ACTIVITY_BUCKETS],
    pub last_seen: Option<Millis>,
    /// A done action contains it: `Some(true)` once it acted again after (a leak).
    pub contained: Option<bool>,
}

/// One feed line.
#[derive(Debug, Clone)]
pub struct FeedRow {
    pub seq: u64,
    pub time: Millis,
    pub identity: SafeText,
    pub summary: SafeText,
    /// Where the call came from, when the record says.
    pub src_ip: Option<SafeText>,
    pub denied: bool,
    pub signals: Vec<Signal>,
}

#[derive(Debug, Clone, Default)]
pub struct FeedData {
    pub items: Vec<FeedRow>,
    /// Lines scrolled back from the newest (clamped).
    pub scroll: usize,
    pub paused: bool,
    /// Events that arrived since the feed was paused.
    pub waiting: u64,
    /// Whose feed this is, when it is one identity's.
    pub scope: Option<SafeText>,
    /// The feed is scoped to the selection but nothing is selected.
    pub scope_empty: bool,
}

/// One line of the details pane.
#[derive(Debug, Clone)]
pub enum DetailLine {
    Heading(String),
    Field(&'static str, SafeText),
    Scores {
        risk: f64,
        blast: f64,
        threat: f64,
    },
    Reason {
        weight: f64,
        factor: SafeText,
        detail: SafeText,
    },
    Credential {
        id: SafeText,
        kind: &'static str,
        status: &'static str,
    },
    Grant {
        effect: Effect,
        text: SafeText,
    },
    Note(SafeText),
    /// One call behind the reason above it: time, call, source address, result, user agent.
    Call {
        text: SafeText,
        denied: bool,
    },
}

impl DetailLine {
    /// How many columns the line takes unwrapped (as `detail::render` lays it out).
    pub fn width(&self) -> usize {
        let w = |t: &SafeText| t.as_str().chars().count();
        match self {
            DetailLine::Heading(h) => h.chars().count(),
            DetailLine::Field(_, v) => 9 + w(v),
            DetailLine::Scores { .. } => 48,
            DetailLine::Reason { factor, detail, .. } => 7 + w(factor) + 2 + w(detail),
            DetailLine::Credential { id, kind, status } => {
                2 + w(id) + 2 + kind.len() + 2 + status.len()
            }
            DetailLine::Grant { text, .. } => 8 + w(text),
            DetailLine::Note(t) => 2 + w(t),
            DetailLine::Call { text, .. } => 4 + w(text),
        }
    }
}

/// Rows the lines take wrapped at `width` columns.
pub fn wrapped_rows(lines: &[DetailLine], width: usize) -> usize {
    let width = width.max(1);
    lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum()
}

#[derive(Debug, Clone)]
pub struct DetailData {
    pub title: SafeText,
    pub lines: Vec<DetailLine>,
}

/// One source in the header.
#[derive(Debug, Clone)]
pub struct SourceView {
    pub name: SafeText,
    pub health: Health,
    pub detail: Option<SafeText>,
    /// A collector's lag (`s3://`, `sqs:`).
    pub lag: Option<crate::engine::Lag>,
}

#[derive(Debug, Clone, Default)]
pub struct HeaderData {
    pub sources: Vec<SourceView>,
    pub rate: f64,
    pub ingested: u64,
    pub dropped: u64,
    pub rejected: u64,
    pub events_seen: u64,
    pub demo_by_default: bool,
    /// Containment leaks seen (one per action), and the newest one's summary.
    pub leaks: usize,
    pub last_leak: Option<SafeText>,
    /// The demo's throwaway responder acting here, when the console plays them.
    pub responder: Option<SafeText>,
    /// Who this console acts as: read-only, a responder, or nobody (and why).
    pub me: Me,
}

/// Who the console acts as, for the header: a responder must see whose key signs before
/// pressing anything, and when nothing they press will act.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Me {
    /// `--read-only`: the acting keys are off.
    ReadOnly,
    /// The responder the allowed signers name for the key.
    Responder(SafeText),
    /// Acting is off: no key, a key the allowed signers do not name, no state.
    NoActing,
    /// Not known (tests, a desk not yet asked).
    #[default]
    Unknown,
}

/// Everything one frame shows, copied out of the core.
#[derive(Debug, Clone)]
pub struct ViewData {
    pub now: Millis,
    pub sort: SortKey,
    pub total: usize,
    /// Identities the filter keeps (all without one).
    pub matching: usize,
    pub filter: Option<String>,
    /// Clamped cursor and first visible row.
    pub cursor: usize,
    pub offset: usize,
    /// Table rows on screen.
    pub page: usize,
    pub rows: Vec<RowData>,
    pub selected: Option<u32>,
    pub detail: Option<DetailData>,
    pub detail_scroll: usize,
    pub feed: FeedData,
    pub header: HeaderData,
    /// The selected identity, with the action kinds that fit it.
    pub subject: Option<Subject>,
    /// First queued action shown in the approvals view (clamped).
    pub queue_offset: usize,
}

impl ViewData {
    /// Copy what the next frame shows out of the core. Pure; the caller holds the read lock
    /// only for this call. Cost is bounded by what is on screen (plus the core's own filter
    /// scan when a filter is applied).
    pub fn build(core: &Core, stats: &Stats, app: &App, now: Millis) -> ViewData {
        let screen = Rect::from((Position::ORIGIN, app.size));
        let shown = areas(screen, app);
        // The identities keep their own page while the approvals view is up, so switching back
        // finds them where they were.
        let layout = layout(screen, app, Screen::Identities);
        let filter = app.filter.as_deref();
        let page = layout.table_rows();
        let matching = core.count(filter);
        // The selected identity keeps the selection when the ranking moves it, unless the
        // responder moved the cursor since (then the cursor's row is what was asked for).
        let followed = app
            .pinned
            .filter(|(_, at)| *at == app.cursor)
            .and_then(|(id, _)| match filter.filter(|f| !f.is_empty()) {
                None => core.position(id),
                Some(_) => core
                    .window(0, matching, filter)
                    .iter()
                    .position(|i| *i == id),
            });
        let cursor = followed
            .unwrap_or(app.cursor)
            .min(matching.saturating_sub(1));
        let mut offset = app.offset.min(cursor);
        if page > 0 && cursor >= offset + page {
            offset = cursor + 1 - page;
        }
        // When the list shrinks, show a full page rather than a tail.
        offset = offset.min(matching.saturating_sub(page));
        let ids = core.window(offset, page, filter);
        let rows: Vec<RowData> = ids
            .iter()
            .enumerate()
            .filter_map(|(i, &id)| {
                let st = core.get(id)?;
                let rank = match filter {
                    // With a filter, the rank that matters is still the one over everything.
                    Some(_) => core.position(id).map_or(offset + i + 1, |p| p + 1),
                    None => offset + i + 1,
                };
                Some(RowData {
                    id,
                    rank,
                    display: SafeText::new(st.display()),
                    key: SafeText::new(&st.key()),
                    kind: st.record.kind.as_str(),
                    provider: st.record.provider.as_str(),
                    risk: st.risk,
                    blast: st.blast,
                    threat: st.threat,
                    activity: st.activity(now),
                    last_seen: st.last_seen(),
                    contained: core.containment_of(id).map(|c| c.state == "leaking"),
                })
            })
            .collect();
        // Two rows on screen with one name (a role in two accounts) are told apart.
        let labels =
            crate::core::label::labels(rows.iter().map(|r| (r.display.as_str(), r.key.as_str())));
        let rows: Vec<RowData> = rows
            .into_iter()
            .zip(labels)
            .map(|(mut r, l)| {
                if l.len() != r.display.as_str().len() {
                    r.display = SafeText::new(&l);
                }
                r
            })
            .collect();
        let selected = cursor.checked_sub(offset).and_then(|i| ids.get(i)).copied();
        let subject = selected.and_then(|id| {
            let recent: Vec<&crate::core::Event> = core
                .feed(Some(id), 20)
                .into_iter()
                .map(|f| &f.event)
                .collect();
            core.get(id)
                .map(|st| Subject::with_evidence(st, &core.why(id), &recent, &app.offers))
        });
        let queue_page = layout_queue_rows(screen, app);
        let queue_cursor = app.queue_cursor.min(app.queue.len().saturating_sub(1));
        let mut queue_offset = app.queue_offset.min(queue_cursor);
        if queue_page > 0 && queue_cursor >= queue_offset + queue_page {
            queue_offset = queue_cursor + 1 - queue_page;
        }

        let detail = selected.and_then(|id| detail_data(core, id, now));
        // Detail lines wrap: the scroll reaches the last wrapped row, not the last line.
        let detail_width = layout
            .detail
            .map_or(1, |r| r.width.saturating_sub(2) as usize);
        let detail_len = detail
            .as_ref()
            .map_or(0, |d| wrapped_rows(&d.lines, detail_width));
        let detail_scroll = app
            .detail_scroll
            .min(detail_len.saturating_sub(layout.detail_rows()));

        let feed = feed_data(core, app, selected, layout.feed_rows());

        let header = HeaderData {
            sources: stats
                .sources
                .iter()
                .map(|s| SourceView {
                    name: SafeText::new(&s.name),
                    health: s.health,
                    detail: s.detail.as_deref().map(SafeText::new),
                    lag: s.lag,
                })
                .collect(),
            rate: stats.rate,
            ingested: stats.ingested,
            dropped: stats.dropped,
            rejected: stats.rejected,
            events_seen: core.events_seen(),
            demo_by_default: app.demo_by_default,
            leaks: core.leaks().len(),
            last_leak: core.leaks().last().map(|l| SafeText::new(&l.summary())),
            responder: app.responder.clone(),
            me: if app.read_only {
                Me::ReadOnly
            } else if let Some(who) = &app.acting_as {
                Me::Responder(who.clone())
            } else if app.acting_disabled.is_some() {
                Me::NoActing
            } else {
                Me::Unknown
            },
        };
        ViewData {
            now,
            sort: core.sort(),
            total: core.len(),
            matching,
            filter: app.filter.clone(),
            cursor,
            offset,
            page: if shown.screen == Screen::Approvals {
                queue_page
            } else {
                page
            },
            rows,
            selected,
            detail,
            detail_scroll,
            feed,
            header,
            subject,
            queue_offset,
        }
    }
}

/// Queued actions that fit the approvals view's table.
fn layout_queue_rows(screen: Rect, app: &App) -> usize {
    layout(screen, app, Screen::Approvals).table_rows()
}

fn feed_data(core: &Core, app: &App, selected: Option<u32>, rows: usize) -> FeedData {
    let scope = match app.scope {
        FeedScope::All => None,
        FeedScope::Selected => match selected {
            Some(id) => Some(id),
            None => {
                return FeedData {
                    scope_empty: true,
                    paused: app.paused_at.is_some(),
                    ..FeedData::default()
                };
            }
        },
    };
    let waiting = app
        .paused_at
        .map_or(0, |p| core.events_seen().saturating_sub(p));
    let scroll = app.feed_scroll.min(FEED_CAP);
    // Events newer than the pause are skipped, so ask for that many more.
    let want = (scroll + rows)
        .saturating_add(usize::try_from(waiting).unwrap_or(usize::MAX))
        .min(FEED_CAP);
    let items: Vec<_> = core
        .feed(scope, want)
        .into_iter()
        .filter(|f| app.paused_at.is_none_or(|p| f.seq <= p))
        .collect();
    // Newest first by the events' own time: sources deliver out of order (a replayed folder
    // beside a live stream), and the feed must read as a timeline. Ties keep arrival order.
    let mut items = items;
    items.sort_by(|a, b| b.event.time.cmp(&a.event.time).then(b.seq.cmp(&a.seq)));
    let scroll = scroll.min(items.len().saturating_sub(rows));
    let items = items
        .iter()
        .skip(scroll)
        .take(rows)
        .map(|f| FeedRow {
            seq: f.seq,
            time: f.event.time,
            identity: SafeText::new(core.get(f.identity).map_or("?", |s| s.display())),
            summary: SafeText::new(&f.event.summary()),
            src_ip: f.event.src_ip.clone(),
            denied: f.event.status == Status::Failure,
            signals: f.signals.clone(),
        })
        .collect();
    FeedData {
        items,
        scroll,
        paused: app.paused_at.is_some(),
        waiting,
        scope: scope
            .and_then(|id| core.get(id))
            .map(|s| SafeText::new(s.display())),
        scope_empty: false,
    }
}

fn detail_data(core: &Core, id: u32, now: Millis) -> Option<DetailData> {
    let st = core.get(id)?;
    let mut lines = Vec::new();
    let field = |label, text: &str| DetailLine::Field(label, SafeText::new(text));
    lines.push(field("identity", &st.key()));
    lines.push(field(
        "kind",
        &format!(
            "{} · {}",
            st.record.kind.as_str(),
            st.record.provider.as_str()
        ),
    ));
    let seen = match st.last_seen() {
        Some(t) => format!(
            "{} · last seen {} ago ({})",
            fmt_count(st.events),
            fmt_age(now, t),
            fmt_when(now, t)
        ),
        None => format!("{} · never seen active", fmt_count(st.events)),
    };
    lines.push(field("events", &seen));
    if let Some(c) = core.containment_of(id) {
        lines.push(field(
            "contained",
            &format!(
                "{} {} at {}{}",
                c.action,
                c.kind,
                c.at.get(11..19).unwrap_or(&c.at),
                if c.state == "leaking" {
                    ": LEAKING, it acted again after"
                } else {
                    ": holding"
                }
            ),
        ));
    }
    for l in core.leaks_of(id) {
        lines.push(DetailLine::Heading("CONTAINMENT LEAK!".into()));
        lines.push(DetailLine::Note(SafeText::new(&format!(
            "{} at {}, after {} took effect at {}",
            l.summary(),
            fmt_clock(l.seen_at),
            l.kind,
            fmt_clock(l.since)
        ))));
    }
    if !st.record.tags.is_empty() {
        let tags: Vec<&str> = st.record.tags.iter().map(|t| t.as_str()).collect();
        lines.push(field("tags", &tags.join(", ")));
    }
    lines.push(DetailLine::Scores {
        risk: st.risk,
        blast: st.blast,
        threat: st.threat,
    });

    // Credentials first: they are what containment acts on, and there are few of them.
    lines.push(DetailLine::Heading(format!(
        "Credentials ({})",
        st.record.credentials.len()
    )));
    if st.record.credentials.is_empty() {
        lines.push(DetailLine::Note(SafeText::new("none seen")));
    }
    lines.extend(st.record.credentials.iter().map(credential_line));

    let reason = |r: &crate::core::reason::Reason| DetailLine::Reason {
        weight: r.weight,
        factor: SafeText::new(&r.factor),
        detail: SafeText::new(&r.detail),
    };
    // The risk's own reason heads `Core::why`; the blast radius's come from one graph walk.
    let blast = core.blast_of(id);
    lines.push(DetailLine::Heading("Why this risk".into()));
    lines.push(reason(&crate::core::score::risk(st.blast, st.threat).1));
    lines.push(DetailLine::Heading("Threat: live activity".into()));
    let threat_why = st.threat_why();
    if threat_why.is_empty() {
        lines.push(DetailLine::Note(SafeText::new("no suspicious activity")));
    }
    // Each threat reason with the calls behind it, as `blastdoor explain` shows them.
    let explained = crate::core::explain::explain(core, id);
    for r in threat_why.iter() {
        lines.push(reason(r));
        let behind = explained.as_ref().and_then(|x| {
            x.reasons
                .iter()
                .find(|e| e.factor == r.factor && e.detail == r.detail)
                .map(|e| (x, &e.evidence))
        });
        if let Some((x, calls)) = behind {
            for &i in calls.iter().take(CALLS_PER_REASON) {
                lines.push(call_line(&x.evidence[i]));
            }
            if calls.len() > CALLS_PER_REASON {
                lines.push(DetailLine::Note(SafeText::new(&format!(
                    "  and {} more calls: blastdoor explain {}",
                    calls.len() - CALLS_PER_REASON,
                    st.key()
                ))));
            }
        }
    }
    lines.push(DetailLine::Heading(
        "Blast radius: what it can reach".into(),
    ));
    if blast.why.is_empty() {
        lines.push(DetailLine::Note(SafeText::new("no permissions known")));
    }
    lines.extend(blast.why.iter().map(reason));
    // Where it reaches through others, what each containment would take away.
    if !blast.paths.is_empty() {
        lines.push(DetailLine::Heading(
            "Containment: effect on what it reaches".into(),
        ));
        for c in core.containments(id).into_iter().take(4) {
            lines.push(DetailLine::Note(SafeText::new(&format!(
                "{} removes {:.0}% of the sensitive grants it reaches (blast {:.1} → {:.1})",
                c.action,
                c.removes * 100.0,
                st.blast,
                c.blast_after
            ))));
        }
    }

    let perms = &st.record.permissions;
    let denies = perms.iter().filter(|p| p.effect == Effect::Deny).count();
    lines.push(DetailLine::Heading(format!(
        "Permissions ({} allow, {} deny)",
        perms.len() - denies,
        denies
    )));
    if perms.is_empty() {
        lines.push(DetailLine::Note(SafeText::new(
            "none known: add an inventory (--inventory)",
        )));
    }
    for p in perms.iter().take(MAX_GRANTS_SHOWN) {
        let via = p
            .via
            .as_ref()
            .map(|v| format!(" (via {v})"))
            .unwrap_or_default();
        let text = format!("{} on {}{via}", p.action, p.resource);
        lines.push(DetailLine::Grant {
            effect: p.effect,
            text: SafeText::new(&text),
        });
    }
    if perms.len() > MAX_GRANTS_SHOWN {
        lines.push(DetailLine::Note(SafeText::new(&format!(
            "and {} more",
            perms.len() - MAX_GRANTS_SHOWN
        ))));
    }
    Some(DetailData {
        title: SafeText::new(st.display()),
        lines,
    })
}

/// Calls shown under each threat reason in the details pane (`blastdoor explain` has them all).
const CALLS_PER_REASON: usize = 3;

/// One call of the evidence: `07-10 11:45:03 iam:CreateAccessKey from 203.0.113.9 denied
/// (aws-cli/2.13)`.
fn call_line(e: &crate::core::explain::Evidence) -> DetailLine {
    let mut text = format!("{} {}", e.short_time(), e.call());
    if let Some(ip) = &e.source_ip {
        text.push_str(&format!(" from {}", ip.as_str()));
    }
    text.push(' ');
    text.push_str(e.result_word());
    if let Some(ua) = &e.user_agent {
        text.push_str(&format!(" ({})", ua.as_str()));
    }
    DetailLine::Call {
        text: SafeText::new(&text),
        denied: e.result == crate::core::Status::Failure,
    }
}

fn credential_line(c: &Credential) -> DetailLine {
    DetailLine::Credential {
        id: c.id.clone(),
        kind: credential_kind(c.kind),
        status: credential_status(c.status),
    }
}

fn credential_kind(k: CredentialKind) -> &'static str {
    match k {
        CredentialKind::AccessKey => "access key",
        CredentialKind::Session => "session",
        CredentialKind::SaToken => "service account token",
        CredentialKind::VaultToken => "vault token",
        CredentialKind::CiToken => "ci token",
        CredentialKind::ApiKey => "api key",
        CredentialKind::ServiceAccountKey => "service account key",
        CredentialKind::Password => "password",
        CredentialKind::Other => "other",
    }
}

fn credential_status(s: CredentialStatus) -> &'static str {
    match s {
        CredentialStatus::Active => "active",
        CredentialStatus::Inactive => "inactive",
        CredentialStatus::Revoked => "revoked",
    }
}

/// Draw one frame.
pub fn render(frame: &mut Frame, app: &App, view: &ViewData, theme: &Theme) {
    let area = frame.area();
    frame.render_widget(Block::new().style(theme.style("ui.background")), area);
    let a = areas(area, app);
    if a.too_small {
        let msg = format!(
            "blastdoor needs at least {MIN_WIDTH}×{MIN_HEIGHT}; this terminal is {}×{}.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(msg)
                .wrap(Wrap { trim: true })
                .style(theme.style("ui.warning")),
            area,
        );
        return;
    }
    header::render(frame, a.header, view, theme);
    match a.screen {
        Screen::Identities => {
            table::render(frame, a.table, app, view, theme);
            if let Some(r) = a.feed {
                feed::render(frame, r, app, view, theme, !a.wide);
            }
            if let Some(r) = a.detail {
                detail::render(frame, r, app, view, theme, !a.wide);
            }
        }
        Screen::Approvals => {
            approvals::render_table(frame, a.table, app, view, theme);
            if let Some(r) = a.detail {
                approvals::render_detail(frame, r, app, view, theme);
            }
        }
    }
    if let Some(r) = a.status {
        hints::render_status(frame, r, app, theme);
    }
    hints::render(frame, a.hints, app, theme);
    match app.mode {
        Mode::Help => help::render(frame, area, app, theme),
        Mode::Messages => help::render_messages(frame, area, app, theme),
        Mode::Picker => modal::render_picker(frame, area, app, theme),
        Mode::Justify => modal::render_justify(frame, area, app, theme),
        Mode::Confirm => modal::render_confirm(frame, area, app, theme),
        Mode::Normal | Mode::Filter => {}
    }
    if theme.ascii() {
        to_ascii(frame.buffer_mut());
    }
}

/// Rewrite a drawn frame in ASCII, cell by cell: one pass at the end, so no view needs to
/// know, and nothing but ASCII reaches a terminal whose locale is not UTF-8.
pub fn to_ascii(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if sym.is_empty() {
            // The second column of a wide character: it becomes a column of its own.
            cell.set_char(' ');
            continue;
        }
        if sym.is_ascii() {
            continue;
        }
        let c = sym.chars().next().unwrap_or(' ');
        cell.set_char(crate::core::text::ascii_stand_in(c).unwrap_or('?'));
    }
}

/// A bordered pane. The focused one gets a thick border as well as a colour, so focus is
/// visible without colour.
pub(crate) fn pane_block<'a>(title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    let (border, kind, title_style) = if focused {
        (
            theme.style("ui.border.focused"),
            BorderType::Thick,
            theme.style("ui.title.focused"),
        )
    } else {
        (
            theme.style("ui.border"),
            BorderType::Plain,
            theme.style("ui.title"),
        )
    };
    Block::new()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(border)
        .title(title.patch_style(title_style))
}

/// How alarming a 0–100 score is, as a style name. The number itself is always shown too.
pub(crate) fn level_style(score: f64) -> &'static str {
    if score >= 70.0 {
        "risk.high"
    } else if score >= 40.0 {
        "risk.medium"
    } else {
        "risk.low"
    }
}

/// `1,234,567`.
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `999`, `12.3k`, `4.5M`: for tight places.
pub fn fmt_short(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// Time since `t` in one unit: `42s`, `7m`, `3h`, `12d`.
pub fn fmt_age(now: Millis, t: Millis) -> String {
    let s = (now - t).max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `HH:MM:SS` in UTC: incident timelines are compared across hosts and logs.
/// A time as the feed and details show it: the clock when it is on `now`'s day (UTC), else
/// the date too (`2026-11-30 12:34:46`), so an old event never passes for today's.
pub fn fmt_when(now: Millis, t: Millis) -> String {
    if same_day(now, t) {
        fmt_clock(t)
    } else {
        chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "----------".into())
    }
}

pub fn same_day(a: Millis, b: Millis) -> bool {
    a.div_euclid(86_400_000) == b.div_euclid(86_400_000)
}

pub fn fmt_clock(t: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".into())
}

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Activity per minute as a one-line sparkline, scaled to its own peak; `·` is a quiet minute.
pub fn sparkline(buckets: &[u16]) -> String {
    let max = buckets.iter().copied().max().unwrap_or(0);
    buckets
        .iter()
        .map(|&b| {
            if b == 0 || max == 0 {
                '·'
            } else {
                SPARKS[b as usize * (SPARKS.len() - 1) / max as usize]
            }
        })
        .collect()
}

/// Cut text to `max` characters, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A signal as a short tag for the feed.
pub fn signal_tag(s: Signal) -> &'static str {
    match s {
        Signal::Recon => "recon",
        Signal::Denied => "denied",
        Signal::NewNetwork => "new-network",
        Signal::CredentialOutsideWorkload => "cred-outside-workload",
        Signal::PrivilegeEscalation => "privesc",
        Signal::Persistence => "persistence",
        Signal::SecretRead => "secret-read",
        Signal::DataRead => "data-read",
        Signal::Exfiltration => "exfil",
        Signal::DefenseEvasion => "evasion",
        Signal::Detection => "detection",
        Signal::UnusualUse => "unusual-use",
        Signal::Execution => "execution",
        Signal::OutsideBaseline => "off-baseline",
    }
}

/// A span of untrusted text: only ever `SafeText`, so nothing raw reaches the buffer.
pub(crate) fn safe_span<'a>(text: &'a SafeText, style: ratatui::style::Style) -> Span<'a> {
    Span::styled(text.as_str(), style)
}

/// Emphasis that survives without colour, for things that must not be missed.
pub(crate) fn loud(style: ratatui::style::Style) -> ratatui::style::Style {
    style.add_modifier(Modifier::BOLD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_thousands() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(1234), "1,234");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_short(12_345), "12.3k");
    }

    #[test]
    fn sparkline_scales_to_its_peak() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8, 0, 0, 8]), "·▁▂▄█··█");
        assert_eq!(sparkline(&[0; 4]), "····");
    }

    #[test]
    fn ages_use_one_unit() {
        assert_eq!(fmt_age(90_000, 0), "1m");
        assert_eq!(fmt_age(5_000, 0), "5s");
        assert_eq!(fmt_age(0, 5_000), "0s");
    }
}
