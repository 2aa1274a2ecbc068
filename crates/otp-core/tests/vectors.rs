//! The RFC test vectors, read from `tests/data/*.toml` (named after their
//! source). Every vector is checked; a failure names the vector.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failure should stop the test"
)]

use otp_core::{Algorithm, Digits, Key, TimeStep, hotp, totp};
use serde::Deserialize;

#[derive(Deserialize)]
struct Rfc4226 {
    source: String,
    secret_ascii: String,
    digits: u8,
    vector: Vec<HotpVector>,
}

#[derive(Deserialize, Debug)]
struct HotpVector {
    count: u64,
    hmac: String,
    truncated_hex: String,
    truncated: u32,
    hotp: String,
}

#[derive(Deserialize)]
struct Rfc6238 {
    source: String,
    t0: u64,
    step: u64,
    digits: u8,
    seeds: std::collections::BTreeMap<String, String>,
    vector: Vec<TotpVector>,
}

#[derive(Deserialize, Debug)]
struct TotpVector {
    time: u64,
    #[expect(
        dead_code,
        reason = "identifies the row in a failure message, through Debug"
    )]
    utc: String,
    t_hex: String,
    mode: String,
    totp: String,
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn rfc4226_appendix_d() {
    let data: Rfc4226 = load("rfc4226_hotp.toml");
    let key = Key::new(Algorithm::Sha1, data.secret_ascii.as_bytes()).unwrap();
    let digits = Digits::new(data.digits).unwrap();
    assert_eq!(data.vector.len(), 10, "{}: all ten counts", data.source);
    let mut failures = Vec::new();
    for v in &data.vector {
        let mut mac = [0u8; 20];
        key.hmac_counter(v.count, &mut mac);
        let truncated = key.truncated(v.count);
        let code = hotp(&key, v.count, digits).to_string();
        let hex_ok = u32::from_str_radix(&v.truncated_hex, 16) == Ok(v.truncated);
        if hex::encode(mac) != v.hmac || truncated != v.truncated || code != v.hotp || !hex_ok {
            failures.push(format!(
                "{} count {}: got hmac {} truncated {truncated} code {code}; want {v:?}",
                data.source,
                v.count,
                hex::encode(mac)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rfc6238_appendix_b() {
    let data: Rfc6238 = load("rfc6238_totp.toml");
    let step = TimeStep::new(data.step, data.t0).unwrap();
    let digits = Digits::new(data.digits).unwrap();
    assert_eq!(data.vector.len(), 18, "{}: all 18 rows", data.source);
    let mut failures = Vec::new();
    for v in &data.vector {
        let algorithm = Algorithm::from_name(&v.mode).unwrap();
        let key = Key::new(algorithm, data.seeds[&v.mode].as_bytes()).unwrap();
        let t = step.step_at(v.time).unwrap();
        let code = totp(&key, &step, v.time, digits).unwrap().to_string();
        if format!("{t:016X}") != v.t_hex || code != v.totp {
            failures.push(format!(
                "{}: got T {t:016X} code {code}; want {v:?}",
                data.source
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
