//! dudect-style timing test of `otp_core::verify_ocra`, the OCRA (RFC 6287)
//! verifier, in the manner of `dudect` (the TOTP one): for each pair of
//! input classes, verifications of randomly interleaved classes are timed
//! one by one, and Welch's t statistic compares the two timing
//! distributions, raw and cropped at several percentiles. |t| < 4.5 passes.
//!
//! Two suites, each with the default windows of `OcraParams` (one pair
//! narrows the counter window to see the harness's sensitivity): a counter
//! suite, `OCRA-1:HOTP-SHA1-6:C-QN08` (counters floor − 1 to floor + 10:
//! 12 candidates, the first a replay), and a time suite,
//! `OCRA-1:HOTP-SHA256-8:QN08-T1M` (steps clock − 1 to clock + 1). Within a
//! pair the key, suite, windows, state, challenge and instant are the same;
//! only the typed response differs. Every timed call is then checked for
//! the outcome its class must have (outside the timed region).
//!
//! ```text
//! cargo build --release --manifest-path timing/Cargo.toml
//! taskset -c 1 timing/target/release/dudect_ocra [measurements per pair] [pair ...]
//! ```
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use otp_core::{OcraParams, OcraResponse, Window, verify_ocra};
use otp_timing::{Moments, NOW, OcraFixture, Rng, welch_t};

/// Percentiles of the pooled warm-up timings at which the data is cropped.
const CROPS: [f64; 6] = [0.50, 0.75, 0.90, 0.95, 0.99, 0.999];
const BATCH: usize = 100_000;

const COUNTER: &str = "OCRA-1:HOTP-SHA1-6:C-QN08";
const TIME: &str = "OCRA-1:HOTP-SHA256-8:QN08-T1M";
/// `OcraParams::default()` (which is not `const`).
const DEFAULT: OcraParams = OcraParams {
    counter_window: Window::new(1, 10),
    time_window: Window::new(1, 1),
    max_failures: 6,
};
/// The counter suite's window reduced to the floor alone: one candidate,
/// a call 12 times shorter, to see whether this harness can see the
/// outcome branch in a counter suite at all.
const FLOOR_ONLY: OcraParams = OcraParams {
    counter_window: Window::new(0, 0),
    ..DEFAULT
};

struct Pair {
    name: &'static str,
    what: &'static str,
    suite: &'static str,
    /// The windows.
    params: OcraParams,
    /// Whether class 0 and class 1 are accepted.
    accepted: [bool; 2],
    /// The input of class 0 or 1.
    input: fn(&OcraFixture, &mut Rng, bool) -> Option<OcraResponse>,
}

const PAIRS: [Pair; 11] = [
    Pair {
        name: "c_first_vs_last",
        what: "counter: a match at the floor (first fresh) vs floor + 10 (last candidate)",
        suite: COUNTER,
        params: DEFAULT,
        accepted: [true, true],
        input: |f, _, one| f.response_at(if one { 10 } else { 0 }),
    },
    Pair {
        name: "c_first_vs_last_digit",
        what: "counter: the floor's response with its first vs its last digit changed",
        suite: COUNTER,
        params: DEFAULT,
        accepted: [false, false],
        input: |f, rng, one| f.differing_digit(rng, if one { 5 } else { 0 }),
    },
    Pair {
        name: "c_replay_vs_wrong",
        what: "counter: floor − 1 (first candidate: a replay) vs a random wrong response (the refusal differs)",
        suite: COUNTER,
        params: DEFAULT,
        accepted: [false, false],
        input: |f, rng, one| if one { f.wrong(rng) } else { f.response_at(-1) },
    },
    Pair {
        name: "c_right_vs_wrong",
        what: "counter: a match at the floor vs a random wrong response (the outcome differs)",
        suite: COUNTER,
        params: DEFAULT,
        accepted: [true, false],
        input: |f, rng, one| if one { f.wrong(rng) } else { f.response_at(0) },
    },
    Pair {
        name: "c_control",
        what: "counter: control, random wrong responses in both classes (must pass)",
        suite: COUNTER,
        params: DEFAULT,
        accepted: [false, false],
        input: |f, rng, _| f.wrong(rng),
    },
    Pair {
        name: "t_first_vs_last",
        what: "time: a match at clock − 1 (first candidate) vs clock + 1 (last)",
        suite: TIME,
        params: DEFAULT,
        accepted: [true, true],
        input: |f, _, one| f.response_at(if one { 1 } else { -1 }),
    },
    Pair {
        name: "t_first_vs_last_digit",
        what: "time: the clock's response with its first vs its last digit changed",
        suite: TIME,
        params: DEFAULT,
        accepted: [false, false],
        input: |f, rng, one| f.differing_digit(rng, if one { 7 } else { 0 }),
    },
    Pair {
        name: "t_first_vs_wrong",
        what: "time: a match at clock − 1 vs a random wrong response (the outcome differs)",
        suite: TIME,
        params: DEFAULT,
        accepted: [true, false],
        input: |f, rng, one| if one { f.wrong(rng) } else { f.response_at(-1) },
    },
    Pair {
        name: "t_control",
        what: "time: control, random wrong responses in both classes (must pass)",
        suite: TIME,
        params: DEFAULT,
        accepted: [false, false],
        input: |f, rng, _| f.wrong(rng),
    },
    Pair {
        name: "c_replay_vs_last",
        what: "counter: floor − 1 (a replay) vs floor + 10 (accepted) (the outcome differs)",
        suite: COUNTER,
        params: DEFAULT,
        accepted: [false, true],
        input: |f, _, one| f.response_at(if one { 10 } else { -1 }),
    },
    Pair {
        name: "c0_right_vs_wrong",
        what: "counter, window 0/0 (sensitivity): the floor's response vs a wrong one (the outcome differs)",
        suite: COUNTER,
        params: FLOOR_ONLY,
        accepted: [true, false],
        input: |f, rng, one| if one { f.wrong(rng) } else { f.response_at(0) },
    },
];

