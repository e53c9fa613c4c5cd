//! CloudTrail where AWS delivers it.
//!
//! - `s3://BUCKET/PREFIX`: delivery files, polled in key order. CloudTrail's layout
//!   (`AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/Y/M/D/…json.gz`) is walked down to each region's
//!   folder, and each folder is listed after the last key read there (`ListObjectsV2`
//!   `StartAfter`): one cursor per folder, since a new file for one account sorts before the
//!   newest of another. The cursors are kept in the shared state, so a restarted blastdoor
//!   resumes where it left off: nothing read twice, nothing skipped. `?once` reads every object
//!   there is, in key order, and ends (a finite source, like a folder), without cursors.
//! - `sqs:QUEUE_URL`: S3 event notifications (direct, or through SNS) whose objects are fetched
//!   and decoded, and EventBridge CloudTrail events (`detail`), long-polled. A message is deleted
//!   only after its events are in the core; while a batch is being read its messages' visibility
//!   timeout is extended, so a slow fetch never makes the queue hand them to someone else. A
//!   message whose object cannot be fetched (denied, missing bucket, unreachable) is kept: the
//!   queue gives it again (and its redrive policy, if any, moves it aside in the end).
//!
//! Region, endpoint and credentials come from `[providers.aws]` and the standard AWS chain.
//! A bad object (not gzip, not CloudTrail, too large) is named with bucket and key, counted and
//! skipped; a denial names the permission (`s3:GetObject on arn:aws:s3:::bucket/key`).

use std::path::PathBuf;

/// What `s3://BUCKET/PREFIX[?once]` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Spec {
    pub bucket: String,
    /// The key prefix, as given (may be empty: the whole bucket).
    pub prefix: String,
    /// Read what is there once and end.
    pub once: bool,
}

impl S3Spec {
    pub fn parse(s: &str) -> Result<S3Spec, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or("expected s3://BUCKET/PREFIX")?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        let valid = |b: &str| {
            (3..=63).contains(&b.len())
                && b.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        if !valid(bucket) {
            return Err(format!(
                "'{bucket}' is not an S3 bucket name (3-63 lowercase letters, digits, - and .); write s3://BUCKET/PREFIX, e.g. s3://org-trail/AWSLogs/"
            ));
        }
        let once = match query {
            None => false,
            Some("once") | Some("once=1") | Some("once=true") => true,
            Some(q) => {
                return Err(format!(
                    "unknown option ?{q}: the one option is ?once (read what is there, then end)"
                ));
            }
        };
        Ok(S3Spec {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            once,
        })
    }

    pub fn name(&self) -> String {
        format!(
            "s3://{}/{}{}",
            self.bucket,
            self.prefix,
            if self.once { "?once" } else { "" }
        )
    }
}

/// What follows `sqs:`: a queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or a
/// local endpoint's).
pub fn parse_queue(q: &str) -> Result<String, String> {
    if !(q.starts_with("https://") || q.starts_with("http://")) {
        return Err(
            "give the queue URL, as sqs:https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE".into(),
        );
    }
    let url = reqwest::Url::parse(q).map_err(|e| format!("not a valid queue URL: {e}"))?;
    if url
        .path_segments()
        .map(|s| s.filter(|x| !x.is_empty()).count())
        != Some(2)
    {
        return Err("a queue URL ends in /ACCOUNT/QUEUE".into());
    }
    Ok(q.to_string())
}

/// The name an object is reported by: `s3://bucket/key`.
fn object_name(bucket: &str, key: &str) -> PathBuf {
    PathBuf::from(format!("s3://{bucket}/{key}"))
}

/// Whether a key holds events blastdoor reads: not a folder marker, not a digest file (their
/// records are hashes of delivery files, not events).
fn readable_key(key: &str) -> bool {
    !key.ends_with('/') && !key.contains("CloudTrail-Digest/") && !key.contains("/Digest/")
}

