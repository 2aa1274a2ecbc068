//! Verification throughput: otp-core against `totp-rs`, `totp-rfc` and the
//! SHA compression floor, in one run so that ratios come from one machine;
//! and OCRA (RFC 6287) verification beside it: a time suite with a ±1 step
//! window and a counter suite with a look-ahead of 10.
//!
//!     cargo bench -p otp-benches --bench verify
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark binary: setup failures should stop it"
)]

use core::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use otp_core::{
    Algorithm, Code, Digits, Key, OcraInput, OcraParams, OcraResponse, OcraSuite, Params, TimeStep,
    TokenState, Window, hotp, ocra, verify, verify_ocra,
};

const NOW: u64 = 1_790_000_000;

fn secret(algorithm: Algorithm) -> &'static [u8] {
    // The RFC 6238 seeds, one per hash.
    match algorithm {
        Algorithm::Sha256 => b"12345678901234567890123456789012",
        Algorithm::Sha512 => b"1234567890123456789012345678901234567890123456789012345678901234",
        _ => b"12345678901234567890",
    }
}

/// A 6-digit code that no step in `clock - w ..= clock + w` produces.
fn wrong_code(key: &Key, clock: u64, w: u64) -> Code {
    (0..1_000_000)
        .map(|v| Code::from_value(v, Digits::Six).unwrap())
        .find(|c| {
            ((clock - w)..=(clock + w)).all(|p| hotp(key, p, Digits::Six).value() != c.value())
        })
        .unwrap()
}

fn bench_verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    let step = TimeStep::default();
    let clock = step.step_at(NOW).unwrap();

    // The floor: independent single-block compressions, six per iteration
    // (the cost of a ±1 window: 3 candidates x 2 blocks).
    let block = [0x5au8; 64];
    g.bench_function("floor/SHA1 6 compressions", |b| {
        b.iter(|| {
            let mut s = [[
                0x6745_2301u32,
                0xEFCD_AB89,
                0x98BA_DCFE,
                0x1032_5476,
                0xC3D2_E1F0,
            ]; 6];
            for (i, st) in (0u32..).zip(s.iter_mut()) {
                st[0] ^= black_box(i);
                sha1::block_api::compress(st, core::slice::from_ref(black_box(&block)));
            }
            black_box(s)
        });
    });
    g.bench_function("floor/SHA256 6 compressions", |b| {
        b.iter(|| {
            let mut s = [[0x6a09_e667u32; 8]; 6];
            for (i, st) in (0u32..).zip(s.iter_mut()) {
                st[0] ^= black_box(i);
                sha2::block_api::compress256(st, core::slice::from_ref(black_box(&block)));
            }
            black_box(s)
        });
    });
    let block512 = [0x5au8; 128];
    g.bench_function("floor/SHA512 6 compressions", |b| {
        b.iter(|| {
            let mut s = [[0x6a09_e667_f3bc_c908u64; 8]; 6];
            for (i, st) in (0u32..).zip(s.iter_mut()) {
                st[0] ^= black_box(u64::from(i));
                sha2::block_api::compress512(st, core::slice::from_ref(black_box(&block512)));
            }
            black_box(s)
        });
    });

    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let key = Key::new(algorithm, secret(algorithm)).unwrap();
        g.bench_function(BenchmarkId::new("otp-core/generate", algorithm), |b| {
            b.iter(|| hotp(black_box(&key), black_box(clock), Digits::Six));
        });
        for w in [1u16, 10] {
            let params = Params {
                window: Window::new(w, w),
                ..Params::totp(step)
            };
            let right = hotp(&key, clock, Digits::Six);
            let wrong = wrong_code(&key, clock, u64::from(w));
            let state = TokenState::new();
            for (name, code) in [("right", right), ("wrong", wrong)] {
                let id = BenchmarkId::new(format!("otp-core/verify ±{w} {name}"), algorithm);
                g.bench_function(id, |b| {
                    b.iter(|| {
                        verify(
                            black_box(&key),
                            &params,
                            &state,
                            black_box(&code),
                            black_box(NOW),
                        )
                    });
                });
            }
        }
    }

    // totp-rs 6: `check` exits at the first match; a wrong code is its
    // worst case. Note that it does no replay or lockout bookkeeping.
    for (algorithm, theirs) in [
        (Algorithm::Sha1, totp_rs::Algorithm::SHA1),
        (Algorithm::Sha256, totp_rs::Algorithm::SHA256),
        (Algorithm::Sha512, totp_rs::Algorithm::SHA512),
    ] {
        let key = Key::new(algorithm, secret(algorithm)).unwrap();
        for w in [1u16, 10] {
            let totp = totp_rs::Builder::new()
                .with_algorithm(theirs)
                .with_secret(secret(algorithm).to_vec())
                .with_skew(w)
                .build()
                .unwrap();
            let right = hotp(&key, clock, Digits::Six).to_string();
            let wrong = wrong_code(&key, clock, u64::from(w)).to_string();
            assert!(totp.check(&right, NOW).is_some() && totp.check(&wrong, NOW).is_none());
            for (name, code) in [("right", &right), ("wrong", &wrong)] {
                let id = BenchmarkId::new(format!("totp-rs/check ±{w} {name}"), algorithm);
                g.bench_function(id, |b| {
                    b.iter(|| totp.check(black_box(code), black_box(NOW)))
                });
            }
        }
    }

    // totp-rfc 0.1: constant-time window scan, re-keys HMAC per candidate.
    for (algorithm, theirs) in [
        (Algorithm::Sha1, totp_rfc::Algorithm::Sha1),
        (Algorithm::Sha256, totp_rfc::Algorithm::Sha256),
        (Algorithm::Sha512, totp_rfc::Algorithm::Sha512),
    ] {
        let key = Key::new(algorithm, secret(algorithm)).unwrap();
        let totp = totp_rfc::Totp::new(theirs, totp_rfc::Digits::new(6).unwrap(), 30, 0).unwrap();
        let their_secret = totp_rfc::Secret::new(secret(algorithm)).unwrap();
        for w in [1u16, 10] {
            let window = totp_rfc::ValidationWindow::new(w, w);
            let right = hotp(&key, clock, Digits::Six).to_string();
            let wrong = wrong_code(&key, clock, u64::from(w)).to_string();
            for (name, code) in [("right", &right), ("wrong", &wrong)] {
                let id = BenchmarkId::new(format!("totp-rfc/verify_window ±{w} {name}"), algorithm);
                g.bench_function(id, |b| {
                    b.iter(|| {
                        totp.verify_window(&their_secret, black_box(NOW), window, black_box(code))
                    });
                });
            }
        }
    }
    g.finish();
}

