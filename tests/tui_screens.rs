//! The console as a responder sees it: a hand-made fleet in a `Core`, a fixed clock and fixed
//! engine stats, driven by keys through the keymap and drawn on a `TestBackend`. Screens are
//! `insta` snapshots at a bastion's 80×24 and a workstation's 160×48.

use blastdoor::core::model::{
    Api, Credential, CredentialKind, CredentialStatus, Effect, Event, IdentityKind, IdentityRecord,
    Permission, Provider, Signal, Status,
};
use blastdoor::core::{Core, Millis, Msg, SafeText};
use blastdoor::engine::{Health, SourceStatus, Stats};
use blastdoor::tui::{App, ColorMode, Command, KeyChord, Keymap, Theme, ViewData, render};
use crossterm::event::{Event as TermEvent, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Size;
use ratatui::style::{Color, Modifier};

/// 2026-11-26T03:00:00Z.
const NOW: Millis = 1_795_662_000_000;
const MIN: Millis = 60_000;

fn s(x: &str) -> SafeText {
    SafeText::new(x)
}

fn grant(action: &str, resource: &str, via: &str) -> Permission {
    Permission {
        action: s(action),
        resource: s(resource),
        effect: Effect::Allow,
        via: Some(s(via)),
        sensitivity: None,
    }
}

fn record(
    provider: Provider,
    principal: &str,
    kind: IdentityKind,
    display: &str,
    perms: Vec<Permission>,
) -> IdentityRecord {
    IdentityRecord {
        provider,
        principal: s(principal),
        kind,
        display: Some(s(display)),
        credentials: vec![],
        permissions: perms,
        tags: vec![],
    }
}

fn event(
    actor: &IdentityRecord,
    at: Millis,
    service: &str,
    op: &str,
    resource: &str,
    status: Status,
) -> Event {
    Event {
        time: at,
        class: Default::default(),
        actor: IdentityRecord {
            permissions: vec![],
            ..actor.clone()
        },
        credential: None,
        api: Api {
            service: s(service),
            operation: s(op),
        },
        resources: if resource.is_empty() {
            vec![]
        } else {
            vec![blastdoor::core::model::Resource {
                name: s(resource),
                kind: None,
            }]
        },
        src_ip: Some(s("10.0.4.7")),
        user_agent: None,
        region: None,
        issued: None,
        status,
        signals: vec![],
        sigma: Vec::new(),
        raw: Default::default(),
    }
}

/// A small fleet with a clear story: a CI bot turning on its account, a runner reading secrets,
/// and a tail of ordinary service identities to fill pages.
fn fleet() -> (Core, Vec<IdentityRecord>) {
    let mut ci_bot = record(
        Provider::Aws,
        "arn:aws:iam::123456789012:user/ci-bot",
        IdentityKind::IamUser,
        "ci-bot",
        vec![grant("*", "*", "AdministratorAccess")],
    );
    ci_bot.credentials.push(Credential {
        id: s("AKIAEXAMPLECIBOT0001"),
        kind: CredentialKind::AccessKey,
        status: CredentialStatus::Active,
    });
    let deploy = record(
        Provider::Aws,
        "arn:aws:iam::123456789012:role/deploy",
        IdentityKind::IamRole,
        "deploy",
        vec![
            grant("s3:*", "arn:aws:s3:::prod-artifacts/*", "DeployPolicy"),
            grant("iam:PassRole", "*", "DeployPolicy"),
        ],
    );
    let runner = record(
        Provider::Kubernetes,
        "system:serviceaccount:ci:runner",
        IdentityKind::ServiceAccount,
        "ci/runner",
        vec![
            grant("secrets:get", "ci/*", "ci-runner-role"),
            grant("pods:create", "ci/*", "ci-runner-role"),
        ],
    );
    let payments = record(
        Provider::Vault,
        "approle/payments",
        IdentityKind::VaultToken,
        "payments-approle",
        vec![grant("secret/data/payments/*", "*", "payments-read")],
    );
    let release = record(
        Provider::Github,
        "app/release-bot",
        IdentityKind::GithubApp,
        "release-bot",
        vec![grant("repo:write", "org/*", "release")],
    );
    let triage = record(
        Provider::Ai,
        "agent/triage",
        IdentityKind::AiAgent,
        "triage-agent",
        vec![grant("logs:read", "*", "triage")],
    );
    let mut all = vec![
        ci_bot.clone(),
        deploy.clone(),
        runner.clone(),
        payments.clone(),
        release,
        triage,
    ];
    for i in 0..24 {
        let perms = match i % 3 {
            0 => vec![grant(
                "s3:GetObject",
                &format!("arn:aws:s3:::data-{i}/*"),
                "ReadData",
            )],
            1 => vec![grant("ec2:Describe*", "*", "ReadOnly")],
            _ => vec![],
        };
        all.push(record(
            Provider::Aws,
            &format!("arn:aws:iam::123456789012:role/svc-{i:02}"),
            IdentityKind::IamRole,
            &format!("svc-{i:02}"),
            perms,
        ));
    }
    let mut core = Core::new();
    core.update(Msg::Inventory {
        identities: all.clone(),
        now: NOW - 30 * MIN,
    });

    let mut events = Vec::new();
    for m in 0..8 {
        for k in 0..=m {
            events.push(event(
                &deploy,
                NOW - (8 - m) * MIN + k * 1000,
                "s3",
                "PutObject",
                "prod-artifacts/app.tar",
                Status::Success,
            ));
        }
    }
    events.push(event(
        &runner,
        NOW - 5 * MIN,
        "secrets",
        "get",
        "ci/deploy-token",
        Status::Success,
    ));
    let mut exec = event(
        &runner,
        NOW - 4 * MIN,
        "pods",
        "exec",
        "ci/build-7",
        Status::Success,
    );
    exec.signals.push(Signal::CredentialOutsideWorkload);
    events.push(exec);
    events.push(event(
        &payments,
        NOW - 3 * MIN,
        "secret/data",
        "read",
        "payments/stripe",
        Status::Success,
    ));
    events.push(event(
        &ci_bot,
        NOW - 3 * MIN,
        "sts",
        "GetCallerIdentity",
        "",
        Status::Success,
    ));
    events.push(event(
        &ci_bot,
        NOW - 2 * MIN,
        "iam",
        "ListUsers",
        "",
        Status::Success,
    ));
    events.push(event(
        &ci_bot,
        NOW - 2 * MIN + 500,
        "cloudtrail",
        "StopLogging",
        "trail/org",
        Status::Success,
    ));
    events.push(event(
        &ci_bot,
        NOW - MIN,
        "iam",
        "AttachUserPolicy",
        "user/ci-bot",
        Status::Success,
    ));
    events.push(event(
        &ci_bot,
        NOW - 30_000,
        "iam",
        "CreateAccessKey",
        "user/admin",
        Status::Failure,
    ));
    events.push(event(
        &ci_bot,
        NOW - 10_000,
        "secretsmanager",
        "GetSecretValue",
        "prod/db",
        Status::Success,
    ));
    core.update(Msg::Events { events, now: NOW });
    (core, all)
}

fn stats() -> Stats {
    Stats {
        ingested: 12_345,
        dropped: 0,
        rejected: 2,
        rate: 42.0,
        sources: vec![SourceStatus {
            name: "demo".into(),
            health: Health::Up,
            events: 12_345,
            rejected: 2,
            detail: None,
            progress: None,
            lag: None,
        }],
    }
}

struct Screen {
    core: Core,
    stats: Stats,
    app: App,
    theme: Theme,
    term: Terminal<TestBackend>,
}

impl Screen {
    fn new(width: u16, height: u16) -> Screen {
        Screen::with(width, height, Keymap::default(), ColorMode::TrueColor)
    }

    fn with(width: u16, height: u16, keymap: Keymap, mode: ColorMode) -> Screen {
        let mut s = Screen {
            core: fleet().0,
            stats: stats(),
            app: App::new(keymap, false),
            theme: Theme::builtin("dark", mode).expect("built-in dark theme"),
            term: Terminal::new(TestBackend::new(width, height)).expect("test terminal"),
        };
        s.draw();
        s
    }

    /// What the run loop does each frame: size, build (the read lock), sync, render.
    fn draw(&mut self) {
        let area = self.term.size().expect("size");
        self.app.set_size(Size::new(area.width, area.height));
        let view = ViewData::build(&self.core, &self.stats, &self.app, NOW);
        self.app.sync(&view);
        let (app, theme) = (&self.app, &self.theme);
        self.term
            .draw(|f| render(f, app, &view, theme))
            .expect("draw");
    }

    fn view(&self) -> ViewData {
        ViewData::build(&self.core, &self.stats, &self.app, NOW)
    }

    /// Press keys given as keymap strings: `"down"`, `"/"`, `"ctrl-c"`.
    fn press(&mut self, keys: &[&str]) {
        for k in keys {
            let chord = KeyChord::parse(k).expect("test key");
            self.event(TermEvent::Key(KeyEvent::new(chord.code, chord.mods)));
        }
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(&[&c.to_string()]);
        }
    }

    fn event(&mut self, ev: TermEvent) {
        if let Some(Command::SortBy(k)) = self.app.handle_event(&ev) {
            self.core.update(Msg::SortBy(k));
        }
        self.draw();
    }

    fn text(&self) -> String {
        let buf = self.term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }
}

