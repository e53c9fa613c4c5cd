//! The engine owns the async world: it runs the sources, feeds bounded batches into the core,
//! ticks time, counts what it ingested and what it had to drop, and lets frontends read the
//! core (`Engine::read`) and wait for changes (`Engine::changed`). The TUI, the headless
//! commands and the MCP server all hold an `Engine`, so each behaviour exists once.

pub mod aws_logs;
pub mod containment;
pub mod live;
pub mod nats;
pub mod sources;
pub mod tcp;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, mpsc, watch};

use crate::core::{Change, Core, CoreEffect, Event, IdentityRecord, Millis, Msg};

pub use sources::SourceSpec;

/// Batches in flight between sources and the core. Live sources that find it full drop the
/// batch and count it; finite sources (files) wait instead, so a backfill loses nothing.
pub const CHANNEL_BATCHES: usize = 256;
/// Identities of an inventory applied under one lock of the core.
const INVENTORY_SLICE: usize = 2048;
/// Events from finite sources queued for the core at most: the core is what `rank` waits on
/// with many identities, and 256 full batches of decoded events held ~300 MB while it caught up.
/// Enough to keep it busy; what the queue holds stays within ~100 MB.
const BACKFILL_EVENTS: usize = 32_768;

#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub sources: Vec<SourceSpec>,
    pub inventories: Vec<PathBuf>,
    /// Seed of the demo fleet (fixed for reproducible demos and tests).
    pub demo_seed: u64,
    /// Score as of the data's own time instead of the wall clock even with live sources (tests
    /// replaying history through a live source). With finite sources only (files, folders) the
    /// data's clock is used anyway: `rank`, `watch` and the console score a replay alike.
    pub data_clock: bool,
    /// Crown jewels from `config.toml`: what counts as sensitive beyond the defaults.
    pub crown_jewels: Vec<crate::core::graph::CrownJewel>,
    /// How to reach guarded agents and collectors (`[endpoints.NAME]`).
    pub endpoints: crate::auth::endpoint::Endpoints,
    /// How webhook callers authenticate (`[webhook]`).
    pub webhook: live::WebhookAuthConfig,
    /// Also hand every batch to this (`blastdoor agent` relays its own sources this way).
    pub relay: Option<RelayTo>,
    /// `[limits]` of `config.toml`: the longest record, the largest decompressed file.
    pub limits: crate::ingest::Limits,
    /// `[providers.aws]` of `config.toml` (region, endpoint_url): how `s3://` and `sqs:` sources
    /// reach AWS, with credentials from the standard chain.
    pub aws: toml::Table,
    /// The shared state where sources that resume keep their cursor (`s3://`: the last key read
    /// under each prefix). Without one, they resume only within this run.
    pub cursors: Option<Arc<crate::store::Store>>,
    /// Decode files at a lower scheduling priority than the rest of the process: a screen is
    /// drawn from this engine, and its frames (and the core's apply step, which holds the lock
    /// the screen reads under) must not wait behind decoding on a busy machine.
    pub background_decode: bool,
}

/// Receives every batch the core is given, as it is given: events in the order they are
/// applied, and the inventory identities sources deliver.
pub trait Relay: Send + Sync {
    fn events(&self, events: &[Event]);
    fn inventory(&self, identities: &[IdentityRecord]);
}

/// A shared `Relay`.
#[derive(Clone)]
pub struct RelayTo(pub Arc<dyn Relay>);

impl std::fmt::Debug for RelayTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayTo(..)")
    }
}

impl EngineOptions {
    /// Whether scores are as of the data's own time: asked for, or every source is finite (a
    /// replay, where wall-clock decay would zero every threat). One rule for every face, so
    /// `rank`, `watch` and the console give one folder the same scores.
    pub fn uses_data_clock(&self) -> bool {
        self.data_clock || self.sources.iter().all(SourceSpec::is_finite)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Connecting,
    Up,
    Retrying,
    Error,
    Done,
}

/// What a frontend shows about one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub health: Health,
    pub events: u64,
    pub rejected: u64,
    /// The last problem, sanitised, for the header and `watch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How far behind a collector is (`s3://`, `sqs:`): what is waiting to be read and how old
    /// the newest of it is compared with what was read last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<Lag>,
    /// Bytes read of `total_bytes` for a finite source (progress of a backfill).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<(u64, u64)>,
}

