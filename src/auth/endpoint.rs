//! How the console reaches a guarded agent or collector: `[endpoints.NAME]` in `config.toml`
//! names a URL prefix and how to authenticate there, and applies to every `--source` and
//! `--agent` URL under that prefix (the longest prefix wins).
//!
//! ```toml
//! [endpoints.prod-agent]
//! url = "https://agent.internal:7878"   # a prefix of the source or agent URL
//! token_env = "AGENT_TOKEN"              # the variable that holds the bearer token
//! ca = "agent-ca.pem"                    # trust this CA for the agent's certificate
//! cert = "me.pem"                        # client certificate and key, for mutual TLS
//! key = "me.key"
//! ```
//!
//! The token never goes in the file; it is read from the named variable and sent only to URLs
//! under the prefix, marked sensitive so that no HTTP log prints it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One `[endpoints.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url: String,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// Every `[endpoints.*]` section, file paths resolved against the config file's folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    entries: Vec<(String, Endpoint)>,
}

/// Whether `url` is `prefix` or lies under it (`http://h:1` does not cover `http://h:10`).
fn covers(prefix: &str, url: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    url.strip_prefix(p)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

impl Endpoints {
    pub fn new(sections: BTreeMap<String, Endpoint>, base: Option<&Path>) -> Endpoints {
        let rel = |p: PathBuf| match base {
            Some(b) if p.is_relative() => b.join(p),
            _ => p,
        };
        Endpoints {
            entries: sections
                .into_iter()
                .map(|(name, mut e)| {
                    e.ca = e.ca.map(rel);
                    e.cert = e.cert.map(rel);
                    e.key = e.key.map(rel);
                    (name, e)
                })
                .collect(),
        }
    }

    /// The section that applies to `url`: the longest prefix that covers it.
    pub fn matching(&self, url: &str) -> Option<(&str, &Endpoint)> {
        self.entries
            .iter()
            .filter(|(_, e)| covers(&e.url, url))
            .max_by_key(|(_, e)| e.url.trim_end_matches('/').len())
            .map(|(n, e)| (n.as_str(), e))
    }

    /// `builder` set up to reach `url`: the bearer token, the CA and the client certificate of
    /// the section that applies. Every problem names the section, the key and the file or
    /// variable; the token itself is never shown.
    pub fn client(
        &self,
        url: &str,
        mut builder: reqwest::ClientBuilder,
    ) -> anyhow::Result<reqwest::Client> {
        if let Some((name, e)) = self.matching(url) {
            let at = |key: &str| format!("config.toml [endpoints.{name}] {key}");
            if let Some(var) = &e.token_env {
                let token = std::env::var(var).ok().filter(|t| !t.trim().is_empty());
                let token = token.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} = \"{var}\": the variable {var} is not set (export the agent's token in it)",
                        at("token_env")
                    )
                })?;
                let mut v =
                    reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                        .map_err(|_| {
                            anyhow::anyhow!(
                                "{} = \"{var}\": the token is not a valid header value",
                                at("token_env")
                            )
                        })?;
                v.set_sensitive(true);
                let mut h = reqwest::header::HeaderMap::new();
                h.insert(reqwest::header::AUTHORIZATION, v);
                builder = builder.default_headers(h);
                if url.starts_with("http://") && !is_loopback_url(url) {
                    tracing::warn!(
                        "[endpoints.{name}]: the bearer token goes to {} over plain HTTP; use https://",
                        e.url
                    );
                }
            }
            if let Some(ca) = &e.ca {
                let pem = std::fs::read(ca).map_err(|err| {
                    anyhow::anyhow!("{} = {}: cannot read: {err}", at("ca"), ca.display())
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
                    anyhow::anyhow!(
                        "{} = {}: not PEM certificates: {err}",
                        at("ca"),
                        ca.display()
                    )
                })?;
                for c in certs {
                    builder = builder.add_root_certificate(c);
                }
            }
            match (&e.cert, &e.key) {
                (Some(cert), Some(key)) => {
                    let mut pem = std::fs::read(cert).map_err(|err| {
                        anyhow::anyhow!("{} = {}: cannot read: {err}", at("cert"), cert.display())
                    })?;
                    pem.push(b'\n');
                    pem.extend(std::fs::read(key).map_err(|err| {
                        anyhow::anyhow!("{} = {}: cannot read: {err}", at("key"), key.display())
                    })?);
                    let id = reqwest::Identity::from_pem(&pem).map_err(|err| {
                        anyhow::anyhow!(
                            "{} / key: {} and {} are not a PEM certificate and key: {err}",
                            at("cert"),
                            cert.display(),
                            key.display()
                        )
                    })?;
                    builder = builder.identity(id);
                }
                (None, None) => {}
                _ => anyhow::bail!(
                    "config.toml [endpoints.{name}]: give both cert and key for a client certificate"
                ),
            }
        }
        builder
            .build()
            .map_err(|e| anyhow::anyhow!("HTTP client for {url}: {e}"))
    }
}

fn is_loopback_url(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .is_some_and(|u| match u.host_str() {
            Some("localhost") => true,
            Some(h) => h
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
            None => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(list: &[(&str, &str)]) -> Endpoints {
        Endpoints::new(
            list.iter()
                .map(|(n, u)| {
                    (
                        n.to_string(),
                        Endpoint {
                            url: u.to_string(),
                            token_env: None,
                            ca: Some("ca.pem".into()),
                            cert: None,
                            key: None,
                        },
                    )
                })
                .collect(),
            Some(Path::new("/etc/blastdoor")),
        )
    }

    #[test]
    fn the_longest_prefix_that_covers_the_url_applies() {
        let e = eps(&[("all", "http://h:1"), ("events", "http://h:1/v1/events/")]);
        assert_eq!(e.matching("http://h:1/v1/events").unwrap().0, "events");
        assert_eq!(e.matching("http://h:1/v1/actions").unwrap().0, "all");
        assert_eq!(e.matching("http://h:1").unwrap().0, "all");
        assert!(e.matching("http://h:10/v1/events").is_none());
        assert!(e.matching("http://other:1/v1/events").is_none());
    }

    #[test]
    fn files_are_relative_to_the_config_file() {
        let e = eps(&[("a", "http://h:1")]);
        assert_eq!(
            e.matching("http://h:1").unwrap().1.ca.as_deref(),
            Some(Path::new("/etc/blastdoor/ca.pem"))
        );
    }

    #[test]
    fn a_missing_token_variable_is_named_and_no_client_is_made() {
        let mut sections = BTreeMap::new();
        sections.insert(
            "prod".to_string(),
            Endpoint {
                url: "http://h:1".into(),
                token_env: Some("BLASTDOOR_TEST_SURELY_UNSET_TOKEN".into()),
                ca: None,
                cert: None,
                key: None,
            },
        );
        let e = Endpoints::new(sections, None);
        let err = e
            .client("http://h:1/v1/events", reqwest::Client::builder())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[endpoints.prod] token_env")
                && err.contains("BLASTDOOR_TEST_SURELY_UNSET_TOKEN"),
            "{err}"
        );
    }
}
