//! Themes: semantic style names (`risk.high`, `ui.table.selected`) resolved to ratatui styles.
//!
//! A theme file is TOML with an optional `inherits = "NAME"`, a `[palette]` of named colours and
//! `[styles]` mapping dotted style names to `{ fg, bg, modifiers }` or to a plain colour (the
//! foreground). A style that a theme does not set falls back to its parent (`ui.table.selected`
//! → `ui.table` → `ui`), and a child's fields are patched over its parent's, so a theme only says
//! what differs. Colours are `"#rrggbb"`, ANSI names (`"red"`, `"bright-blue"`), 0–255 indexes or
//! palette names. RGB colours are mapped down to what the terminal can show (`ColorMode`), and
//! `NO_COLOR` paints no colour at all while keeping modifiers, so the selection stays visible.
//!
//! Finding, merging and validating theme files lives in `crate::config`; this module parses one
//! file into a `ThemeSpec` and resolves a merged spec into a `Theme`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ratatui::style::{Color, Modifier, Style};

use crate::problem::ConfigProblem;

/// The themes compiled into the binary: name and TOML text.
pub const BUILTIN_THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Every style name a theme may set, parents before children (resolution relies on the order).
pub const STYLE_NAMES: &[&str] = &[
    "ui",
    "ui.background",
    "ui.text",
    "ui.text.dim",
    "ui.border",
    "ui.border.focused",
    "ui.title",
    "ui.title.focused",
    "ui.header",
    "ui.header.title",
    "ui.header.demo",
    "ui.header.label",
    "ui.table",
    "ui.table.header",
    "ui.table.header.sorted",
    "ui.table.selected",
    "ui.filter",
    "ui.filter.input",
    "ui.help",
    "ui.help.key",
    "ui.help.title",
    "ui.warning",
    "ui.modal",
    "ui.modal.title",
    "ui.modal.key",
    "ui.confirm",
    "ui.confirm.title",
    "risk",
    "risk.high",
    "risk.medium",
    "risk.low",
    "sparkline",
    "feed",
    "feed.time",
    "feed.identity",
    "feed.denied",
    "feed.signal",
    "feed.paused",
    "detail",
    "detail.heading",
    "detail.label",
    "detail.weight",
    "health",
    "health.up",
    "health.connecting",
    "health.retrying",
    "health.error",
    "health.done",
    "stats",
    "stats.rate",
    "stats.dropped",
    "hint",
    "hint.key",
    "hint.text",
    "action",
    "action.id",
    "action.open",
    "action.closed",
    "action.agent",
    "action.preauthorized",
    "containment",
    "containment.held",
    "containment.leak",
    "status",
    "status.info",
    "status.busy",
    "status.done",
    "status.refused",
    "status.failed",
];

/// What the terminal can show. Decides how theme colours are mapped down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    TrueColor,
    Ansi256,
    Ansi16,
    /// `NO_COLOR` or `--no-color`: no foreground or background colour at all.
    NoColor,
}

impl ColorMode {
    /// From the environment: `NO_COLOR`, `COLORTERM`, `TERM`.
    pub fn detect() -> ColorMode {
        let var = |k: &str| std::env::var(k).ok();
        ColorMode::from_env(
            var("NO_COLOR").as_deref(),
            var("COLORTERM").as_deref(),
            var("TERM").as_deref(),
        )
    }

    /// The detection rule itself, without reading the environment (testable).
    pub fn from_env(
        no_color: Option<&str>,
        colorterm: Option<&str>,
        term: Option<&str>,
    ) -> ColorMode {
        // no-color.org: any non-empty value disables colour.
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorMode::NoColor;
        }
        let colorterm = colorterm.unwrap_or("").to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return ColorMode::TrueColor;
        }
        if term.is_some_and(|t| t.contains("256color")) {
            return ColorMode::Ansi256;
        }
        ColorMode::Ansi16
    }
}

