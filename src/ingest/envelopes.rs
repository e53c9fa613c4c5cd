//! CloudTrail as it is shipped rather than as S3 delivers it:
//!
//! - CloudWatch Logs subscriptions. A Lambda subscribed to a log group receives
//!   `{"awslogs": {"data": "<base64 of gzip>"}}`; the data, decoded, is
//!   `{"messageType": "DATA_MESSAGE", "owner", "logGroup", "logStream", "subscriptionFilters",
//!   "logEvents": [{"id", "timestamp", "message"}]}` whose every `message` is one CloudTrail record
//!   as JSON text. Firehose delivers the same messages to S3, gzipped and concatenated, one gzip
//!   member and one JSON object after another. `CONTROL_MESSAGE`s (CloudWatch Logs checking
//!   that the destination is reachable) carry no events and are skipped without a word. The
//!   base64 and the gzip inside a record obey `[limits] max_record`: a record that expands past
//!   it is an error naming the limit, never held whole.
//! - Datadog Logs. Datadog's CloudTrail pipeline remaps `eventName` to `evt.name`,
//!   `sourceIPAddress` to `network.client.ip`, `userAgent` to `http.useragent` and `errorCode` to
//!   `error.kind` (the standard attributes its Cloud SIEM rules query: `source:cloudtrail
//!   @evt.name:AssumeRole`, `@network.client.ip`, `@error.kind:AccessDenied`), keeping the rest
//!   of the record (`userIdentity`, `eventSource`, `requestParameters`…). A log comes as the
//!   attributes themselves, nested in `attributes` (a log archive's line) or twice (the Logs
//!   API's `{"data": [{"type": "log", "attributes": {"attributes": {…}}}]}`), with nested
//!   objects or with keys flattened with dots (`"network.client.ip"`, `"@evt.name"`). Each is
//!   put back into CloudTrail's own names and read by the CloudTrail decoder, so the identity,
//!   source address and user agent are the ones the plain record gives.

use std::cell::Cell;
use std::io::Read;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::{DecodeError, Decoded, limits};

const CWL: &str = "CloudWatch Logs";
const DATADOG: &str = "Datadog";

/// Envelopes inside envelopes (an `awslogs` record whose message is another one) are opened
/// this deep and no deeper: each level can shrink under gzip, so size alone does not end it.
const MAX_DEPTH: u32 = 4;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Run `f` one envelope deeper, or fail when that is too deep.
fn nested<T>(f: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    let d = DEPTH.with(Cell::get);
    if d >= MAX_DEPTH {
        return Err(DecodeError::invalid(
            CWL,
            format!("envelopes nested more than {MAX_DEPTH} deep; not opened further"),
        ));
    }
    DEPTH.with(|c| c.set(d + 1));
    let out = f();
    DEPTH.with(|c| c.set(d));
    out
}

// ---- CloudWatch Logs ----

/// `{"awslogs": {"data": "…"}}`, as a Lambda subscribed to a log group receives it.
pub fn looks_awslogs(v: &Value) -> bool {
    v.get("awslogs")
        .and_then(|a| a.get("data"))
        .is_some_and(Value::is_string)
}

/// A CloudWatch Logs subscription message, decoded (`messageType` and its `logEvents`).
pub fn looks_cloudwatch_logs(v: &Value) -> bool {
    v.get("messageType").is_some_and(Value::is_string)
        && (v.get("logEvents").is_some_and(Value::is_array)
            || v.get("logGroup").is_some()
            || v.get("subscriptionFilters").is_some())
}

