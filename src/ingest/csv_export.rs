//! CloudTrail event history as the console downloads it (Event history → Download events →
//! CSV), and the same columns from `aws cloudtrail lookup-events` written out as CSV.
//!
//! The columns are those of the console's event history table and of the LookupEvents API's
//! `Event` (docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_Event.html): event ID,
//! event time, user name, event name, resource type and name (or `Resources`), AWS access key,
//! AWS region, error code, source IP address, event source, read-only, and `CloudTrail event`
//! (`CloudTrailEvent`), the whole record as JSON text. Headers are matched by their letters
//! alone (`Event name`, `EventName`, `event_name` are one column), so either spelling reads.
//!
//! A row whose CloudTrail event column holds the record is decoded from that JSON by the usual
//! CloudTrail path: its identity, credential and source address are those the JSON file gives.
//! A row without it is built from its columns, which say less: its access key's identity is
//! the one an earlier row's JSON gave that key, and its account the one earlier rows were in
//! (an export is of one account); otherwise an access key `ASIA…` is a role session, `AKIA…` a
//! user's key, and the user `root` the account's root.
//!
//! A quoted field may span lines (the JSON column often does). A bad row is named by its line
//! and row number and the rest are kept; a row longer than `[limits] max_record` stops the
//! file there (CSV cannot be resynchronised inside a quoted field), keeping the rows before.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read};
use std::rc::Rc;

use serde_json::{Map, Value, json};

use super::{DecodeError, Decoded, SafeText};

/// The columns this reader knows, by their header's letters (lower case, nothing else).
#[derive(Debug, Default, Clone)]
struct Columns {
    event_id: Option<usize>,
    event_time: Option<usize>,
    user_name: Option<usize>,
    event_name: Option<usize>,
    resource_type: Option<usize>,
    resource_name: Option<usize>,
    resources: Option<usize>,
    access_key: Option<usize>,
    region: Option<usize>,
    error_code: Option<usize>,
    source_ip: Option<usize>,
    event_source: Option<usize>,
    read_only: Option<usize>,
    user_agent: Option<usize>,
    cloudtrail_event: Option<usize>,
}

fn letters(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Columns {
    fn of<'a>(headers: impl IntoIterator<Item = &'a str>) -> Columns {
        let mut c = Columns::default();
        for (i, h) in headers.into_iter().enumerate() {
            let slot = match letters(h).as_str() {
                "eventid" => &mut c.event_id,
                "eventtime" => &mut c.event_time,
                "username" => &mut c.user_name,
                "eventname" => &mut c.event_name,
                "resourcetype" => &mut c.resource_type,
                "resourcename" => &mut c.resource_name,
                "resources" => &mut c.resources,
                "awsaccesskey" | "accesskeyid" | "accesskey" => &mut c.access_key,
                "awsregion" | "region" => &mut c.region,
                "errorcode" => &mut c.error_code,
                "sourceipaddress" | "sourceip" => &mut c.source_ip,
                "eventsource" => &mut c.event_source,
                "readonly" => &mut c.read_only,
                "useragent" => &mut c.user_agent,
                "cloudtrailevent" => &mut c.cloudtrail_event,
                _ => continue,
            };
            slot.get_or_insert(i);
        }
        c
    }

    /// An event history export: the event's name, and its time or the whole record.
    fn is_export(&self) -> bool {
        self.event_name.is_some() && (self.event_time.is_some() || self.cloudtrail_event.is_some())
    }
}

/// Is this (a file's first line) the header of a CloudTrail event history CSV export?
pub fn is_export_header(line: &str) -> bool {
    let line = line.trim_start_matches('\u{feff}');
    if line.starts_with('{') || line.starts_with('[') || !line.contains(',') {
        return false;
    }
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    match r.read_record(&mut rec) {
        Ok(true) => Columns::of(rec.iter()).is_export(),
        _ => false,
    }
}

/// Why a CSV export stopped being read before its end.
#[derive(Debug)]
pub enum Stop {
    /// A row over `[limits] max_record`.
    TooLong { line: u64, row: u64, max: u64 },
    /// The bytes under the CSV could not be read (I/O, or a limit of the decompressor).
    Read { line: u64, error: io::Error },
}

/// Counts the bytes read, and refuses to read on once the row being read is over the limit.
struct Capped<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    row_start: Rc<Cell<u64>>,
    max: u64,
}

#[derive(Debug)]
struct RowTooLong;
impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("row too long")
    }
}
impl std::error::Error for RowTooLong {}

/// How far the CSV reader reads ahead of the row it parses (its buffer), beyond the limit.
const SLACK: u64 = 64 << 10;

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.get().saturating_sub(self.row_start.get()) > self.max + SLACK {
            return Err(io::Error::other(RowTooLong));
        }
        let k = self.inner.read(buf)?;
        self.read.set(self.read.get() + k as u64);
        Ok(k)
    }
}