/// Whether the folders under a prefix are the dates of one region's delivery files (`2023/`),
/// where the walk stops and a cursor is kept.
fn are_years(prefixes: &[String], parent: &str) -> bool {
    !prefixes.is_empty()
        && prefixes.iter().all(|p| {
            let name = p[parent.len()..].trim_end_matches('/');
            name.len() == 4 && name.chars().all(|c| c.is_ascii_digit())
        })
}

/// A key in an S3 event notification is URL-encoded, with `+` for a space.
pub fn notification_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16);
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What one SQS message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Objects to fetch and decode (an S3 event notification, perhaps inside SNS).
    Objects(Vec<(String, String)>),
    /// An event carried whole (EventBridge's `detail`: one CloudTrail record).
    Record(serde_json::Value),
    /// A message that asks for nothing (S3's test event, an object removed).
    Nothing,
}

/// Read an SQS message body. `Err` says why it is none of the shapes blastdoor reads.
pub fn read_notice(body: &str) -> Result<Notice, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    // SNS in between: the notification is the `Message` string.
    if v.get("Type").and_then(|t| t.as_str()) == Some("Notification")
        && let Some(m) = v.get("Message").and_then(|m| m.as_str())
    {
        return read_notice(m);
    }
    if v.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Notice::Nothing);
    }
    if let Some(records) = v.get("Records").and_then(|r| r.as_array())
        && records
            .iter()
            .any(|r| r.get("eventSource").and_then(|s| s.as_str()) == Some("aws:s3"))
    {
        let mut objects = Vec::new();
        for r in records {
            let created = r
                .get("eventName")
                .and_then(|n| n.as_str())
                .is_some_and(|n| n.starts_with("ObjectCreated"));
            let bucket = r.pointer("/s3/bucket/name").and_then(|b| b.as_str());
            let key = r.pointer("/s3/object/key").and_then(|k| k.as_str());
            if let (true, Some(b), Some(k)) = (created, bucket, key) {
                let key = notification_key(k);
                if readable_key(&key) {
                    objects.push((b.to_string(), key));
                }
            }
        }
        return Ok(if objects.is_empty() {
            Notice::Nothing
        } else {
            Notice::Objects(objects)
        });
    }
    // EventBridge: "Object Created" from S3 names an object; a CloudTrail API call carries it.
    if let Some(detail) = v.get("detail") {
        if v.get("source").and_then(|s| s.as_str()) == Some("aws.s3")
            && v.get("detail-type").and_then(|s| s.as_str()) == Some("Object Created")
        {
            let b = detail.pointer("/bucket/name").and_then(|b| b.as_str());
            let k = detail.pointer("/object/key").and_then(|k| k.as_str());
            return match (b, k) {
                (Some(b), Some(k)) if readable_key(k) => {
                    Ok(Notice::Objects(vec![(b.to_string(), k.to_string())]))
                }
                _ => Ok(Notice::Nothing),
            };
        }
        if detail.get("eventName").is_some() && detail.get("eventSource").is_some() {
            return Ok(Notice::Record(detail.clone()));
        }
    }
    Err("neither an S3 event notification nor an EventBridge CloudTrail event".into())
}

#[cfg(feature = "aws")]
pub(crate) use with_sdk::{spawn_s3, spawn_sqs};

#[cfg(not(feature = "aws"))]
pub(crate) async fn spawn_s3(
    _engine: &super::Engine,
    _id: usize,
    spec: S3Spec,
) -> anyhow::Result<()> {
    Err(crate::exit::Failure::usage(format!(
        "--source {}: this blastdoor was built without the aws feature",
        spec.name()
    )))
}

#[cfg(not(feature = "aws"))]
pub(crate) async fn spawn_sqs(
    _engine: &super::Engine,
    _id: usize,
    url: String,
) -> anyhow::Result<()> {
    Err(crate::exit::Failure::usage(format!(
        "--source sqs:{url}: this blastdoor was built without the aws feature"
    )))
}