/// The base64 gzip of an `awslogs` envelope, opened (within `max_record`) and decoded.
pub fn decode_awslogs(v: &Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let data = v
        .get("awslogs")
        .and_then(|a| a.get("data"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let text = open_base64_gzip(data)?;
    let inner = super::parse_json(&text)?;
    if !looks_cloudwatch_logs(&inner) {
        return Err(DecodeError::invalid(
            CWL,
            "awslogs.data does not hold a subscription message (no messageType and logEvents)",
        ));
    }
    nested(|| decode_cloudwatch_logs(&inner, out))
}

/// Base64, then gzip (one member or several), to text of at most `[limits] max_record` bytes.
fn open_base64_gzip(data: &str) -> Result<String, DecodeError> {
    let max = limits::nested_record_max();
    let compact: String;
    // Base64 wrapped over lines (as `base64` writes it) is read as if it were one line.
    let data = if data.bytes().any(|b| b.is_ascii_whitespace()) {
        compact = data.split_ascii_whitespace().collect();
        compact.as_str()
    } else {
        data
    };
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(data))
        .map_err(|e| DecodeError::invalid(CWL, format!("awslogs.data is not base64: {e}")))?;
    if !gz.starts_with(&[0x1f, 0x8b]) {
        return Err(DecodeError::invalid(CWL, "awslogs.data is not gzip"));
    }
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .take(max + 1)
        .read_to_end(&mut text)
        .map_err(|e| DecodeError::invalid(CWL, format!("awslogs.data: not valid gzip: {e}")))?;
    if text.len() as u64 > max {
        return Err(DecodeError::invalid(
            CWL,
            format!(
                "awslogs.data decompresses to more than {} (from {} of gzip), over [limits] max_record (config.toml raises it); not read",
                limits::show_size(max),
                limits::show_size(gz.len() as u64)
            ),
        ));
    }
    String::from_utf8(text).map_err(|_| {
        DecodeError::invalid(CWL, "awslogs.data decompresses to text that is not UTF-8")
    })
}

/// A decoded subscription message: every log event's message decoded as a record of its own
/// (named by its index when it cannot be); a `CONTROL_MESSAGE` yields nothing and is no error.
pub fn decode_cloudwatch_logs(v: &Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let kind = v.get("messageType").and_then(Value::as_str).unwrap_or("");
    if kind == "CONTROL_MESSAGE" {
        return Ok(());
    }
    if kind != "DATA_MESSAGE" {
        return Err(DecodeError::invalid(
            CWL,
            format!(
                "messageType {:?} (expected DATA_MESSAGE or CONTROL_MESSAGE)",
                super::safe(kind).as_str()
            ),
        ));
    }
    let events = v
        .get("logEvents")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut first_err = None;
    let mut read = 0usize;
    for (index, ev) in events.iter().enumerate() {
        let done = match ev.get("message") {
            Some(Value::String(text)) => super::decode_record(text.trim()),
            // A message that is already JSON (a hand-made or re-encoded sample).
            Some(m @ Value::Object(_)) => {
                let mut d = Decoded::default();
                super::decode_value(m.clone(), &mut d).map(|()| d)
            }
            _ => Err(DecodeError::invalid(CWL, "log event without a message")),
        };
        match done {
            Ok(d) => {
                read += 1;
                out.extend(d);
            }
            Err(e) => {
                first_err.get_or_insert(DecodeError::Item {
                    index,
                    inner: Box::new(DecodeError::invalid(CWL, format!("logEvents: {e}"))),
                });
            }
        }
    }
    match first_err {
        Some(e) if read == 0 => Err(e),
        _ => Ok(()),
    }
}

// ---- Firehose: subscription messages one after another ----

/// Do a file's first bytes start a CloudWatch Logs subscription message? Firehose writes them
/// one after another with nothing between (a 100 MB object is then one "line"), so such a file
/// is read value by value, not line by line.
pub fn starts_subscription_messages(head: &[u8]) -> bool {
    // What the reader has at hand (64 KiB): the keys may come in any order, `logEvents` (long)
    // before `messageType`.
    let trimmed = head.trim_ascii_start();
    trimmed.starts_with(b"{")
        && memchr::memmem::find(trimmed, b"\"messageType\"").is_some()
        && [
            &b"\"logEvents\""[..],
            b"\"logGroup\"",
            b"\"subscriptionFilters\"",
        ]
        .iter()
        .any(|k| memchr::memmem::find(trimmed, k).is_some())
}

/// Why a stream of concatenated values stopped before its end.
#[derive(Debug)]
pub enum StreamStop {
    /// Value `index` (from 0) was longer than `max` bytes.
    TooLong { index: usize, max: u64 },
    /// Value `index` is not JSON (at `line`); what follows cannot be told apart.
    NotJson {
        index: usize,
        line: usize,
        error: String,
    },
    /// The bytes could not be read (I/O, or a limit of the decompressor).
    Read { index: usize, error: std::io::Error },
}

struct Counted<R> {
    inner: R,
    read: std::rc::Rc<Cell<u64>>,
    start: std::rc::Rc<Cell<u64>>,
    max: u64,
}

#[derive(Debug)]
struct ValueTooLong;
impl std::fmt::Display for ValueTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("value too long")
    }
}
impl std::error::Error for ValueTooLong {}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read.get().saturating_sub(self.start.get()) > self.max {
            return Err(std::io::Error::other(ValueTooLong));
        }
        let want = buf.len().min(64 << 10);
        let k = self.inner.read(&mut buf[..want])?;
        self.read.set(self.read.get() + k as u64);
        Ok(k)
    }
}