/// A collector's lag: `behind` objects or messages waiting, `seconds` between the newest of
/// them and the one read last (0 when caught up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lag {
    pub behind: u64,
    pub seconds: u64,
}

impl Lag {
    /// As the header and `watch` show it: `caught up`, or `12 behind, 3m`.
    pub fn show(&self) -> String {
        if self.behind == 0 {
            return "caught up".into();
        }
        let s = self.seconds;
        let age = if s < 120 {
            format!("{s}s")
        } else if s < 7200 {
            format!("{}m", s / 60)
        } else if s < 172_800 {
            format!("{}h", s / 3600)
        } else {
            format!("{}d", s / 86_400)
        };
        format!("{} behind, {age}", self.behind)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub ingested: u64,
    pub dropped: u64,
    pub rejected: u64,
    /// Events per second over the last few seconds.
    pub rate: f64,
    pub sources: Vec<SourceStatus>,
}

pub(crate) enum Input {
    Events {
        source: usize,
        events: Vec<Event>,
        changes: Vec<Change>,
        /// A finite source's share of `BACKFILL_EVENTS`, given back once applied.
        room: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    Inventory {
        identities: Vec<IdentityRecord>,
    },
    Command(Msg),
    /// Answered once every input queued before it has been applied to the core.
    Flush(tokio::sync::oneshot::Sender<()>),
}

pub(crate) struct Inner {
    /// parking_lot's lock, for its fair unlock: ingest hands the core to a waiting reader
    /// (the screen) between slices instead of taking it straight back (`apply`).
    core: parking_lot::RwLock<Core>,
    ingested: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    sources: Mutex<Vec<SourceStatus>>,
    relay: Option<RelayTo>,
    endpoints: crate::auth::endpoint::Endpoints,
    webhook: live::WebhookAuthConfig,
    finite_left: AtomicUsize,
    finite_done: Notify,
    version: watch::Sender<u64>,
    rate: Mutex<RateMeter>,
    problems: Mutex<Vec<String>>,
    /// Agents whose event streams are sources (the in-process demo agent among them).
    agents: Mutex<Vec<String>>,
    limits: crate::ingest::Limits,
    background_decode: bool,
    backfill: Arc<tokio::sync::Semaphore>,
    aws: toml::Table,
    cursors: Option<Arc<crate::store::Store>>,
}

/// A cheap handle on the running engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    tx: mpsc::Sender<Input>,
}

impl Engine {
    /// Start the sources and the core task. Must be called inside a tokio runtime.
    pub async fn start(opts: EngineOptions) -> anyhow::Result<Engine> {
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        crate::ingest::limits::set_nested(&opts.limits);
        let (version, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            core: parking_lot::RwLock::new(Core::with_crown_jewels(opts.crown_jewels.clone())),
            ingested: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            sources: Mutex::new(Vec::new()),
            relay: opts.relay.clone(),
            endpoints: opts.endpoints.clone(),
            webhook: opts.webhook.clone(),
            finite_left: AtomicUsize::new(0),
            finite_done: Notify::new(),
            version,
            rate: Mutex::new(RateMeter::default()),
            problems: Mutex::new(Vec::new()),
            agents: Mutex::new(Vec::new()),
            limits: opts.limits,
            background_decode: opts.background_decode,
            backfill: Arc::new(tokio::sync::Semaphore::new(BACKFILL_EVENTS)),
            aws: opts.aws.clone(),
            cursors: opts.cursors.clone(),
        });
        let engine = Engine {
            inner: inner.clone(),
            tx,
        };
        tokio::spawn(core_task(inner.clone(), rx, opts.uses_data_clock()));
        for path in &opts.inventories {
            let identities = sources::load_inventory(path, &opts.limits)?;
            engine.deliver_inventory(identities).await;
        }
        for spec in &opts.sources {
            sources::spawn(&engine, spec.clone(), opts.demo_seed).await?;
        }
        Ok(engine)
    }