/// Read a CSV export from `reader` (its header first), whose header is line `first_line` of
/// the file. `each` gets every row decoded, or a reject naming its line and row; it returns
/// false to stop (the engine has gone). Rows over `max_record` bytes stop the reading.
pub fn read(
    reader: impl Read,
    first_line: u64,
    max_record: u64,
    mut each: impl FnMut(Result<Decoded, String>) -> bool,
) -> Result<(), Stop> {
    let read = Rc::new(Cell::new(0));
    let row_start = Rc::new(Cell::new(0));
    let capped = Capped {
        inner: reader,
        read: read.clone(),
        row_start: row_start.clone(),
        max: max_record,
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(capped);
    let mut rec = csv::ByteRecord::new();
    let line_of = |p: &csv::Position| p.line() + first_line.saturating_sub(1);
    let mut cols = None;
    let mut row = 0u64;
    let mut learned = Learned::default();
    loop {
        let start = r.position().clone();
        row_start.set(start.byte());
        match r.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                let line = line_of(&start);
                match e.into_kind() {
                    csv::ErrorKind::Io(io) => {
                        if io.get_ref().is_some_and(|x| x.is::<RowTooLong>()) {
                            return Err(Stop::TooLong {
                                line,
                                row: row + 1,
                                max: max_record,
                            });
                        }
                        return Err(Stop::Read { line, error: io });
                    }
                    other => {
                        row += 1;
                        if !each(Err(format!(
                            "line {line} (row {row}): not CSV: {}",
                            SafeText::new(&format!("{other:?}"))
                        ))) {
                            return Ok(());
                        }
                        continue;
                    }
                }
            }
        }
        let line = line_of(&start);
        let len = rec.as_slice().len() as u64;
        let Some(c) = &cols else {
            let headers: Vec<String> = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            cols = Some(Columns::of(headers.iter().map(String::as_str)));
            continue;
        };
        row += 1;
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let done = if len > max_record {
            Err(format!(
                "{} long, over [limits] max_record = {}; skipped",
                super::limits::show_size(len),
                super::limits::show_size(max_record)
            ))
        } else {
            decode_row(c, &rec, &mut learned).map_err(|e| e.to_string())
        };
        let alive = each(done.map_err(|e| format!("line {line} (row {row}): {e}")));
        if !alive {
            return Ok(());
        }
    }
}

/// A field's text (`None` when empty), or why it is not text.
fn field(rec: &csv::ByteRecord, at: Option<usize>) -> Result<Option<&str>, DecodeError> {
    let Some(b) = at.and_then(|i| rec.get(i)) else {
        return Ok(None);
    };
    let s = std::str::from_utf8(b)
        .map_err(|_| DecodeError::invalid("CloudTrail CSV", "a field is not UTF-8 text"))?
        .trim();
    Ok((!s.is_empty()).then_some(s))
}

/// What the rows with a JSON column said about identities, for the rows without one.
#[derive(Default)]
struct Learned {
    /// `userIdentity` by access key.
    by_key: HashMap<String, Value>,
    /// The account the export is of.
    account: Option<String>,
}

/// Most access keys remembered from one export (a hostile file cannot grow it without end).
const KEYS_KEPT: usize = 10_000;

impl Learned {
    fn learn(&mut self, json: &str) {
        let Ok(v) = serde_json::from_str::<Value>(json) else {
            return;
        };
        let Some(u) = v.get("userIdentity") else {
            return;
        };
        if self.account.is_none() {
            self.account = super::s(&v, "recipientAccountId")
                .or_else(|| super::s(u, "accountId"))
                .map(str::to_string);
        }
        if let Some(k) = super::s(u, "accessKeyId")
            && self.by_key.len() < KEYS_KEPT
        {
            self.by_key
                .entry(k.to_string())
                .or_insert_with(|| u.clone());
        }
    }
}

/// One row: through the CloudTrail decoder, from its JSON column or built from its columns.
fn decode_row(
    c: &Columns,
    rec: &csv::ByteRecord,
    learned: &mut Learned,
) -> Result<Decoded, DecodeError> {
    if let Some(json) = field(rec, c.cloudtrail_event)? {
        let d = super::decode_record(json).map_err(|e| {
            DecodeError::invalid(
                "CloudTrail CSV",
                format!("the CloudTrail event column: {e}"),
            )
        })?;
        learned.learn(json);
        return Ok(d);
    }
    let mut out = Decoded::default();
    let record = Value::Object(record_of(c, rec, learned)?);
    // As a CloudTrail record of any other shape: through the Sigma rules too.
    super::with_rules(super::sigma::LogSource::CloudTrail, &mut out, |out| {
        super::cloudtrail::decode(record, out)
    })?;
    Ok(out)
}

