//! Community detection rules: Sigma rules (SigmaHQ's AWS, GCP, Kubernetes and GitHub rules, or
//! one's own) loaded from `--rules DIR` or `rules = [...]` in `config.toml`, evaluated with
//! rsigma on the original record of every event whose format fits the rule's `logsource`, in
//! the decode workers. Each match is a [`SigmaHit`] on the event, which the core turns into a
//! threat reason naming the rule's title, level and tags.
//!
//! CloudTrail records are decoded on a typed fast path that never builds a JSON tree; a record
//! is parsed into one only when some rule can match it. Most CloudTrail rules name the calls
//! they are about (`eventName: StopLogging`, `eventSource: ssm.amazonaws.com`): the rule's own
//! condition says so, and an index of those names picks the candidate rules of a record. A rule
//! whose condition names no call is a candidate for every record.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rsigma_eval::{CompiledRule, JsonEvent, compile_rule, evaluate_rule};
use rsigma_parser::{ConditionExpr, Detection, Quantifier, SelectorPattern, SigmaRule, SigmaValue};
use serde_json::Value;

use crate::core::{Event, SafeText, SigmaHit, SigmaLevel};

/// The formats Sigma rules are evaluated on, by their `logsource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSource {
    /// `product: aws`, `service: cloudtrail`.
    CloudTrail,
    /// `product: kubernetes`, `service: audit`.
    K8sAudit,
    /// `product: gcp`, `service: gcp.audit`.
    GcpAudit,
    /// `product: github`, `service: audit`.
    GitHubAudit,
}

impl LogSource {
    fn of(ls: &rsigma_parser::LogSource) -> Option<LogSource> {
        let product = ls.product.as_deref()?.to_ascii_lowercase();
        let service = ls.service.as_deref().unwrap_or("").to_ascii_lowercase();
        Some(match (product.as_str(), service.as_str()) {
            ("aws", "cloudtrail") => LogSource::CloudTrail,
            ("kubernetes", "audit") => LogSource::K8sAudit,
            ("gcp", "gcp.audit") => LogSource::GcpAudit,
            ("github", "audit") => LogSource::GitHubAudit,
            _ => return None,
        })
    }
    const ALL: [LogSource; 4] = [
        LogSource::CloudTrail,
        LogSource::K8sAudit,
        LogSource::GcpAudit,
        LogSource::GitHubAudit,
    ];
    fn index(self) -> usize {
        LogSource::ALL.iter().position(|l| *l == self).unwrap_or(0)
    }
}

/// A rule file, or a document in one, that was not loaded: where, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line the problem is at (or the document starts at), when known.
    pub line: Option<usize>,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

struct Loaded {
    rule: CompiledRule,
    hit: Arc<SigmaHit>,
}

/// The loaded rules, by the format they apply to.
#[derive(Default)]
pub struct Rules {
    rules: Vec<Loaded>,
    /// Rule indexes per [`LogSource`].
    by_source: [Vec<u32>; 4],
    /// Rules whose logsource is none of the formats blastdoor reads (Google Workspace, …).
    unused: usize,
    /// Per [`LogSource`]: its rules by the values they require of its [`indexed_fields`].
    index: [CallIndex; 4],
}

/// The CloudTrail fields the typed decoder reads anyway, which the index keys rules on, in the
/// order a rule's selection is looked at for one (the most selective first).
pub const INDEXED_FIELDS: [&str; 5] = [
    "eventName",
    "eventSource",
    "userIdentity.type",
    "userAgent",
    "userIdentity.arn",
];

/// The fields each format's rules are keyed on (at most 5), as the rules name them.
pub fn indexed_fields(source: LogSource) -> &'static [&'static str] {
    match source {
        LogSource::CloudTrail => &INDEXED_FIELDS,
        LogSource::K8sAudit => &["verb", "objectRef.resource", "objectRef.subresource"],
        LogSource::GcpAudit => &[
            "data.protoPayload.methodName",
            "data.protoPayload.serviceName",
        ],
        LogSource::GitHubAudit => &["action"],
    }
}

/// Rules by the values their conditions require of the indexed fields.
#[derive(Default)]
struct CallIndex {
    /// Per indexed field: lower-case value → rules that need exactly it.
    exact: [HashMap<String, Vec<u32>>; 5],
    /// Per indexed field: lower-case prefixes (`|startswith`) and their rules.
    prefixes: [Vec<(String, u32)>; 5],
    /// Per indexed field: text a regular expression (`|re`) requires, case-sensitive.
    contains: [Vec<(String, u32)>; 5],
    /// Rules that require none of them: candidates for every record.
    always: Vec<u32>,
}