/// JSON values one after another (with or without whitespace between), each decoded as a
/// record and handed to `each` with its index (false: stop). No more than one value of at most
/// `max` bytes is held.
pub fn read_concatenated(
    reader: impl Read,
    max: u64,
    mut each: impl FnMut(usize, Result<Decoded, DecodeError>) -> bool,
) -> Result<(), StreamStop> {
    let read = std::rc::Rc::new(Cell::new(0));
    let start = std::rc::Rc::new(Cell::new(0));
    let counted = Counted {
        inner: std::io::BufReader::new(reader),
        read: read.clone(),
        start: start.clone(),
        max,
    };
    let mut values = serde_json::Deserializer::from_reader(counted).into_iter::<Value>();
    let mut index = 0;
    loop {
        start.set(values.byte_offset() as u64);
        let Some(next) = values.next() else {
            return Ok(());
        };
        let v = match next {
            Ok(v) => v,
            Err(e) if e.is_io() => {
                let io: std::io::Error = e.into();
                if io.get_ref().is_some_and(|x| x.is::<ValueTooLong>()) {
                    return Err(StreamStop::TooLong { index, max });
                }
                return Err(StreamStop::Read { index, error: io });
            }
            Err(e) => {
                return Err(StreamStop::NotJson {
                    index,
                    line: e.line(),
                    error: e.to_string(),
                });
            }
        };
        let mut d = Decoded::default();
        let done = super::decode_value(v, &mut d).map(|()| d);
        if !each(index, done) {
            return Ok(());
        }
        index += 1;
    }
}

// ---- Datadog ----

/// A Datadog CloudTrail log (see [`datadog_attributes`]), or a Logs API page holding one (its
/// logs of other sources are named by index, the CloudTrail ones read).
pub fn looks_datadog(v: &Value) -> bool {
    datadog_attributes(v).is_some()
        || v.get("data")
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|i| datadog_attributes(i).is_some()))
}

/// Where a Datadog log's CloudTrail attributes are: the record itself, or under `attributes`
/// (once or twice). `None`: not a Datadog CloudTrail log.
fn datadog_attributes(v: &Value) -> Option<&Value> {
    let mut cur = v;
    for _ in 0..3 {
        if is_datadog_cloudtrail(cur) {
            return Some(cur);
        }
        cur = cur.get("attributes").filter(|a| a.is_object())?;
    }
    None
}

