//! The agent protocol's reference implementation and the demo fleet simulator.
//!
//! `server` serves the read side of the agent protocol (health, event stream, inventory) from an
//! `AgentState`; `demo` simulates an organisation to fill one. `spawn_demo` runs both in-process
//! on a loopback port, and the engine reads it over HTTP like any remote agent, so the demo
//! exercises the same code path as production. The demo agent executes every kind that fits
//! its fleet (`demo::DemoExecutor`), and the fleet shows it. `blastdoor agent` is `headless::agent`.

pub mod actions;
pub mod demo;
pub mod guard;
pub mod server;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use demo::Fleet;
pub use server::{AgentState, Health, serve};

use crate::core::Millis;

/// How often the live demo advances its fleet.
pub const DEMO_TICK: Duration = Duration::from_millis(demo::TICK_MS as u64);
/// History the demo agent holds when it starts, so a fresh client sees activity at once.
pub const DEMO_HISTORY_MS: Millis = 60_000;
/// Events the embedded demo keeps (about 9 minutes, ~23 MB): its one in-process client only
/// needs slack to resume. `blastdoor agent --demo` keeps `server::DEFAULT_CAPACITY` for
/// clients that connect later and replay.
pub const EMBEDDED_DEMO_CAPACITY: usize = 20_000;

/// Wall-clock time in ms. The agent reads its own clock: it sits beside the engine, not under it.
pub(crate) fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// An agent state keeping `capacity` events, holding the demo fleet's inventory and
/// `DEMO_HISTORY_MS` of its activity up to `now`, with the fleet ready to go on from there.
pub fn demo_state(seed: u64, now: Millis, capacity: usize) -> (Fleet, Arc<AgentState>) {
    let mut fleet = Fleet::new(seed);
    // The demo's executor contains the fleet itself: what it does shows in the fleet's calls.
    let state = AgentState::with_capacity("blastdoor demo agent", capacity)
        .with_executor(Arc::new(fleet.executor()), demo::capabilities());
    state.set_inventory(fleet.inventory());
    let mut t = now - DEMO_HISTORY_MS;
    while t < now {
        state.push(fleet.step(t));
        t += demo::TICK_MS;
    }
    (fleet, Arc::new(state))
}

/// Advance the fleet on the wall clock forever, pushing each tick's events into `state`.
pub(crate) async fn drive(mut fleet: Fleet, state: Arc<AgentState>) {
    let mut tick = tokio::time::interval(DEMO_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.push(fleet.step(now_ms()));
    }
}

/// Start the demo agent in-process on an ephemeral loopback port; returns its address. The
/// fleet and the server run as tasks of the current runtime for as long as it lives.
pub async fn spawn_demo(seed: u64) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| anyhow::anyhow!("demo agent: cannot bind a loopback port: {e}"))?;
    let addr = listener.local_addr()?;
    let (fleet, state) = demo_state(seed, now_ms(), EMBEDDED_DEMO_CAPACITY);
    tokio::spawn(drive(fleet, state.clone()));
    tokio::spawn(async move {
        if let Err(e) = serve(listener, state).await {
            tracing::warn!("demo agent stopped: {e}");
        }
    });
    Ok(addr)
}
