//! The agent protocol over TLS (rustls), with client certificates when `--client-ca` is given.
//!
//! Client certificates are asked for but not demanded at the handshake, so that `/v1/health`
//! stays open to anyone; a connection whose certificate verified against the client CA is
//! marked (`guard::VerifiedClient`) and the guard admits its requests to every other route.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::exit::Failure;

use super::AgentState;
use super::guard::VerifiedClient;

/// `--tls-cert`, `--tls-key` and optionally `--client-ca`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

fn certs(path: &Path, flag: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| Failure::usage(format!("{flag} {}: cannot read: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            Failure::usage(format!(
                "{flag} {}: not PEM certificates: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Failure::usage(format!(
            "{flag} {}: no certificate in the file",
            path.display()
        )));
    }
    Ok(certs)
}

/// The server configuration the files describe; every problem names the flag and the file.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&files.cert, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        Failure::usage(format!(
            "--tls-key {}: not a PEM private key: {e}",
            files.key.display()
        ))
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(ca, "--client-ca")? {
                roots
                    .add(c)
                    .map_err(|e| Failure::usage(format!("--client-ca {}: {e}", ca.display())))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| Failure::usage(format!("--client-ca {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        Failure::usage(format!(
            "--tls-cert {} / --tls-key {}: {e}",
            files.cert.display(),
            files.key.display()
        ))
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serve the agent protocol over TLS on `listener` until it fails.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: Arc<AgentState>,
    config: Arc<rustls::ServerConfig>,
) -> anyhow::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let app = super::server::router(state);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!("agent: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(acceptor, app, tcp, peer).await {
                tracing::debug!("agent: TLS connection from {peer}: {e}");
            }
        });
    }
}

async fn connection(
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) -> anyhow::Result<()> {
    let tls = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
        .await
        .map_err(|_| anyhow::anyhow!("handshake timed out"))??;
    let verified = tls
        .get_ref()
        .1
        .peer_certificates()
        .is_some_and(|c| !c.is_empty());
    let app = if verified {
        app.layer(axum::Extension(VerifiedClient))
    } else {
        app
    };
    let service = hyper_util::service::TowerToHyperService::new(app);
    hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
        .await
        .map_err(|e| anyhow::anyhow!("{peer}: {e}"))
}
