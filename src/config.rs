//! The user's configuration: `config.toml`, and the themes and keymaps it selects.
//!
//! `Config::load` finds the file (`--config FILE`, else `BLASTDOOR_CONFIG`, else `config.toml` in
//! the user config dir; a missing default file means defaults, a missing named file is an
//! error). `load_ui` turns the selected theme and keymap names into a `Theme` and a `Keymap`:
//! built-in files (compiled in) with any file of the same name in the user config dir
//! (`themes/NAME.toml`, `keymaps/NAME.toml`) merged over them, then `inherits` chains.
//! `check` validates all of it and names every problem with its file and entry, so that
//! `blastdoor check-config` and the console's start-up refuse the same mistakes, before the
//! terminal is put in raw mode.
//!
//! Unknown top-level keys are not rejected when loading (a newer config must still start an
//! older binary), but `check` reports them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::problem::ConfigProblem;
use crate::tui::keymap::{BUILTIN_KEYMAPS, Keymap, KeymapSpec};
use crate::tui::theme::{BUILTIN_THEMES, ColorMode, Theme, ThemeSpec};

/// The environment variable naming a config file, used when `--config` is not given.
pub const CONFIG_ENV: &str = "BLASTDOOR_CONFIG";

/// The keys `config.toml` knows at the top level.
pub const CONFIG_KEYS: &[&str] = &[
    "sources",
    "inventory",
    "state",
    "theme",
    "keymap",
    "policy",
    "providers",
    "crown_jewels",
    "endpoints",
    "webhook",
    "limits",
    "rules",
];

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: config file not found (named by {by})", path.display())]
    NotFound { path: PathBuf, by: &'static str },
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(ConfigProblem),
}

/// `config.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub inventory: Vec<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default = "default_theme")]
    pub theme: String,
    #[serde(default = "default_keymap")]
    pub keymap: String,
    #[serde(default)]
    pub policy: Option<String>,
    /// `[providers.aws]`, `[providers.vault]`, …: kept as TOML for the executors to read.
    #[serde(default)]
    pub providers: toml::Table,
    /// `[[crown_jewels]]`: resources (`arn = "arn:aws:s3:::payroll*"`) or Kubernetes
    /// namespaces (`namespace = "payments*"`) that count as at least `sensitivity` (default
    /// `secrets`) in every blast radius that reaches them.
    #[serde(default)]
    pub crown_jewels: Vec<crate::core::graph::CrownJewel>,
    /// `[endpoints.NAME]`: how to reach guarded agents and collectors (`auth::endpoint`).
    #[serde(default)]
    pub endpoints: std::collections::BTreeMap<String, crate::auth::endpoint::Endpoint>,
    /// `[webhook]`: how webhook callers authenticate (`engine::live`).
    #[serde(default)]
    pub webhook: crate::engine::live::WebhookAuthConfig,
    /// `[limits]`: the longest line or record, the largest decompressed file and ratio (see
    /// `ingest::limits`); over one, the record or file is named, counted and skipped.
    #[serde(default)]
    pub limits: crate::ingest::Limits,
    /// `rules = ["path", ...]`: folders or files of Sigma rules evaluated on every event
    /// (`ingest::sigma`); relative paths are relative to this file. `--rules` overrides them.
    #[serde(default)]
    pub rules: Vec<String>,
    /// The file this was loaded from, when there was one (relative paths are relative to it).
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// Where user themes and keymaps are looked for (`themes/`, `keymaps/`); `Config::load`
    /// sets it to the user config dir. `None`: built-ins only.
    #[serde(skip)]
    pub user_dir: Option<PathBuf>,
}

