//! What an on-call engineer meets at 3 a.m. over SSH (issue #17), through the real binary:
//! completions and a man page, `explain` with the calls behind each reason, no silent success
//! on a source that cannot be read, every mistyped config key named, tables that fit 80 columns.

use std::io::Write;

mod common;
use common::{bd, free_port};

fn event(principal: &str, op: &str, t: i64, ip: &str, ua: &str) -> String {
    serde_json::json!({
        "time": t,
        "actor": {"provider": "aws", "principal": principal, "kind": "iam_user"},
        "api": {"service": "iam", "operation": op},
        "src_ip": ip,
        "status": "success",
        "raw": {"eventName": op, "sourceIPAddress": ip, "userAgent": ua},
    })
    .to_string()
}

/// The event with the display name a source would give its actor.
fn named(event: String, display: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&event).unwrap();
    v["actor"]["display"] = display.into();
    v.to_string()
}

/// A file where `ci-bot` turns off logging and makes itself a key from a new address, among
/// quiet identities; one of them with a very long path, two sharing a name across accounts.
fn trail(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("trail.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    let bot = "arn:aws:iam::111122223333:user/ci-bot";
    for i in 0..10 {
        writeln!(
            f,
            "{}",
            event(
                bot,
                "GetCallerIdentity",
                1_000 + i,
                "10.0.0.7",
                "aws-sdk-go/1.0"
            )
        )
        .unwrap();
    }
    writeln!(
        f,
        "{}",
        event(
            bot,
            "StopLogging",
            5_000,
            "203.0.113.66",
            "aws-cli/2.17 \u{1b}[2J"
        )
    )
    .unwrap();
    writeln!(
        f,
        "{}",
        event(
            bot,
            "CreateAccessKey",
            6_000,
            "203.0.113.66",
            "aws-cli/2.17"
        )
    )
    .unwrap();
    let long = "arn:aws:iam::111122223333:role/platform/very/long/path/to/a/deployment-role-with-a-long-name-quarterly-reporting";
    writeln!(f, "{}", event(long, "GetObject", 2_000, "10.0.0.9", "sdk")).unwrap();
    for account in ["444455556666", "777788889999"] {
        writeln!(
            f,
            "{}",
            named(
                event(
                    &format!("arn:aws:iam::{account}:user/deployer"),
                    "DeleteTrail",
                    3_000,
                    "10.0.0.10",
                    "sdk"
                ),
                "deployer"
            )
        )
        .unwrap();
    }
    path
}

#[test]
fn completions_know_the_commands_and_man_prints_a_roff_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bd().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for word in ["rank", "explain", "check-config"] {
            assert!(text.contains(word), "{shell} completions miss {word}");
        }
    }
    let out = bd().arg("completions").arg("tcsh").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    let out = bd().arg("man").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with(".TH")), "{text}");
    assert!(text.contains("explain"), "the man page lists explain");
}

