//! dudect-style timing test of `otp_core::verify` (Reparaz, Balasch and
//! Verbauwhede, "Dude, is my code constant time?", DATE 2017): for each
//! pair of input classes, verifications of randomly interleaved classes
//! are timed one by one, and Welch's t statistic compares the two timing
//! distributions, raw and cropped at several percentiles (which removes
//! the long tail of interrupts). |t| < 4.5 passes, as in the paper.
//!
//! ```text
//! cargo build --release --manifest-path timing/Cargo.toml
//! taskset -c 1 timing/target/release/dudect [measurements per pair] [pair ...]
//! ```
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use otp_core::{Algorithm, Code, verify};
use otp_timing::{Fixture, Moments, NOW, Rng, welch_t};

/// Percentiles of the pooled warm-up timings at which the data is cropped.
const CROPS: [f64; 6] = [0.50, 0.75, 0.90, 0.95, 0.99, 0.999];
const BATCH: usize = 100_000;

struct Pair {
    name: &'static str,
    what: &'static str,
    algorithm: Algorithm,
    window: u16,
    /// The input of class 0 or 1.
    input: fn(&Fixture, &mut Rng, bool) -> Code,
}

const PAIRS: [Pair; 8] = [
    Pair {
        name: "right_vs_wrong",
        what: "the right code (centre) vs a random wrong code, ±1",
        algorithm: Algorithm::Sha1,
        window: 1,
        input: |f, rng, one| if one { f.wrong_code(rng) } else { f.code_at(0) },
    },
    Pair {
        name: "first_vs_last",
        what: "a match at the first vs the last window position, ±1",
        algorithm: Algorithm::Sha1,
        window: 1,
        input: |f, _, one| if one { f.code_at(1) } else { f.code_at(-1) },
    },
    Pair {
        name: "first_vs_last_w10",
        what: "a match at the first vs the last position of the ±10 first-use window",
        algorithm: Algorithm::Sha1,
        window: 10,
        input: |f, _, one| if one { f.code_at(10) } else { f.code_at(-10) },
    },
    Pair {
        name: "first_vs_last_digit",
        what: "the right code with its first vs its last digit changed, ±1",
        algorithm: Algorithm::Sha1,
        window: 1,
        input: |f, rng, one| f.differing_digit(rng, if one { 0 } else { 5 }),
    },
    Pair {
        name: "centre_vs_last",
        what: "diagnostic: a match at the centre vs the last position (same offset sign), ±1",
        algorithm: Algorithm::Sha1,
        window: 1,
        input: |f, _, one| if one { f.code_at(1) } else { f.code_at(0) },
    },
    Pair {
        name: "first_vs_centre",
        what: "diagnostic: a match at the first position vs the centre (offset sign differs), ±1",
        algorithm: Algorithm::Sha1,
        window: 1,
        input: |f, _, one| if one { f.code_at(0) } else { f.code_at(-1) },
    },
    Pair {
        name: "right_vs_wrong_sha256",
        what: "the right code vs a random wrong code, HMAC-SHA-256, ±1",
        algorithm: Algorithm::Sha256,
        window: 1,
        input: |f, rng, one| if one { f.wrong_code(rng) } else { f.code_at(0) },
    },
    Pair {
        name: "control_wrong_vs_wrong",
        what: "control: random wrong codes in both classes (must pass)",
        algorithm: Algorithm::Sha1,
        window: 1,
        input: |f, rng, _| f.wrong_code(rng),
    },
];