/// Times one batch: classes and inputs are drawn first, then each
/// verification is timed alone. Returns the number of outcomes that were
/// not the class's, or `None` when an input could not be made.
fn batch(f: &OcraFixture, rng: &mut Rng, pair: &Pair, out: &mut Vec<(bool, f64)>) -> Option<usize> {
    let inputs = (0..BATCH)
        .map(|_| {
            let class = rng.bit();
            Some((class, (pair.input)(f, rng, class)?))
        })
        .collect::<Option<Vec<(bool, OcraResponse)>>>()?;
    let challenge = f.input();
    let mut wrong_outcomes = 0;
    out.clear();
    for (class, response) in &inputs {
        let start = Instant::now();
        let v = verify_ocra(
            black_box(&f.key),
            black_box(&f.suite),
            black_box(&f.params),
            black_box(&f.state),
            black_box(&challenge),
            black_box(response),
            black_box(NOW),
        );
        let v = black_box(v);
        let ns = start.elapsed().as_nanos();
        let expected = pair.accepted.get(usize::from(*class)).copied();
        if v.map(|v| v.is_accepted()).ok() != expected {
            wrong_outcomes += 1;
        }
        #[allow(clippy::cast_precision_loss, reason = "nanoseconds of one call")]
        out.push((*class, ns as f64));
    }
    Some(wrong_outcomes)
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

/// The largest |t|, or `None` when the fixture or an input could not be
/// made or an outcome was not its class's.
fn run(pair: &Pair, measurements: usize, seed: u64) -> Option<f64> {
    let mut rng = Rng::new(seed);
    let f = OcraFixture::with_params(&mut rng, pair.suite, pair.params)?;
    let mut times = Vec::with_capacity(BATCH);
    // Warm-up: caches, branch predictors, frequency; also sets the crops.
    let mut wrong_outcomes = batch(&f, &mut rng, pair, &mut times)?;
    let mut pooled: Vec<f64> = times.iter().map(|t| t.1).collect();
    pooled.sort_by(f64::total_cmp);
    let thresholds: Vec<f64> = CROPS.iter().map(|p| percentile(&pooled, *p)).collect();
    let mut raw = [Moments::default(); 2];
    let mut cropped = vec![[Moments::default(); 2]; CROPS.len()];
    let mut done = 0;
    while done < measurements {
        wrong_outcomes += batch(&f, &mut rng, pair, &mut times)?;
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
    if wrong_outcomes != 0 {
        eprintln!(
            "{}: {wrong_outcomes} outcomes were not their class's",
            pair.name
        );
        return None;
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
        "{:<22} n={:>9} mean {:7.1} / {:7.1} ns  t(raw) {t_raw:+6.2} {crops}  max|t| {worst:5.2} {}",
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
        .unwrap_or(1_000_000);
    let wanted: Vec<String> = args.collect();
    if DEFAULT != OcraParams::default() {
        eprintln!("DEFAULT is no longer OcraParams::default(): update it");
        std::process::exit(2);
    }
    println!(
        "dudect_ocra: {measurements} measurements per pair, SHA-NI lockstep: {}",
        otp_core::lockstep_available()
    );
    for p in &PAIRS {
        println!("  {:<22} {}", p.name, p.what);
    }
    let mut failed = false;
    for (i, pair) in (1u64..).zip(&PAIRS) {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == pair.name) {
            continue;
        }
        match run(pair, measurements, 0x0C7A_0000 + i) {
            Some(worst) => failed |= worst >= 4.5,
            None => {
                eprintln!("{}: could not build the fixture or its inputs", pair.name);
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