/// One value a rule requires of an indexed field.
#[derive(Debug, Clone)]
struct Need {
    field: usize,
    value: String,
    how: How,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum How {
    /// Equal to it, ignoring case (Sigma's default).
    Exact,
    /// Starts with it, ignoring case (`|startswith`).
    Prefix,
    /// Holds it, case and all (the literal core of a `|re`).
    Contains,
}

impl Rules {
    /// Load every `.yml`/`.yaml` file under each path (a folder, read recursively, or a file).
    /// A path that does not exist is an error; a rule that cannot be parsed or compiled is a
    /// [`Problem`], and the others load.
    pub fn load(paths: &[PathBuf]) -> anyhow::Result<(Rules, Vec<Problem>)> {
        let mut files = Vec::new();
        for p in paths {
            if !p.exists() {
                anyhow::bail!(
                    "Sigma rules: {} does not exist (give --rules a folder or file of Sigma .yml rules, e.g. a checkout of SigmaHQ's rules/cloud, or fix `rules = [...]` in config.toml)",
                    p.display()
                );
            }
            if p.is_dir() {
                collect(p, &mut files)
                    .map_err(|e| anyhow::anyhow!("Sigma rules: {}: {e}", p.display()))?;
            } else {
                files.push(p.clone());
            }
        }
        files.sort();
        files.dedup();
        let mut rules = Rules::default();
        let mut problems = Vec::new();
        for f in &files {
            match std::fs::read_to_string(f) {
                Ok(text) => rules.add_text(f, &text, &mut problems),
                Err(e) => problems.push(Problem {
                    file: f.clone(),
                    line: None,
                    reason: format!("cannot read: {e}"),
                }),
            }
        }
        Ok((rules, problems))
    }

    /// Parse and compile the rules of one file's text.
    pub fn add_text(&mut self, file: &Path, text: &str, problems: &mut Vec<Problem>) {
        let problem = |reason: String| Problem {
            file: file.to_path_buf(),
            line: line_of(text, &reason),
            reason: SafeText::new(&reason).to_string(),
        };
        let collection = match rsigma_parser::parse_sigma_yaml(text) {
            Ok(c) => c,
            Err(e) => {
                problems.push(problem(e.to_string()));
                return;
            }
        };
        for e in &collection.errors {
            problems.push(problem(e.clone()));
        }
        if !collection.correlations.is_empty() || !collection.filters.is_empty() {
            problems.push(problem(
                "correlation and filter rules are not supported (only detection rules are evaluated)"
                    .into(),
            ));
        }
        for r in &collection.rules {
            match compile_rule(r) {
                Ok(c) => self.add(r, c),
                Err(e) => problems.push(problem(format!("rule '{}': {e}", r.title))),
            }
        }
    }

    fn add(&mut self, ast: &SigmaRule, rule: CompiledRule) {
        let hit = Arc::new(SigmaHit {
            title: SafeText::new(&rule.title),
            level: match rule.level {
                Some(rsigma_parser::Level::Informational) => SigmaLevel::Informational,
                Some(rsigma_parser::Level::Low) | None => SigmaLevel::Low,
                Some(rsigma_parser::Level::Medium) => SigmaLevel::Medium,
                Some(rsigma_parser::Level::High) => SigmaLevel::High,
                Some(rsigma_parser::Level::Critical) => SigmaLevel::Critical,
            },
            tags: rule.tags.iter().map(|t| SafeText::new(t)).collect(),
            id: rule.id.as_deref().map(SafeText::new),
        });
        let idx = self.rules.len() as u32;
        match LogSource::of(&ast.logsource) {
            Some(ls) => {
                self.by_source[ls.index()].push(idx);
                self.index[ls.index()].add(idx, needs(ast, indexed_fields(ls)));
            }
            None => self.unused += 1,
        }
        self.rules.push(Loaded { rule, hit });
    }

    /// How many rules loaded.
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    /// The CloudTrail rules the call index cannot key (evaluated on every CloudTrail record),
    /// by title.
    pub fn unindexed_cloudtrail(&self) -> Vec<&str> {
        self.index[LogSource::CloudTrail.index()]
            .always
            .iter()
            .map(|&i| self.rules[i as usize].hit.title.as_str())
            .collect()
    }