#[test]
fn at_80x24_the_table_feed_and_header_fit() {
    let screen = Screen::new(80, 24);
    let text = screen.text();
    assert!(text.contains("ci-bot"), "{text}");
    assert!(text.contains("dropped 0"), "drops are always shown: {text}");
    assert!(
        !text.contains("PROVIDER"),
        "the narrow table drops the provider column"
    );
    insta::assert_snapshot!(screen.term.backend());
}

#[test]
fn at_160x48_every_column_and_both_panes_are_shown() {
    let screen = Screen::new(160, 48);
    let text = screen.text();
    for want in [
        "PROVIDER",
        "KIND",
        "ACTIVITY",
        "Feed",
        "Details",
        "Why this risk",
        "AKIAEXAMPLECIBOT0001",
    ] {
        assert!(text.contains(want), "missing {want}: {text}");
    }
    insta::assert_snapshot!(screen.term.backend());
}

#[test]
fn moving_down_twice_selects_the_third_identity_and_shows_its_details() {
    let mut screen = Screen::new(160, 48);
    let third = screen.view().rows[2].display.to_string();
    screen.press(&["down", "down"]);
    let view = screen.view();
    assert_eq!(view.cursor, 2);
    assert_eq!(
        view.detail.as_ref().map(|d| d.title.to_string()),
        Some(third)
    );
    insta::assert_snapshot!(screen.term.backend());
}

#[test]
fn filtering_for_ci_keeps_only_matching_identities() {
    let mut screen = Screen::new(80, 24);
    screen.press(&["/"]);
    screen.type_text("ci");
    insta::assert_snapshot!("filter_input_open", screen.term.backend());
    screen.press(&["enter"]);
    let view = screen.view();
    assert_eq!(screen.app.filter(), Some("ci"));
    assert!(
        view.matching >= 2 && view.matching < view.total,
        "{} of {}",
        view.matching,
        view.total
    );
    assert!(
        view.rows
            .iter()
            .all(|r| r.display.contains("ci") || r.kind.contains("ci"))
    );
    insta::assert_snapshot!("filter_applied", screen.term.backend());
    // Esc clears an applied filter.
    screen.press(&["esc"]);
    assert_eq!(screen.app.filter(), None);
}

#[test]
fn escape_cancels_the_filter_input_without_applying_it() {
    let mut screen = Screen::new(80, 24);
    screen.press(&["/"]);
    screen.type_text("payments");
    screen.press(&["esc"]);
    assert_eq!(screen.app.filter(), None);
    assert_eq!(screen.view().matching, screen.view().total);
}

