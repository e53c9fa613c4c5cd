//! Secrets are never stored, shown or logged: what a provider answers is redacted before the
//! desk keeps it (a plan's before-snapshot and text, an outcome, an error), and the log is
//! redacted as it is written. Two nets:
//! - the exact secrets blastdoor holds (the Vault token it sends, the AWS credentials it
//!   resolved), remembered where they are used, so an answer that echoes one back is caught
//!   whatever its shape;
//! - values shaped like tokens (Vault, AWS session tokens and secret keys, GitHub, JWTs such
//!   as Kubernetes service account tokens, Google OAuth, private keys), and any string under a
//!   key that names a secret (`token`, `password`, `SecretAccessKey`, …).
//!
//! A redacted value becomes `<redacted sha256:…>`: a fingerprint still tells two apart.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::core::workflow::Action;
use crate::respond::{BoxFut, ExecError, Executor, Outcome, Plan};

/// Secrets shorter than this are not searched for (a dev server's `root` token would match
/// every word "root"); shapes still catch real tokens.
const MIN_KNOWN: usize = 8;

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember a secret blastdoor holds, so nothing it writes ever shows it.
pub fn remember(secret: &str) {
    let s = secret.trim();
    if s.len() < MIN_KNOWN {
        return;
    }
    if let Ok(mut k) = KNOWN.write()
        && !k.iter().any(|x| x == s)
    {
        k.push(s.to_string());
    }
}

/// `<redacted sha256:0123456789ab>`.
fn redacted(secret: &str) -> String {
    format!(
        "<redacted {}>",
        super::providers::vault::fingerprint(secret)
    )
}

/// Characters a token is made of; a run of them is judged as one candidate.
fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'/' | b'=')
}

/// Whether a run of token characters has the shape of a credential.
fn token_shaped(t: &str) -> bool {
    let body = |prefix: &str, min: usize| {
        t.strip_prefix(prefix).is_some_and(|r| {
            r.len() >= min
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
    };
    let mixed = |s: &str| {
        s.bytes().any(|b| b.is_ascii_uppercase())
            && s.bytes().any(|b| b.is_ascii_lowercase())
            && s.bytes().any(|b| b.is_ascii_digit())
    };
    // Vault service, batch and recovery tokens; the legacy `s.` + 24.
    ["hvs.", "hvb.", "hvr."].iter().any(|p| body(p, 20))
        || (t.len() == 26
            && matches!(&t[..2], "s." | "b." | "r.")
            && t[2..].bytes().all(|b| b.is_ascii_alphanumeric())
            && mixed(&t[2..]))
        // AWS session tokens (STS, and the older shapes moto still hands out).
        || (t.len() >= 40
            && ["IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz", "AQoDYXdz", "AQoEXAMPLE"]
                .iter()
                .any(|p| t.starts_with(p)))
        // An AWS secret access key: 40 of base64's letters, mixed case and digits.
        || (t.len() == 40
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
            && mixed(t))
        // GitHub tokens.
        || ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].iter().any(|p| body(p, 30))
        || body("github_pat_", 22)
        // Google OAuth access tokens.
        || body("ya29.", 20)
        // JWTs (Kubernetes service account tokens, OIDC): header.payload.signature.
        || (t.starts_with("eyJ") && t.split('.').count() == 3 && t.len() >= 40)
}

/// `s` with every secret and token-shaped value in it replaced by a fingerprint.
pub fn redact(s: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(s);
    if let Ok(known) = KNOWN.read() {
        for k in known.iter() {
            if out.contains(k.as_str()) {
                out = Cow::Owned(out.replace(k.as_str(), &redacted(k)));
            }
        }
    }
    if let Some(i) = out.find("-----BEGIN ")
        && out[i..].contains("PRIVATE KEY-----")
    {
        // A PEM private key, to its END line (or to the end of the text).
        let end = out[i..]
            .find("-----END ")
            .and_then(|e| out[i + e..].find("KEY-----").map(|k| i + e + k + 8))
            .unwrap_or(out.len());
        let key = out[i..end].to_string();
        out = Cow::Owned(format!("{}{}{}", &out[..i], redacted(&key), &out[end..]));
    }
    let b = out.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !token_char(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && token_char(b[i]) {
            i += 1;
        }
        // Trailing punctuation of a sentence is not part of a token.
        let mut end = i;
        while end > start && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if token_shaped(&out[start..end]) {
            found.push((start, end));
        }
    }
    if found.is_empty() {
        return out;
    }
    let mut s2 = String::with_capacity(out.len());
    let mut last = 0;
    for (a, z) in found {
        s2.push_str(&out[last..a]);
        s2.push_str(&redacted(&out[a..z]));
        last = z;
    }
    s2.push_str(&out[last..]);
    Cow::Owned(s2)
}

/// Whether an object key names a secret (compared without case, `_` or `-`).
fn secret_key(k: &str) -> bool {
    let k: String = k
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(
        k.as_str(),
        "token"
            | "clienttoken"
            | "accesstoken"
            | "refreshtoken"
            | "sessiontoken"
            | "wrappingtoken"
            | "secret"
            | "secretid"
            | "secretaccesskey"
            | "password"
            | "privatekey"
            | "privatekeydata"
            | "authorization"
    )
}

/// Every secret in `v` redacted in place: strings under secret-naming keys wholly, token-shaped
/// values and known secrets wherever they are.
pub fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    Value::String(s) if secret_key(k) && !s.is_empty() => *s = redacted(s),
                    _ => redact_value(x),
                }
            }
        }
        _ => {}
    }
}

