//! Themes as a user meets them: colours fit the terminal, NO_COLOR paints nothing, styles fall
//! back to their parents, and a user's partial theme file changes only what it says.

use std::fs;

use blastdoor::config::{Config, load_ui_with};
use blastdoor::tui::theme::{
    BUILTIN_THEMES, STYLE_NAMES, index_to_rgb, parse_color, rgb_to_16, rgb_to_256,
};
use blastdoor::tui::{ColorMode, Theme};
use ratatui::style::{Color, Modifier};

fn theme_from(files: &[(&str, &str)], name: &str, mode: ColorMode) -> Theme {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }
    let config = Config {
        user_dir: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    load_ui_with(&config, Some(name), None, mode)
        .unwrap_or_else(|p| panic!("{p:#?}"))
        .0
}

#[test]
fn colour_support_is_read_from_the_environment() {
    use ColorMode::*;
    assert_eq!(
        ColorMode::from_env(None, Some("truecolor"), Some("xterm-256color")),
        TrueColor
    );
    assert_eq!(ColorMode::from_env(None, Some("24bit"), None), TrueColor);
    assert_eq!(
        ColorMode::from_env(None, None, Some("screen-256color")),
        Ansi256
    );
    assert_eq!(ColorMode::from_env(None, None, Some("xterm")), Ansi16);
    assert_eq!(ColorMode::from_env(None, None, None), Ansi16);
    assert_eq!(
        ColorMode::from_env(Some("1"), Some("truecolor"), None),
        NoColor
    );
    // no-color.org: an empty NO_COLOR does not count.
    assert_eq!(
        ColorMode::from_env(Some(""), Some("truecolor"), None),
        TrueColor
    );
}

#[test]
fn rgb_maps_to_the_nearest_xterm_colour() {
    assert_eq!(rgb_to_256((255, 0, 0)), 196);
    assert_eq!(rgb_to_256((128, 128, 128)), 244);
    assert_eq!(index_to_rgb(rgb_to_256((95, 135, 175))), (95, 135, 175));
    assert_eq!(rgb_to_16((250, 10, 10)), Color::LightRed);
    assert_eq!(rgb_to_16((10, 10, 10)), Color::Black);
    assert_eq!(rgb_to_16((250, 250, 250)), Color::White);
    assert_eq!(rgb_to_16((225, 225, 225)), Color::Gray);
}