    /// How many loaded rules apply to none of the formats blastdoor reads.
    pub fn unused(&self) -> usize {
        self.unused
    }

    /// The rules of `source` that match `record`.
    pub fn matches(&self, source: LogSource, record: &Value) -> Vec<Arc<SigmaHit>> {
        let event = JsonEvent::borrow(record);
        if source == LogSource::GcpAudit {
            return self.matching(source, &UnderData(event));
        }
        self.matching(source, &event)
    }

    /// `matches`, evaluating only the rules the index gives for the record's field values.
    fn indexed(&self, source: LogSource, record: &Value) -> Vec<Arc<SigmaHit>> {
        let mut fields = [""; 5];
        for (slot, f) in fields.iter_mut().zip(indexed_fields(source)) {
            let get = |path: &str| {
                path.split('.')
                    .try_fold(record, |v, k| v.get(k))
                    .and_then(Value::as_str)
            };
            *slot = get(f)
                .or_else(|| {
                    (source == LogSource::GcpAudit)
                        .then(|| f.strip_prefix("data.").and_then(get))
                        .flatten()
                })
                .unwrap_or("");
        }
        let candidates = self.index[source.index()].candidates(fields);
        if candidates.is_empty() {
            return Vec::new();
        }
        let json = JsonEvent::borrow(record);
        let keep = |r: &&Loaded| match source {
            LogSource::GcpAudit => {
                evaluate_rule(&r.rule, &UnderData(JsonEvent::borrow(record))).is_some()
            }
            _ => evaluate_rule(&r.rule, &json).is_some(),
        };
        candidates
            .into_iter()
            .map(|i| &self.rules[i as usize])
            .filter(keep)
            .map(|r| r.hit.clone())
            .collect()
    }

    fn matching(&self, source: LogSource, event: &impl rsigma_eval::Event) -> Vec<Arc<SigmaHit>> {
        self.by_source[source.index()]
            .iter()
            .map(|&i| &self.rules[i as usize])
            .filter(|r| evaluate_rule(&r.rule, event).is_some())
            .map(|r| r.hit.clone())
            .collect()
    }

    /// The CloudTrail rules that match a record whose [`INDEXED_FIELDS`] are `fields` (empty
    /// when absent); `record` gives the record as a value, asked for only when some rule can
    /// match those fields.
    pub fn cloudtrail<'v>(
        &self,
        fields: [&str; 5],
        record: impl FnOnce() -> Cow<'v, Value>,
    ) -> Vec<Arc<SigmaHit>> {
        let candidates = self.index[LogSource::CloudTrail.index()].candidates(fields);
        if candidates.is_empty() {
            return Vec::new();
        }
        let v = record();
        let event = JsonEvent::borrow(&v);
        candidates
            .into_iter()
            .map(|i| &self.rules[i as usize])
            .filter(|r| evaluate_rule(&r.rule, &event).is_some())
            .map(|r| r.hit.clone())
            .collect()
    }

    /// Put on each event of `events` (just decoded from records of `source`, their original
    /// records in `raw`) the rules it matches.
    pub fn annotate(&self, source: LogSource, events: &mut [Event]) {
        if self.by_source[source.index()].is_empty() {
            return;
        }
        for e in events {
            let v = e.raw.value();
            let hits = if source == LogSource::CloudTrail {
                let fields = INDEXED_FIELDS.map(|f| {
                    f.split('.')
                        .try_fold(&*v, |v, k| v.get(k))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                });
                self.cloudtrail(fields, || Cow::Borrowed(&*v))
            } else {
                self.indexed(source, &v)
            };
            drop(v);
            e.sigma.extend(hits);
        }
    }
}

/// A GCP audit record as SigmaHQ's GCP rules name its fields: under `data.`
/// (`data.protoPayload.methodName`), the shape the log arrives in through Pub/Sub. Here the
/// record is the LogEntry itself, so `data.X` reads `X` when the record has no `data` of its own.
struct UnderData<'a>(JsonEvent<'a>);

impl rsigma_eval::Event for UnderData<'_> {
    fn get_field(&self, path: &str) -> Option<rsigma_eval::EventValue<'_>> {
        self.0
            .get_field(path)
            .or_else(|| path.strip_prefix("data.").and_then(|p| self.0.get_field(p)))
    }
    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.0.any_string_value(pred)
    }
    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.0.all_string_values()
    }
    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.0.visit_string_values(visit)
    }
    fn to_json(&self) -> Value {
        self.0.to_json()
    }
}

