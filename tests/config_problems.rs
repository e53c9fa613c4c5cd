//! Every mistake in a config, theme or keymap file is reported with the file and the entry, so
//! `blastdoor check-config` (and the console's start-up, which refuses the same mistakes) tells
//! the user exactly what to fix.

use std::fs;
use std::path::{Path, PathBuf};

use blastdoor::config::{
    Config, ConfigError, ConfigLocation, ConfigProblem, check_at, load_ui_with,
};
use blastdoor::tui::ColorMode;

/// A user config dir with the given files (`themes/x.toml`, `keymaps/y.toml`, `config.toml`).
fn user_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }
    dir
}

fn check(dir: &Path) -> Vec<ConfigProblem> {
    check_at(&ConfigLocation::Default(dir.join("config.toml")), Some(dir))
}

fn config_in(dir: &Path, theme: &str, keymap: &str) -> Config {
    Config {
        theme: theme.into(),
        keymap: keymap.into(),
        user_dir: Some(dir.to_path_buf()),
        ..Config::default()
    }
}

/// The one problem whose text contains `needle`, with a readable failure otherwise.
fn find(problems: &[ConfigProblem], needle: &str) -> ConfigProblem {
    problems
        .iter()
        .find(|p| p.to_string().contains(needle))
        .cloned()
        .unwrap_or_else(|| panic!("no problem mentions {needle:?}; got: {problems:#?}"))
}

fn ends_with(file: &str, tail: &str) -> bool {
    PathBuf::from(file).ends_with(tail)
}

#[test]
fn the_defaults_have_no_problems() {
    let dir = user_dir(&[]);
    assert_eq!(check(dir.path()), vec![]);
}

#[test]
fn an_unknown_action_names_the_keymap_file_and_the_key() {
    let dir = user_dir(&[("keymaps/vim.toml", "[keys]\n\"x\" = \"explode\"\n")]);
    let problems = check(dir.path());
    let p = find(&problems, "explode");
    assert!(ends_with(&p.file, "keymaps/vim.toml"), "{p}");
    assert_eq!(p.entry.as_deref(), Some("[keys] \"x\""));
    assert!(
        p.to_string()
            .ends_with("keymaps/vim.toml: [keys] \"x\": unknown action \"explode\""),
        "{p}"
    );
}

#[test]
fn a_misspelt_action_gets_a_suggestion() {
    let dir = user_dir(&[(
        "keymaps/mine.toml",
        "[keys]\n\"q\" = \"quti\"\n\"x\" = \"quit\"\n",
    )]);
    let p = find(&check(dir.path()), "quti");
    assert!(p.message.contains("did you mean \"quit\""), "{p}");
}

#[test]
fn two_spellings_of_one_key_are_a_duplicate_binding() {
    let dir = user_dir(&[(
        "keymaps/mine.toml",
        "[keys]\n\"ctrl-c\" = \"quit\"\n\"Ctrl+C\" = \"help\"\n",
    )]);
    let problems = check(dir.path());
    let p = find(&problems, "duplicate key binding");
    assert!(ends_with(&p.file, "keymaps/mine.toml"), "{p}");
    assert!(
        p.to_string().contains("\"Ctrl+C\"") && p.to_string().contains("\"ctrl-c\""),
        "{p}"
    );
}

#[test]
fn a_key_written_twice_is_a_toml_error_with_its_line() {
    let dir = user_dir(&[(
        "keymaps/mine.toml",
        "[keys]\n\"q\" = \"quit\"\n\"q\" = \"help\"\n",
    )]);
    let problems = check(dir.path());
    let p = find(&problems, "line 3");
    assert!(ends_with(&p.file, "keymaps/mine.toml"), "{p}");
    assert!(p.message.contains("duplicate key"), "{p}");
}

#[test]
fn a_keymap_that_cannot_quit_is_refused() {
    let dir = user_dir(&[("keymaps/trap.toml", "[keys]\n\"up\" = \"up\"\n")]);
    let p = find(&check(dir.path()), "no key is bound to \"quit\"");
    assert!(ends_with(&p.file, "keymaps/trap.toml"), "{p}");
}