#[cfg(feature = "aws")]
mod with_sdk {
    use std::collections::HashMap;
    use std::time::Duration;

    use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
    use futures_util::StreamExt;

    use super::*;
    use crate::engine::{Engine, Health, Lag, sources::backoff};

    /// How often a bucket is listed again once caught up (CloudTrail delivers about every 5
    /// minutes per account and region).
    const POLL: Duration = Duration::from_secs(10);
    /// Long polling: how long one ReceiveMessage waits for a message.
    const WAIT_SECONDS: i32 = 5;
    /// A received message stays invisible this long, and is extended every half of it while
    /// its batch is being read.
    const VISIBILITY_SECONDS: i32 = 120;
    /// Objects fetched at once ahead of the one being delivered.
    const PREFETCH: usize = 8;
    /// Folders walked below the prefix before a level is taken as one folder of files.
    const MAX_DEPTH: usize = 6;

    async fn clients(
        engine: &Engine,
    ) -> anyhow::Result<(aws_sdk_s3::Client, aws_config::SdkConfig)> {
        let exec = crate::respond::providers::aws::AwsExecutor::from_section(engine.aws())
            .map_err(|e| crate::exit::Failure::usage(format!("config.toml {e:#}")))?;
        let conf = exec.sdk_config().await;
        let mut b = aws_sdk_s3::config::Builder::from(&conf);
        if exec.endpoint_url().is_some() {
            // moto, LocalStack, MinIO: buckets in the path, not in the host name.
            b = b.force_path_style(true);
        }
        Ok((aws_sdk_s3::Client::from_conf(b.build()), conf))
    }