fn default_theme() -> String {
    "dark".into()
}
fn default_keymap() -> String {
    "default".into()
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sources: Vec::new(),
            inventory: Vec::new(),
            state: None,
            theme: default_theme(),
            keymap: default_keymap(),
            policy: None,
            providers: toml::Table::new(),
            crown_jewels: Vec::new(),
            endpoints: Default::default(),
            webhook: Default::default(),
            limits: crate::ingest::Limits::default(),
            rules: Vec::new(),
            path: None,
            user_dir: None,
        }
    }
}

/// The user config dir (`~/.config/blastdoor` on Linux), if the platform has one.
pub fn user_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "blastdoor").map(|d| d.config_dir().to_path_buf())
}

/// Which config file to read and whether it was asked for by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigLocation {
    /// Named by `--config` or `BLASTDOOR_CONFIG`: it must exist.
    Named { path: PathBuf, by: &'static str },
    /// `config.toml` in the user config dir: optional.
    Default(PathBuf),
    /// No user config dir on this platform.
    Nowhere,
}

impl ConfigLocation {
    pub fn find(flag: Option<&Path>) -> ConfigLocation {
        if let Some(p) = flag {
            return ConfigLocation::Named {
                path: p.to_path_buf(),
                by: "--config",
            };
        }
        if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
            return ConfigLocation::Named {
                path: PathBuf::from(p),
                by: CONFIG_ENV,
            };
        }
        match user_config_dir() {
            Some(dir) => ConfigLocation::Default(dir.join("config.toml")),
            None => ConfigLocation::Nowhere,
        }
    }
}

impl Config {
    /// The `[endpoints.*]` sections, paths relative to this file.
    pub fn endpoints(&self) -> crate::auth::endpoint::Endpoints {
        crate::auth::endpoint::Endpoints::new(
            self.endpoints.clone(),
            self.path.as_deref().and_then(Path::parent),
        )
    }

    /// Load from `--config FILE`, `BLASTDOOR_CONFIG`, or the user config dir.
    pub fn load(flag: Option<&Path>) -> Result<Config, ConfigError> {
        let mut c = Config::load_from(&ConfigLocation::find(flag))?;
        c.user_dir = user_config_dir();
        Ok(c)
    }

    /// Load from a known location (no environment lookups); `user_dir` is left unset.
    pub fn load_from(location: &ConfigLocation) -> Result<Config, ConfigError> {
        let (path, by) = match location {
            ConfigLocation::Named { path, by } => (path, Some(*by)),
            ConfigLocation::Default(path) => (path, None),
            ConfigLocation::Nowhere => return Ok(Config::default()),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return match by {
                    Some(by) => Err(ConfigError::NotFound {
                        path: path.clone(),
                        by,
                    }),
                    None => Ok(Config::default()),
                };
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.clone(),
                    source,
                });
            }
        };
        let mut c =
            Config::parse(&text, &path.display().to_string()).map_err(ConfigError::Invalid)?;
        c.path = Some(path.clone());
        Ok(c)
    }

    /// Parse config text; `file` names it in errors. Unknown top-level keys are ignored here
    /// (see `unknown_keys`).
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigProblem> {
        toml::from_str::<Config>(text).map_err(|e| ConfigProblem::toml(file, text, &e))
    }
}

/// The keys each `[providers.NAME]` section knows (every one a string), as the executors in
/// `respond::providers` read them.
pub const PROVIDER_KEYS: &[(&str, &[&str])] = &[
    ("aws", &["region", "endpoint_url"]),
    ("vault", &["addr", "token_env", "namespace"]),
    ("kubernetes", &["context", "kubeconfig"]),
    ("github", &["api_url", "token_env"]),
    ("gcp", &["api_url", "token_env"]),
];

/// TOML's name for the type of a value, with the value when it is short.
fn found(v: &toml::Value) -> String {
    let kind = v.type_str();
    match v {
        toml::Value::Table(_) | toml::Value::Array(_) => kind.to_string(),
        v => {
            let text = v.to_string();
            if text.chars().count() <= 40 {
                format!("{kind} {text}")
            } else {
                kind.to_string()
            }
        }
    }
}