#[test]
fn a_bad_key_name_is_reported() {
    let dir = user_dir(&[(
        "keymaps/mine.toml",
        "[keys]\n\"q\" = \"quit\"\n\"hyper-q\" = \"help\"\n",
    )]);
    let p = find(&check(dir.path()), "hyper-q");
    assert_eq!(p.entry.as_deref(), Some("[keys] \"hyper-q\""));
}

#[test]
fn an_unknown_style_name_names_the_theme_file_and_the_style() {
    let dir = user_dir(&[("themes/mine.toml", "[styles]\n\"risk.hgh\" = \"red\"\n")]);
    let problems = check(dir.path());
    let p = find(&problems, "unknown style name");
    assert!(ends_with(&p.file, "themes/mine.toml"), "{p}");
    assert_eq!(p.entry.as_deref(), Some("[styles] \"risk.hgh\""));
    assert!(p.message.contains("did you mean \"risk.high\""), "{p}");
}

#[test]
fn a_bad_colour_names_the_style_and_field() {
    let dir = user_dir(&[(
        "themes/mine.toml",
        "[styles]\n\"risk.high\" = { fg = \"#12345\" }\n",
    )]);
    let p = find(&check(dir.path()), "#12345");
    assert!(ends_with(&p.file, "themes/mine.toml"), "{p}");
    assert_eq!(p.entry.as_deref(), Some("[styles] \"risk.high\".fg"));
    assert!(p.message.starts_with("bad colour"), "{p}");
}

#[test]
fn a_bad_palette_colour_and_an_unknown_palette_name_are_reported() {
    let theme = "[palette]\nbg = \"blurple\"\n[styles]\n\"ui\" = { bg = \"nosuch\" }\n";
    let dir = user_dir(&[("themes/mine.toml", theme)]);
    let problems = check(dir.path());
    assert_eq!(
        find(&problems, "blurple").entry.as_deref(),
        Some("[palette] \"bg\"")
    );
    assert_eq!(
        find(&problems, "nosuch").entry.as_deref(),
        Some("[styles] \"ui\".bg")
    );
}

#[test]
fn a_bad_modifier_and_an_unknown_style_field_are_reported() {
    let theme = "[styles]\n\"ui\" = { modifiers = [\"blinky\"], colour = \"red\" }\n";
    let problems = check(user_dir(&[("themes/mine.toml", theme)]).path());
    assert_eq!(
        find(&problems, "blinky").entry.as_deref(),
        Some("[styles] \"ui\".modifiers")
    );
    assert_eq!(
        find(&problems, "unknown field").entry.as_deref(),
        Some("[styles] \"ui\".colour")
    );
}

#[test]
fn an_inherits_cycle_is_reported_not_followed_forever() {
    let dir = user_dir(&[
        ("themes/a.toml", "inherits = \"b\"\n"),
        ("themes/b.toml", "inherits = \"a\"\n"),
    ]);
    let p = find(&check(dir.path()), "inherits \"a\" again");
    assert_eq!(p.entry.as_deref(), Some("inherits"));
}

#[test]
fn an_unknown_top_level_config_key_is_named() {
    let dir = user_dir(&[("config.toml", "theme = \"dark\"\ncolour = \"always\"\n")]);
    let problems = check(dir.path());
    let p = find(&problems, "colour");
    assert!(ends_with(&p.file, "config.toml"), "{p}");
    assert_eq!(p.entry.as_deref(), Some("\"colour\""));
    assert!(p.message.starts_with("unknown key"), "{p}");
    // Loading still works: a newer config must not stop an older binary.
    let loaded = Config::load_from(&ConfigLocation::Default(dir.path().join("config.toml")));
    assert!(loaded.is_ok(), "{loaded:?}");
}

#[test]
fn a_config_syntax_error_gives_file_line_and_column() {
    let dir = user_dir(&[("config.toml", "sources = [\"demo\"]\ntheme = \n")]);
    let problems = check(dir.path());
    let p = find(&problems, "line 2");
    assert!(ends_with(&p.file, "config.toml"), "{p}");
    let err = Config::load_from(&ConfigLocation::Default(dir.path().join("config.toml")))
        .expect_err("syntax error");
    assert!(err.to_string().contains("config.toml: line 2"), "{err}");
}