#[test]
fn each_command_lists_only_the_options_it_uses() {
    let help = |args: &[&str]| {
        let out = bd().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for cmd in ["rank", "watch", "action", "audit", "explain"] {
        let text = help(&[cmd, "--help"]);
        for console_only in ["--theme", "--keymap", "--read-only"] {
            assert!(
                !text.contains(console_only),
                "{cmd} --help lists {console_only}:\n{text}"
            );
        }
    }
    for console in [&["--help"][..], &["demo", "--help"], &["tui", "--help"]] {
        let text = help(console);
        assert!(
            text.contains("Console options:") && text.contains("--read-only"),
            "{console:?}:\n{text}"
        );
    }
    // A console option on a headless command is a usage error naming it, not ignored.
    let out = bd()
        .args(["rank", "--theme", "light", "--source", "demo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--theme"));
}

#[test]
fn explain_json_gives_each_reason_the_calls_behind_it_with_their_source_ip() {
    let dir = tempfile::tempdir().unwrap();
    let path = trail(dir.path());
    let out = bd()
        .args(["explain", "aws:arn:aws:iam::111122223333:user/ci-bot"])
        .args(["--format", "json", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let x: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The ranked identity's own fields are all there, unchanged.
    assert_eq!(x["identity"], "aws:arn:aws:iam::111122223333:user/ci-bot");
    assert!(x["risk"].as_f64().unwrap() > 0.0 && x["why"].is_array());
    let evidence = x["evidence"].as_array().expect("an evidence array");
    let reasons = x["reasons"].as_array().unwrap();
    let evasion = reasons
        .iter()
        .find(|r| r["detail"].as_str().unwrap().starts_with("defence evasion"))
        .expect("a defence-evasion reason");
    let behind: Vec<&serde_json::Value> = evasion["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &evidence[i.as_u64().unwrap() as usize])
        .collect();
    assert_eq!(behind.len(), 1, "{evasion}");
    assert_eq!(behind[0]["operation"], "StopLogging");
    assert_eq!(behind[0]["source_ip"], "203.0.113.66");
    assert_eq!(behind[0]["result"], "success");
    assert!(
        behind[0]["time"]
            .as_str()
            .unwrap()
            .starts_with("1970-01-01T00:00:05")
    );
    // The user agent from the log is evidence too, and made inert: no raw escape leaves.
    let ua = behind[0]["user_agent"].as_str().unwrap();
    assert!(
        ua.starts_with("aws-cli/2.17") && !ua.contains('\u{1b}'),
        "{ua:?}"
    );
    assert!(!out.stdout.contains(&0x1b));
}

#[test]
fn explain_table_fits_80_columns_and_shows_the_calls() {
    let dir = tempfile::tempdir().unwrap();
    let path = trail(dir.path());
    // By its display name, which names one identity.
    let out = bd()
        .env("COLUMNS", "80")
        .args(["explain", "ci-bot", "--format", "table", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for l in text.lines() {
        assert!(l.chars().count() <= 80, "wider than 80: {l:?}\n{text}");
    }
    for want in ["REASONS", "StopLogging", "203.0.113.66", "CREDENTIALS"] {
        assert!(text.contains(want), "no {want}:\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "{text}");
    // A name two identities share is refused, naming both.
    let out = bd()
        .args(["explain", "deployer", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("444455556666") && err.contains("777788889999"),
        "{err}"
    );
    let out = bd()
        .args(["explain", "nobody", "--source"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rank_on_a_source_that_cannot_be_read_says_so_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/v1/events");
    let out = bd()
        .args([
            "rank",
            "--live-for",
            "1",
            "--format",
            "json",
            "--source",
            &url,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("could not be read"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no empty ranking passed off as one");
    // Beside a source that can be read, the ranking of what was read is printed, and the run
    // still fails: a ranking missing a source must not pass for a whole one.
    let path = trail(dir.path());
    let out = bd()
        .args([
            "rank",
            "--live-for",
            "1",
            "--format",
            "json",
            "--source",
            &url,
        ])
        .arg("--source")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let ranked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!ranked.as_array().unwrap().is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be read"));
}

#[test]
fn check_config_names_every_mistyped_key_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "theme = 5\n[providers.aws]\nregion = 5\nendpoint = \"http://x\"\n[providers.vault]\naddr = true\n",
    )
    .unwrap();
    let out = bd()
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = cfg.display().to_string();
    for want in [
        "providers.aws.region: line 3: expected a string, found integer 5",
        "providers.vault.addr: line 6",
        "providers.aws.endpoint: unknown key (known: region, endpoint_url)",
        "theme: line 1",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&file) && l.contains(want)),
            "no {want:?} naming {file}:\n{err}"
        );
    }
    // A well-typed section the executor refuses is named too.
    std::fs::write(&cfg, "[providers.vault]\nnamespace = \"x\"\n").unwrap();
    let out = bd()
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no addr"));
}

#[test]
fn rank_table_fits_the_width_and_still_shows_each_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = trail(dir.path());
    let table = |cols: &str| {
        let out = bd()
            .env("COLUMNS", cols)
            .args(["rank", "--format", "table", "--source"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let narrow = table("80");
    for l in narrow.lines() {
        // Bytes, not characters: mawk and `cut -c` count bytes, so a cut cell must end in
        // ASCII dots, not a 3-byte ellipsis.
        assert!(l.len() <= 80, "wider than 80 bytes: {l:?}\n{narrow}");
    }
    // At 80 columns the identity gives up its start before the reason goes.
    assert!(narrow.contains("TOP REASON"), "{narrow}");
    // The long role keeps its last path segment's end; the two deployers say their accounts.
    assert!(narrow.contains("quarterly-reporting"), "{narrow}");
    assert!(
        narrow.contains("deployer@444455556666") && narrow.contains("deployer@777788889999"),
        "{narrow}"
    );
    assert!(narrow.contains("ci-bot"));
    let wide = table("160");
    assert!(
        wide.contains("TOP REASON") && wide.contains("KIND"),
        "{wide}"
    );
    assert!(wide.lines().all(|l| l.chars().count() <= 160));
}