/// A CloudTrail record with Datadog's names: `evt.name` (nested or flattened), and something
/// of CloudTrail's own beside it.
fn is_datadog_cloudtrail(v: &Value) -> bool {
    let Value::Object(m) = v else { return false };
    let evt_name = m
        .get("evt")
        .and_then(|e| e.get("name"))
        .is_some_and(Value::is_string)
        || ["evt.name", "@evt.name"]
            .iter()
            .any(|k| m.get(*k).is_some_and(Value::is_string));
    evt_name
        && m.keys().any(|k| {
            let k = k.trim_start_matches('@');
            k == "userIdentity"
                || k.starts_with("userIdentity.")
                || k == "eventSource"
                || k == "eventType"
                || k == "recipientAccountId"
        })
}

/// A Datadog log (or a Logs API page of them) read as the CloudTrail records they were.
pub fn decode_datadog(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    if datadog_attributes(&v).is_none()
        && let Some(Value::Array(items)) = v.get("data")
    {
        let mut first_err = None;
        let mut read = 0usize;
        for (index, item) in items.iter().enumerate() {
            match decode_datadog_one(item, out) {
                Ok(()) => read += 1,
                Err(e) => {
                    first_err.get_or_insert(DecodeError::Item {
                        index,
                        inner: Box::new(e),
                    });
                }
            }
        }
        return match first_err {
            Some(e) if read == 0 => Err(e),
            _ => Ok(()),
        };
    }
    decode_datadog_one(&v, out)
}

fn decode_datadog_one(log: &Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let attrs = datadog_attributes(log)
        .ok_or_else(|| DecodeError::invalid(DATADOG, "not a CloudTrail log (no evt.name)"))?;
    let Value::Object(m) = unflatten(attrs) else {
        return Err(DecodeError::invalid(
            DATADOG,
            "attributes are not an object",
        ));
    };
    let record = cloudtrail_names(m, log);
    // As a CloudTrail record of any other shape: through the Sigma rules too.
    super::with_rules(super::sigma::LogSource::CloudTrail, out, |out| {
        super::cloudtrail::decode(Value::Object(record), out)
    })
}

/// Most parts of a flattened key that are nested again (a key of a million dots is not a
/// million objects deep).
const MAX_KEY_PARTS: usize = 16;

/// Keys flattened with dots (`"network.client.ip"`, `"@evt.name"`) put back into objects; a
/// key already nested stays as it is, and a flattened one does not overwrite it.
fn unflatten(v: &Value) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    let mut flat = Vec::new();
    for (k, x) in m {
        let k = k.trim_start_matches('@');
        if k.contains('.') {
            flat.push((k, x));
        } else {
            merge(&mut out, k, unflatten(x));
        }
    }
    for (k, x) in flat {
        let parts: Vec<&str> = k.split('.').filter(|p| !p.is_empty()).collect();
        if parts.len() > MAX_KEY_PARTS {
            // No attribute Datadog writes is this deep: a hostile key, kept as it is.
            merge(&mut out, k, x.clone());
            continue;
        }
        insert_path(&mut out, &parts, unflatten(x));
    }
    Value::Object(out)
}

/// Put `x` at the path `parts`, through objects made on the way; a value that is not an
/// object on the way, or one already at the end, is kept.
fn insert_path(m: &mut Map<String, Value>, parts: &[&str], x: Value) {
    match parts {
        [] => {}
        [last] => merge(m, last, x),
        [first, rest @ ..] => {
            let slot = m
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = slot {
                insert_path(o, rest, x);
            }
        }
    }
}

/// Put `x` at `k`, merging objects and keeping a value already there.
fn merge(m: &mut Map<String, Value>, k: &str, x: Value) {
    match (m.get_mut(k), x) {
        (Some(Value::Object(have)), Value::Object(more)) => {
            for (k2, x2) in more {
                merge(have, &k2, x2);
            }
        }
        (Some(_), _) => {}
        (None, x) => {
            m.insert(k.to_string(), x);
        }
    }
}

