//! Ingest: decode records, detect their format (per record: a folder may mix formats),
//! normalise them into the core model, and sanitise every untrusted string on the way in. One
//! file per format; `detect` decides which one reads a record.

pub mod aws_iam;
pub mod cloudtrail;
pub mod csv_export;
pub mod detect;
pub mod envelopes;
pub mod falco;
pub mod gcp;
pub mod github;
pub mod k8s_audit;
pub mod k8s_rbac;
pub mod lenient;
pub mod limits;
pub mod lines;
pub mod native;
pub mod ocsf;
pub mod sanitize;
pub mod sigma;
pub mod tetragon;
pub mod vault_audit;

use serde_json::Value;

use crate::core::{
    Api, Change, Credential, CredentialKind, CredentialStatus, Event, EventClass, IdentityKind,
    IdentityRecord, Millis, Provider, SafeText, Status,
};

pub use detect::{Format, detect};
pub use limits::Limits;

/// What one record or document turned into: events, the inventory changes they made to other
/// identities, and inventory snapshots. A record may legitimately yield nothing (a Kubernetes
/// `RequestReceived` stage, a Vault request entry whose response carries the outcome).
#[derive(Debug, Default)]
pub struct Decoded {
    pub events: Vec<Event>,
    pub changes: Vec<Change>,
    pub inventory: Vec<IdentityRecord>,
}

impl Decoded {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.changes.is_empty() && self.inventory.is_empty()
    }
    pub fn extend(&mut self, other: Decoded) {
        self.events.extend(other.events);
        self.changes.extend(other.changes);
        self.inventory.extend(other.inventory);
    }
}

/// Why a record was rejected, said so that a responder can find and fix it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "unrecognised record format (expected CloudTrail (plain, EventBridge, CloudWatch Logs, Datadog or a CSV export), Kubernetes audit, Falco, Tetragon, Vault/OpenBao audit, OCSF, GitHub, GCP audit, an inventory or blastdoor native NDJSON){0}"
    )]
    Unknown(String),
    #[error("native record: {0}")]
    Native(serde_json::Error),
    #[error("{format} record: {reason}")]
    Invalid {
        format: &'static str,
        reason: String,
    },
    #[error("record {index}: {inner}")]
    Item {
        index: usize,
        inner: Box<DecodeError>,
    },
}

impl DecodeError {
    pub(crate) fn invalid(format: &'static str, reason: impl Into<String>) -> DecodeError {
        DecodeError::Invalid {
            format,
            reason: reason.into(),
        }
    }
}

/// Decode one line of NDJSON, detecting its format.
///
/// CloudTrail, a delivery file or one record, is read straight from the text into typed fields
/// (building a `Value` tree of every record and dropping it again was most of `rank`'s time,
/// perf); anything else, or anything the typed read does not take, is parsed into a `Value`
/// and detected as before.
pub fn decode_record(line: &str) -> Result<Decoded, DecodeError> {
    let mut out = Decoded::default();
    let b = line.as_bytes();
    if memchr::memmem::find(b, b"\"Records\"").is_some() {
        // Delivery files hold records of about 1 KB: room for all of them at once (growing the
        // vector moved every event several times, perf).
        out.events.reserve(line.len() / 1024);
        let mut items = Items::default();
        if cloudtrail::walk_delivery_file(line, |r, text| {
            let done = decode_item(r, text, &mut out);
            items.add(done);
        }) {
            items.finish(&out)?;
            return Ok(out);
        }
        out = Decoded::default();
    }
    if memchr::memmem::find(b, b"\"eventName\"").is_some()
        && let Some(r) = cloudtrail::Record::parse(line)
    {
        decode_item(r, line, &mut out)?;
        return Ok(out);
    }
    decode_value(parse_json(line)?, &mut out)?;
    Ok(out)
}

/// Delivery files at least this large are decoded on several threads by `decode_record_on`.
pub const PARALLEL_RECORDS_MIN: usize = 4 << 20;
/// Bytes of records per unit of work when one delivery file is decoded on several threads.
const CHUNK_BYTES: usize = 1 << 20;