/// A resolved theme: every known style name with its final style for one colour mode.
#[derive(Debug, Clone)]
pub struct Theme {
    name: String,
    mode: ColorMode,
    styles: HashMap<&'static str, Style>,
    /// Draw with ASCII only (borders `+-|`, markers `>` `*`): the terminal's locale is not
    /// UTF-8 (`LC_ALL=C` on a bastion), where box drawing comes out as mojibake.
    ascii: bool,
}

impl Theme {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn mode(&self) -> ColorMode {
        self.mode
    }

    pub fn ascii(&self) -> bool {
        self.ascii
    }

    /// The same theme drawing with ASCII only (or not).
    pub fn with_ascii(mut self, ascii: bool) -> Theme {
        self.ascii = ascii;
        self
    }

    /// The style for a semantic name, falling back to its parents; unknown names get no style.
    pub fn style(&self, name: &str) -> Style {
        let mut n = name;
        loop {
            if let Some(s) = self.styles.get(n) {
                return *s;
            }
            match n.rfind('.') {
                Some(i) => n = &n[..i],
                None => return Style::default(),
            }
        }
    }

    /// A built-in theme without user overrides. `None` for an unknown name.
    pub fn builtin(name: &str, mode: ColorMode) -> Option<Theme> {
        let mut problems = Vec::new();
        let spec = builtin_spec(name, &mut problems, &mut Vec::new())?;
        let theme = spec.resolve(name, mode, &mut problems);
        problems.is_empty().then_some(theme)
    }
}

impl Default for Theme {
    /// The dark theme in the terminal's detected colour mode.
    fn default() -> Theme {
        Theme::builtin("dark", ColorMode::detect()).unwrap_or_else(|| Theme {
            name: "plain".into(),
            mode: ColorMode::NoColor,
            styles: HashMap::new(),
            ascii: false,
        })
    }
}