#[test]
fn keys_typed_into_the_filter_do_not_fire_bindings() {
    let mut screen = Screen::new(80, 24);
    screen.press(&["/"]);
    screen.type_text("quit?");
    assert!(!screen.app.should_quit());
    assert_eq!(screen.app.filter_input(), "quit?");
}

#[test]
fn help_lists_the_keys_of_the_active_keymap() {
    let mut screen = Screen::new(80, 24);
    screen.press(&["?"]);
    let text = screen.text();
    assert!(text.contains("Help · keymap default"), "{text}");
    assert!(text.contains("ctrl-c"), "{text}");
    insta::assert_snapshot!(screen.term.backend());
    screen.press(&["esc"]);
    assert!(!screen.text().contains("Help · keymap"));
}

#[test]
fn help_follows_a_different_keymap() {
    let mut screen = Screen::with(
        160,
        48,
        Keymap::builtin("vim").expect("vim keymap"),
        ColorMode::TrueColor,
    );
    screen.press(&["?"]);
    let text = screen.text();
    assert!(text.contains("Help · keymap vim"), "{text}");
    assert!(text.contains("↓, j"), "vim's j is listed with down: {text}");
}

#[test]
fn sorting_by_threat_reorders_and_marks_the_column() {
    let mut screen = Screen::new(160, 48);
    screen.press(&["t"]);
    let view = screen.view();
    assert_eq!(view.sort.as_str(), "threat");
    let threats: Vec<f64> = view.rows.iter().map(|r| r.threat).collect();
    assert!(threats.windows(2).all(|w| w[0] >= w[1]), "{threats:?}");
    assert!(screen.text().contains("THREAT▼"));
    insta::assert_snapshot!(screen.term.backend());
    // o cycles on: threat -> risk.
    screen.press(&["o"]);
    assert_eq!(screen.view().sort.as_str(), "risk");
}

#[test]
fn a_paused_feed_stays_still_and_counts_what_arrives() {
    let mut screen = Screen::new(160, 48);
    screen.press(&["p"]);
    let before: Vec<u64> = screen.view().feed.items.iter().map(|f| f.seq).collect();
    let (_, ids) = fleet();
    let late = event(
        &ids[1],
        NOW,
        "s3",
        "DeleteObject",
        "prod-artifacts/late",
        Status::Success,
    );
    screen.core.update(Msg::Events {
        events: vec![late.clone(), late],
        now: NOW,
    });
    screen.draw();
    let view = screen.view();
    let after: Vec<u64> = view.feed.items.iter().map(|f| f.seq).collect();
    assert_eq!(before, after, "a paused feed does not move");
    assert_eq!(view.feed.waiting, 2);
    assert!(screen.text().contains("PAUSED +2"));
    screen.press(&["p"]);
    assert!(
        screen.text().contains("DeleteObject"),
        "resuming shows the new events"
    );
}

#[test]
fn the_feed_can_follow_the_selected_identity() {
    let mut screen = Screen::new(160, 48);
    screen.press(&["f"]);
    let view = screen.view();
    let selected = view.rows[0].display.to_string();
    assert!(!view.feed.items.is_empty());
    assert!(
        view.feed
            .items
            .iter()
            .all(|f| f.identity.as_str() == selected)
    );
    assert!(screen.text().contains(&format!("Feed · {selected}")));
}

#[test]
fn tab_switches_the_compact_lower_pane_to_details() {
    let mut screen = Screen::new(80, 24);
    screen.press(&["tab", "tab"]);
    let text = screen.text();
    assert!(text.contains("Details"), "{text}");
    assert!(!text.contains(" Feed "), "{text}");
    insta::assert_snapshot!(screen.term.backend());
}

#[test]
fn the_demo_fleet_is_announced_when_it_was_chosen_by_default() {
    let mut screen = Screen::new(80, 24);
    screen.app = App::new(Keymap::default(), true);
    screen.draw();
    assert!(screen.text().contains("DEMO FLEET"));
    let mut wide = Screen::new(160, 48);
    wide.app = App::new(Keymap::default(), true);
    wide.draw();
    assert!(wide.text().contains("DEMO FLEET · no source configured"));
}

#[test]
fn dropped_events_and_failing_sources_are_visible() {
    let mut screen = Screen::new(80, 24);
    screen.stats.dropped = 1_500;
    screen.stats.sources.push(SourceStatus {
        name: "https://collector.internal/v1/events".into(),
        health: Health::Retrying,
        events: 0,
        rejected: 0,
        detail: Some("connection refused".into()),
        progress: None,
        lag: None,
    });
    screen.draw();
    let text = screen.text();
    assert!(text.contains("DROPPED 1,500!"), "{text}");
    assert!(text.contains("retrying"), "{text}");
    let mut wide = Screen::new(160, 48);
    wide.stats = screen.stats.clone();
    wide.draw();
    assert!(
        wide.text().contains("retrying (connection refused)"),
        "{}",
        wide.text()
    );
}

#[test]
fn a_collectors_lag_shows_in_the_header() {
    let mut screen = Screen::new(120, 30);
    screen.stats.sources.push(SourceStatus {
        name: "s3://org-trail/AWSLogs/".into(),
        health: Health::Up,
        events: 4_000,
        rejected: 0,
        detail: None,
        progress: None,
        lag: Some(blastdoor::engine::Lag {
            behind: 12,
            seconds: 180,
        }),
    });
    screen.draw();
    let text = screen.text();
    assert!(
        text.contains("s3://org-trail/AWSLogs/ up (12 behind, 3m)"),
        "{text}"
    );
    screen.stats.sources[0].lag = Some(blastdoor::engine::Lag {
        behind: 0,
        seconds: 0,
    });
    screen.draw();
    assert!(
        screen.text().contains("up (caught up)"),
        "{}",
        screen.text()
    );
}