/// Every known key of a config whose value has the wrong type, each named by its full path
/// (`providers.aws.region`): one problem per key, not only the first. `None` when the text is
/// not TOML at all (the syntax error is reported instead).
fn typed_keys(text: &str, file: &str) -> Option<Vec<ConfigProblem>> {
    let table = toml::from_str::<toml::Table>(text).ok()?;
    let mut problems = Vec::new();
    let mut wrong = |entry: String, want: &str, v: &toml::Value| {
        let at = line_of(text, &entry)
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        problems.push(ConfigProblem::new(
            file,
            entry,
            format!("{at}expected {want}, found {}", found(v)),
        ));
    };
    // Each section is read as its own type, so one bad section does not hide the next.
    fn as_type<T: serde::de::DeserializeOwned>(v: &toml::Value) -> Result<(), String> {
        v.clone()
            .try_into::<T>()
            .map(|_| ())
            .map_err(|e| e.message().trim_end().to_string())
    }
    // A section that does not read is narrowed to the key that breaks it (the one key without
    // which the rest reads), so the problem names the key and its line; otherwise the section
    // is named, at its header's line.
    fn section_problem<T: serde::de::DeserializeOwned>(
        text: &str,
        file: &str,
        name: &str,
        v: &toml::Value,
    ) -> Option<ConfigProblem> {
        let whole = as_type::<T>(v).err()?;
        let culprit = v.as_table().and_then(|t| {
            t.keys().find(|key| {
                let mut rest = t.clone();
                rest.remove(key.as_str());
                as_type::<T>(&toml::Value::Table(rest)).is_ok()
            })
        });
        let entry = culprit.map_or_else(|| name.to_string(), |key| format!("{name}.{key}"));
        let message = whole;
        let at = line_of(text, &entry)
            .or_else(|| header_line(text, name))
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        Some(ConfigProblem::new(file, entry, format!("{at}{message}")))
    }
    let section = |p: Option<ConfigProblem>, problems: &mut Vec<ConfigProblem>| {
        problems.extend(p);
    };
    let mut later = Vec::new();
    for (k, v) in &table {
        match k.as_str() {
            "sources" | "inventory" | "rules" => match v.as_array() {
                None => wrong(k.clone(), "an array of strings", v),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if !item.is_str() {
                            wrong(format!("{k}[{i}]"), "a string", item);
                        }
                    }
                }
            },
            "state" | "theme" | "keymap" | "policy" if !v.is_str() => {
                wrong(k.clone(), "a string", v)
            }
            "providers" => match v.as_table() {
                None => wrong(k.clone(), "a table ([providers.NAME] sections)", v),
                Some(providers) => {
                    for (name, sec) in providers {
                        let Some(known) = PROVIDER_KEYS
                            .iter()
                            .find(|(p, _)| p == name)
                            .map(|(_, keys)| *keys)
                        else {
                            let names: Vec<&str> = PROVIDER_KEYS.iter().map(|(p, _)| *p).collect();
                            later.push(ConfigProblem::new(
                                file,
                                format!("providers.{name}"),
                                format!("unknown provider (known: {})", names.join(", ")),
                            ));
                            continue;
                        };
                        let Some(sec) = sec.as_table() else {
                            wrong(
                                format!("providers.{name}"),
                                &format!("a [providers.{name}] section"),
                                sec,
                            );
                            continue;
                        };
                        for (key, val) in sec {
                            if !known.contains(&key.as_str()) {
                                let hint = crate::tui::theme::suggest(key, known)
                                    .map(|s| format!(" (did you mean {s:?}?)"))
                                    .unwrap_or_else(|| format!(" (known: {})", known.join(", ")));
                                later.push(ConfigProblem::new(
                                    file,
                                    format!("providers.{name}.{key}"),
                                    format!("unknown key{hint}"),
                                ));
                            } else if !val.is_str() {
                                wrong(format!("providers.{name}.{key}"), "a string", val);
                            }
                        }
                    }
                }
            },
            "crown_jewels" => section(
                section_problem::<Vec<crate::core::graph::CrownJewel>>(text, file, k, v),
                &mut later,
            ),
            "endpoints" => section(
                section_problem::<
                    std::collections::BTreeMap<String, crate::auth::endpoint::Endpoint>,
                >(text, file, k, v),
                &mut later,
            ),
            "webhook" => section(
                section_problem::<crate::engine::live::WebhookAuthConfig>(text, file, k, v),
                &mut later,
            ),
            "limits" => section(
                section_problem::<crate::ingest::Limits>(text, file, k, v),
                &mut later,
            ),
            _ => {}
        }
    }
    problems.extend(later);
    Some(problems)
}