/// `decode_record`, with a CloudTrail delivery file of `PARALLEL_RECORDS_MIN` bytes or more
/// decoded on `workers` threads: its records are found in one pass that only skips over them,
/// then read and decoded in chunks, and put back in file order. The result is what
/// `decode_record` gives (the same events in the same order, the same error); anything else,
/// or a file some record of which does not read as typed fields, goes `decode_record`'s way.
pub fn decode_record_on(line: &str, workers: usize) -> Result<Decoded, DecodeError> {
    if workers < 2
        || line.len() < PARALLEL_RECORDS_MIN
        || memchr::memmem::find(line.as_bytes(), b"\"Records\"").is_none()
    {
        return decode_record(line);
    }
    let Some(records) = cloudtrail::delivery_records(line) else {
        return decode_record(line);
    };
    // Chunks of about CHUNK_BYTES of records each, with the index of their first record.
    let mut chunks: Vec<(usize, &[&str])> = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (k, r) in records.iter().enumerate() {
        bytes += r.len();
        if bytes >= CHUNK_BYTES || k + 1 == records.len() {
            chunks.push((start, &records[start..=k]));
            (start, bytes) = (k + 1, 0);
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Option<(Decoded, Items)>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(first, chunk)) = chunks.get(k) else {
                            return mine;
                        };
                        mine.push((k, decode_chunk(first, chunk)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a decode thread does not panic"))
            .collect()
    });
    done.sort_unstable_by_key(|(k, _)| *k);
    let mut out = Decoded::default();
    out.events.reserve(records.len());
    let mut items = Items::default();
    for (_, chunk) in done {
        let Some((d, it)) = chunk else {
            return decode_record(line);
        };
        out.extend(d);
        items.n += it.n;
        items.first_err = items.first_err.or(it.first_err);
    }
    items.finish(&out)?;
    Ok(out)
}

/// The records of one chunk of a delivery file, the first of them record `first` of the file;
/// `None` if one does not read as typed fields.
fn decode_chunk(first: usize, records: &[&str]) -> Option<(Decoded, Items)> {
    let mut out = Decoded::default();
    out.events.reserve(records.len());
    let mut items = Items {
        n: first,
        first_err: None,
    };
    for text in records {
        let r = cloudtrail::Record::parse(text)?;
        let done = decode_item(r, text, &mut out);
        items.add(done);
    }
    items.n -= first;
    Some((out, items))
}

/// One record read into CloudTrail's typed fields, with its text: decoded as CloudTrail when
/// `detect` would call it that, else parsed and detected.
fn decode_item(r: cloudtrail::Record, text: &str, out: &mut Decoded) -> Result<(), DecodeError> {
    if r.is_cloudtrail() {
        let first = out.events.len();
        cloudtrail::decode_text(&r, text, out)?;
        if let Some(rules) = sigma::active() {
            let fields = r.sigma_fields();
            for e in &mut out.events[first..] {
                let hits = rules.cloudtrail(fields, || e.raw.value());
                e.sigma.extend(hits);
            }
        }
        Ok(())
    } else {
        decode_value(parse_json(text)?, out)
    }
}

/// The records of a delivery file, decoded one by one: a bad record is named by its index, and
/// fails the file only when nothing could be read from it.
#[derive(Default)]
struct Items {
    n: usize,
    first_err: Option<DecodeError>,
}

impl Items {
    fn add(&mut self, done: Result<(), DecodeError>) {
        if let Err(e) = done {
            self.first_err.get_or_insert(DecodeError::Item {
                index: self.n,
                inner: Box::new(e),
            });
        }
        self.n += 1;
    }
    fn finish(self, out: &Decoded) -> Result<(), DecodeError> {
        match self.first_err {
            Some(e) if out.is_empty() && self.n > 0 => Err(e),
            _ => Ok(()),
        }
    }
}

/// Decode a whole document: an object, an array of records, a CloudTrail delivery file or an
/// inventory. A bad item of an array is reported as the whole document's error only when no
/// item could be read; use [`decode_document_lenient`] to keep the good ones.
pub fn decode_document(text: &str) -> Result<Decoded, DecodeError> {
    let (out, mut errors) = decode_document_lenient(text)?;
    if out.is_empty() && !errors.is_empty() {
        return Err(errors.remove(0));
    }
    Ok(out)
}

/// Decode a document, keeping every item that could be read and the errors of those that
/// could not (each names its index in the document).
pub fn decode_document_lenient(text: &str) -> Result<(Decoded, Vec<DecodeError>), DecodeError> {
    let v = parse_json(text)?;
    let mut out = Decoded::default();
    let mut errors = Vec::new();
    match v {
        Value::Array(items) => {
            for (index, item) in items.into_iter().enumerate() {
                if let Err(e) = decode_value(item, &mut out) {
                    errors.push(DecodeError::Item {
                        index,
                        inner: Box::new(e),
                    });
                }
            }
        }
        v => decode_value(v, &mut out)?,
    }
    Ok((out, errors))
}

/// Parse JSON, tolerating the trailing commas seen in published samples (OCSF examples).
pub fn parse_json(text: &str) -> Result<Value, DecodeError> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(e) if e.is_syntax() && text.contains(',') => {
            let fixed = strip_trailing_commas(text);
            serde_json::from_str(&fixed).map_err(|_| DecodeError::Json(e))
        }
        Err(e) => Err(DecodeError::Json(e)),
    }
}