#[test]
fn a_hostile_identity_name_renders_inert() {
    // Also C1 CSI and an invisible tag character (which would misalign the columns).
    let hostile = "evil\x1b[2J\x1b]0;pwned\x07\u{202e}x\u{e0041}\u{9b}";
    let mut screen = Screen::new(160, 48);
    let mut rec = record(
        Provider::Aws,
        hostile,
        IdentityKind::IamUser,
        hostile,
        vec![grant("*", "*", hostile)],
    );
    rec.credentials.push(Credential {
        id: s(hostile),
        kind: CredentialKind::AccessKey,
        status: CredentialStatus::Active,
    });
    let ev = event(&rec, NOW, "iam", hostile, hostile, Status::Failure);
    screen.core.update(Msg::Inventory {
        identities: vec![rec],
        now: NOW,
    });
    screen.core.update(Msg::Events {
        events: vec![ev],
        now: NOW,
    });
    screen.draw();
    let buf = screen.term.backend().buffer().clone();
    for cell in buf.content() {
        assert!(
            cell.symbol().chars().all(blastdoor::core::text::is_inert),
            "raw control or invisible character in {:?}",
            cell.symbol()
        );
    }
    let text = screen.text();
    assert!(
        text.contains("evil\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{202e}x\\u{e0041}"),
        "the escaped form is visible: {text}"
    );
}

#[test]
fn a_detail_line_too_long_for_the_pane_wraps_and_its_end_is_shown() {
    let mut screen = Screen::new(160, 48);
    // Only this identity, so it is the one selected.
    screen.core = Core::new();
    let long =
        "arn:aws:s3:::payments-ledger-archive-2026/exports/quarterly/settlement-files/final-END";
    let rec = record(
        Provider::Aws,
        "archiver",
        IdentityKind::IamUser,
        "archiver",
        vec![grant("s3:GetObject", long, "ledger-archive-read")],
    );
    screen.core.update(Msg::Inventory {
        identities: vec![rec],
        now: NOW,
    });
    screen.draw();
    screen.draw();
    let text = screen.text();
    assert!(
        text.contains("ledger-archive-read"),
        "the grant is on screen: {text}"
    );
    // Cut, the line would end at the pane's edge; wrapped, its last words are on the next row.
    assert!(
        text.contains("-END (via ledger-archive-read)"),
        "the wrapped grant ends on screen: {text}"
    );
}

#[test]
fn without_colour_nothing_is_painted_but_the_selection_stays_visible() {
    let screen = Screen::with(120, 40, Keymap::default(), ColorMode::NoColor);
    let buf = screen.term.backend().buffer();
    for cell in buf.content() {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "colour painted: {cell:?}"
        );
    }
    // The first table row (under the border and the column header) is the selection.
    let row = (0..buf.area.width)
        .map(|x| &buf[(x, 4)])
        .find(|c| c.symbol() == "▶")
        .expect("selection marker");
    assert!(
        row.modifier.contains(Modifier::REVERSED | Modifier::BOLD),
        "{row:?}"
    );
}

#[test]
fn a_tiny_terminal_gets_a_message_instead_of_a_broken_layout() {
    let screen = Screen::new(30, 8);
    assert!(screen.text().contains("needs at least"));
    // And a zero-sized one does not panic.
    let _ = Screen::new(0, 0);
}

// ---- acting: the picker, the approvals view, confirmations ----

use blastdoor::core::workflow::{self, DryRun, Proposal, Proposer, Rules, Via};
use blastdoor::tui::queue::ActionRow;

const RULES: Rules = Rules {
    required_approvals: 1,
    approval_ttl: 15 * MIN,
    action_ttl: 24 * 60 * MIN,
};

/// A queued action as the desk would have stored it.
#[allow(clippy::too_many_arguments)]
fn queued(
    id: &str,
    identity: &str,
    kind: &str,
    params: serde_json::Value,
    proposer: Proposer,
    reason: &str,
    at: Millis,
    preauthorized: bool,
) -> workflow::Action {
    let mut a = workflow::stage(
        Proposal {
            id: id.into(),
            identity: identity.into(),
            kind: kind.into(),
            target: serde_json::json!({ "identity": identity }),
            params,
            proposed_by: proposer,
            reason: reason.into(),
            evidence: vec![
                "threat: StopLogging on trail/org".into(),
                "blast radius: AdministratorAccess attached".into(),
            ],
            reversible: true,
            dry_run: DryRun {
                changes: vec![format!("{kind}: would change {identity}")],
                impact: vec!["the workload using it loses access".into()],
                undo: Some("re-activate".into()),
                before: serde_json::Value::Null,
            },
        },
        RULES,
        preauthorized,
        at,
    );
    a.reversible = true;
    a
}

fn human(p: &str, via: Via) -> Proposer {
    Proposer {
        principal: p.into(),
        via,
        agent: None,
    }
}

/// A queue with one of each: approved by a second responder, proposed by an AI agent,
/// executed by a standing playbook, and denied.
fn queue_rows() -> Vec<ActionRow> {
    let mut approved = queued(
        "act_7f3a9c0d1e2b3c4d5e",
        "aws:arn:aws:iam::123456789012:user/ci-bot",
        "aws.disable_access_key",
        serde_json::json!({"user": "ci-bot", "access_key_id": "AKIAEXAMPLECIBOT0001"}),
        human("alice", Via::Tui),
        "ci-bot stopped CloudTrail and tried to mint keys for admin",
        NOW - 6 * MIN,
        false,
    );
    workflow::approve(
        &mut approved,
        "bob",
        "sig",
        "SHA256:bob",
        true,
        NOW - 2 * MIN,
        RULES,
    )
    .expect("bob approves");
    let agent = queued(
        "act_a1b2c3d4e5f60718293",
        "k8s:system:serviceaccount:ci:runner",
        "k8s.quarantine_pod",
        serde_json::json!({"namespace": "ci", "pod": "build-7"}),
        Proposer {
            principal: "agent:triage-bot".into(),
            via: Via::Mcp,
            agent: Some("triage-bot".into()),
        },
        "runner token used outside its pod\x1b[31m",
        NOW - 3 * MIN,
        false,
    );
    let mut playbook = queued(
        "act_99887766554433221",
        "vault:approle/payments",
        "vault.revoke_accessor",
        serde_json::json!({"accessor": "hmac-7c1e"}),
        human("alice", Via::Playbook),
        "threat >= 90 on a CI token: standing playbook",
        NOW - 9 * MIN,
        true,
    );
    workflow::begin_execution(&mut playbook, NOW - 9 * MIN, RULES).expect("pre-authorised");
    workflow::complete(&mut playbook, serde_json::json!({}), NOW - 9 * MIN).expect("done");
    let mut denied = queued(
        "act_0badc0ffee0badc0f",
        "aws:arn:aws:iam::123456789012:role/deploy",
        "aws.deny_all",
        serde_json::json!({"role": "deploy"}),
        human("carol", Via::Cli),
        "deploy looked odd",
        NOW - 40 * MIN,
        false,
    );
    workflow::deny(&mut denied, "bob", NOW - 30 * MIN).expect("deny");
    let display = |a: &workflow::Action| match a.identity.as_str() {
        "aws:arn:aws:iam::123456789012:user/ci-bot" => Some("ci-bot"),
        "k8s:system:serviceaccount:ci:runner" => Some("ci/runner"),
        "vault:approle/payments" => Some("payments-approle"),
        _ => None,
    };
    [approved, agent, playbook, denied]
        .iter()
        .map(|a| ActionRow::from_action(a, display(a)))
        .collect()
}