/// The line (from 1) where `entry` (`theme`, `providers.aws.region`) is set, found by its
/// section header and key; `None` when it is written some other way (inline tables, dotted keys).
fn line_of(text: &str, entry: &str) -> Option<usize> {
    let entry = entry.split('[').next().unwrap_or(entry);
    let (section, key) = match entry.rsplit_once('.') {
        Some((s, k)) => (s, k),
        None => ("", entry),
    };
    let mut current = String::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[') {
            current = h
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .split('.')
                .map(|p| p.trim().trim_matches('"'))
                .collect::<Vec<_>>()
                .join(".");
            continue;
        }
        if current == section
            && let Some((k, _)) = t.split_once('=')
            && k.trim().trim_matches('"') == key
        {
            return Some(n + 1);
        }
    }
    None
}

/// The line (from 1) of the header `[name]` or `[[name]]`.
fn header_line(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim().trim_start_matches('[');
            t.split(']').next().map(str::trim) == Some(name)
        })
        .map(|n| n + 1)
}

/// What the executors make of each `[providers.NAME]` section that has the right shape (a
/// missing `addr`, a URL that is not one), one section at a time so each says its own.
fn provider_problems(config: &Config, file: &str) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (name, sec) in &config.providers {
        let mut one = toml::Table::new();
        one.insert(name.clone(), sec.clone());
        if let Err(e) = crate::respond::providers::from_config(&one) {
            problems.push(ConfigProblem::new(
                file,
                format!("providers.{name}"),
                format!("{e:#}"),
            ));
        }
    }
    problems
}

/// Top-level keys `config.toml` does not know, as problems.
fn unknown_keys(text: &str, file: &str) -> Vec<ConfigProblem> {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    table
        .keys()
        .filter(|k| !CONFIG_KEYS.contains(&k.as_str()))
        .map(|k| {
            let hint = crate::tui::theme::suggest(k, CONFIG_KEYS)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_else(|| format!(" (known: {})", CONFIG_KEYS.join(", ")));
            ConfigProblem::new(file, format!("{k:?}"), format!("unknown key{hint}"))
        })
        .collect()
}

impl Config {
    /// The `rules` paths, relative ones resolved against the config file's folder.
    pub fn rule_paths(&self) -> Vec<PathBuf> {
        let base = self.path.as_deref().and_then(Path::parent);
        self.rules
            .iter()
            .map(|r| match base {
                Some(b) if Path::new(r).is_relative() => b.join(r),
                _ => PathBuf::from(r),
            })
            .collect()
    }
}

