//! The TLS parameters (`sslmode`, `sslrootcert`) taken out of a
//! `postgresql://` URL or a `key=value` connection string.

use std::path::PathBuf;

use super::TlsMode;
use crate::OpenError;

/// The TLS parameters found in a connection string, and the string
/// without them (for `postgres::Config`, which knows neither
/// `verify-ca`/`verify-full` nor `sslrootcert`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct UrlTls {
    pub(super) rest: String,
    pub(super) mode: Option<TlsMode>,
    /// `None`: not given; `Some(None)`: `sslrootcert=system`.
    pub(super) root: Option<Option<PathBuf>>,
}

impl UrlTls {
    fn take(&mut self, key: &str, value: &str) -> Result<bool, OpenError> {
        let twice = |k: &str| OpenError::InvalidOption(format!("{k} is given twice"));
        match key {
            "sslmode" => {
                if self.mode.is_some() {
                    return Err(twice(key));
                }
                self.mode = Some(value.parse()?);
                Ok(true)
            }
            "sslrootcert" => {
                if self.root.is_some() {
                    return Err(twice(key));
                }
                self.root = Some((value != "system").then(|| PathBuf::from(value)));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Splits `sslmode` and `sslrootcert` out of a `postgresql://` URL or a
/// `key=value` connection string.
pub(super) fn split_url(url: &str) -> Result<UrlTls, OpenError> {
    let mut out = UrlTls::default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            out.rest = url.to_owned();
            return Ok(out);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !out.take(&decode(k)?, &decode(v)?)? {
                kept.push(pair);
            }
        }
        out.rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok(out);
    }
    let bad = |m: &str| OpenError::InvalidOption(format!("the PostgreSQL connection string: {m}"));
    let mut it = url.char_indices().peekable();
    let mut kept = Vec::new();
    loop {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = it.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = it.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if it.next_if(|(_, c)| *c == '=').is_none() {
            // Not quoted: a malformed string may have a secret there.
            return Err(bad("a parameter without ="));
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let quoted = it.next_if(|(_, c)| *c == '\'').is_some();
        let mut value = String::new();
        let mut closed = !quoted;
        while let Some((_, c)) = it.next() {
            if quoted && c == '\'' {
                closed = true;
                break;
            }
            if !quoted && c.is_whitespace() {
                break;
            }
            if c == '\\' {
                if let Some((_, next)) = it.next() {
                    value.push(next);
                }
            } else {
                value.push(c);
            }
            if !quoted && it.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                break;
            }
        }
        if !closed {
            return Err(bad("an unterminated quoted value"));
        }
        let end = it.peek().map_or(url.len(), |&(i, _)| i);
        if !out.take(&key, &value)? {
            kept.push(url.get(start..end).unwrap_or_default().trim_end());
        }
    }
    out.rest = kept.join(" ");
    Ok(out)
}

fn decode(s: &str) -> Result<String, OpenError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| {
            OpenError::InvalidOption("the PostgreSQL URL: a parameter is not UTF-8".into())
        })
}