/// Whether the locale says the terminal shows only ASCII: the first of `LC_ALL`, `LC_CTYPE`,
/// `LANG` that is set and not empty decides, and anything but a UTF-8 codeset (`C`, `POSIX`,
/// `en_US.ISO-8859-1`) means ASCII. With none set the terminal is taken at its word (UTF-8,
/// as nearly every terminal is), so a bare container does not lose its borders.
pub fn ascii_locale_from(lc_all: Option<&str>, lc_ctype: Option<&str>, lang: Option<&str>) -> bool {
    let Some(locale) = [lc_all, lc_ctype, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
    else {
        return false;
    };
    let l = locale.to_ascii_lowercase();
    !(l.contains("utf-8") || l.contains("utf8"))
}

/// [`ascii_locale_from`] on this process's environment.
pub fn ascii_locale() -> bool {
    let var = |k: &str| std::env::var(k).ok();
    ascii_locale_from(
        var("LC_ALL").as_deref(),
        var("LC_CTYPE").as_deref(),
        var("LANG").as_deref(),
    )
}

/// Resolve a built-in theme and its `inherits` chain (built-ins only inherit built-ins).
fn builtin_spec(
    name: &str,
    problems: &mut Vec<ConfigProblem>,
    seen: &mut Vec<String>,
) -> Option<ThemeSpec> {
    let (_, text) = BUILTIN_THEMES.iter().find(|(n, _)| *n == name)?;
    let file = format!("built-in themes/{name}.toml");
    let table: toml::Table = toml::from_str(text).ok()?;
    let spec = ThemeSpec::parse(&table, &file, problems);
    seen.push(name.to_string());
    match spec.inherits.clone() {
        Some(parent) if !seen.contains(&parent) => {
            let base = builtin_spec(&parent, problems, seen)?;
            Some(spec.merge_over(base))
        }
        _ => Some(spec),
    }
}

/// A colour as written in a file, remembered with where it was written for error messages.
#[derive(Debug, Clone)]
struct ColorRef {
    raw: String,
    file: Arc<str>,
    entry: String,
}

#[derive(Debug, Clone, Default)]
struct StyleSpec {
    fg: Option<ColorRef>,
    bg: Option<ColorRef>,
    modifiers: Option<Modifier>,
}

/// One theme file (or several merged): not yet resolved against a palette or colour mode.
#[derive(Debug, Clone, Default)]
pub struct ThemeSpec {
    pub inherits: Option<String>,
    palette: BTreeMap<String, ColorRef>,
    styles: BTreeMap<String, StyleSpec>,
}

const STYLE_FIELDS: [&str; 3] = ["fg", "bg", "modifiers"];

impl ThemeSpec {
    /// Parse one theme file's table; every problem names `file` and the entry.
    pub fn parse(table: &toml::Table, file: &str, problems: &mut Vec<ConfigProblem>) -> ThemeSpec {
        let file: Arc<str> = file.into();
        let mut spec = ThemeSpec::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("inherits", toml::Value::String(s)) => spec.inherits = Some(s.clone()),
                ("inherits", _) => problems.push(ConfigProblem::new(
                    &file,
                    "inherits",
                    "must be a theme name",
                )),
                ("palette", toml::Value::Table(t)) => {
                    for (name, v) in t {
                        let entry = format!("[palette] {name:?}");
                        match color_raw(v) {
                            Some(raw) => {
                                spec.palette.insert(
                                    name.clone(),
                                    ColorRef {
                                        raw,
                                        file: file.clone(),
                                        entry,
                                    },
                                );
                            }
                            None => problems.push(ConfigProblem::new(
                                &file,
                                entry,
                                bad_colour_message(v),
                            )),
                        }
                    }
                }
                ("styles", toml::Value::Table(t)) => {
                    flatten_styles("", t, &file, &mut spec.styles, problems)
                }
                ("palette" | "styles", _) => {
                    problems.push(ConfigProblem::new(&file, key, "must be a table"));
                }
                _ => problems.push(ConfigProblem::new(
                    &file,
                    format!("{key:?}"),
                    "unknown key (a theme has inherits, [palette] and [styles])",
                )),
            }
        }
        spec
    }

    /// `self` over `base`: palette entries and style fields that `self` sets win.
    pub fn merge_over(self, base: ThemeSpec) -> ThemeSpec {
        let mut out = base;
        out.inherits = self.inherits.or(out.inherits);
        out.palette.extend(self.palette);
        for (name, s) in self.styles {
            let slot = out.styles.entry(name).or_default();
            if s.fg.is_some() {
                slot.fg = s.fg;
            }
            if s.bg.is_some() {
                slot.bg = s.bg;
            }
            if s.modifiers.is_some() {
                slot.modifiers = s.modifiers;
            }
        }
        out
    }

    /// Resolve palette references and the parent cascade, then map colours to `mode`.
    pub fn resolve(&self, name: &str, mode: ColorMode, problems: &mut Vec<ConfigProblem>) -> Theme {
        let mut palette = HashMap::new();
        for (pname, c) in &self.palette {
            match parse_color(&c.raw) {
                Some(col) => {
                    palette.insert(pname.as_str(), col);
                }
                None => problems.push(ConfigProblem::new(
                    &c.file,
                    c.entry.clone(),
                    bad_colour_text(&c.raw),
                )),
            }
        }
        let lookup = |c: &ColorRef, problems: &mut Vec<ConfigProblem>| -> Option<Color> {
            // Palette names win over ANSI names, so a palette may redefine "red".
            let found = palette
                .get(c.raw.as_str())
                .copied()
                .or_else(|| parse_color(&c.raw));
            if found.is_none() {
                problems.push(ConfigProblem::new(
                    &c.file,
                    c.entry.clone(),
                    bad_colour_text(&c.raw),
                ));
            }
            found
        };
        let mut styles: HashMap<&'static str, Style> = HashMap::with_capacity(STYLE_NAMES.len());
        for &sname in STYLE_NAMES {
            let parent = sname
                .rfind('.')
                .and_then(|i| styles.get(&sname[..i]).copied())
                .unwrap_or_default();
            let mut own = Style::default();
            if let Some(s) = self.styles.get(sname) {
                if let Some(c) = s.fg.as_ref().and_then(|c| lookup(c, problems)) {
                    own = own.fg(c);
                }
                if let Some(c) = s.bg.as_ref().and_then(|c| lookup(c, problems)) {
                    own = own.bg(c);
                }
                if let Some(m) = s.modifiers {
                    own = own.add_modifier(m);
                }
            }
            styles.insert(sname, parent.patch(own));
        }
        for style in styles.values_mut() {
            *style = map_style(*style, mode);
        }
        if mode == ColorMode::NoColor {
            // Without colour the selected row must still stand out: reversed and bold.
            if let Some(sel) = styles.get_mut("ui.table.selected") {
                *sel = sel.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
        }
        Theme {
            name: name.to_string(),
            mode,
            styles,
            ascii: false,
        }
    }
}