/// Every Sigma rule of `rules = [...]` that does not load, by file and line; a path that does
/// not exist names the `rules` entry.
fn rule_problems(c: &Config, file: &str) -> Vec<ConfigProblem> {
    let paths = c.rule_paths();
    if paths.is_empty() {
        return Vec::new();
    }
    match crate::ingest::sigma::Rules::load(&paths) {
        Err(e) => vec![ConfigProblem::new(file, "rules", format!("{e:#}"))],
        Ok((rules, bad)) => {
            let mut out: Vec<ConfigProblem> = bad
                .iter()
                .map(|p| {
                    let at = p.line.map(|l| format!("line {l}: ")).unwrap_or_default();
                    ConfigProblem::file(
                        p.file.display().to_string(),
                        format!("{at}Sigma rule not loaded: {}", p.reason),
                    )
                })
                .collect();
            if rules.is_empty() && out.is_empty() {
                out.push(ConfigProblem::new(
                    file,
                    "rules",
                    "no Sigma rule (.yml or .yaml) found there",
                ));
            }
            out
        }
    }
}

/// Resolve the theme and keymap the console will use, or every problem found on the way.
/// `theme_override`/`keymap_override` come from `--theme`/`--keymap` and win over the config;
/// `no_color` is `--no-color` (`NO_COLOR` in the environment is honoured as well).
pub fn load_ui(
    config: &Config,
    theme_override: Option<&str>,
    keymap_override: Option<&str>,
    no_color: bool,
) -> Result<(Theme, Keymap), Vec<ConfigProblem>> {
    let mode = if no_color {
        ColorMode::NoColor
    } else {
        ColorMode::detect()
    };
    load_ui_with(config, theme_override, keymap_override, mode)
}

/// `load_ui` with the colour mode given instead of detected (for tests and previews).
pub fn load_ui_with(
    config: &Config,
    theme_override: Option<&str>,
    keymap_override: Option<&str>,
    mode: ColorMode,
) -> Result<(Theme, Keymap), Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let config_file = config
        .path
        .as_ref()
        .map_or_else(|| "config".to_string(), |p| p.display().to_string());
    let user_dir = config.user_dir.as_deref();
    let (theme_name, theme_origin) = match theme_override {
        Some(t) => (t, ConfigProblem::file("--theme", "")),
        None => (
            config.theme.as_str(),
            ConfigProblem::new(&config_file, "theme", ""),
        ),
    };
    let (keymap_name, keymap_origin) = match keymap_override {
        Some(k) => (k, ConfigProblem::file("--keymap", "")),
        None => (
            config.keymap.as_str(),
            ConfigProblem::new(&config_file, "keymap", ""),
        ),
    };
    let theme = load_theme(theme_name, user_dir, mode, &mut problems, theme_origin);
    let keymap = load_keymap(keymap_name, user_dir, &mut problems, keymap_origin);
    match (theme, keymap) {
        (Some(t), Some(k)) if problems.is_empty() => Ok((t, k)),
        _ => Err(dedup(problems)),
    }
}

/// Validate the config file, the theme and keymap it selects, and every user theme and
/// keymap file. Empty when all is well.
pub fn check(config_path: Option<&Path>) -> Vec<ConfigProblem> {
    check_at(
        &ConfigLocation::find(config_path),
        user_config_dir().as_deref(),
    )
}