/// Remove commas that directly precede `}` or `]` (outside strings).
fn strip_trailing_commas(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut esc = false;
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b',' => {
                let next = b[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if matches!(next, Some(b'}') | Some(b']')) {
                    out.push_str(&text[start..i]);
                    start = i + 1;
                }
            }
            _ => {}
        }
    }
    out.push_str(&text[start..]);
    out
}

/// Decode one JSON value, whatever its format, into `out`.
pub fn decode_value(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    // A batch (EventBridge's PutEvents, a rule target's array), one a line or one after
    // another: each item is a record, named by its index when it cannot be read.
    let v = match v {
        Value::Array(items) => {
            let mut each = Items::default();
            for item in items {
                each.add(decode_value(item, out));
            }
            return each.finish(out);
        }
        v => v,
    };
    let Some(format) = detect(&v) else {
        return Err(DecodeError::Unknown(hint(&v)));
    };
    match format {
        Format::Native => {
            let line: native::NativeLine =
                serde_json::from_value(v).map_err(DecodeError::Native)?;
            out.events.push(line.event);
        }
        Format::NativeInventory => {
            let inv: native::Inventory = serde_json::from_value(v).map_err(DecodeError::Native)?;
            out.inventory.extend(inv.identities);
        }
        Format::CloudTrailFile => {
            let Some(Value::Array(items)) = take(v, "Records") else {
                return Err(DecodeError::invalid(
                    "CloudTrail",
                    "Records is not an array",
                ));
            };
            // One event per record: room for all of them at once.
            out.events.reserve(items.len());
            let mut each = Items::default();
            for item in items {
                each.add(decode_value(item, out));
            }
            each.finish(out)?;
        }
        Format::Wrapped(key) => {
            let inner = take(v, key).unwrap_or(Value::Null);
            decode_value(inner, out)?;
        }
        Format::EmbeddedJson(outer, inner_key) => {
            let text = v
                .get(outer)
                .and_then(|o| o.get(inner_key))
                .and_then(|s| s.as_str())
                .unwrap_or("");
            decode_value(parse_json(text)?, out)?;
        }
        Format::AwsLogs => envelopes::decode_awslogs(&v, out)?,
        Format::CloudWatchLogs => envelopes::decode_cloudwatch_logs(&v, out)?,
        Format::Datadog => envelopes::decode_datadog(v, out)?,
        Format::CloudTrail => with_rules(sigma::LogSource::CloudTrail, out, |out| {
            cloudtrail::decode(v, out)
        })?,
        Format::GuardDuty => cloudtrail::decode_guardduty(v, out)?,
        Format::K8sAudit => with_rules(sigma::LogSource::K8sAudit, out, |out| {
            k8s_audit::decode(v, out)
        })?,
        Format::K8sAuditList => {
            if let Some(Value::Array(items)) = take(v, "items") {
                for item in items {
                    with_rules(sigma::LogSource::K8sAudit, out, |out| {
                        k8s_audit::decode(item, out)
                    })?;
                }
            }
        }
        Format::Falco => falco::decode(v, out)?,
        Format::Tetragon => tetragon::decode(v, out)?,
        Format::VaultAudit => vault_audit::decode(v, out)?,
        Format::Ocsf => ocsf::decode(v, out)?,
        Format::GitHub => with_rules(sigma::LogSource::GitHubAudit, out, |out| {
            github::decode(v, out)
        })?,
        Format::Gcp => with_rules(sigma::LogSource::GcpAudit, out, |out| gcp::decode(v, out))?,
        Format::AwsIamInventory => out.inventory.extend(aws_iam::decode(&v)?),
        Format::K8sRbacInventory => out.inventory.extend(k8s_rbac::decode(&v)?),
    }
    Ok(())
}

