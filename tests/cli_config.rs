//! `check-config` and the console's refusal to start, through the real binary: exit 2 and a
//! message that names the file and the entry.

mod common;
use common::bd_in as bd;

#[test]
fn check_config_passes_on_the_defaults() {
    let home = tempfile::tempdir().unwrap();
    let out = bd(home.path()).arg("check-config").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_user_keymap_is_named_with_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/blastdoor/keymaps");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vim.toml"), "[keys]\n\"x\" = \"explode\"\n").unwrap();
    let out = bd(home.path()).arg("check-config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vim.toml") && err.contains("\"x\"") && err.contains("explode"),
        "{err}"
    );
}

#[test]
fn a_bad_theme_colour_in_a_named_config_is_named_with_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("my.toml");
    std::fs::write(&cfg, "theme = \"mine\"\n").unwrap();
    let themes = home.path().join("config/blastdoor/themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(
        themes.join("mine.toml"),
        "[styles]\n\"risk.high\" = \"#12345\"\n",
    )
    .unwrap();
    let out = bd(home.path())
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mine.toml") && err.contains("risk.high"),
        "{err}"
    );
}

#[test]
fn the_console_refuses_to_start_on_a_bad_config_before_touching_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(&cfg, "keymap = \"no-such-keymap\"\n").unwrap();
    let out = bd(home.path())
        .arg("--config")
        .arg(&cfg)
        .arg("demo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-keymap"), "{err}");
    // No escape sequences were written: raw mode and the alternate screen were never entered.
    assert!(
        !out.stdout.contains(&0x1b),
        "the terminal was touched: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_named_config_that_does_not_exist_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let out = bd(home.path())
        .args([
            "--config",
            "/no/such/blastdoor.toml",
            "rank",
            "--source",
            "demo",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/blastdoor.toml"));
}