fn take_str(m: &Map<String, Value>, path: &[&str]) -> Option<String> {
    let mut cur = m.get(path[0])?;
    for p in &path[1..] {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Datadog's standard attributes given back CloudTrail's names, where CloudTrail's are not
/// already there: `evt.name` → `eventName`, `network.client.ip` → `sourceIPAddress`,
/// `http.useragent` → `userAgent`, `error.kind` → `errorCode`, `usr.account_id` →
/// `recipientAccountId`, and the log's own time → `eventTime`.
fn cloudtrail_names(mut m: Map<String, Value>, log: &Value) -> Map<String, Value> {
    let pairs: [(&str, &[&str]); 5] = [
        ("eventName", &["evt", "name"]),
        ("sourceIPAddress", &["network", "client", "ip"]),
        ("userAgent", &["http", "useragent"]),
        ("errorCode", &["error", "kind"]),
        ("recipientAccountId", &["usr", "account_id"]),
    ];
    for (ct, dd) in pairs {
        if take_str(&m, &[ct]).is_none()
            && let Some(x) = take_str(&m, dd)
        {
            m.insert(ct.to_string(), Value::String(x));
        }
    }
    if take_str(&m, &["eventTime"]).is_none() {
        // The log's time: beside the attributes (`timestamp` in the Logs API, `date` in
        // archives), or among them.
        let time = ["timestamp", "date", "@timestamp"].iter().find_map(|k| {
            m.get(*k)
                .or_else(|| log.get(*k))
                .or_else(|| log.get("attributes").and_then(|a| a.get(*k)))
                .filter(|t| !t.is_null())
                .cloned()
        });
        if let Some(t) = time.and_then(|t| super::parse_time(&t)) {
            let t = chrono::DateTime::from_timestamp_millis(t).unwrap_or_default();
            m.insert(
                "eventTime".into(),
                Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_keys_are_nested_again_without_overwriting() {
        let v = serde_json::json!({
            "@evt.name": "AssumeRole",
            "network.client.ip": "198.51.100.7",
            "network": {"client": {"port": 1}},
            "userIdentity.arn": "arn:aws:iam::1:user/a",
            "userIdentity": {"type": "IAMUser"},
        });
        let u = unflatten(&v);
        assert_eq!(u["evt"]["name"], "AssumeRole");
        assert_eq!(u["network"]["client"]["ip"], "198.51.100.7");
        assert_eq!(u["network"]["client"]["port"], 1);
        assert_eq!(u["userIdentity"]["arn"], "arn:aws:iam::1:user/a");
        assert_eq!(u["userIdentity"]["type"], "IAMUser");
    }

    #[test]
    fn a_key_of_many_dots_is_not_nested_without_end() {
        let key = format!("evt{}", ".x".repeat(200_000));
        let v = serde_json::json!({ key.clone(): 1, "evt.name": "GetUser" });
        let u = unflatten(&v);
        assert_eq!(u["evt"]["name"], "GetUser");
        assert_eq!(u[key.as_str()], 1);
    }

    #[test]
    fn envelopes_nested_too_deep_are_refused_not_followed() {
        use std::io::Write;
        let wrap = |inner: &str| {
            let msg = serde_json::json!({"messageType": "DATA_MESSAGE", "logGroup": "g",
                "logEvents": [{"id": "1", "timestamp": 1, "message": inner}]});
            let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            g.write_all(msg.to_string().as_bytes()).unwrap();
            let data = base64::engine::general_purpose::STANDARD.encode(g.finish().unwrap());
            serde_json::json!({"awslogs": {"data": data}}).to_string()
        };
        let record = r#"{"eventName":"GetUser","eventSource":"iam.amazonaws.com","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}}"#;
        let mut text = record.to_string();
        for _ in 0..4 {
            text = wrap(&text);
        }
        assert_eq!(super::super::decode_record(&text).unwrap().events.len(), 1);
        text = wrap(&text);
        let e = super::super::decode_record(&text).unwrap_err().to_string();
        assert!(e.contains("nested more than 4 deep"), "{e}");
        assert_eq!(DEPTH.with(Cell::get), 0, "the depth is given back");
    }
}
