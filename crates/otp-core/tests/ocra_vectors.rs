//! The RFC 6287 Appendix C test vectors, read from
//! `tests/data/rfc6287_ocra.toml`: every row computed with `ocra` and
//! accepted by `verify_ocra` (counter as the replay floor, time from the
//! clock). A failure names the vector.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure should stop the test"
)]

use otp_core::{
    Key, OcraInput, OcraParams, OcraResponse, OcraSuite, TokenState, Window, ocra, verify_ocra,
};

#[path = "data/rfc6287.rs"]
mod rfc6287;

use rfc6287::{Rfc6287, Vector, load};

/// Runs `check` on every vector and reports all failures at once.
fn each_vector(check: impl Fn(&Rfc6287, &Vector) -> Result<(), String>) {
    let data = load();
    let mut failures = Vec::new();
    for v in &data.vector {
        if let Err(e) = check(&data, v) {
            failures.push(format!(
                "{} {} {}: {e}; vector {v:?}",
                data.source, v.section, v.suite
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

struct Prepared {
    suite: OcraSuite,
    key: Key,
    pin: Vec<u8>,
    time_step: Option<u64>,
}

fn prepare(data: &Rfc6287, v: &Vector) -> Prepared {
    let suite = OcraSuite::parse(&v.suite).unwrap();
    let key = Key::new(suite.algorithm(), &hex::decode(&data.keys[&v.key]).unwrap()).unwrap();
    let pin = hex::decode(&data.pin_sha1).unwrap();
    let time_step = v
        .t_hex
        .as_ref()
        .map(|t| u64::from_str_radix(t, 16).unwrap());
    Prepared {
        suite,
        key,
        pin,
        time_step,
    }
}

/// The challenge as the RFC's table gives it (one question, or the two of
/// mutual mode, whose concatenation is the table's `Q`).
fn challenge<'a>(v: &'a Vector, pin: &'a [u8]) -> OcraInput<'a> {
    let mut input = match (&v.q_first, &v.q_second) {
        (Some(a), Some(b)) => {
            assert_eq!(
                format!("{a}{b}"),
                v.q,
                "the two challenges make the table's Q"
            );
            OcraInput::mutual(a, b)
        }
        _ => OcraInput::new(&v.q),
    };
    if v.p {
        input = input.with_password_hash(pin);
    }
    input
}

#[test]
fn the_data_file_has_every_appendix_c_row() {
    let data = load();
    let count = |section: &str| {
        data.vector
            .iter()
            .filter(|v| v.section.starts_with(section))
            .count()
    };
    // C.1: 10 + 10 + 5 + 10 + 5; C.2: 4 tables of 5; C.3: 5 + 5.
    assert_eq!((count("C.1"), count("C.2"), count("C.3")), (40, 20, 10));
    // The keys are the ASCII digits the RFC's hex spells.
    let digits = "1234567890".repeat(7);
    for (name, len) in [("standard20", 20), ("standard32", 32), ("standard64", 64)] {
        assert_eq!(
            hex::decode(&data.keys[name]).unwrap(),
            digits.as_bytes()[..len]
        );
    }
    // Appendix B's date is the vectors' minute.
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA512-8:QN08-T1M").unwrap();
    assert_eq!(suite.time_step_at(data.time_unix), Some(0x132d0b6));
}

#[test]
fn rfc6287_appendix_c_responses() {
    each_vector(|data, v| {
        let p = prepare(data, v);
        let mut input = challenge(v, &p.pin);
        if let Some(c) = v.c {
            input = input.with_counter(c);
        }
        if let Some(t) = p.time_step {
            input = input.with_time_step(t);
        }
        let got = ocra(&p.key, &p.suite, &input).map_err(|e| e.to_string())?;
        if got.to_string() == v.ocra {
            Ok(())
        } else {
            Err(format!("got {got}"))
        }
    });
}

#[test]
fn rfc6287_appendix_c_verify() {
    each_vector(|data, v| {
        let p = prepare(data, v);
        let input = challenge(v, &p.pin);
        let typed = OcraResponse::parse(&v.ocra, &p.suite).map_err(|e| e.to_string())?;
        // The counter is the replay floor; the clock is a step later than T,
        // inside the default ±1 window.
        let state = TokenState::starting_at(v.c.unwrap_or(0));
        let now = p.time_step.map_or(0, |t| (t + 1) * 60 + 17);
        let params = OcraParams {
            counter_window: Window::new(0, 3),
            ..OcraParams::default()
        };
        let verdict = verify_ocra(&p.key, &p.suite, &params, &state, &input, &typed, now)
            .map_err(|e| e.to_string())?;
        let accepted = verdict
            .outcome
            .as_ref()
            .map_err(|e| format!("refused: {e:?}"))?;
        if accepted.counter() != v.c || accepted.time_step() != p.time_step {
            return Err(format!("accepted at the wrong position: {accepted:?}"));
        }
        if p.time_step.is_some() && accepted.time_offset() != -1 {
            return Err(format!("wrong drift: {accepted:?}"));
        }
        // A wrong response is refused.
        let mut wrong = v.ocra.clone().into_bytes();
        wrong[0] = if wrong[0] == b'9' { b'0' } else { wrong[0] + 1 };
        let wrong = OcraResponse::parse(std::str::from_utf8(&wrong).unwrap(), &p.suite).unwrap();
        let refused = verify_ocra(&p.key, &p.suite, &params, &state, &input, &wrong, now).unwrap();
        if refused.is_accepted() {
            return Err("accepted a wrong response".into());
        }
        Ok(())
    });
}