impl Screen {
    fn with_queue(width: u16, height: u16) -> Screen {
        let mut s = Screen::new(width, height);
        s.app.set_queue(queue_rows());
        s.draw();
        s
    }
}

/// What an agent at `http://agent:7878` offers: `kinds`, the `agent.*` ones described.
fn offers(kinds: &[&str]) -> blastdoor::respond::suggest::Offers {
    use blastdoor::respond::suggest::{Offer, Offers};
    Offers(
        kinds
            .iter()
            .map(|k| Offer {
                kind: k.to_string(),
                by: "http://agent:7878".into(),
                described: k.starts_with("agent.").then(|| {
                    blastdoor::agent::actions::ActionCapability {
                        kind: k.to_string(),
                        description: if *k == "agent.isolate_workload" {
                            "isolate the workload: its calls are cut off at the agent".into()
                        } else {
                            "revoke the identity's token at the agent".into()
                        },
                        reversible: *k == "agent.isolate_workload",
                        undo: Some("release the isolation".into()),
                        impact: None,
                    }
                }),
            })
            .collect(),
    )
}

#[test]
fn s_opens_a_picker_of_the_actions_that_fit_the_selected_identity() {
    let mut screen = Screen::new(80, 24);
    // The key's deletion is not offered here: it is marked, and comes last.
    screen
        .app
        .set_offers(offers(&["aws.disable_access_key", "aws.deny_all"]));
    screen.draw();
    assert_eq!(screen.view().rows[0].display.as_str(), "ci-bot");
    screen.press(&["s"]);
    assert_eq!(screen.app.mode(), blastdoor::tui::app::Mode::Picker);
    let text = screen.text();
    for want in [
        "Stage an action on ci-bot",
        "aws.disable_access_key",
        "access_key_id=AKIAEXAMPLECIBOT0001",
        "params",
        "dry run",
        "undo",
        "cannot be undone",
        "cannot  run here: needs [providers.aws] in config.toml",
    ] {
        assert!(text.contains(want), "missing {want}: {text}");
    }
    // Best first: reversible and runnable, least destructive first; what cannot run last.
    let at = |k: &str| text.find(k).unwrap_or(usize::MAX);
    assert!(at("aws.disable_access_key") < at("aws.deny_all"));
    assert!(at("aws.deny_all") < at("aws.delete_access_key"));
    insta::assert_snapshot!("picker_80x24", screen.term.backend());
    screen.press(&["esc"]);
    assert_eq!(screen.app.mode(), blastdoor::tui::app::Mode::Normal);
}

#[test]
fn the_picker_at_160x48_shows_agent_kinds_the_agents_offer() {
    let mut screen = Screen::new(160, 48);
    screen.app.set_offers(offers(&[
        "agent.isolate_workload",
        "agent.revoke_token",
        "aws.disable_access_key",
        "aws.delete_access_key",
        "aws.deny_all",
    ]));
    screen.draw();
    screen.press(&["s", "down"]);
    let text = screen.text();
    assert!(text.contains("agent.isolate_workload"), "{text}");
    assert!(text.contains("aws.deny_all"), "{text}");
    insta::assert_snapshot!("picker_160x48", screen.term.backend());
}

#[test]
fn picking_a_kind_asks_for_a_justification_naming_it() {
    let mut screen = Screen::new(80, 24);
    screen.press(&["s", "enter"]);
    screen.type_text("stopped CloudTrail");
    let text = screen.text();
    assert!(
        text.contains("Stage aws.disable_access_key on ci-bot"),
        "{text}"
    );
    assert!(text.contains("stopped CloudTrail"), "{text}");
    insta::assert_snapshot!("justify_80x24", screen.term.backend());
}

#[test]
fn the_approvals_view_lists_the_queue_with_who_proposed_what_and_why() {
    let mut screen = Screen::with_queue(80, 24);
    // Open actions come first, newest first: the agent's proposal, then alice's.
    screen.press(&["a", "down"]);
    let text = screen.text();
    for want in [
        "Approvals",
        "2b3c4d5e",
        "approved",
        "agent triage-bot (mcp)",
        "★",
        "1/1",
        "ci-bot stopped CloudTrail",
        "bob 2m ago",
    ] {
        assert!(text.contains(want), "missing {want}: {text}");
    }
    insta::assert_snapshot!("approvals_80x24", screen.term.backend());
}

#[test]
fn the_approvals_view_at_160x48_shows_reasons_evidence_and_the_dry_run() {
    let mut screen = Screen::with_queue(160, 48);
    screen.press(&["a"]);
    let text = screen.text();
    for want in [
        "REASON",
        "agent triage-bot (mcp)",
        "Evidence",
        "Dry run: changes",
        "k8s.quarantine_pod: would change",
        "runner token used outside its pod\\u{1b}[31m",
        "none yet (1 required)",
    ] {
        assert!(text.contains(want), "missing {want}: {text}");
    }
    insta::assert_snapshot!("approvals_160x48", screen.term.backend());
}

