//! `nats://HOST:PORT/SUBJECT[?durable=NAME]`: consume a subject from NATS JetStream with a
//! durable pull consumer (named from the subject unless `?durable=` says otherwise), so a
//! restarted blastdoor resumes where it left off. A batch is acknowledged (ack-all on its last
//! message, confirmed by the server) only after the core has applied it: a crash in between
//! means redelivery, never loss. The stream that captures the subject must exist.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use futures_util::StreamExt;

use crate::engine::{Engine, Health, sources::backoff};
use crate::ingest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSpec {
    /// `nats://host:port` (credentials, if any, stay here and are never shown).
    pub server: String,
    pub subject: String,
    pub durable: String,
}

impl NatsSpec {
    pub fn parse(s: &str) -> Result<NatsSpec, String> {
        let url = reqwest::Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
        let host = url
            .host_str()
            .ok_or("expected nats://HOST:PORT/SUBJECT")?
            .to_string();
        let subject = url.path().trim_start_matches('/').replace('/', ".");
        if subject.is_empty() {
            return Err("give the subject to read, as nats://HOST:PORT/SUBJECT".into());
        }
        let durable = url
            .query_pairs()
            .find(|(k, _)| k == "durable")
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| durable_for(&subject));
        if durable.is_empty() || durable.contains(['.', '*', '>', ' ']) {
            return Err(format!(
                "durable name '{durable}' may not contain . * > or spaces"
            ));
        }
        let mut server = format!("nats://{host}:{}", url.port().unwrap_or(4222));
        if !url.username().is_empty() {
            server = format!(
                "nats://{}{}@{host}:{}",
                url.username(),
                url.password().map(|p| format!(":{p}")).unwrap_or_default(),
                url.port().unwrap_or(4222)
            );
        }
        Ok(NatsSpec {
            server,
            subject,
            durable,
        })
    }

    pub fn name(&self) -> String {
        let shown = super::sources::redact_url(&self.server);
        format!(
            "{}{} (durable {})",
            shown.trim_end_matches('/'),
            "/".to_string() + &self.subject,
            self.durable
        )
    }
}

/// The default durable consumer name for a subject: `blastdoor_` and the subject with every
/// character NATS forbids in a name replaced by `_`.
pub fn durable_for(subject: &str) -> String {
    let s: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("blastdoor_{s}")
}

const BATCH: usize = 256;

pub(crate) async fn nats_task(engine: Engine, id: usize, spec: NatsSpec) {
    let mut attempt = 0u32;
    loop {
        let why = match run(&engine, id, &spec, &mut attempt).await {
            Ok(()) => "connection closed".to_string(),
            Err(e) => e,
        };
        attempt += 1;
        tracing::warn!("{}: {why}; reconnecting (attempt {attempt})", spec.name());
        engine.set_health(id, Health::Retrying, Some(why));
        tokio::time::sleep(backoff(attempt, id as u64 ^ 0x6e617473)).await;
    }
}

async fn run(engine: &Engine, id: usize, spec: &NatsSpec, attempt: &mut u32) -> Result<(), String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(&spec.server)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let js = jetstream::new(client);
    let stream_name = js.stream_by_subject(&spec.subject).await.map_err(|e| {
        format!(
            "no JetStream stream captures subject {} ({e}); create one, e.g. `nats stream add --subjects '{}'`",
            spec.subject, spec.subject
        )
    })?;
    let stream = js
        .get_stream(&stream_name)
        .await
        .map_err(|e| format!("stream {stream_name}: {e}"))?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            &spec.durable,
            pull::Config {
                durable_name: Some(spec.durable.clone()),
                filter_subject: spec.subject.clone(),
                ack_policy: AckPolicy::All,
                ack_wait: Duration::from_secs(60),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("durable consumer {}: {e}", spec.durable))?;
    engine.set_health(id, Health::Up, None);
    *attempt = 0;
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(BATCH)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        let mut decoded = ingest::Decoded::default();
        let mut last = None;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| format!("fetch: {e}"))?;
            let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
            // A message may carry several lines; a bad one costs that line.
            let several = m.payload.iter().filter(|b| **b == b'\n').count() > 1;
            ingest::lines::split(&m.payload, engine.limits().record(), |n, line| {
                let at = if several {
                    format!("{}: message {seq} line {n}", spec.subject)
                } else {
                    format!("{}: message {seq}", spec.subject)
                };
                match line.map(str::trim) {
                    Ok("") => {}
                    Ok(text) => match ingest::decode_record(text) {
                        Ok(d) => decoded.extend(d),
                        Err(e) => engine.reject(id, format!("{at}: {e}")),
                    },
                    Err(skip) => engine.reject(id, format!("{at}: {skip}")),
                }
            });
            last = Some(m);
        }
        let Some(last) = last else { continue };
        if !decoded.inventory.is_empty() {
            engine
                .deliver_inventory(std::mem::take(&mut decoded.inventory))
                .await;
        }
        // Durable: wait for room rather than drop, and ack only once the core has the batch.
        engine
            .deliver_with(id, decoded.events, decoded.changes)
            .await;
        engine.applied().await;
        last.double_ack().await.map_err(|e| format!("ack: {e}"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_and_without_a_durable_name() {
        let s = NatsSpec::parse("nats://127.0.0.1:4222/falco.alerts").unwrap();
        assert_eq!(s.subject, "falco.alerts");
        assert_eq!(s.durable, "blastdoor_falco_alerts");
        let s = NatsSpec::parse("nats://h:1/a.b?durable=mine").unwrap();
        assert_eq!(s.durable, "mine");
        assert!(NatsSpec::parse("nats://h:1/").is_err());
        assert!(NatsSpec::parse("nats://h:1/x?durable=a.b").is_err());
    }
}