    /// How to reach a guarded agent or collector (`[endpoints.NAME]` of `config.toml`).
    pub fn endpoints(&self) -> &crate::auth::endpoint::Endpoints {
        &self.inner.endpoints
    }

    /// Read the core under a shared lock. Keep `f` short: ingest waits while it runs.
    pub fn read<R>(&self, f: impl FnOnce(&Core) -> R) -> R {
        let core = self.inner.core.read();
        f(&core)
    }

    /// Change the core directly (sort key, queries that need `&mut`); bumps the version.
    pub fn write<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        let r = {
            let mut core = self.inner.core.write();
            f(&mut core)
        };
        self.inner.version.send_modify(|v| *v += 1);
        r
    }

    /// Send a message to the core through the ingest queue (ordered after pending batches).
    pub async fn send(&self, msg: Msg) {
        let _ = self.tx.send(Input::Command(msg)).await;
    }

    /// A receiver that changes whenever the core does.
    pub fn changed(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    pub fn version(&self) -> u64 {
        *self.inner.version.borrow()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            ingested: self.inner.ingested.load(Ordering::Relaxed),
            dropped: self.inner.dropped.load(Ordering::Relaxed),
            rejected: self.inner.rejected.load(Ordering::Relaxed),
            rate: self.inner.rate.lock().map(|r| r.rate()).unwrap_or(0.0),
            sources: self
                .inner
                .sources
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default(),
        }
    }

    /// Problems met so far (malformed records, unreachable sources), oldest first, sanitised.
    pub fn problems(&self) -> Vec<String> {
        self.inner
            .problems
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// The agents whose event streams this engine reads (`…/v1/events` sources, and the demo's
    /// in-process agent): they execute their kinds too, so the console registers them.
    pub fn agents(&self) -> Vec<String> {
        self.inner
            .agents
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    pub(crate) fn add_agent(&self, url: String) {
        if let Ok(mut a) = self.inner.agents.lock() {
            a.push(url);
        }
    }

    /// Wait until every finite source (files, folders) has been read to its end and its
    /// events applied to the core.
    pub async fn finished(&self) {
        loop {
            let notified = self.inner.finite_done.notified();
            if self.inner.finite_left.load(Ordering::SeqCst) == 0 {
                // Everything the sources queued is applied when the core answers a flush sent
                // after it (one channel, in order). Waiting for the next version bump instead
                // was a race: the one-second tick bumps it too, and under load `rank` could
                // print before the last batches were applied.
                self.applied().await;
                return;
            }
            notified.await;
        }
    }

    // ---- for sources ----

    /// The limits every source reads within.
    pub(crate) fn limits(&self) -> crate::ingest::Limits {
        self.inner.limits
    }

    /// Whether files are decoded at a lower priority (`EngineOptions::background_decode`).
    pub(crate) fn background_decode(&self) -> bool {
        self.inner.background_decode
    }

    pub(crate) fn register(&self, name: String, finite: bool) -> usize {
        if finite {
            self.inner.finite_left.fetch_add(1, Ordering::SeqCst);
        }
        let mut s = self.inner.sources.lock().unwrap_or_else(|e| e.into_inner());
        s.push(SourceStatus {
            name,
            health: Health::Connecting,
            events: 0,
            rejected: 0,
            detail: None,
            lag: None,
            progress: None,
        });
        s.len() - 1
    }

    pub(crate) fn set_lag(&self, source: usize, lag: Lag) {
        if let Ok(mut s) = self.inner.sources.lock()
            && let Some(st) = s.get_mut(source)
        {
            st.lag = Some(lag);
        }
        self.inner.version.send_modify(|v| *v += 1);
    }

    pub(crate) fn aws(&self) -> &toml::Table {
        &self.inner.aws
    }

    pub(crate) fn cursors(&self) -> Option<Arc<crate::store::Store>> {
        self.inner.cursors.clone()
    }

    pub(crate) fn set_health(&self, source: usize, health: Health, detail: Option<String>) {
        if let Ok(mut s) = self.inner.sources.lock()
            && let Some(st) = s.get_mut(source)
        {
            st.health = health;
            st.detail = detail;
        }
        self.inner.version.send_modify(|v| *v += 1);
    }

    pub(crate) fn set_progress(&self, source: usize, done: u64, total: u64) {
        if let Ok(mut s) = self.inner.sources.lock()
            && let Some(st) = s.get_mut(source)
        {
            st.progress = Some((done, total));
        }
    }

    pub(crate) fn finite_finished(&self) {
        if self.inner.finite_left.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.finite_done.notify_waiters();
        }
    }

    /// Say something is wrong with a source without counting a rejected record.
    pub(crate) fn problem(&self, problem: String) {
        tracing::warn!("{problem}");
        if let Ok(mut p) = self.inner.problems.lock()
            && p.len() < 1000
        {
            p.push(crate::core::SafeText::new(&problem).to_string());
        }
    }

    /// A record a source could not read: counted, remembered, never fatal.
    pub(crate) fn reject(&self, source: usize, problem: String) {
        self.inner.rejected.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.inner.sources.lock()
            && let Some(st) = s.get_mut(source)
        {
            st.rejected += 1;
        }
        self.problem(problem);
    }

    /// Count `n` more rejected records of a source without listing each (the source has already
    /// named the first ones and says how many more there were).
    pub(crate) fn reject_more(&self, source: usize, n: u64) {
        self.inner.rejected.fetch_add(n, Ordering::Relaxed);
        if let Ok(mut s) = self.inner.sources.lock()
            && let Some(st) = s.get_mut(source)
        {
            st.rejected += n;
        }
    }

    /// Queue a batch from a live source; if the core is behind, drop it and count it.
    pub(crate) fn offer(&self, source: usize, events: Vec<Event>) -> bool {
        self.offer_with(source, events, Vec::new())
    }

    /// Queue a batch and the inventory changes it made from a live source; if the core is
    /// behind, drop it and count it.
    pub(crate) fn offer_with(
        &self,
        source: usize,
        events: Vec<Event>,
        changes: Vec<Change>,
    ) -> bool {
        let n = events.len() as u64;
        match self.tx.try_send(Input::Events {
            source,
            events,
            changes,
            room: None,
        }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.inner.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::warn!("ingest queue full: dropped {n} events from source {source}");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queue a batch from a finite source, waiting for room: nothing is dropped.
    #[allow(dead_code)] // for sources whose records never change other identities
    pub(crate) async fn deliver(&self, source: usize, events: Vec<Event>) {
        self.deliver_with(source, events, Vec::new()).await
    }

    /// Queue a batch and the inventory changes it made from a finite source, waiting for room.
    pub(crate) async fn deliver_with(
        &self,
        source: usize,
        events: Vec<Event>,
        changes: Vec<Change>,
    ) {
        let weight = events.len().clamp(1, BACKFILL_EVENTS) as u32;
        let room = self
            .inner
            .backfill
            .clone()
            .acquire_many_owned(weight)
            .await
            .ok();
        let _ = self
            .tx
            .send(Input::Events {
                source,
                events,
                changes,
                room,
            })
            .await;
    }

    /// Wait until everything queued so far has been applied to the core (a durable source
    /// acknowledges only then).
    pub(crate) async fn applied(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Input::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Queue an inventory in slices: the core applies one slice per lock, so the screen keeps
    /// drawing (and the ranking keeps answering) while a large inventory loads.
    pub(crate) async fn deliver_inventory(&self, mut identities: Vec<IdentityRecord>) {
        while identities.len() > INVENTORY_SLICE {
            let rest = identities.split_off(INVENTORY_SLICE);
            let slice = std::mem::replace(&mut identities, rest);
            let _ = self.tx.send(Input::Inventory { identities: slice }).await;
        }
        if !identities.is_empty() {
            let _ = self.tx.send(Input::Inventory { identities }).await;
        }
    }
}

async fn core_task(inner: Arc<Inner>, mut rx: mpsc::Receiver<Input>, data_clock: bool) {
    let clock = move || if data_clock { 0 } else { now_ms() };
    let mut buf = Vec::with_capacity(64);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut buf, 64) => {
                if n == 0 { break; }
                apply(&inner, buf.drain(..), clock());
            }
            _ = tick.tick() => {
                apply(&inner, std::iter::once(Input::Command(Msg::Tick { now: clock() })), clock());
            }
        }
    }
}

