//! `tcp:ADDR:PORT`: JSON lines over TCP, as Vault's and OpenBao's `socket` audit device sends
//! them (`socket_type = "tcp"`). Any number of connections at once, each read line by line
//! under the record limit; a device that reconnects is welcome.
//!
//! Vault waits for its audit devices: a request is not answered until every device has its
//! record. So this source never makes Vault wait on the core: each connection is read as fast
//! as it sends, lines are decoded on the spot, and a batch the core has no room for is dropped
//! and counted (as for every live source), never held against the socket.
//!
//! The socket audit device cannot authenticate itself (no token, no TLS client certificate), so
//! the listener takes connections from loopback only: run blastdoor (or `blastdoor agent`) on the
//! Vault host, or carry the socket over SSH (`ssh -R`).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::engine::{Engine, Health};
use crate::ingest;

/// Lines are handed to the core in batches of at most this many, or every `FLUSH`.
const BATCH: usize = 256;
const FLUSH: Duration = Duration::from_millis(200);

/// Parse what follows `tcp:`: `ADDR:PORT`, or a bare port on loopback.
pub fn parse_addr(spec: &str, a: &str) -> Result<SocketAddr, String> {
    let addr = super::sources::listen_addr(spec, "tcp", a, 9090)?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--source {spec}: the socket audit device cannot authenticate itself, so tcp: listens \
             on loopback only (tcp:127.0.0.1:{}); run blastdoor or `blastdoor agent` on the Vault \
             host, or forward the port over SSH (ssh -R {}:127.0.0.1:{})",
            addr.port(),
            addr.port(),
            addr.port()
        ));
    }
    Ok(addr)
}

/// Listen on `addr`; binding errors are reported at start-up. Returns the bound address.
pub(crate) async fn spawn_tcp(
    engine: Engine,
    id: usize,
    addr: SocketAddr,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--source tcp:{addr}: cannot listen: {e}"))?;
    let local = listener.local_addr()?;
    engine.set_health(id, Health::Up, Some(format!("listening on {local}")));
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((sock, peer)) => {
                    if !peer.ip().is_loopback() {
                        engine.problem(format!(
                            "tcp:{local}: a connection from {peer} refused (loopback only)"
                        ));
                        continue;
                    }
                    let _ = sock.set_nodelay(true);
                    tokio::spawn(connection(engine.clone(), id, local, peer, sock));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait and accept again.
                    engine.set_health(id, Health::Retrying, Some(format!("accept: {e}")));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    engine.set_health(id, Health::Up, Some(format!("listening on {local}")));
                }
            }
        }
    });
    Ok(local)
}

/// One connection, to its end. A line too long is skipped to its newline and costs that line.
async fn connection(
    engine: Engine,
    id: usize,
    local: SocketAddr,
    peer: SocketAddr,
    mut sock: tokio::net::TcpStream,
) {
    let max = engine.limits().record();
    let mut buf = vec![0u8; 64 * 1024];
    let mut line: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut n = 0usize;
    let mut batch = ingest::Decoded::default();
    let mut last_flush = tokio::time::Instant::now();
    loop {
        let read = tokio::time::timeout(FLUSH, sock.read(&mut buf)).await;
        let got = match read {
            Err(_) => {
                // Quiet for a moment: hand over what we have.
                flush(&engine, id, &mut batch);
                last_flush = tokio::time::Instant::now();
                continue;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(k)) => k,
            Ok(Err(e)) => {
                tracing::debug!("tcp:{local}: {peer}: {e}");
                break;
            }
        };
        let mut rest = &buf[..got];
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(nl);
            rest = &tail[1..];
            n += 1;
            if skipping {
                skipping = false;
                line.clear();
                continue;
            }
            line.extend_from_slice(head);
            take_line(&engine, id, peer, n, &line, &mut batch);
            line.clear();
        }
        if !skipping {
            line.extend_from_slice(rest);
            if line.len() > max {
                engine.reject(
                    id,
                    format!(
                        "tcp:{local}: {peer} line {}: longer than max_record ({}); skipped",
                        n + 1,
                        ingest::limits::show_size(max as u64)
                    ),
                );
                line.clear();
                skipping = true;
            }
        }
        if batch.events.len() >= BATCH || last_flush.elapsed() >= FLUSH {
            flush(&engine, id, &mut batch);
            last_flush = tokio::time::Instant::now();
        }
    }
    if !skipping && !line.is_empty() {
        n += 1;
        take_line(&engine, id, peer, n, &line, &mut batch);
    }
    flush(&engine, id, &mut batch);
}

fn take_line(
    engine: &Engine,
    id: usize,
    peer: SocketAddr,
    n: usize,
    line: &[u8],
    batch: &mut ingest::Decoded,
) {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t.trim(),
        Err(_) => {
            engine.reject(id, format!("tcp: {peer} line {n}: not UTF-8; skipped"));
            return;
        }
    };
    if text.is_empty() {
        return;
    }
    match ingest::decode_record(text) {
        Ok(d) => batch.extend(d),
        Err(e) => engine.reject(id, format!("tcp: {peer} line {n}: {e}")),
    }
}

/// Hand a batch to the core without waiting: if it is behind, the batch is dropped and counted.
fn flush(engine: &Engine, id: usize, batch: &mut ingest::Decoded) {
    if batch.is_empty() {
        return;
    }
    let d = std::mem::take(batch);
    let inventory = d.inventory;
    if !inventory.is_empty() {
        // Rare on this source (an audit record names no inventory); never waited for here.
        let e = engine.clone();
        tokio::spawn(async move { e.deliver_inventory(inventory).await });
    }
    if !d.events.is_empty() || !d.changes.is_empty() {
        engine.offer_with(id, d.events, d.changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_and_a_bare_port() {
        assert_eq!(
            parse_addr("tcp:9090", "9090").unwrap(),
            "127.0.0.1:9090".parse().unwrap()
        );
        assert_eq!(
            parse_addr("tcp:[::1]:9090", "[::1]:9090").unwrap(),
            "[::1]:9090".parse().unwrap()
        );
        let e = parse_addr("tcp:0.0.0.0:9090", "0.0.0.0:9090").unwrap_err();
        assert!(e.contains("loopback only"), "{e}");
        assert!(parse_addr("tcp:x", "x").is_err());
    }
}