/// Walk `[styles]`: quoted dotted keys (`"ui.table" = …`) and nested tables (`ui.table = …`,
/// `[styles.ui] table = …`) both name the same style.
fn flatten_styles(
    prefix: &str,
    table: &toml::Table,
    file: &Arc<str>,
    out: &mut BTreeMap<String, StyleSpec>,
    problems: &mut Vec<ConfigProblem>,
) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    // Style fields directly in a nested table style the prefix itself.
    let own: Vec<_> = table
        .iter()
        .filter(|(k, _)| STYLE_FIELDS.contains(&k.as_str()))
        .collect();
    if !prefix.is_empty() && !own.is_empty() {
        let mut sub = toml::Table::new();
        for (k, v) in &own {
            sub.insert((*k).clone(), (*v).clone());
        }
        add_style(prefix, &toml::Value::Table(sub), file, out, problems);
    }
    for (key, value) in table {
        if !prefix.is_empty() && STYLE_FIELDS.contains(&key.as_str()) {
            continue;
        }
        let name = join(key);
        // Next to fg/bg/modifiers, an unknown plain value is a misspelt field, not a child style.
        if !prefix.is_empty()
            && !own.is_empty()
            && !value.is_table()
            && !STYLE_NAMES.contains(&name.as_str())
        {
            problems.push(ConfigProblem::new(
                file,
                format!("[styles] {prefix:?}.{key}"),
                "unknown field (a style has fg, bg and modifiers)",
            ));
            continue;
        }
        match value {
            toml::Value::Table(t) if !t.keys().all(|k| STYLE_FIELDS.contains(&k.as_str())) => {
                flatten_styles(&name, t, file, out, problems)
            }
            v => add_style(&name, v, file, out, problems),
        }
    }
}

fn add_style(
    name: &str,
    value: &toml::Value,
    file: &Arc<str>,
    out: &mut BTreeMap<String, StyleSpec>,
    problems: &mut Vec<ConfigProblem>,
) {
    let entry = format!("[styles] {name:?}");
    if !STYLE_NAMES.contains(&name) {
        let hint = suggest(name, STYLE_NAMES)
            .map(|s| format!(" (did you mean {s:?}?)"))
            .unwrap_or_default();
        problems.push(ConfigProblem::new(
            file,
            entry,
            format!("unknown style name{hint}"),
        ));
        return;
    }
    let mut spec = StyleSpec::default();
    let colour = |field: &str, v: &toml::Value, problems: &mut Vec<ConfigProblem>| {
        let entry = format!("{entry}.{field}");
        match color_raw(v) {
            Some(raw) => Some(ColorRef {
                raw,
                file: file.clone(),
                entry,
            }),
            None => {
                problems.push(ConfigProblem::new(file, entry, bad_colour_message(v)));
                None
            }
        }
    };
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match k.as_str() {
                    "fg" => spec.fg = colour("fg", v, problems),
                    "bg" => spec.bg = colour("bg", v, problems),
                    "modifiers" => {
                        spec.modifiers =
                            parse_modifiers(v, &format!("{entry}.modifiers"), file, problems)
                    }
                    other => problems.push(ConfigProblem::new(
                        file,
                        format!("{entry}.{other}"),
                        "unknown field (a style has fg, bg and modifiers)",
                    )),
                }
            }
        }
        v => spec.fg = colour("fg", v, problems),
    }
    out.insert(name.to_string(), spec);
}