#[test]
fn a_preauthorised_execution_is_highlighted_and_marked_in_words() {
    let mut screen = Screen::with_queue(160, 48);
    screen.press(&["a"]);
    let buf = screen.term.backend().buffer().clone();
    let style = screen.theme.style("action.preauthorized");
    let row = (0..buf.area.height)
        .find(|&y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .contains("54433221")
        })
        .expect("the playbook's row");
    let id_x = (0..buf.area.width)
        .find(|&x| buf[(x, row)].symbol() == "★")
        .expect("★ marker");
    assert_eq!(buf[(id_x, row)].fg, style.fg.expect("a colour"));
    // The marker and the words survive without colour.
    let mut plain = Screen::with(160, 48, Keymap::default(), ColorMode::NoColor);
    plain.app.set_queue(queue_rows());
    plain.press(&["a"]);
    plain.press(&["down", "down"]);
    let text = plain.text();
    assert!(text.contains("★ pre-authorised"), "{text}");
    assert!(
        text.contains("pre-authorised by a standing playbook"),
        "{text}"
    );
}

#[test]
fn approving_asks_for_confirmation_naming_the_action_and_its_target() {
    let mut screen = Screen::with_queue(80, 24);
    screen.press(&["a", "down", "A"]);
    let text = screen.text();
    assert!(text.contains("Approve act_7f3a9c0d1e2b3c4d5e"), "{text}");
    assert!(text.contains("aws.disable_access_key"), "{text}");
    assert!(
        text.contains("on ci-bot (access_key_id=AKIAEXAMPLECIBOT0001, user=ci-bot)?"),
        "{text}"
    );
    assert!(text.contains("[y]es"), "{text}");
    insta::assert_snapshot!("confirm_approve_80x24", screen.term.backend());
    screen.press(&["n"]);
    assert!(screen.app.confirming().is_none());
}

