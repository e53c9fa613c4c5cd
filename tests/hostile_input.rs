//! Input an attacker controls, through the real binary: a compressed file that expands past the
//! limits `config.toml` sets, a line that is not UTF-8, FIFOs and devices as sources, and limits
//! written wrong. Each is named (file and line), counted and skipped, and what was read before it
//! is kept.

mod common;

use std::io::Write;

use common::*;

fn record(user: &str, second: u32) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/{user}","accountId":"123456789012"}},"eventTime":"2026-11-26T03:00:{second:02}Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","sourceIPAddress":"198.51.100.1"}}"#
    )
}

fn gzip(path: &std::path::Path, parts: &[&[u8]]) {
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    for p in parts {
        gz.write_all(p).unwrap();
    }
    gz.finish().unwrap();
}

#[test]
fn rank_names_and_skips_a_file_over_the_limits_config_sets_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    std::fs::create_dir(&trail).unwrap();
    // 2 MiB of ordinary records, over a max_file lowered to 1 MiB: the first ones are kept.
    let many: String = (0..8000).map(|i| record("big", i % 60) + "\n").collect();
    gzip(&trail.join("a-big.json.gz"), &[many.as_bytes()]);
    // A bomb: one record, then 64 MiB of zeros (1000:1): stopped at 1 MiB.
    let head = record("bomber", 1) + "\n";
    gzip(
        &trail.join("b-bomb.json.gz"),
        &[head.as_bytes(), &vec![0u8; 64 << 20]],
    );
    // Five records, one invalid UTF-8 byte on line 2.
    let mut five = Vec::new();
    for (i, user) in ["u1", "u2", "u3", "u4", "u5"].iter().enumerate() {
        let mut l = record(user, i as u32).into_bytes();
        if i == 1 {
            l[50] = 0xff;
        }
        five.extend(l);
        five.push(b'\n');
    }
    std::fs::write(trail.join("c-five.jsonl"), five).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[limits]\nmax_file = \"1 MiB\"\n").unwrap();

    let o = run(bd()
        .arg("--config")
        .arg(&config)
        .args(["rank", "--format", "json", "--top", "50", "--source"])
        .arg(&trail));
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("a-big.json.gz: line ")
            && err.contains("decompressed to more than 1 MiB ([limits] max_file"),
        "{err}"
    );
    assert!(
        err.contains("b-bomb.json.gz: line 2: decompressed to more than 1 MiB"),
        "{err}"
    );
    assert!(err.contains("c-five.jsonl: line 2: not UTF-8"), "{err}");
    assert!(err.contains("3 records skipped"), "{err}");
    let ranked = json(&o);
    let who: Vec<&str> = ranked
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["display"].as_str().unwrap())
        .collect();
    for user in ["big", "bomber", "u1", "u3", "u4", "u5"] {
        assert!(who.contains(&user), "{user} kept: {who:?}");
    }
    assert!(!who.contains(&"u2"), "{who:?}");
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_as_a_source_is_refused_by_name_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (source, kind) in [
        (fifo.display().to_string(), "a FIFO (named pipe)"),
        ("/dev/zero".to_string(), "a character device"),
    ] {
        let o = run(bd().args(["rank", "--source", &source]));
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{err}");
        assert!(err.contains(&source) && err.contains(kind), "{err}");
        assert!(!err.contains("Not a directory"), "{err}");
        for args in [
            vec!["rank", "--inventory", &source],
            vec!["audit", "verify", "--file", &source],
        ] {
            let o = run(bd().args(&args));
            assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(kind), "{}", stderr(&o));
        }
    }
}

#[test]
fn limits_written_wrong_are_named_with_their_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "theme = \"dark\"\n[limits]\nmax_record = \"lots\"\n",
    )
    .unwrap();
    let o = run(bd().arg("--config").arg(&config).arg("check-config"));
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("config.toml") && err.contains("3") && err.contains("\"8 MiB\""),
        "{err}"
    );
}