const MODIFIERS: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("underline", Modifier::UNDERLINED),
    ("slow_blink", Modifier::SLOW_BLINK),
    ("rapid_blink", Modifier::RAPID_BLINK),
    ("reversed", Modifier::REVERSED),
    ("hidden", Modifier::HIDDEN),
    ("crossed_out", Modifier::CROSSED_OUT),
];

fn parse_modifiers(
    v: &toml::Value,
    entry: &str,
    file: &Arc<str>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Modifier> {
    let Some(items) = v.as_array() else {
        problems.push(ConfigProblem::new(
            file,
            entry,
            "must be a list such as [\"bold\", \"reversed\"]",
        ));
        return None;
    };
    let mut m = Modifier::empty();
    for item in items {
        let name = item
            .as_str()
            .unwrap_or("")
            .replace('-', "_")
            .to_ascii_lowercase();
        match MODIFIERS.iter().find(|(n, _)| *n == name) {
            Some((_, bit)) => m |= *bit,
            None => problems.push(ConfigProblem::new(
                file,
                entry,
                format!("unknown modifier {item} (known: bold, dim, italic, underlined, reversed, crossed_out, …)"),
            )),
        }
    }
    Some(m)
}

/// A colour value as text: strings as they are, integers as decimal (an index).
fn color_raw(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn bad_colour_message(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => bad_colour_text(s),
        other => format!("bad colour {other}: {COLOUR_FORMS}"),
    }
}

fn bad_colour_text(raw: &str) -> String {
    format!("bad colour {raw:?}: {COLOUR_FORMS}")
}

const COLOUR_FORMS: &str =
    "want \"#rrggbb\", an ANSI name such as \"bright-blue\", 0-255, or a palette name";

const ANSI: [(&str, Color); 16] = [
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("white", Color::Gray),
    ("bright-black", Color::DarkGray),
    ("bright-red", Color::LightRed),
    ("bright-green", Color::LightGreen),
    ("bright-yellow", Color::LightYellow),
    ("bright-blue", Color::LightBlue),
    ("bright-magenta", Color::LightMagenta),
    ("bright-cyan", Color::LightCyan),
    ("bright-white", Color::White),
];

/// A concrete colour: `#rrggbb`, an ANSI name, `reset`/`default`, or an index 0–255.
pub fn parse_color(s: &str) -> Option<Color> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        return Some(Color::Rgb(byte(0)?, byte(2)?, byte(4)?));
    }
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse::<u8>().ok().map(Color::Indexed);
    }
    let mut name = s.to_ascii_lowercase().replace('_', "-");
    if let Some(rest) = name.strip_prefix("bright").filter(|r| !r.starts_with('-')) {
        name = format!("bright-{rest}");
    }
    match name.as_str() {
        "reset" | "default" => Some(Color::Reset),
        "gray" | "grey" => Some(Color::DarkGray),
        n => ANSI.iter().find(|(a, _)| *a == n).map(|(_, c)| *c),
    }
}

/// xterm's default RGB for the 16 ANSI colours, in index order.
const ANSI_RGB: [(u8, u8, u8); 16] = [
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
];

const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// The RGB value xterm shows for a 256-colour index.
pub fn index_to_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI_RGB[i as usize],
        16..=231 => {
            let n = i - 16;
            (
                CUBE[(n / 36) as usize],
                CUBE[((n / 6) % 6) as usize],
                CUBE[(n % 6) as usize],
            )
        }
        _ => {
            let g = 8 + 10 * (i - 232);
            (g, g, g)
        }
    }
}