/// `check` with the config location and the user dir given (no environment lookups).
pub fn check_at(location: &ConfigLocation, user_dir: Option<&Path>) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let config = match location {
        ConfigLocation::Named { path, .. } | ConfigLocation::Default(path) => {
            let file = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    problems.extend(unknown_keys(&text, &file));
                    let typed = typed_keys(&text, &file).unwrap_or_default();
                    let well_typed = typed.is_empty();
                    problems.extend(typed);
                    match Config::parse(&text, &file) {
                        Ok(mut c) => {
                            if well_typed {
                                problems.extend(provider_problems(&c, &file));
                            }
                            c.path = Some(path.clone());
                            problems.extend(rule_problems(&c, &file));
                            Some(c)
                        }
                        // Each mistyped key is named above; serde's first one would repeat it.
                        Err(_) if !well_typed => None,
                        Err(p) => {
                            problems.push(p);
                            None
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match location {
                    ConfigLocation::Named { by, .. } => {
                        problems.push(ConfigProblem::file(
                            file,
                            format!("config file not found (named by {by})"),
                        ));
                        None
                    }
                    _ => Some(Config::default()),
                },
                Err(e) => {
                    problems.push(ConfigProblem::file(file, format!("cannot read: {e}")));
                    None
                }
            }
        }
        ConfigLocation::Nowhere => Some(Config::default()),
    };
    if let Some(mut config) = config {
        config.user_dir = user_dir.map(Path::to_path_buf);
        if let Err(p) = load_ui_with(&config, None, None, ColorMode::TrueColor) {
            problems.extend(p);
        }
    }
    // User files the config does not select are still checked: they are one flag away.
    if let Some(dir) = user_dir {
        for name in user_names(dir, "themes") {
            let origin = ConfigProblem::file(
                dir.join("themes")
                    .join(format!("{name}.toml"))
                    .display()
                    .to_string(),
                "",
            );
            load_theme(
                &name,
                Some(dir),
                ColorMode::TrueColor,
                &mut problems,
                origin,
            );
        }
        for name in user_names(dir, "keymaps") {
            let origin = ConfigProblem::file(
                dir.join("keymaps")
                    .join(format!("{name}.toml"))
                    .display()
                    .to_string(),
                "",
            );
            load_keymap(&name, Some(dir), &mut problems, origin);
        }
    }
    dedup(problems)
}

fn dedup(problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
    let mut seen = HashSet::new();
    problems
        .into_iter()
        .filter(|p| seen.insert(p.to_string()))
        .collect()
}

/// Names of `*.toml` files in `dir/sub`, sorted.
fn user_names(dir: &Path, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

/// Built-in and user theme names, for "unknown theme" messages.
fn available(builtin: &[(&str, &str)], dir: Option<&Path>, sub: &str) -> String {
    let mut names: Vec<String> = builtin.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(d) = dir {
        for n in user_names(d, sub) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names.join(", ")
}

/// Theme and keymap names become file names: keep them to plain names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The kind of file being resolved: themes or keymaps share the lookup and merge rules.
trait Spec: Sized {
    const DIR: &'static str;
    const WHAT: &'static str;
    fn builtin() -> &'static [(&'static str, &'static str)];
    fn parse(table: &toml::Table, file: &str, problems: &mut Vec<ConfigProblem>) -> Self;
    fn inherits(&self) -> Option<String>;
    fn merge_over(self, base: Self) -> Self;
}

impl Spec for ThemeSpec {
    const DIR: &'static str = "themes";
    const WHAT: &'static str = "theme";
    fn builtin() -> &'static [(&'static str, &'static str)] {
        BUILTIN_THEMES
    }
    fn parse(table: &toml::Table, file: &str, problems: &mut Vec<ConfigProblem>) -> Self {
        ThemeSpec::parse(table, file, problems)
    }
    fn inherits(&self) -> Option<String> {
        self.inherits.clone()
    }
    fn merge_over(self, base: Self) -> Self {
        ThemeSpec::merge_over(self, base)
    }
}

impl Spec for KeymapSpec {
    const DIR: &'static str = "keymaps";
    const WHAT: &'static str = "keymap";
    fn builtin() -> &'static [(&'static str, &'static str)] {
        BUILTIN_KEYMAPS
    }
    fn parse(table: &toml::Table, file: &str, problems: &mut Vec<ConfigProblem>) -> Self {
        KeymapSpec::parse(table, file, problems)
    }
    fn inherits(&self) -> Option<String> {
        self.inherits.clone()
    }
    fn merge_over(self, base: Self) -> Self {
        KeymapSpec::merge_over(self, base)
    }
}

fn parse_text(text: &str, file: &str, problems: &mut Vec<ConfigProblem>) -> Option<toml::Table> {
    match toml::from_str::<toml::Table>(text) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(ConfigProblem::toml(file, text, &e));
            None
        }
    }
}

