//! The console's part in containment: the staging picker offers the kinds that fit a service
//! account, with the pod taken from its audit records, and a contained principal seen acting
//! again shows as a containment leak in the header and in its details.

use blastdoor::core::containment::{Contained, Takes};
use blastdoor::core::model::{Api, Event, IdentityKind, IdentityRecord, Provider, Status};
use blastdoor::core::{Core, CoreEffect, Millis, Msg, SafeText};
use blastdoor::engine::Stats;
use blastdoor::tui::{App, ColorMode, KeyChord, Keymap, Theme, ViewData, render};
use crossterm::event::{Event as TermEvent, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Size;
use serde_json::json;

const NOW: Millis = 1_795_662_000_000;
const MIN: Millis = 60_000;
const SA: &str = "system:serviceaccount:ci:runner";

fn sa_event(t: Millis) -> Event {
    Event {
        time: t,
        class: Default::default(),
        actor: IdentityRecord {
            provider: Provider::Kubernetes,
            principal: SafeText::new(SA),
            kind: IdentityKind::ServiceAccount,
            display: Some(SafeText::new("runner")),
            credentials: vec![],
            permissions: vec![],
            tags: vec![],
        },
        credential: None,
        api: Api {
            service: SafeText::new("secrets"),
            operation: SafeText::new("list"),
        },
        resources: vec![],
        src_ip: Some(SafeText::new("10.4.0.7")),
        user_agent: None,
        region: None,
        issued: None,
        status: Status::Success,
        signals: vec![],
        sigma: Vec::new(),
        raw: json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1",
                    "user": {"username": SA, "extra": {
                        "authentication.kubernetes.io/pod-name": ["runner-7"],
                        "authentication.kubernetes.io/credential-id": ["JTI=1"]}}})
        .into(),
    }
}

struct Screen {
    core: Core,
    app: App,
    term: Terminal<TestBackend>,
    theme: Theme,
}

impl Screen {
    fn new(core: Core) -> Screen {
        let mut s = Screen {
            core,
            app: App::new(Keymap::default(), false),
            term: Terminal::new(TestBackend::new(160, 48)).unwrap(),
            theme: Theme::builtin("dark", ColorMode::TrueColor).unwrap(),
        };
        s.draw();
        s
    }

    fn draw(&mut self) {
        let area = self.term.size().unwrap();
        self.app.set_size(Size::new(area.width, area.height));
        let stats = Stats {
            ingested: 1,
            dropped: 0,
            rejected: 0,
            rate: 0.0,
            sources: vec![],
        };
        let view = ViewData::build(&self.core, &stats, &self.app, NOW);
        self.app.sync(&view);
        let (app, theme) = (&self.app, &self.theme);
        self.term.draw(|f| render(f, app, &view, theme)).unwrap();
    }

    fn press(&mut self, k: &str) {
        let chord = KeyChord::parse(k).unwrap();
        let _ = self
            .app
            .handle_event(&TermEvent::Key(KeyEvent::new(chord.code, chord.mods)));
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
fn the_picker_offers_quarantine_of_the_pod_named_in_the_service_accounts_audit_records() {
    let mut core = Core::new();
    core.update(Msg::Events {
        events: vec![sa_event(NOW - MIN)],
        now: NOW,
    });
    let mut screen = Screen::new(core);
    screen.press("s");
    let text = screen.text();
    for want in [
        "k8s.quarantine_pod",
        "namespace=ci, pod=runner-7",
        "k8s.delete_rolebinding",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
}

#[test]
fn a_contained_principal_acting_again_shows_a_containment_leak_in_the_header_and_details() {
    let contained = || {
        let mut core = Core::new();
        core.update(Msg::Events {
            events: vec![sa_event(NOW - 20 * MIN)],
            now: NOW - 20 * MIN,
        });
        core.update(Msg::Contained {
            items: vec![Contained {
                action_id: "act_q1".into(),
                kind: "k8s.quarantine_pod".into(),
                identity: format!("k8s:{SA}"),
                credential: None,
                since: NOW - 10 * MIN,
                takes: Takes::Nothing,
                watched: true,
            }],
        });
        core
    };
    let quiet = Screen::new(contained());
    assert!(
        !quiet.text().contains("CONTAINMENT LEAK"),
        "acting before the change is no leak"
    );

    let mut core = contained();
    let fx = core.update(Msg::Events {
        events: vec![sa_event(NOW - MIN)],
        now: NOW,
    });
    let leaks = fx
        .iter()
        .filter(|e| matches!(e, CoreEffect::ContainmentLeak(_)))
        .count();
    assert_eq!(leaks, 1, "one leak alert: {fx:?}");
    let screen = Screen::new(core);
    let text = screen.text();
    assert!(text.contains("CONTAINMENT LEAK ×1!"), "header:\n{text}");
    assert!(
        text.contains("act_q1") && text.contains("secrets:list"),
        "details name the action and the call:\n{text}"
    );
}