    /// Why an S3 call failed, naming the permission it needs and what it was on.
    fn s3_err<E>(e: &aws_sdk_s3::error::SdkError<E>, action: &str, arn: &str) -> String
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match e.code() {
            Some("AccessDenied")
            | Some("AllAccessDisabled")
            | Some("InvalidAccessKeyId")
            | Some("SignatureDoesNotMatch")
            | Some("ExpiredToken") => format!(
                "access denied: {action} on {arn} ({}); the credentials from the AWS chain need it",
                e.code().unwrap_or_default()
            ),
            Some("NoSuchBucket") => format!("no such bucket: {arn}"),
            Some("NoSuchKey") => format!("no such object: {arn}"),
            _ => format!("{action} on {arn}: {}", DisplayErrorContext(e)),
        }
    }

    // ---------------------------------------------------------------------------------------
    // s3://

    pub(crate) async fn spawn_s3(engine: &Engine, id: usize, spec: S3Spec) -> anyhow::Result<()> {
        let (client, _) = clients(engine).await?;
        let engine = engine.clone();
        tokio::spawn(async move {
            s3_task(&engine, id, &spec, &client).await;
            if spec.once {
                engine.finite_finished();
            }
        });
        Ok(())
    }

    /// Where each folder was read to: from the state, and written back after every object.
    struct Cursors {
        at: HashMap<String, String>,
        source: String,
    }

    impl Cursors {
        fn key(&self, folder: &str) -> String {
            format!("{}{folder}", self.source)
        }

        async fn get(&mut self, engine: &Engine, folder: &str) -> Option<String> {
            if let Some(k) = self.at.get(folder) {
                return Some(k.clone());
            }
            let store = engine.cursors()?;
            let key = self.key(folder);
            let got = tokio::task::spawn_blocking(move || store.read(|tx| tx.cursor(&key)))
                .await
                .ok()?;
            match got {
                Ok(Some(k)) if !k.is_empty() => {
                    self.at.insert(folder.to_string(), k.clone());
                    Some(k)
                }
                Ok(_) => None,
                Err(e) => {
                    engine.problem(format!(
                        "{}: the cursor could not be read from the state: {e:#}",
                        self.source
                    ));
                    None
                }
            }
        }

        async fn set(&mut self, engine: &Engine, folder: &str, last: &str) -> Result<(), String> {
            self.at.insert(folder.to_string(), last.to_string());
            let Some(store) = engine.cursors() else {
                return Ok(());
            };
            let (key, value) = (self.key(folder), last.to_string());
            let now = crate::engine::now_ms();
            tokio::task::spawn_blocking(move || store.write(|tx| tx.set_cursor(&key, &value, now)))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("the cursor could not be kept in the state: {e:#}"))
        }
    }

    async fn s3_task(engine: &Engine, id: usize, spec: &S3Spec, client: &aws_sdk_s3::Client) {
        let mut cursors = Cursors {
            at: HashMap::new(),
            source: format!("s3://{}/", spec.bucket),
        };
        let mut attempt = 0u32;
        let mut read = 0u64;
        loop {
            match s3_poll(engine, id, spec, client, &mut cursors, &mut read).await {
                Ok(()) => {
                    attempt = 0;
                    engine.set_lag(
                        id,
                        Lag {
                            behind: 0,
                            seconds: 0,
                        },
                    );
                    if spec.once {
                        engine.set_health(id, Health::Done, Some(format!("{read} objects read")));
                        return;
                    }
                    engine.set_health(
                        id,
                        Health::Up,
                        Some(format!("caught up, {read} objects read")),
                    );
                    tokio::time::sleep(POLL).await;
                }
                Err(why) => {
                    attempt += 1;
                    tracing::warn!("{}: {why}; again (attempt {attempt})", spec.name());
                    if spec.once && attempt >= 5 {
                        engine.reject(id, format!("{}: {why}; gave up", spec.name()));
                        engine.set_health(id, Health::Error, Some(why));
                        return;
                    }
                    engine.set_health(id, Health::Retrying, Some(why));
                    tokio::time::sleep(backoff(attempt, id as u64 ^ 0x5333)).await;
                }
            }
        }
    }

    /// The folders under `prefix` that hold delivery files, each of which keeps a cursor.
    async fn folders(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<String>, String> {
        let arn = format!("arn:aws:s3:::{bucket}");
        let mut out = Vec::new();
        let mut todo = vec![(prefix.to_string(), 0usize)];
        while let Some((p, depth)) = todo.pop() {
            if depth >= MAX_DEPTH {
                out.push(p);
                continue;
            }
            let mut subs = Vec::new();
            let mut token = None;
            loop {
                let r = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&p)
                    .delimiter("/")
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| s3_err(&e, "s3:ListBucket", &arn))?;
                subs.extend(
                    r.common_prefixes()
                        .iter()
                        .filter_map(|c| c.prefix())
                        .filter(|c| !c.ends_with("CloudTrail-Digest/") && !c.ends_with("/Digest/"))
                        .map(str::to_string),
                );
                match r.next_continuation_token() {
                    Some(t) if r.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => break,
                }
            }
            if subs.is_empty() || are_years(&subs, &p) {
                out.push(p);
            } else {
                todo.extend(subs.into_iter().map(|s| (s, depth + 1)));
            }
        }
        out.sort();
        Ok(out)
    }

    async fn s3_poll(
        engine: &Engine,
        id: usize,
        spec: &S3Spec,
        client: &aws_sdk_s3::Client,
        cursors: &mut Cursors,
        read: &mut u64,
    ) -> Result<(), String> {
        let bucket = &spec.bucket;
        let arn = format!("arn:aws:s3:::{bucket}");
        let folders = folders(client, bucket, &spec.prefix).await?;
        if engine
            .stats()
            .sources
            .get(id)
            .is_some_and(|s| s.health == Health::Connecting)
        {
            engine.set_health(id, Health::Up, Some(format!("{} folders", folders.len())));
        }
        for folder in folders {
            let mut after = if spec.once {
                None
            } else {
                cursors.get(engine, &folder).await
            };
            loop {
                let r = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&folder)
                    .set_start_after(after.clone())
                    .send()
                    .await
                    .map_err(|e| s3_err(&e, "s3:ListBucket", &arn))?;
                let objects: Vec<(String, i64)> = r
                    .contents()
                    .iter()
                    .filter_map(|o| {
                        let k = o.key()?;
                        readable_key(k)
                            .then(|| (k.to_string(), o.last_modified().map_or(0, |t| t.secs())))
                    })
                    .collect();
                let newest = objects.iter().map(|(_, t)| *t).max().unwrap_or(0);
                let truncated = r.is_truncated() == Some(true);
                let last_listed = r
                    .contents()
                    .last()
                    .and_then(|o| o.key())
                    .map(str::to_string);
                // Fetched a few at a time (a GET is mostly waiting), delivered in key order, the
                // cursor moved after each: a failed fetch stops the folder at the one before.
                let max = engine.limits().max_file;
                let mut fetched = futures_util::stream::iter(objects.iter().cloned())
                    .map(|(key, modified)| {
                        let client = client.clone();
                        async move {
                            let got = fetch(&client, bucket, &key, max).await;
                            (key, modified, got)
                        }
                    })
                    .buffered(PREFETCH);
                let mut i = 0usize;
                while let Some((key, modified, got)) = fetched.next().await {
                    engine.set_lag(
                        id,
                        Lag {
                            behind: (objects.len() - i) as u64 + u64::from(truncated),
                            seconds: (newest - modified).max(0) as u64,
                        },
                    );
                    i += 1;
                    deliver_fetched(engine, id, bucket, &key, got).await?;
                    *read += 1;
                    if !spec.once {
                        cursors
                            .set(engine, &folder, &key)
                            .await
                            .map_err(|e| format!("{}: {e}", spec.name()))?;
                    }
                    after = Some(key);
                }
                if !truncated {
                    break;
                }
                // Keys skipped as unreadable still move the listing on.
                if let Some(k) = last_listed {
                    after = Some(k);
                }
            }
        }
        Ok(())
    }

    /// Whether a fetch failure is the object's fault (skip it) or the way to it (try again).
    enum Fetch {
        Bad(String),
        Again(String),
    }

    /// Get one object (within `max_file`) and hand its events to the core, waiting for room.
    /// A bad object is named, counted and skipped (`Ok`); `Err` when it could not be fetched.
    async fn fetch_and_deliver(
        engine: &Engine,
        id: usize,
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
    ) -> Result<(), String> {
        let got = fetch(client, bucket, key, engine.limits().max_file).await;
        deliver_fetched(engine, id, bucket, key, got).await
    }

    /// What a fetch brought, to the core (and applied there before this returns).
    async fn deliver_fetched(
        engine: &Engine,
        id: usize,
        bucket: &str,
        key: &str,
        got: Result<Vec<u8>, Fetch>,
    ) -> Result<(), String> {
        let name = object_name(bucket, key);
        match got {
            Ok(body) => {
                crate::engine::sources::deliver_object(engine, id, name, body).await;
                engine.applied().await;
                Ok(())
            }
            Err(Fetch::Bad(why)) => {
                engine.reject(id, format!("{}: {why}; skipped", name.display()));
                Ok(())
            }
            Err(Fetch::Again(why)) => Err(why),
        }
    }

    async fn fetch(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        max: u64,
    ) -> Result<Vec<u8>, Fetch> {
        let arn = format!("arn:aws:s3:::{bucket}/{key}");
        let o = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| Fetch::Again(s3_err(&e, "s3:GetObject", &arn)))?;
        let size = o.content_length().unwrap_or(0).max(0) as u64;
        if size > max {
            return Err(Fetch::Bad(format!(
                "{} is over max_file ({} in [limits])",
                crate::ingest::limits::show_size(size),
                crate::ingest::limits::show_size(max)
            )));
        }
        let mut body = o.body;
        let mut out = Vec::with_capacity(size as usize);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Fetch::Again(format!("s3:GetObject on {arn}: {e}")))?;
            if (out.len() + chunk.len()) as u64 > max {
                return Err(Fetch::Bad(format!(
                    "over max_file ({} in [limits])",
                    crate::ingest::limits::show_size(max)
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    // ---------------------------------------------------------------------------------------
    // sqs:

    pub(crate) async fn spawn_sqs(engine: &Engine, id: usize, url: String) -> anyhow::Result<()> {
        let (s3, conf) = clients(engine).await?;
        let sqs = aws_sdk_sqs::Client::new(&conf);
        let engine = engine.clone();
        tokio::spawn(async move { sqs_task(&engine, id, &url, &sqs, &s3).await });
        Ok(())
    }

    fn sqs_err<E>(e: &aws_sdk_sqs::error::SdkError<E>, action: &str, queue: &str) -> String
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = e.code().unwrap_or_default();
        if code.contains("AccessDenied") || code.contains("InvalidClientTokenId") {
            format!(
                "access denied: {action} on {queue} ({code}); the credentials from the AWS chain need it"
            )
        } else if code.contains("NonExistentQueue") || code.contains("QueueDoesNotExist") {
            format!("no such queue: {queue}")
        } else {
            format!("{action} on {queue}: {}", DisplayErrorContext(e))
        }
    }

    async fn sqs_task(
        engine: &Engine,
        id: usize,
        url: &str,
        sqs: &aws_sdk_sqs::Client,
        s3: &aws_sdk_s3::Client,
    ) {
        let shown = crate::engine::sources::redact_url(url);
        let mut attempt = 0u32;
        let mut deleted = 0u64;
        loop {
            match sqs_round(engine, id, url, &shown, sqs, s3, &mut deleted).await {
                Ok(()) => {
                    attempt = 0;
                }
                Err(why) => {
                    attempt += 1;
                    tracing::warn!("sqs:{shown}: {why}; again (attempt {attempt})");
                    engine.set_health(id, Health::Retrying, Some(why));
                    tokio::time::sleep(backoff(attempt, id as u64 ^ 0x535153)).await;
                }
            }
        }
    }

    /// One ReceiveMessage and what it brought: every message read, then deleted once its
    /// events are in the core, or kept when its object could not be fetched.
    async fn sqs_round(
        engine: &Engine,
        id: usize,
        url: &str,
        shown: &str,
        sqs: &aws_sdk_sqs::Client,
        s3: &aws_sdk_s3::Client,
        deleted: &mut u64,
    ) -> Result<(), String> {
        use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(WAIT_SECONDS)
            .visibility_timeout(VISIBILITY_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| sqs_err(&e, "sqs:ReceiveMessage", shown))?;
        let messages = r.messages().to_vec();
        let waiting = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .ok()
            .and_then(|a| {
                a.attributes()
                    .and_then(|m| m.get(&QueueAttributeName::ApproximateNumberOfMessages))
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .unwrap_or(0);
        let now = crate::engine::now_ms();
        let oldest = messages
            .iter()
            .filter_map(|m| {
                m.attributes()?
                    .get(&MessageSystemAttributeName::SentTimestamp)?
                    .parse::<i64>()
                    .ok()
            })
            .min();
        engine.set_lag(
            id,
            Lag {
                behind: waiting + messages.len() as u64,
                seconds: oldest.map_or(0, |t| ((now - t).max(0) / 1000) as u64),
            },
        );
        if messages.is_empty() {
            engine.set_health(
                id,
                Health::Up,
                Some(format!("caught up, {deleted} messages read")),
            );
            return Ok(());
        }
        engine.set_health(id, Health::Up, Some(format!("{deleted} messages read")));
        // Keep the batch invisible while it is read, however slow the fetches.
        let handles: Vec<String> = messages
            .iter()
            .filter_map(|m| m.receipt_handle().map(str::to_string))
            .collect();
        let keeper = {
            let (sqs, url, handles) = (sqs.clone(), url.to_string(), handles.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(VISIBILITY_SECONDS as u64 / 2)).await;
                    for h in &handles {
                        let _ = sqs
                            .change_message_visibility()
                            .queue_url(&url)
                            .receipt_handle(h)
                            .visibility_timeout(VISIBILITY_SECONDS)
                            .send()
                            .await;
                    }
                }
            })
        };
        let mut done = Vec::new();
        let mut failed = None;
        for m in &messages {
            let mid = m.message_id().unwrap_or("?");
            let what = match read_notice(m.body().unwrap_or("")) {
                Ok(n) => n,
                Err(why) => {
                    // Never readable: named, counted, and taken off the queue.
                    engine.reject(id, format!("sqs:{shown}: message {mid}: {why}; deleted"));
                    done.push(m);
                    continue;
                }
            };
            let ok = match what {
                Notice::Nothing => true,
                Notice::Record(v) => {
                    match crate::ingest::decode_record(&v.to_string()) {
                        Ok(d) => {
                            let item = crate::engine::sources::FileItem::Decoded(d);
                            crate::engine::sources::forward(engine, id, item).await;
                        }
                        Err(e) => {
                            engine.reject(id, format!("sqs:{shown}: message {mid}: {e}"));
                        }
                    }
                    true
                }
                Notice::Objects(objects) => {
                    let mut all = true;
                    for (b, k) in objects {
                        if let Err(why) = fetch_and_deliver(engine, id, s3, &b, &k).await {
                            engine.reject(
                                id,
                                format!("sqs:{shown}: message {mid}: {why}; kept on the queue"),
                            );
                            failed.get_or_insert(why);
                            all = false;
                            break;
                        }
                    }
                    all
                }
            };
            if ok {
                done.push(m);
            }
        }
        keeper.abort();
        // Deleted only once the core has every event they brought.
        engine.applied().await;
        for m in done {
            if let Some(h) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(h)
                    .send()
                    .await
                    .map_err(|e| sqs_err(&e, "sqs:DeleteMessage", shown))?;
                *deleted += 1;
            }
        }
        match failed {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = S3Spec::parse("s3://org-trail/AWSLogs/").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.prefix.as_str(), s.once),
            ("org-trail", "AWSLogs/", false)
        );
        assert!(S3Spec::parse("s3://org-trail?once").unwrap().once);
        assert!(S3Spec::parse("s3://Org_Trail/x").is_err());
        assert!(S3Spec::parse("s3://org-trail/x?since=1").is_err());
        assert!(parse_queue("https://sqs.us-east-1.amazonaws.com/123456789012/trail").is_ok());
        assert!(parse_queue("trail").is_err());
    }

    #[test]
    fn notifications_s3_sns_and_eventbridge() {
        let s3 = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/1/CloudTrail/us-east-1/2023/07/10/a+b%3D.json.gz"}}}]}"#;
        assert_eq!(
            read_notice(s3).unwrap(),
            Notice::Objects(vec![(
                "b".into(),
                "AWSLogs/1/CloudTrail/us-east-1/2023/07/10/a b=.json.gz".into()
            )])
        );
        let sns = serde_json::json!({"Type": "Notification", "Message": s3}).to_string();
        assert!(matches!(read_notice(&sns).unwrap(), Notice::Objects(_)));
        assert_eq!(
            read_notice(r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#).unwrap(),
            Notice::Nothing
        );
        let eb = r#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{"eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com"}}"#;
        assert!(matches!(read_notice(eb).unwrap(), Notice::Record(_)));
        let digest = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz"}}}]}"#;
        assert_eq!(read_notice(digest).unwrap(), Notice::Nothing);
        assert!(read_notice("{}").is_err());
        assert!(read_notice("nope").is_err());
    }

    #[test]
    fn the_walk_stops_at_a_regions_dates() {
        let p = "AWSLogs/1/CloudTrail/us-east-1/".to_string();
        assert!(are_years(&[format!("{p}2023/"), format!("{p}2024/")], &p));
        assert!(!are_years(&["AWSLogs/1/".into()], "AWSLogs/"));
        assert!(!are_years(&[], "AWSLogs/"));
    }
}