/// A CloudTrail record of what the columns say.
fn record_of(
    c: &Columns,
    rec: &csv::ByteRecord,
    learned: &Learned,
) -> Result<Map<String, Value>, DecodeError> {
    let bad = |why: String| DecodeError::invalid("CloudTrail CSV", why);
    let name = field(rec, c.event_name)?
        .ok_or_else(|| bad("no event name and no CloudTrail event column".into()))?;
    let mut m = Map::new();
    m.insert("eventVersion".into(), json!("csv-export"));
    m.insert("eventName".into(), json!(name));
    if let Some(t) = field(rec, c.event_time)? {
        let ms = parse_time(t).ok_or_else(|| {
            bad(format!(
                "event time {:?} is not a time",
                SafeText::new(t).as_str()
            ))
        })?;
        let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        m.insert(
            "eventTime".into(),
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    for (key, at) in [
        ("eventID", c.event_id),
        ("eventSource", c.event_source),
        ("awsRegion", c.region),
        ("sourceIPAddress", c.source_ip),
        ("errorCode", c.error_code),
        ("userAgent", c.user_agent),
    ] {
        if let Some(x) = field(rec, at)? {
            m.insert(key.into(), json!(x));
        }
    }
    if let Some(x) = field(rec, c.read_only)? {
        m.insert("readOnly".into(), json!(x.eq_ignore_ascii_case("true")));
    }
    let user = field(rec, c.user_name)?;
    let key = field(rec, c.access_key)?;
    if let Some(a) = &learned.account {
        m.insert("recipientAccountId".into(), json!(a));
    }
    if let Some(u) = key.and_then(|k| learned.by_key.get(k)) {
        m.insert("userIdentity".into(), u.clone());
    } else if user.is_some() || key.is_some() {
        let mut u = Map::new();
        let typ = match (user, key) {
            (Some("root"), _) => "Root",
            (_, Some(k)) if k.starts_with("ASIA") => "AssumedRole",
            (Some(_), _) => "IAMUser",
            (None, _) => "Unknown",
        };
        u.insert("type".into(), json!(typ));
        if let Some(n) = user {
            u.insert("userName".into(), json!(n));
            if typ == "AssumedRole" {
                // The console's user name of a role session is its session name.
                u.insert("principalId".into(), json!(n));
            }
        }
        if let Some(k) = key {
            u.insert("accessKeyId".into(), json!(k));
        }
        m.insert("userIdentity".into(), Value::Object(u));
    }
    let mut resources = Vec::new();
    if let Some(list) = field(rec, c.resources)? {
        // LookupEvents' `Resources`: [{"ResourceType": …, "ResourceName": …}].
        if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(list) {
            for r in items {
                if let Some(n) = r.get("ResourceName").and_then(Value::as_str) {
                    let t = r.get("ResourceType").and_then(Value::as_str);
                    resources.push(json!({"ARN": n, "type": t.unwrap_or("aws")}));
                }
            }
        }
    }
    if resources.is_empty()
        && let Some(n) = field(rec, c.resource_name)?
    {
        let t = field(rec, c.resource_type)?.unwrap_or("aws");
        resources.push(json!({"ARN": n, "type": t}));
    }
    if !resources.is_empty() {
        m.insert("resources".into(), Value::Array(resources));
    }
    Ok(m)
}

/// The console writes times as ISO 8601 (`2024-03-05T10:20:30Z`, with or without zone); a
/// spreadsheet that saved the file again may have written `2024-03-05 10:20:30` or added
/// `(UTC)`.
fn parse_time(t: &str) -> Option<i64> {
    let t = t.trim().trim_end_matches("(UTC)").trim();
    super::parse_time_str(t).or_else(|| {
        ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
            .map(|d| d.and_utc().timestamp_millis())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_known_by_their_letters() {
        assert!(is_export_header(
            "\u{feff}Event ID,Event time,User name,Event name,Resource type,Resource name,AWS access key,AWS region,Error code,Source IP address,Event source"
        ));
        assert!(is_export_header(
            "EventId,EventName,ReadOnly,AccessKeyId,EventTime,EventSource,Username,Resources,CloudTrailEvent"
        ));
        assert!(!is_export_header("name,time,value"));
        assert!(!is_export_header(
            "{\"eventName\": \"x\", \"eventTime\": 1}"
        ));
        assert!(!is_export_header("Event name only"));
    }

    #[test]
    fn a_row_over_the_limit_stops_the_file_and_the_rows_before_are_kept() {
        let mut text = String::from("Event name,Event time,User name\n");
        text.push_str("GetObject,2024-01-01T00:00:00Z,alice\n");
        text.push_str(&format!("\"{}\n", "x".repeat(1 << 20)));
        let mut got = 0;
        let stop = read(text.as_bytes(), 1, 4096, |r| {
            assert!(r.is_ok(), "{r:?}");
            got += 1;
            true
        });
        assert_eq!(got, 1);
        match stop {
            Err(Stop::TooLong {
                line: 3, row: 2, ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