/// Events applied under one hold of the core's lock: a frame waits for at most this many.
const LOCKED_EVENTS: usize = 32;

fn apply(inner: &Inner, inputs: impl Iterator<Item = Input>, now: Millis) {
    let mut effects = Vec::new();
    let mut total = 0u64;
    {
        let mut per_source: Vec<(usize, u64)> = Vec::new();
        let mut flushed = Vec::new();
        for input in inputs {
            // One lock per input, not per drained group, and a large batch in slices: readers
            // (the screen, queries) get in between, so a backlog never holds the core for long.
            let core = || inner.core.write();
            match input {
                Input::Events {
                    source,
                    mut events,
                    changes,
                    room: _room,
                } => {
                    let n = events.len() as u64;
                    total += n;
                    match per_source.iter_mut().find(|(s, _)| *s == source) {
                        Some(e) => e.1 += n,
                        None => per_source.push((source, n)),
                    }
                    if let Some(r) = &inner.relay {
                        r.0.events(&events);
                    }
                    while events.len() > LOCKED_EVENTS {
                        let rest = events.split_off(LOCKED_EVENTS);
                        let mut locked = core();
                        effects.extend(locked.update(Msg::Events { events, now }));
                        parking_lot::RwLockWriteGuard::unlock_fair(locked);
                        events = rest;
                    }
                    let mut core = core();
                    effects.extend(core.update(Msg::Events { events, now }));
                    if !changes.is_empty() {
                        effects.extend(core.update(Msg::Changes { changes, now }));
                    }
                    parking_lot::RwLockWriteGuard::unlock_fair(core);
                }
                Input::Inventory { identities } => {
                    if let Some(r) = &inner.relay {
                        r.0.inventory(&identities);
                    }
                    effects.extend(core().update(Msg::Inventory { identities, now }));
                }
                Input::Command(msg) => effects.extend(core().update(msg)),
                Input::Flush(done) => flushed.push(done),
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
        if let Ok(mut s) = inner.sources.lock() {
            for (i, n) in per_source {
                if let Some(st) = s.get_mut(i) {
                    st.events += n;
                }
            }
        }
    }
    inner.ingested.fetch_add(total, Ordering::Relaxed);
    if let Ok(mut r) = inner.rate.lock() {
        r.add(total);
    }
    for e in effects {
        match e {
            CoreEffect::Alert {
                identity,
                risk,
                detail,
            } => {
                tracing::info!(%identity, risk, %detail, "risk alert")
            }
            CoreEffect::ContainmentLeak(l) => tracing::warn!("{}", l.summary()),
        }
    }
    inner.version.send_modify(|v| *v += 1);
}

/// Wall-clock time in ms: the engine is where the clock is read.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Events per second over a sliding window of one-second buckets.
#[derive(Debug, Default)]
struct RateMeter {
    buckets: std::collections::VecDeque<(Instant, u64)>,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(5);
    fn add(&mut self, n: u64) {
        let now = Instant::now();
        match self.buckets.back_mut() {
            Some((t, c)) if now.duration_since(*t) < Duration::from_secs(1) => *c += n,
            _ => self.buckets.push_back((now, n)),
        }
        while self
            .buckets
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Self::WINDOW)
        {
            self.buckets.pop_front();
        }
    }
    fn rate(&self) -> f64 {
        let Some((first, _)) = self.buckets.front() else {
            return 0.0;
        };
        let span = Instant::now().duration_since(*first).as_secs_f64().max(1.0);
        self.buckets.iter().map(|(_, c)| *c).sum::<u64>() as f64 / span
    }
}