impl CallIndex {
    fn add(&mut self, idx: u32, needs: Option<Vec<Need>>) {
        let Some(needs) = needs else {
            self.always.push(idx);
            return;
        };
        for n in needs {
            match n.how {
                How::Exact => self.exact[n.field].entry(n.value).or_default().push(idx),
                How::Prefix => self.prefixes[n.field].push((n.value, idx)),
                How::Contains => self.contains[n.field].push((n.value, idx)),
            }
        }
    }

    fn candidates(&self, fields: [&str; 5]) -> Vec<u32> {
        let mut out: Vec<u32> = self.always.clone();
        let mut buf = [0u8; 256];
        for (k, value) in fields.iter().enumerate() {
            out.extend(
                self.contains[k]
                    .iter()
                    .filter(|(needle, _)| value.contains(needle.as_str()))
                    .map(|(_, i)| *i),
            );
            if self.exact[k].is_empty() && self.prefixes[k].is_empty() {
                continue;
            }
            let b = value.as_bytes();
            if b.len() > buf.len() {
                // Longer than the buffer (a user agent can be): fold on the heap.
                let lower = value.to_ascii_lowercase();
                self.hits(k, &lower, &mut out);
                continue;
            }
            for (d, c) in buf.iter_mut().zip(b) {
                *d = c.to_ascii_lowercase();
            }
            // ASCII folding keeps UTF-8 valid.
            let lower = std::str::from_utf8(&buf[..b.len()]).unwrap_or("");
            self.hits(k, lower, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn hits(&self, field: usize, lower: &str, out: &mut Vec<u32>) {
        if let Some(r) = self.exact[field].get(lower) {
            out.extend(r);
        }
        out.extend(
            self.prefixes[field]
                .iter()
                .filter(|(p, _)| lower.starts_with(p.as_str()))
                .map(|(_, i)| *i),
        );
    }
}

/// What a rule requires of the call for it to match: one of these names, prefixes or sources
/// holds on every record the rule matches. `None` when its condition does not say.
fn needs(rule: &SigmaRule, fields: &[&str]) -> Option<Vec<Need>> {
    let d = &rule.detection;
    let mut all = Vec::new();
    // Several conditions are alternatives.
    for c in &d.conditions {
        all.extend(cond_needs(c, &d.named, fields)?);
    }
    (!d.conditions.is_empty()).then_some(all)
}

fn cond_needs(
    c: &ConditionExpr,
    named: &HashMap<String, Detection>,
    fields: &[&str],
) -> Option<Vec<Need>> {
    match c {
        ConditionExpr::Identifier(n) => det_needs(named.get(n)?, fields),
        // All must hold: what any one requires is required.
        ConditionExpr::And(v) => v.iter().find_map(|x| cond_needs(x, named, fields)),
        ConditionExpr::Or(v) => union(v.iter().map(|x| cond_needs(x, named, fields))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let mut dets: Vec<&Detection> = named
                .iter()
                .filter(|(k, _)| match pattern {
                    SelectorPattern::Them => !k.starts_with('_'),
                    SelectorPattern::Pattern(p) => rsigma_parser::detection_name_matches(p, k),
                })
                .map(|(_, d)| d)
                .collect();
            if dets.is_empty() {
                return None;
            }
            dets.sort_by_key(|d| format!("{d:?}").len());
            match quantifier {
                Quantifier::All => dets.iter().find_map(|d| det_needs(d, fields)),
                Quantifier::Any | Quantifier::Count(_) => {
                    union(dets.iter().map(|d| det_needs(d, fields)))
                }
            }
        }
    }
}

fn union(parts: impl Iterator<Item = Option<Vec<Need>>>) -> Option<Vec<Need>> {
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Some(out)
}

fn det_needs(d: &Detection, fields: &[&str]) -> Option<Vec<Need>> {
    match d {
        Detection::AllOf(items) => {
            let of = |field: usize| {
                items.iter().find_map(|it| {
                    if it.field.name.as_deref() != Some(fields[field]) || it.values.is_empty() {
                        return None;
                    }
                    let how = match it.field.modifiers.as_slice() {
                        [] => How::Exact,
                        [rsigma_parser::Modifier::StartsWith] => How::Prefix,
                        [rsigma_parser::Modifier::Re] => How::Contains,
                        _ => return None,
                    };
                    it.values
                        .iter()
                        .map(|v| match (v, how) {
                            (SigmaValue::String(s), How::Contains) => Some(Need {
                                field,
                                value: regex_literal(&s.original)?,
                                how,
                            }),
                            (SigmaValue::String(s), _) => Some(Need {
                                field,
                                value: s.as_plain()?.to_ascii_lowercase(),
                                how,
                            }),
                            _ => None,
                        })
                        .collect::<Option<Vec<Need>>>()
                })
            };
            (0..fields.len()).find_map(of)
        }
        Detection::AnyOf(v) => union(v.iter().map(|d| det_needs(d, fields))),
        _ => None,
    }
}

/// The text every match of a regular expression holds, for the simple shape rules use
/// (`.+:assumed-role/aws:.+`): a literal between optional `^`/`$` and `.*`/`.+`. `None` for
/// anything else (the rule is then not keyed on that field).
fn regex_literal(re: &str) -> Option<String> {
    let mut core = re.strip_prefix('^').unwrap_or(re);
    core = core.strip_suffix('$').unwrap_or(core);
    for w in [".*", ".+"] {
        core = core.strip_prefix(w).unwrap_or(core);
        core = core.strip_suffix(w).unwrap_or(core);
    }
    let special = |c: char| "\\.+*?()|[]{}^$".contains(c);
    (!core.is_empty() && !core.chars().any(special)).then(|| core.to_string())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
    Ok(())
}

/// The line a parser message is about: the `line N` a YAML error names, else the first line
/// that holds a name the message quotes ('…'), else none.
fn line_of(text: &str, reason: &str) -> Option<usize> {
    if let Some(at) = reason.find("line ") {
        let n: String = reason[at + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = n.parse() {
            return Some(n);
        }
    }
    let mut quoted = reason.split('\'').skip(1).step_by(2);
    quoted.find_map(|q| {
        (!q.is_empty())
            .then(|| text.lines().position(|l| l.contains(q)).map(|i| i + 1))
            .flatten()
    })
}

static ACTIVE: OnceLock<Rules> = OnceLock::new();

/// Make `rules` the ones every decoder of this process evaluates. Once per process (the
/// commands that ingest call it at start); false if rules were already installed.
pub fn install(rules: Rules) -> bool {
    ACTIVE.set(rules).is_ok()
}

/// The installed rules, if any rules are configured.
pub fn active() -> Option<&'static Rules> {
    ACTIVE.get().filter(|r| !r.is_empty())
}

/// Load the rules of `paths`, say on stderr which were not loaded and why, and install them.
/// Nothing configured: nothing is installed, and decoding is exactly as without rules.
pub fn load_and_install(paths: &[PathBuf]) -> anyhow::Result<()> {
    if paths.is_empty() || ACTIVE.get().is_some() {
        return Ok(());
    }
    let (rules, problems) = Rules::load(paths)?;
    for p in &problems {
        eprintln!("blastdoor: Sigma rule not loaded: {p}");
    }
    if rules.is_empty() {
        anyhow::bail!(
            "Sigma rules: no rule could be loaded from {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    install(rules);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOP: &str = r#"
title: Trail Stopped
id: 11111111-2222-3333-4444-555555555555
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: cloudtrail.amazonaws.com
        eventName:
            - StopLogging
            - DeleteTrail
    condition: selection
tags:
    - attack.defense-evasion
    - "attack.t1562.001\u001b[31m"
level: medium
"#;

    fn rules(text: &str) -> (Rules, Vec<Problem>) {
        let mut r = Rules::default();
        let mut p = Vec::new();
        r.add_text(Path::new("t.yml"), text, &mut p);
        (r, p)
    }

    #[test]
    fn a_cloudtrail_rule_matches_its_call_case_insensitively_and_not_others() {
        let (r, p) = rules(STOP);
        assert!(p.is_empty(), "{p:?}");
        let rec = serde_json::json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "stoplogging"});
        let hits = r.cloudtrail(
            ["stoplogging", "cloudtrail.amazonaws.com", "", "", ""],
            || Cow::Borrowed(&rec),
        );
        assert_eq!(hits.len(), 1);
        let d = hits[0].describe();
        assert!(
            d.starts_with("Trail Stopped (medium; attack.defense-evasion, attack.t1562.001"),
            "{d}"
        );
        // The rule file is input: its escape sequence does not reach the reason.
        assert!(!d.contains('\u{1b}'), "{d}");
        assert!(!hits[0].tags[1].as_str().contains('\u{1b}'));
        // Another call: the record is never even parsed.
        let hits = r.cloudtrail(
            ["ListUsers", "iam.amazonaws.com", "IAMUser", "", ""],
            || panic!("no rule names ListUsers"),
        );
        assert!(hits.is_empty());
    }

    #[test]
    fn a_rule_that_names_no_call_is_indexed_on_the_identity_type() {
        let (r, p) = rules(
            r#"
title: Any Root
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        userIdentity.type: Root
    filter:
        eventName: ConsoleLogin
    condition: selection and not filter
level: high
"#,
        );
        assert!(p.is_empty(), "{p:?}");
        let rec = serde_json::json!({"eventName": "ListUsers", "userIdentity": {"type": "Root"}});
        let fields = ["ListUsers", "iam.amazonaws.com", "Root", "", ""];
        assert_eq!(r.cloudtrail(fields, || Cow::Borrowed(&rec)).len(), 1);
        // Another identity type: never parsed.
        let fields = ["ListUsers", "iam.amazonaws.com", "IAMUser", "", ""];
        assert!(r.cloudtrail(fields, || panic!("parsed")).is_empty());
    }

    #[test]
    fn a_bad_modifier_is_named_with_its_line_and_the_other_rules_load() {
        let bad = "title: Bad\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n    selection:\n        eventName|frobnicate: x\n    condition: selection\n";
        let mut r = Rules::default();
        let mut p = Vec::new();
        r.add_text(Path::new("bad.yml"), bad, &mut p);
        r.add_text(Path::new("good.yml"), STOP, &mut p);
        assert_eq!(r.len(), 1);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, Some(5), "{p:?}");
        assert!(p[0].to_string().starts_with("bad.yml:5: "), "{}", p[0]);
        assert!(p[0].reason.contains("frobnicate"), "{}", p[0]);
    }

    #[test]
    fn gcp_rules_read_the_log_entry_under_data_as_sigmahq_writes_them() {
        let (r, p) = rules(
            r#"
title: GCP Bucket Deleted
logsource: {product: gcp, service: gcp.audit}
detection:
    selection:
        data.protoPayload.methodName: storage.buckets.delete
    condition: selection
level: medium
"#,
        );
        assert!(p.is_empty(), "{p:?}");
        let entry = serde_json::json!({"protoPayload": {"methodName": "storage.buckets.delete"}});
        assert_eq!(r.matches(LogSource::GcpAudit, &entry).len(), 1);
        let other = serde_json::json!({"protoPayload": {"methodName": "storage.buckets.get"}});
        assert!(r.matches(LogSource::GcpAudit, &other).is_empty());
    }

    #[test]
    fn a_simple_regex_keys_its_rule_on_the_text_it_requires() {
        assert_eq!(
            regex_literal(".+:assumed-role/aws:.+").as_deref(),
            Some(":assumed-role/aws:")
        );
        assert_eq!(regex_literal("^AKIA[0-9A-Z]{16}$"), None);
        assert_eq!(regex_literal("(?i)admin"), None);
        let (r, p) = rules(
            r#"
title: IMDS
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        userIdentity.arn|re: '.+:assumed-role/aws:.+'
    condition: selection
level: high
"#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert!(r.unindexed_cloudtrail().is_empty());
        let arn = "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1";
        let rec = serde_json::json!({"eventName": "ListBuckets", "userIdentity": {"arn": arn}});
        let fields = ["ListBuckets", "s3.amazonaws.com", "AssumedRole", "", arn];
        assert_eq!(r.cloudtrail(fields, || Cow::Borrowed(&rec)).len(), 1);
        let fields = [
            "ListBuckets",
            "s3.amazonaws.com",
            "IAMUser",
            "",
            "arn:aws:iam::1:user/x",
        ];
        assert!(r.cloudtrail(fields, || panic!("parsed")).is_empty());
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_it() {
        let e = Rules::load(&[PathBuf::from("/nonexistent/sigma")])
            .err()
            .expect("an error");
        assert!(
            e.to_string().contains("/nonexistent/sigma does not exist"),
            "{e}"
        );
    }
}
