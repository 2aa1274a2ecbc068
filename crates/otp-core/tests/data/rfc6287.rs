//! RFC 6287 Appendix C's vectors as `rfc6287_ocra.toml` (beside this file)
//! holds them: the one reader of that file, included with `#[path]` by
//! every test that uses it (otp-core's vectors, the `otp ocra` binary's
//! tests, the keypad token's tests).
#![allow(
    dead_code,
    clippy::panic,
    reason = "each including test reads the fields it needs; a malformed data file stops the test"
)]

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
pub(crate) struct Rfc6287 {
    /// Where the rows were copied from.
    pub(crate) source: String,
    /// SHA-1 of the PIN 1234, hex (the `P` input of the `PSHA1` rows).
    pub pin_sha1: String,
    /// The Unix time of the RFC's time-step rows.
    pub(crate) time_unix: u64,
    /// The RFC's keys by name, hex.
    pub(crate) keys: BTreeMap<String, String>,
    /// The rows.
    pub(crate) vector: Vec<Vector>,
}

/// One row.
#[derive(Debug, Deserialize)]
pub(crate) struct Vector {
    pub(crate) section: String,
    pub(crate) suite: String,
    pub(crate) key: String,
    pub(crate) q: String,
    pub(crate) q_first: Option<String>,
    pub(crate) q_second: Option<String>,
    pub(crate) c: Option<u64>,
    #[serde(default)]
    pub(crate) p: bool,
    pub(crate) t_hex: Option<String>,
    pub(crate) ocra: String,
}

/// The file, parsed (it is compiled into the test, so no path is read at
/// run time).
pub(crate) fn load() -> Rfc6287 {
    match toml::from_str(include_str!("rfc6287_ocra.toml")) {
        Ok(data) => data,
        Err(e) => panic!("rfc6287_ocra.toml: {e}"),
    }
}