/// Decode with `decode`, then put on the events it gave the installed Sigma rules of `source`
/// that their records match.
fn with_rules(
    source: sigma::LogSource,
    out: &mut Decoded,
    decode: impl FnOnce(&mut Decoded) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let first = out.events.len();
    decode(out)?;
    if let Some(rules) = sigma::active() {
        rules.annotate(source, &mut out.events[first..]);
    }
    Ok(())
}

/// Move a member out of an object (a delivery file's `Records` can be most of the file: it is
/// never copied).
fn take(v: Value, key: &str) -> Option<Value> {
    match v {
        Value::Object(mut m) => m.remove(key),
        _ => None,
    }
}

/// A short hint of what an unknown record looked like: its first keys (sanitised).
fn hint(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().take(5).map(|k| k.as_str()).collect();
            SafeText::new(&format!("; its keys: {}", keys.join(", "))).to_string()
        }
        Value::Array(_) => "; an array nested in an array".into(),
        other => format!("; a JSON {}", json_kind(other)),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ---- helpers shared by the decoders ----

/// A string field by path (`"a.b.c"` walks objects).
pub(crate) fn s<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    get(v, path)
        .and_then(|x| x.as_str())
        .filter(|x| !x.is_empty())
}

pub(crate) fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

pub(crate) fn safe(s: &str) -> SafeText {
    SafeText::new(s)
}

/// Time from an RFC 3339 string (with or without zone, `T` or space), epoch seconds, ms, µs or
/// ns as a number or numeric string.
pub fn parse_time(v: &Value) -> Option<Millis> {
    match v {
        Value::Number(n) => n.as_f64().map(epoch_to_ms),
        Value::String(t) => parse_time_str(t),
        _ => None,
    }
}

pub(crate) fn epoch_to_ms(x: f64) -> Millis {
    let ms = if x > 1e17 {
        x / 1e6
    } else if x > 1e14 {
        x / 1e3
    } else if x > 1e11 {
        x
    } else {
        x * 1e3
    };
    ms as Millis
}

pub fn parse_time_str(t: &str) -> Option<Millis> {
    let t = t.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp_millis());
    }
    if let Ok(x) = t.parse::<f64>() {
        return Some(epoch_to_ms(x));
    }
    let t2 = t.replace(' ', "T");
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(&t2) {
        return Some(d.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
    ] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(&t2, fmt) {
            return Some(d.and_utc().timestamp_millis());
        }
        if let Ok(d) = chrono::DateTime::parse_from_str(&t2, fmt) {
            return Some(d.timestamp_millis());
        }
    }
    None
}

/// The first time field found among `paths`; 0 (the epoch) when the record has none, as some
/// hand-written rule fixtures do.
pub(crate) fn time_of(v: &Value, paths: &[&str]) -> Millis {
    paths
        .iter()
        .find_map(|p| get(v, p).and_then(parse_time))
        .unwrap_or(0)
}

pub(crate) fn identity(
    provider: Provider,
    principal: &str,
    kind: IdentityKind,
    display: Option<&str>,
) -> IdentityRecord {
    IdentityRecord {
        provider,
        principal: safe(principal),
        kind,
        display: display.map(safe),
        credentials: Vec::new(),
        permissions: Vec::new(),
        tags: Vec::new(),
    }
}

pub(crate) fn credential(id: &str, kind: CredentialKind) -> Credential {
    Credential {
        id: safe(id),
        kind,
        status: CredentialStatus::Active,
    }
}

/// An event with the parts every format has; the decoder fills in the rest.
pub(crate) fn event(time: Millis, actor: IdentityRecord, service: &str, operation: &str) -> Event {
    Event {
        time,
        class: EventClass::ApiActivity,
        actor,
        credential: None,
        api: Api {
            service: safe(service),
            operation: safe(operation),
        },
        resources: Vec::new(),
        src_ip: None,
        user_agent: None,
        region: None,
        issued: None,
        status: Status::Success,
        signals: Vec::new(),
        sigma: Vec::new(),
        raw: Default::default(),
    }
}