#[test]
fn a_config_value_of_the_wrong_type_is_reported() {
    let dir = user_dir(&[("config.toml", "theme = 5\n")]);
    let p = find(&check(dir.path()), "line 1");
    assert!(p.message.contains("string"), "{p}");
}

#[test]
fn an_unknown_theme_in_the_config_names_the_config_entry() {
    let dir = user_dir(&[("config.toml", "theme = \"solarized\"\n")]);
    let problems = check(dir.path());
    let p = find(&problems, "unknown theme \"solarized\"");
    assert!(ends_with(&p.file, "config.toml"), "{p}");
    assert_eq!(p.entry.as_deref(), Some("theme"));
    assert!(
        p.message.contains("dark, light, high-contrast"),
        "lists what exists: {p}"
    );
}

#[test]
fn an_unknown_keymap_flag_is_blamed_on_the_flag() {
    let dir = user_dir(&[]);
    let err = load_ui_with(
        &config_in(dir.path(), "dark", "default"),
        None,
        Some("emacs"),
        ColorMode::TrueColor,
    )
    .expect_err("no emacs keymap");
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].file, "--keymap");
    assert!(
        err[0].message.contains("unknown keymap \"emacs\""),
        "{}",
        err[0]
    );
}

#[test]
fn a_theme_name_cannot_escape_the_themes_dir() {
    let dir = user_dir(&[]);
    let err = load_ui_with(
        &config_in(dir.path(), "dark", "default"),
        Some("../../etc/passwd"),
        None,
        ColorMode::TrueColor,
    )
    .expect_err("path-like names are refused");
    assert!(err[0].message.contains("not a theme name"), "{}", err[0]);
}

#[test]
fn a_named_config_file_that_is_missing_is_an_error_but_a_missing_default_is_not() {
    let dir = user_dir(&[]);
    let missing = dir.path().join("nope.toml");
    let named = ConfigLocation::Named {
        path: missing.clone(),
        by: "--config",
    };
    let err = Config::load_from(&named).expect_err("named file must exist");
    assert!(matches!(err, ConfigError::NotFound { .. }));
    assert!(
        err.to_string().contains("nope.toml") && err.to_string().contains("--config"),
        "{err}"
    );
    assert!(!check_at(&named, Some(dir.path())).is_empty());

    let config = Config::load_from(&ConfigLocation::Default(missing)).expect("defaults");
    assert_eq!(config.theme, "dark");
    assert_eq!(config.keymap, "default");
}

#[test]
fn a_full_config_loads_with_its_provider_sections() {
    let text = r#"
sources = ["demo", "tail:/var/log/audit.json"]
inventory = ["inv.json"]
state = "/var/lib/blastdoor"
theme = "light"
keymap = "vim"
policy = "policy.toml"
[providers.aws]
region = "us-east-1"
"#;
    let dir = user_dir(&[("config.toml", text)]);
    let config =
        Config::load_from(&ConfigLocation::Default(dir.path().join("config.toml"))).expect("loads");
    assert_eq!(config.sources.len(), 2);
    assert_eq!(config.keymap, "vim");
    assert_eq!(
        config.providers["aws"]["region"].as_str(),
        Some("us-east-1")
    );
    assert_eq!(check(dir.path()), vec![]);
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let dir = user_dir(&[
        ("config.toml", "keymap = \"mine\"\nextra = 1\n"),
        (
            "keymaps/mine.toml",
            "[keys]\n\"q\" = \"quit\"\n\"x\" = \"explode\"\n\"y\" = \"implode\"\n",
        ),
        ("themes/mine.toml", "[styles]\n\"nope\" = \"red\"\n"),
    ]);
    let problems = check(dir.path());
    for needle in ["extra", "explode", "implode", "nope"] {
        find(&problems, needle);
    }
    // The console refuses to start on the same problems, before touching the terminal.
    let config = Config {
        user_dir: Some(dir.path().to_path_buf()),
        keymap: "mine".into(),
        ..Config::default()
    };
    let err = load_ui_with(&config, None, None, ColorMode::TrueColor).expect_err("bad keymap");
    find(&err, "explode");
}