/// Times one batch: classes and inputs are drawn first, then each
/// verification is timed alone.
fn batch(f: &Fixture, rng: &mut Rng, pair: &Pair, out: &mut Vec<(bool, f64)>) {
    let inputs: Vec<(bool, Code)> = (0..BATCH)
        .map(|_| {
            let class = rng.bit();
            (class, (pair.input)(f, rng, class))
        })
        .collect();
    out.clear();
    for (class, code) in &inputs {
        let start = Instant::now();
        let v = verify(
            black_box(&f.key),
            black_box(&f.params),
            black_box(&f.state),
            black_box(code),
            black_box(NOW),
        );
        let _ = black_box(v);
        let ns = start.elapsed().as_nanos();
        #[allow(clippy::cast_precision_loss, reason = "nanoseconds of one call")]
        out.push((*class, ns as f64));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short sorted sample"
    )]
    let i = ((sorted.len() as f64 - 1.0) * p) as usize;
    sorted.get(i).copied().unwrap_or(f64::MAX)
}

fn run(pair: &Pair, measurements: usize, seed: u64) -> Option<f64> {
    let mut rng = Rng::new(seed);
    let f = Fixture::new(&mut rng, pair.algorithm, pair.window)?;
    let mut times = Vec::with_capacity(BATCH);
    // Warm-up: caches, branch predictors, frequency; also sets the crops.
    batch(&f, &mut rng, pair, &mut times);
    let mut pooled: Vec<f64> = times.iter().map(|t| t.1).collect();
    pooled.sort_by(f64::total_cmp);
    let thresholds: Vec<f64> = CROPS.iter().map(|p| percentile(&pooled, *p)).collect();
    if std::env::var_os("DUDECT_HIST").is_some() {
        // The most frequent timings of each class in the warm-up batch:
        // the clock's granularity shows here.
        for class in [false, true] {
            let mut counts = std::collections::BTreeMap::<u64, u32>::new();
            for &(c, t) in &times {
                if c == class {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "whole nanoseconds"
                    )]
                    let key = t as u64;
                    *counts.entry(key).or_default() += 1;
                }
            }
            let mut top: Vec<_> = counts.into_iter().collect();
            top.sort_by_key(|e| core::cmp::Reverse(e.1));
            top.truncate(8);
            println!("  class {}: {top:?}", u8::from(class));
        }
    }
    let mut raw = [Moments::default(); 2];
    let mut cropped = vec![[Moments::default(); 2]; CROPS.len()];
    let mut done = 0;
    while done < measurements {
        batch(&f, &mut rng, pair, &mut times);
        for &(class, t) in &times {
            let c = usize::from(class);
            raw.get_mut(c)?.push(t);
            for (m, limit) in cropped.iter_mut().zip(&thresholds) {
                if t <= *limit {
                    m.get_mut(c)?.push(t);
                }
            }
        }
        done += times.len();
    }
    let t_raw = welch_t(&raw[0], &raw[1]);
    let mut worst = t_raw.abs();
    let mut crops = String::new();
    for (m, p) in cropped.iter().zip(CROPS) {
        let t = welch_t(&m[0], &m[1]);
        worst = worst.max(t.abs());
        crops.push_str(&format!(" p{:<5} {t:+6.2}", p * 100.0));
    }
    println!(
        "{:<24} n={:>9} mean {:7.1} / {:7.1} ns  t(raw) {t_raw:+6.2} {crops}  max|t| {worst:5.2} {}",
        pair.name,
        done,
        raw[0].mean,
        raw[1].mean,
        if worst < 4.5 { "PASS" } else { "LEAK?" }
    );
    Some(worst)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let measurements: usize = args
        .next()
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(2_000_000);
    let wanted: Vec<String> = args.collect();
    println!(
        "dudect: {measurements} measurements per pair, SHA-NI lockstep: {}",
        otp_core::lockstep_available()
    );
    for p in &PAIRS {
        println!("  {:<24} {}", p.name, p.what);
    }
    let mut failed = false;
    for (i, pair) in (1u64..).zip(&PAIRS) {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == pair.name) {
            continue;
        }
        match run(pair, measurements, 0x0070_7000 + i) {
            Some(worst) => failed |= worst >= 4.5,
            None => {
                eprintln!("{}: could not build the fixture", pair.name);
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