/// Perceptual-ish distance ("redmean"), good enough to pick the nearest palette entry.
fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let rmean = (a.0 as i32 + b.0 as i32) / 2;
    let dr = a.0 as i32 - b.0 as i32;
    let dg = a.1 as i32 - b.1 as i32;
    let db = a.2 as i32 - b.2 as i32;
    (((512 + rmean) * dr * dr) / 256 + 4 * dg * dg + ((767 - rmean) * db * db) / 256) as u32
}

/// The nearest xterm-256 index (cube or grey ramp; never the 16 user-configurable colours).
pub fn rgb_to_256(rgb: (u8, u8, u8)) -> u8 {
    (16u8..=255)
        .min_by_key(|i| distance(rgb, index_to_rgb(*i)))
        .unwrap_or(16)
}

/// The nearest of the 16 ANSI colours.
pub fn rgb_to_16(rgb: (u8, u8, u8)) -> Color {
    let i = (0..16)
        .min_by_key(|i| distance(rgb, ANSI_RGB[*i]))
        .unwrap_or(0);
    ANSI[i].1
}

fn map_color(c: Color, mode: ColorMode) -> Option<Color> {
    match (mode, c) {
        (ColorMode::NoColor, _) => None,
        (ColorMode::TrueColor, c) => Some(c),
        (ColorMode::Ansi256, Color::Rgb(r, g, b)) => Some(Color::Indexed(rgb_to_256((r, g, b)))),
        (ColorMode::Ansi16, Color::Rgb(r, g, b)) => Some(rgb_to_16((r, g, b))),
        (ColorMode::Ansi16, Color::Indexed(i)) if i < 16 => Some(ANSI[i as usize].1),
        (ColorMode::Ansi16, Color::Indexed(i)) => Some(rgb_to_16(index_to_rgb(i))),
        (_, c) => Some(c),
    }
}

fn map_style(s: Style, mode: ColorMode) -> Style {
    Style {
        fg: s.fg.and_then(|c| map_color(c, mode)),
        bg: s.bg.and_then(|c| map_color(c, mode)),
        underline_color: s.underline_color.and_then(|c| map_color(c, mode)),
        ..s
    }
}

/// The closest known name, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_locale_that_says_utf_8_keeps_box_drawing() {
        assert!(ascii_locale_from(Some("C"), None, Some("en_US.UTF-8")));
        assert!(ascii_locale_from(None, Some("POSIX"), None));
        assert!(ascii_locale_from(None, None, Some("en_US.ISO-8859-1")));
        assert!(!ascii_locale_from(Some(""), None, Some("C.UTF-8")));
        assert!(!ascii_locale_from(None, Some("en_GB.utf8"), Some("C")));
        assert!(!ascii_locale_from(None, None, None));
    }

    #[test]
    fn names_and_forms_parse() {
        assert_eq!(parse_color("#ff0080"), Some(Color::Rgb(255, 0, 128)));
        assert_eq!(parse_color("bright-blue"), Some(Color::LightBlue));
        assert_eq!(parse_color("bright_blue"), Some(Color::LightBlue));
        assert_eq!(parse_color("white"), Some(Color::Gray));
        assert_eq!(parse_color("bright-white"), Some(Color::White));
        assert_eq!(parse_color("42"), Some(Color::Indexed(42)));
        assert_eq!(parse_color("256"), None);
        assert_eq!(parse_color("#12345"), None);
        assert_eq!(parse_color("blurple"), None);
    }

    #[test]
    fn style_names_list_parents_first() {
        for (i, n) in STYLE_NAMES.iter().enumerate() {
            if let Some(dot) = n.rfind('.') {
                let parent = &n[..dot];
                let p = STYLE_NAMES.iter().position(|x| *x == parent);
                assert!(
                    p.is_some_and(|p| p < i),
                    "{n}: parent {parent} must come first"
                );
            }
        }
    }
}