fn redact_text(s: &mut String) {
    if let Cow::Owned(r) = redact(s) {
        *s = r;
    }
}

fn redact_error(e: ExecError) -> ExecError {
    match e {
        ExecError::Transient(m) => ExecError::Transient(redact(&m).into_owned()),
        ExecError::Permanent(m) => ExecError::Permanent(redact(&m).into_owned()),
    }
}

fn redact_outcome(mut o: Outcome) -> Outcome {
    redact_value(&mut o.detail);
    o
}

/// An executor's answer, redacted.
fn redact_answer(r: Result<Outcome, ExecError>) -> Result<Outcome, ExecError> {
    r.map(redact_outcome).map_err(redact_error)
}

/// An executor whose every answer is redacted before the desk sees it: the desk wraps each
/// executor it is given, so no provider's echo of a secret is ever stored or shown.
pub struct Redacting(pub Arc<dyn Executor>);

impl Executor for Redacting {
    fn name(&self) -> String {
        self.0.name()
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        self.0.kinds()
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            match self.0.plan(a).await {
                Ok(mut p) => {
                    let d = &mut p.dry_run;
                    d.changes.iter_mut().for_each(redact_text);
                    d.impact.iter_mut().for_each(redact_text);
                    if let Some(u) = &mut d.undo {
                        redact_text(u);
                    }
                    redact_value(&mut d.before);
                    Ok(p)
                }
                Err(e) => Err(anyhow::anyhow!("{}", redact(&format!("{e:#}")))),
            }
        })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move { redact_answer(self.0.execute(a, key).await) })
    }

    fn status<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        Box::pin(async move {
            self.0
                .status(key)
                .await
                .map(|o| o.map(redact_outcome))
                .map_err(redact_error)
        })
    }

    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move { redact_answer(self.0.rollback(a, key).await) })
    }

    // The trait's provided methods are forwarded too: left to their defaults, a signed
    // rollback would reach a guarded agent unsigned, and an agent's kinds undescribed.
    fn rollback_signed<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
        signature: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move { redact_answer(self.0.rollback_signed(a, key, signature).await) })
    }

    fn described(&self) -> BoxFut<'_, Vec<crate::agent::actions::ActionCapability>> {
        self.0.described()
    }
}

/// A log writer that redacts each write (the log layer writes one event per call) before it
/// reaches `W`.
pub struct RedactingWriter<W>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shaped_values_are_replaced_by_a_fingerprint() {
        for secret in [
            "hvs.CAESIJ5m0sXnqOaQ2u3bX8M6TnZ1qYkq7rV9pW2aBcDeFgHi",
            "s.Ab3dEf6hIj9lMn2pQr5tUv8x",
            "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl",
        ] {
            let text = format!("permission denied for {secret}.");
            let r = redact(&text);
            assert!(!r.contains(secret), "{r}");
            assert!(r.contains("<redacted sha256:") && r.ends_with('.'), "{r}");
        }
    }

    #[test]
    fn ordinary_provider_text_is_left_alone() {
        for text in [
            "arn:aws:iam::123456789012:role/prod-admin",
            "AKIAIOSFODNN7EXAMPLE",
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "auth/token/lookup-accessor",
            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
            "2026-11-26T03:00:00Z",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn a_remembered_secret_is_caught_whatever_its_shape() {
        remember("bd-test-0123456789abcdef");
        let r = redact("Vault echoed bd-test-0123456789abcdef back");
        assert!(!r.contains("bd-test-0123456789abcdef"), "{r}");
        remember("root");
        assert_eq!(redact("root"), "root", "too short to search for");
    }

    #[test]
    fn strings_under_secret_keys_and_private_keys_are_redacted() {
        let mut v = serde_json::json!({
            "accessor": "xyz", "client_token": "anything at all",
            "nested": [{"Password": "hunter2"}, {"pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"}],
            "token": {"policies": ["default"]},
        });
        redact_value(&mut v);
        let t = v.to_string();
        assert!(
            !t.contains("anything at all") && !t.contains("hunter2") && !t.contains("MIIE"),
            "{t}"
        );
        assert_eq!(v["accessor"], "xyz");
        assert_eq!(
            v["token"]["policies"][0], "default",
            "objects under a secret key are walked"
        );
    }
}