/// The user file merged over the built-in of the same name, then over what it inherits.
/// `origin` says who asked for the name (config entry, flag, or another file's `inherits`).
fn resolve_spec<S: Spec>(
    name: &str,
    user_dir: Option<&Path>,
    problems: &mut Vec<ConfigProblem>,
    origin: &ConfigProblem,
    chain: &mut Vec<String>,
) -> Option<S> {
    let complain = |problems: &mut Vec<ConfigProblem>, message: String| {
        problems.push(ConfigProblem {
            message,
            ..origin.clone()
        });
    };
    if !valid_name(name) {
        complain(
            problems,
            format!(
                "{name:?} is not a {} name (letters, digits, - and _)",
                S::WHAT
            ),
        );
        return None;
    }
    if chain.iter().any(|n| n == name) {
        complain(
            problems,
            format!("inherits {name:?} again: {} -> {name}", chain.join(" -> ")),
        );
        return None;
    }
    chain.push(name.to_string());
    let builtin = S::builtin()
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, text)| {
            let file = format!("built-in {}/{name}.toml", S::DIR);
            parse_text(text, &file, problems).map(|t| S::parse(&t, &file, problems))
        });
    let user_path = user_dir.map(|d| d.join(S::DIR).join(format!("{name}.toml")));
    let user = match user_path.as_ref().map(|p| (p, std::fs::read_to_string(p))) {
        Some((p, Ok(text))) => {
            let file = p.display().to_string();
            // A user file that does not parse is an error even if a built-in of that name exists:
            // silently falling back would hide the user's change.
            match parse_text(&text, &file, problems) {
                Some(t) => Some(S::parse(&t, &file, problems)),
                None => return None,
            }
        }
        Some((p, Err(e))) if e.kind() != std::io::ErrorKind::NotFound => {
            problems.push(ConfigProblem::file(
                p.display().to_string(),
                format!("cannot read: {e}"),
            ));
            return None;
        }
        _ => None,
    };
    let spec = match (user, builtin) {
        (Some(u), Some(b)) => u.merge_over(b),
        (Some(u), None) => u,
        (None, Some(b)) => b,
        (None, None) => {
            let known = available(S::builtin(), user_dir, S::DIR);
            complain(
                problems,
                format!("unknown {} {name:?} (available: {known})", S::WHAT),
            );
            return None;
        }
    };
    match spec.inherits() {
        Some(parent) if parent != name => {
            let file = user_path.filter(|p| p.exists()).map_or_else(
                || format!("built-in {}/{name}.toml", S::DIR),
                |p| p.display().to_string(),
            );
            let from = ConfigProblem::new(file, "inherits", "");
            let base = resolve_spec::<S>(&parent, user_dir, problems, &from, chain)?;
            Some(spec.merge_over(base))
        }
        _ => Some(spec),
    }
}

fn load_theme(
    name: &str,
    user_dir: Option<&Path>,
    mode: ColorMode,
    problems: &mut Vec<ConfigProblem>,
    origin: ConfigProblem,
) -> Option<Theme> {
    let spec = resolve_spec::<ThemeSpec>(name, user_dir, problems, &origin, &mut Vec::new())?;
    Some(spec.resolve(name, mode, problems))
}

fn load_keymap(
    name: &str,
    user_dir: Option<&Path>,
    problems: &mut Vec<ConfigProblem>,
    origin: ConfigProblem,
) -> Option<Keymap> {
    let spec = resolve_spec::<KeymapSpec>(name, user_dir, problems, &origin, &mut Vec::new())?;
    Some(spec.resolve(name, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_and_keymaps_are_clean() {
        let config = Config::default();
        for (t, _) in BUILTIN_THEMES {
            for (k, _) in BUILTIN_KEYMAPS {
                let r = load_ui_with(&config, Some(t), Some(k), ColorMode::TrueColor);
                assert!(r.is_ok(), "{t}/{k}: {:?}", r.err());
            }
        }
    }
}
