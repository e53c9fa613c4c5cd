//! The agent protocol, the reference agent server and the demo fleet simulator.

/// Start the demo agent in-process on an ephemeral loopback port; returns its address.
pub async fn spawn_demo(_seed: u64) -> anyhow::Result<std::net::SocketAddr> {
    anyhow::bail!("the demo agent is being written")
}