/// A response for `suite` that no position in the windows produces.
fn wrong_response(suite: &OcraSuite, right: &[String]) -> OcraResponse {
    (0..1_000_000u32)
        .map(|v| format!("{v:06}"))
        .find(|text| !right.contains(text))
        .map(|text| OcraResponse::parse(&text, suite).unwrap())
        .unwrap()
}

/// OCRA verification: `OCRA-1:HOTP-<hash>-6:QN08-T1M` over ±1 minute (3
/// candidates, like TOTP's ±1 above) and `OCRA-1:HOTP-<hash>-6:C-QN08` over
/// a look-ahead of 10 counters (11 candidates), right and wrong responses.
fn bench_ocra(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    let challenge = OcraInput::new("31415926");
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let key = Key::new(algorithm, secret(algorithm)).unwrap();
        let name = algorithm.name();

        let suite = OcraSuite::parse(&format!("OCRA-1:HOTP-{name}-6:QN08-T1M")).unwrap();
        let clock = suite.time_step_at(NOW).unwrap();
        let params = OcraParams::default();
        let rights: Vec<String> = (clock - 1..=clock + 1)
            .map(|t| {
                ocra(&key, &suite, &challenge.with_time_step(t))
                    .unwrap()
                    .to_string()
            })
            .collect();
        let right = OcraResponse::parse(rights.get(1).unwrap(), &suite).unwrap();
        let wrong = wrong_response(&suite, &rights);
        let state = TokenState::new();
        for (which, response) in [("right", right), ("wrong", wrong)] {
            let id = BenchmarkId::new(format!("otp-core/ocra QN08-T1M ±1 {which}"), algorithm);
            g.bench_function(id, |b| {
                b.iter(|| {
                    verify_ocra(
                        black_box(&key),
                        &suite,
                        &params,
                        &state,
                        black_box(&challenge),
                        black_box(&response),
                        black_box(NOW),
                    )
                });
            });
        }

        let suite = OcraSuite::parse(&format!("OCRA-1:HOTP-{name}-6:C-QN08")).unwrap();
        let params = OcraParams {
            counter_window: Window::new(0, 10),
            ..OcraParams::default()
        };
        let floor = 1_000u64;
        let rights: Vec<String> = (floor..=floor + 10)
            .map(|c| {
                ocra(&key, &suite, &challenge.with_counter(c))
                    .unwrap()
                    .to_string()
            })
            .collect();
        let right = OcraResponse::parse(rights.get(5).unwrap(), &suite).unwrap();
        let wrong = wrong_response(&suite, &rights);
        let state = TokenState::starting_at(floor);
        for (which, response) in [("right", right), ("wrong", wrong)] {
            let id = BenchmarkId::new(format!("otp-core/ocra C-QN08 +10 {which}"), algorithm);
            g.bench_function(id, |b| {
                b.iter(|| {
                    verify_ocra(
                        black_box(&key),
                        &suite,
                        &params,
                        &state,
                        black_box(&challenge),
                        black_box(&response),
                        black_box(NOW),
                    )
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_verify, bench_ocra);
criterion_main!(benches);