#[test]
fn themes_are_mapped_down_to_what_the_terminal_shows() {
    for mode in [ColorMode::Ansi256, ColorMode::Ansi16] {
        let t = Theme::builtin("dark", mode).expect("dark");
        for name in STYLE_NAMES {
            let s = t.style(name);
            for c in [s.fg, s.bg].into_iter().flatten() {
                match (mode, c) {
                    (_, Color::Rgb(..)) => panic!("{name}: RGB left in {mode:?}"),
                    (ColorMode::Ansi16, Color::Indexed(_)) => {
                        panic!("{name}: 256-colour index left in 16-colour mode")
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn the_high_contrast_theme_uses_only_the_16_ansi_colours() {
    let t = Theme::builtin("high-contrast", ColorMode::TrueColor).expect("high-contrast");
    for name in STYLE_NAMES {
        let s = t.style(name);
        for c in [s.fg, s.bg].into_iter().flatten() {
            assert!(
                !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                "{name} uses {c:?}"
            );
        }
    }
}

#[test]
fn without_colour_only_modifiers_remain_and_the_selection_is_reversed() {
    for (name, _) in BUILTIN_THEMES {
        let t = Theme::builtin(name, ColorMode::NoColor).expect("theme");
        for style in STYLE_NAMES {
            let s = t.style(style);
            assert!(
                s.fg.is_none() && s.bg.is_none(),
                "{name}/{style} still has colour: {s:?}"
            );
        }
        let sel = t.style("ui.table.selected");
        assert!(
            sel.add_modifier
                .contains(Modifier::REVERSED | Modifier::BOLD),
            "{name}: {sel:?}"
        );
        assert!(
            t.style("risk.high").add_modifier.contains(Modifier::BOLD),
            "{name}: emphasis survives"
        );
    }
}

#[test]
fn a_style_a_theme_does_not_set_falls_back_to_its_parent() {
    let t = theme_from(
        &[(
            "themes/plain.toml",
            "[styles]\n\"ui.table\" = { bg = \"#000080\" }\n",
        )],
        "plain",
        ColorMode::TrueColor,
    );
    assert_eq!(t.style("ui.table.selected").bg, Some(Color::Rgb(0, 0, 128)));
    assert_eq!(
        t.style("ui.table.header.sorted").bg,
        Some(Color::Rgb(0, 0, 128))
    );
    assert_eq!(t.style("ui.header").bg, None, "siblings are not affected");
}

#[test]
fn nested_tables_and_quoted_dotted_keys_name_the_same_style() {
    let nested = "[styles.ui.table]\nbg = \"blue\"\nselected = { fg = \"red\" }\n";
    let t = theme_from(
        &[("themes/nested.toml", nested)],
        "nested",
        ColorMode::TrueColor,
    );
    assert_eq!(t.style("ui.table").bg, Some(Color::Blue));
    assert_eq!(t.style("ui.table.selected").fg, Some(Color::Red));
    assert_eq!(t.style("ui.table.selected").bg, Some(Color::Blue));
}

#[test]
fn a_partial_user_theme_merges_over_the_built_in_one() {
    let builtin = Theme::builtin("dark", ColorMode::TrueColor).expect("dark");
    let t = theme_from(
        &[(
            "themes/dark.toml",
            "[styles]\n\"risk.high\" = { fg = \"#ff0000\" }\n",
        )],
        "dark",
        ColorMode::TrueColor,
    );
    assert_eq!(t.style("risk.high").fg, Some(Color::Rgb(255, 0, 0)));
    assert!(
        t.style("risk.high").add_modifier.contains(Modifier::BOLD),
        "fields it does not set are kept"
    );
    assert_eq!(
        t.style("ui.header"),
        builtin.style("ui.header"),
        "styles it does not mention are kept"
    );
}

#[test]
fn a_user_palette_entry_recolours_every_style_that_uses_it() {
    let t = theme_from(
        &[("themes/dark.toml", "[palette]\ndanger = \"#aa0000\"\n")],
        "dark",
        ColorMode::TrueColor,
    );
    assert_eq!(t.style("risk.high").fg, Some(Color::Rgb(170, 0, 0)));
    assert_eq!(t.style("feed.denied").fg, Some(Color::Rgb(170, 0, 0)));
}

#[test]
fn a_user_theme_with_a_new_name_is_a_new_theme() {
    let t = theme_from(
        &[(
            "themes/night-shift.toml",
            "inherits = \"dark\"\n[styles]\n\"ui.background\" = { bg = \"black\" }\n",
        )],
        "night-shift",
        ColorMode::TrueColor,
    );
    assert_eq!(t.name(), "night-shift");
    assert_eq!(t.style("ui.background").bg, Some(Color::Black));
    let dark = Theme::builtin("dark", ColorMode::TrueColor).expect("dark");
    assert_eq!(
        t.style("risk.high"),
        dark.style("risk.high"),
        "the rest comes from what it inherits"
    );
}

#[test]
fn colour_forms_parse() {
    assert_eq!(parse_color("#7aa2f7"), Some(Color::Rgb(0x7a, 0xa2, 0xf7)));
    assert_eq!(parse_color("bright-blue"), Some(Color::LightBlue));
    assert_eq!(parse_color("BrightBlue"), Some(Color::LightBlue));
    assert_eq!(parse_color("201"), Some(Color::Indexed(201)));
    assert_eq!(parse_color("reset"), Some(Color::Reset));
    assert_eq!(parse_color("#gggggg"), None);
}