#[test]
fn in_the_demo_w_makes_you_the_second_responder_who_approves_naming_the_target() {
    let mut screen = Screen::with_queue(80, 24);
    screen.app.set_responder(Some("demo-alice"));
    screen.draw();
    assert!(
        screen.text().contains("demo fleet · you: demo-alice"),
        "{}",
        screen.text()
    );
    // What the console's loop does with the command the key gives: the next responder.
    let chord = KeyChord::parse("w").unwrap();
    let cmd = screen
        .app
        .handle_event(&TermEvent::Key(KeyEvent::new(chord.code, chord.mods)));
    assert_eq!(cmd, Some(Command::SwitchResponder));
    screen.app.switched_to(Some("demo-bob"));
    screen.press(&["a", "down", "A"]);
    let text = screen.text();
    for want in [
        "demo fleet · you: demo-bob",
        "a throwaway demo key",
        "Approve act_7f3a9c0d1e2b3c4d5e",
        "on ci-bot (access_key_id=AKIAEXAMPLECIBOT0001, user=ci-bot)?",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    insta::assert_snapshot!(
        "demo_second_responder_approves_80x24",
        screen.term.backend()
    );
}

#[test]
fn without_the_demo_keys_w_switches_nobody() {
    let mut screen = Screen::with_queue(80, 24);
    screen.press(&["w"]);
    let text = screen.text();
    assert!(!text.contains("you: "), "{text}");
    assert!(
        text.contains("only the demo's throwaway responders"),
        "{text}"
    );
}

#[test]
fn a_contained_identity_is_badged_and_its_credential_shows_the_read_back_status() {
    use blastdoor::core::containment::{Contained, Takes};
    let mut screen = Screen::new(80, 24);
    screen.core.update(Msg::Contained {
        items: vec![Contained {
            action_id: "act_0190c0ffee0001".into(),
            kind: "aws.disable_access_key".into(),
            identity: "aws:arn:aws:iam::123456789012:user/ci-bot".into(),
            credential: Some("AKIAEXAMPLECIBOT0001".into()),
            since: NOW,
            takes: Takes::Credential {
                id: "AKIAEXAMPLECIBOT0001".into(),
                status: CredentialStatus::Inactive,
            },
            watched: true,
        }],
    });
    screen.draw();
    let text = screen.text();
    assert!(text.contains("[contained] ci-bot"), "{text}");
    insta::assert_snapshot!("contained_badge_80x24", screen.term.backend());
    // The details: what contained it, and the key as the executor read it back.
    let r = screen
        .view()
        .rows
        .iter()
        .position(|r| r.display.as_str() == "ci-bot")
        .unwrap();
    // From wherever the selection is (it follows the identity it was on when the ranking moves).
    for _ in screen.view().cursor..r {
        screen.press(&["down"]);
    }
    screen.press(&["tab", "tab"]);
    let text = screen.text();
    assert!(
        text.contains("act_0190c0ffee0001 aws.disable_access_key") && text.contains("holding"),
        "{text}"
    );
    assert!(text.contains("inactive"), "{text}");
}

#[test]
fn a_status_line_reports_the_desks_answer() {
    let mut screen = Screen::with_queue(80, 24);
    screen.app.set_status(
        blastdoor::tui::app::StatusKind::Refused,
        "alice proposed act_7f3a9c0d1e2b3c4d5e and cannot approve it: another responder must",
    );
    screen.draw();
    let text = screen.text();
    assert!(text.contains("✗ refused: alice proposed"), "{text}");
}

#[test]
fn read_only_hints_offer_no_acting_key() {
    let mut screen = Screen::new(80, 24);
    screen.app = App::new(Keymap::default(), false).read_only(true);
    screen.app.set_queue(queue_rows());
    screen.draw();
    assert!(!screen.text().contains("stage"), "{}", screen.text());
    screen.press(&["a"]);
    let text = screen.text();
    for no in [" approve ", " deny ", " execute ", " roll back "] {
        assert!(!text.contains(no), "read-only offers {no}: {text}");
    }
    screen.press(&["?"]);
    let text = screen.text();
    assert!(!text.contains("propose an action"), "{text}");
}

#[test]
fn a_re_rank_keeps_the_selection_on_its_identity_not_its_row() {
    let mut screen = Screen::new(100, 30);
    screen.press(&["down", "down", "down"]);
    let before = screen.view();
    let chosen = before.selected.expect("a selected identity");
    assert_eq!(screen.core.position(chosen), Some(3));
    // An identity ranked below the selection turns off logging and escalates: it jumps above.
    let mover = screen.core.window(12, 1, None)[0];
    let actor = screen.core.get(mover).unwrap().record.clone();
    let mut events = Vec::new();
    for (k, (service, op)) in [
        ("cloudtrail", "StopLogging"),
        ("cloudtrail", "DeleteTrail"),
        ("iam", "AttachUserPolicy"),
        ("iam", "CreateAccessKey"),
        ("iam", "PutUserPolicy"),
    ]
    .into_iter()
    .enumerate()
    {
        events.push(event(
            &actor,
            NOW - 1000 + k as i64,
            service,
            op,
            "x",
            Status::Success,
        ));
    }
    screen.core.update(Msg::Events { events, now: NOW });
    assert!(
        screen.core.position(mover) < screen.core.position(chosen),
        "the mover must overtake the selection for this test to mean anything"
    );
    assert_eq!(
        screen.core.position(chosen),
        Some(4),
        "the selection moved a row down"
    );
    screen.draw();
    let after = screen.view();
    assert_eq!(
        after.selected,
        Some(chosen),
        "the selection stayed on its identity"
    );
    assert_eq!(after.cursor, 4);
    let name = screen.core.get(chosen).unwrap().display().to_string();
    let highlighted = screen
        .text()
        .lines()
        .find(|l| l.contains('▶'))
        .unwrap_or_default()
        .to_string();
    assert!(highlighted.contains(&name), "{highlighted:?} is not {name}");
    // Moving the cursor still moves it: the pin follows what the responder asked for.
    screen.press(&["up"]);
    assert_eq!(screen.view().cursor, 3);
    assert_ne!(screen.view().selected, Some(chosen));
}

#[test]
fn a_filter_keeps_three_digit_ranks_whole() {
    let mut screen = Screen::new(80, 24);
    let mut tail: Vec<IdentityRecord> = (0..150)
        .map(|i| {
            record(
                Provider::Aws,
                &format!("arn:aws:iam::123456789012:role/quiet-{i:03}"),
                IdentityKind::IamRole,
                &format!("quiet-{i:03}"),
                vec![],
            )
        })
        .collect();
    tail.push(record(
        Provider::Aws,
        "arn:aws:iam::123456789012:role/needle",
        IdentityKind::IamRole,
        "needle",
        vec![],
    ));
    screen.core.update(Msg::Inventory {
        identities: tail,
        now: NOW,
    });
    screen.draw();
    let total = screen.view().total;
    assert!(total > 150, "{total}");
    screen.press(&["/"]);
    screen.type_text("needle");
    screen.press(&["enter"]);
    let view = screen.view();
    assert_eq!(view.rows.len(), 1);
    let rank = view.rows[0].rank;
    assert!(rank >= 100, "the needle ranks {rank}");
    let text = screen.text();
    let row = text
        .lines()
        .find(|l| l.contains("needle") && !l.contains("matching"))
        .expect("the needle's row");
    assert!(
        row.contains(&format!(" {rank} ")) || row.contains(&format!("│{rank} ")),
        "rank {rank} is cut: {row:?}"
    );
}

#[test]
fn actions_staged_in_the_same_minute_are_told_apart_in_the_id_column() {
    // Real ids begin with the time they were made: these two share their first 16 characters.
    let ids = [
        "act_0193a2b4c5d6e1f2a3b4c5d6",
        "act_0193a2b4c5d69a8b7c6d5e4f",
    ];
    let rows: Vec<ActionRow> = ids
        .iter()
        .map(|id| {
            let a = queued(
                id,
                "aws:arn:aws:iam::123456789012:user/ci-bot",
                "aws.disable_access_key",
                serde_json::json!({"user": "ci-bot"}),
                human("alice", Via::Tui),
                "stolen",
                NOW - MIN,
                false,
            );
            ActionRow::from_action(&a, Some("ci-bot"))
        })
        .collect();
    let mut screen = Screen::new(80, 24);
    screen.app.set_queue(rows);
    screen.draw();
    screen.press(&["a"]);
    let text = screen.text();
    let cells: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('┃') && l.contains("staged"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(cells.len(), 2, "{text}");
    assert_ne!(cells[0], cells[1], "two actions look alike: {text}");
    for c in &cells {
        assert!(
            ids.iter().any(|id| id.ends_with(c)),
            "{c} is not an id's end: {text}"
        );
    }
}

#[test]
fn two_identities_with_one_name_are_told_apart_by_account() {
    let mut screen = Screen::new(80, 24);
    let twins: Vec<IdentityRecord> = ["111122223333", "444455556666"]
        .iter()
        .map(|acct| {
            record(
                Provider::Aws,
                &format!("arn:aws:iam::{acct}:role/deploy"),
                IdentityKind::IamRole,
                "deploy",
                vec![grant("*", "*", "AdministratorAccess")],
            )
        })
        .collect();
    screen.core.update(Msg::Inventory {
        identities: twins,
        now: NOW,
    });
    screen.draw();
    let labels: Vec<String> = screen
        .view()
        .rows
        .iter()
        .map(|r| r.display.to_string())
        .filter(|d| d.starts_with("deploy"))
        .collect();
    assert!(
        labels.contains(&"deploy@111122223333".to_string())
            && labels.contains(&"deploy@444455556666".to_string()),
        "{labels:?}"
    );
    let text = screen.text();
    assert!(
        text.contains("deploy@1111") && text.contains("deploy@4444"),
        "{text}"
    );
}

#[test]
fn under_lc_all_c_every_screen_is_plain_ascii() {
    let mut screen = Screen::with_queue(80, 24);
    screen.theme = Theme::builtin("dark", ColorMode::NoColor)
        .expect("dark")
        .with_ascii(true);
    screen.draw();
    for keys in [&[][..], &["a"][..], &["a", "?"][..]] {
        screen.press(keys);
        let text = screen.text();
        assert!(text.is_ascii(), "not ASCII after {keys:?}: {text}");
        assert!(
            text.contains("+--") || text.contains("+ "),
            "no borders: {text}"
        );
        assert_eq!(text.lines().count(), 24);
        assert!(text.lines().all(|l| l.chars().count() == 80), "{text}");
    }
}

#[test]
fn the_header_says_who_acts_here_or_that_nobody_can() {
    let first_line = |s: &Screen| s.text().lines().next().unwrap_or("").to_string();
    let mut screen = Screen::new(80, 24);
    screen.app = App::new(Keymap::default(), false).read_only(true);
    screen.draw();
    assert!(
        first_line(&screen).contains("READ-ONLY"),
        "{}",
        screen.text()
    );

    let mut screen = Screen::new(80, 24);
    screen.app.set_acting_as(Some("alice"));
    screen.draw();
    assert!(
        first_line(&screen).contains("you: alice"),
        "{}",
        screen.text()
    );

    // No key: said in the header, and `s` says why at once instead of opening the picker and
    // asking for a justification that could never be signed.
    let mut screen = Screen::new(80, 24);
    screen.app.disable_acting(
        "acting disabled: no SSH key: give --key FILE, or load your key into ssh-agent",
    );
    screen.draw();
    assert!(
        first_line(&screen).contains("VIEW ONLY"),
        "{}",
        screen.text()
    );
    screen.press(&["s"]);
    assert_ne!(screen.app.mode(), blastdoor::tui::app::Mode::Picker);
    assert_ne!(screen.app.mode(), blastdoor::tui::app::Mode::Justify);
    let status = screen
        .app
        .status()
        .map(|s| s.text.to_string())
        .unwrap_or_default();
    assert!(status.contains("no SSH key"), "{status}");
}

#[test]
fn a_long_message_is_never_cut_silently_and_can_be_read_again() {
    let mut screen = Screen::new(80, 24);
    let long = "no SSH key: give --key FILE, or load your key into ssh-agent (SSH_AUTH_SOCK), \
                then press s again on the identity to stage the containment you chose";
    screen
        .app
        .set_status(blastdoor::tui::app::StatusKind::Failed, long);
    screen
        .app
        .set_status(blastdoor::tui::app::StatusKind::Info, "second");
    screen
        .app
        .set_status(blastdoor::tui::app::StatusKind::Failed, long);
    screen.draw();
    let text = screen.text();
    let line = text
        .lines()
        .find(|l| l.contains("no SSH key"))
        .expect("the status line");
    assert!(line.trim_end().ends_with("m more"), "{line:?}");
    screen.press(&["m"]);
    let text = screen.text();
    // Wrapped, so every word of the message is on screen, and both earlier ones too.
    let flat: String = text
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '║' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("containment you chose"), "{text}");
    assert!(flat.contains("second"), "{text}");
    assert_eq!(text.matches("no SSH key").count(), 2, "{text}");
    screen.press(&["esc"]);
    assert_eq!(screen.app.mode(), blastdoor::tui::app::Mode::Normal);
}

#[test]
fn the_hint_line_shows_whole_hints_only() {
    let screen = Screen::new(80, 24);
    let text = screen.text();
    let hints = text.lines().last().unwrap_or("");
    for cut in ["p pa ", " pa\n"] {
        assert!(!hints.contains(cut), "{hints:?}");
    }
    let last_word = hints.split_whitespace().last().unwrap_or("");
    assert!(
        [
            "quit",
            "move",
            "stage",
            "approvals",
            "pane",
            "filter",
            "help",
            "sort",
            "pause",
            "scope"
        ]
        .contains(&last_word),
        "cut hint: {hints:?}"
    );
}

#[test]
fn at_80_columns_a_retrying_source_says_why_when_it_fits() {
    let mut screen = Screen::new(80, 24);
    screen.stats.rejected = 0;
    screen.stats.sources = vec![SourceStatus {
        name: "agent".into(),
        health: Health::Retrying,
        events: 0,
        rejected: 0,
        detail: Some("connection refused".into()),
        progress: None,
        lag: None,
    }];
    screen.draw();
    let text = screen.text();
    let second = text.lines().nth(1).unwrap_or("");
    assert!(
        second.contains("agent retrying (connection refused)"),
        "{second:?}"
    );
}

#[test]
fn the_feed_reads_as_a_timeline_with_dates_and_source_addresses() {
    let mut screen = Screen::new(160, 48);
    // A replayed record from three days ago arrives after today's live ones.
    let (_, all) = fleet();
    let old = NOW - 3 * 24 * 60 * MIN;
    let mut e = event(&all[0], old, "s3", "GetObject", "k", Status::Success);
    e.src_ip = Some(s("192.0.2.1"));
    screen.core.update(Msg::Events {
        events: vec![e],
        now: NOW,
    });
    screen.draw();
    let text = screen.text();
    let feed: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("Feed"))
        .skip(1)
        .take_while(|l| !l.contains('└') && !l.contains('┗'))
        .collect();
    let day = |t: Millis| {
        chrono::DateTime::from_timestamp_millis(t)
            .unwrap()
            .format("%m-%d")
            .to_string()
    };
    let old_line = feed
        .iter()
        .position(|l| l.contains("s3:GetObject on k"))
        .expect("the replayed record in the feed");
    assert!(
        feed[..old_line].iter().all(|l| l.contains(&day(NOW))),
        "today's events, dated, come before the old one: {text}"
    );
    assert!(feed[old_line].contains(&day(old)), "{}", feed[old_line]);
    assert!(
        feed[old_line].contains("from 192.0.2.1"),
        "{}",
        feed[old_line]
    );
}