pub(crate) fn resource(name: &str, kind: &str) -> crate::core::Resource {
    crate::core::Resource {
        name: safe(name),
        kind: Some(safe(kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the decoders fuzz target: a record with CloudTrail's keys and an `awslogs`
    /// envelope is what `detect` says it is (the envelope) on the typed path as on the general.
    #[test]
    fn an_envelope_with_cloudtrail_keys_reads_alike_on_both_paths() {
        for text in [
            r#"{"awslogs":{"data":"H4sIAAAAAAACAzWOwQqCQBCGX2XYc4RRFHkLUS+WkEKHkNh0cpfWXdldkxDfPTWd2/zfzM/XkQqNoSWm3xqJC8SLL+k1jh5nP0lOoU9WQFQrUU9MqKZoqc1ZpEozIqHKUKumHum8J1YjrZbANE+Ta15brmTAhUVtBnTP/rf+B6Wdgo7wYvmxfHCytBpbNwfnuN/unGkGNttONrcIZluYbV3wGOZvLktgSIVloF5QDGVc0tEAAq6RKYNr0mf9D+lks1T8AAAA"},"eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com"}"#,
            r#"{"messageType":"CONTROL_MESSAGE","logEvents":[],"eventName":"ListUsers","eventSource":"iam.amazonaws.com"}"#,
        ] {
            let typed = decode_record(text).map(|d| (d.events, d.changes));
            let mut out = Decoded::default();
            let general = decode_value(parse_json(text).unwrap(), &mut out)
                .map(|()| (out.events, out.changes));
            match (typed, general) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
                (a, b) => panic!("{text}: typed {a:?}, general {b:?}"),
            }
        }
    }

    /// The Invictus records (the corpus's one real delivery-file dataset) repeated into one
    /// delivery file of at least `min` bytes, pretty-printed or not.
    fn big_delivery_file(min: usize, pretty: bool) -> Option<String> {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/invictus-ir-aws-dataset/CloudTrail"
        ));
        let mut records = Vec::new();
        for f in crate::engine::sources::files_under(dir).ok()? {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()?;
            records.extend(v["Records"].as_array()?.iter().cloned());
        }
        let mut all = Vec::new();
        let mut bytes = 0;
        while bytes < min {
            for r in &records {
                bytes += r.to_string().len();
                all.push(r.clone());
            }
        }
        let doc = serde_json::json!({"Records": all});
        Some(if pretty {
            serde_json::to_string_pretty(&doc).ok()?
        } else {
            doc.to_string()
        })
    }

    #[test]
    fn a_large_delivery_file_decoded_on_several_threads_gives_what_one_thread_gives() {
        let Some(text) = big_delivery_file(PARALLEL_RECORDS_MIN + CHUNK_BYTES / 2, false) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the corpus is missing (CI=true)"
            );
            return;
        };
        let one = decode_record(&text).expect("decodes");
        for workers in [2, 3] {
            let many = decode_record_on(&text, workers).expect("decodes");
            assert_eq!(many.events.len(), one.events.len());
            assert!(
                many.events == one.events,
                "the same events in the same order"
            );
            assert!(many.changes == one.changes);
        }
        // A record that does not read as typed fields (a duplicate key): the file goes the
        // one-thread way, which gives it to the general path.
        let dup = text.replacen("\"eventName\":", "\"eventName\":\"x\",\"eventName\":", 1);
        let one = decode_record(&dup).expect("decodes");
        let many = decode_record_on(&dup, 2).expect("decodes");
        assert!(many.events == one.events);
    }

    #[test]
    fn a_large_pretty_printed_delivery_file_on_several_threads_gives_what_the_general_path_gives() {
        let Some(text) = big_delivery_file(PARALLEL_RECORDS_MIN, true) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the corpus is missing (CI=true)"
            );
            return;
        };
        let (general, errors) = decode_document_lenient(&text).expect("decodes");
        assert!(errors.is_empty());
        let many = decode_record_on(&text, 2).expect("decodes");
        assert_eq!(many.events.len(), general.events.len());
        assert!(many.events == general.events);
        assert!(many.changes == general.changes);
    }

    #[test]
    fn trailing_commas_are_tolerated() {
        let v = parse_json(r#"{"a": [1, 2,], "b": {"c": ",}",},}"#).unwrap();
        assert_eq!(v["b"]["c"], ",}");
    }

    #[test]
    fn times_in_the_shapes_seen() {
        assert_eq!(parse_time_str("2023-07-10T11:45:00Z"), Some(1688989500000));
        assert_eq!(parse_time_str("2023-07-10 11:45:00"), Some(1688989500000));
        assert_eq!(
            parse_time_str("2022-11-29 00:09:04.38"),
            Some(1669680544380)
        );
        assert_eq!(
            parse_time(&serde_json::json!(1470327477881781397u64)),
            Some(1470327477881)
        );
        assert_eq!(
            parse_time(&serde_json::json!(1688989500)),
            Some(1688989500000)
        );
    }
}
