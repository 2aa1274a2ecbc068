//! ctgrind-style check (Adam Langley's technique): the secret key bytes and
//! the typed code are marked *undefined* for valgrind's memcheck, then the
//! verifier runs. memcheck reports every conditional jump, and every memory
//! address, computed from an undefined value, so a report inside the
//! hashing, truncation, reduction or comparison would be a secret-dependent
//! branch or memory index. The outcome is public by design: the verifier
//! branches on it once, at the end, to build its result; those branches are
//! the only reports expected. The harness marks the returned result defined
//! before it looks at it.
//!
//! `ctgrind ocra` does the same for OCRA (RFC 6287): the key, the typed
//! response's digits and, for a suite with `P`, the password hash are
//! undefined while `verify_ocra` computes and compares every candidate of
//! its counter and time windows.
//!
//! ```text
//! cargo build --release --manifest-path timing/Cargo.toml
//! valgrind --error-exitcode=0 --track-origins=yes timing/target/release/ctgrind
//! valgrind --error-exitcode=0 --track-origins=yes timing/target/release/ctgrind ocra
//! ```
//!
//! Without valgrind the client requests are no-ops and the program just
//! runs the verifications.
#![deny(unsafe_code)]

use otp_core::{
    Algorithm, Code, Digits, Key, Mode, OcraInput, OcraParams, OcraResponse, OcraSuite, Params,
    TimeStep, TokenState, Verification, Window, hotp, ocra, resync, verify, verify_ocra,
};

/// Valgrind client requests, as in `valgrind/memcheck.h`.
mod vg {
    /// `VG_USERREQ_TOOL_BASE('M', 'C')`.
    const MEMCHECK_BASE: usize = ((b'M' as usize) << 24) | ((b'C' as usize) << 16);
    const MAKE_MEM_UNDEFINED: usize = MEMCHECK_BASE + 1;
    const MAKE_MEM_DEFINED: usize = MEMCHECK_BASE + 2;

    /// Issues a client request; returns `default` when not under valgrind.
    #[cfg(target_arch = "x86_64")]
    #[allow(
        unsafe_code,
        reason = "valgrind's client request is a magic no-op instruction sequence that only \
                  valgrind interprets; it reads the six-word argument block and writes rdx. \
                  Natively the rotations sum to 128 bits (rdi unchanged) and `xchg rbx, rbx` \
                  does nothing. The sequence is the one `valgrind.h` emits for amd64."
    )]
    fn request(args: &[usize; 6], default: usize) -> usize {
        let result: usize;
        // SAFETY: see the lint reason above; the asm touches only rdx
        // (declared) and reads `args`, which outlives the call.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") default => result,
                inout("rdi") 0usize => _,
                options(nostack, preserves_flags),
            );
        }
        result
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn request(_: &[usize; 6], default: usize) -> usize {
        default
    }

    fn mark<T: ?Sized>(what: usize, value: &T) {
        let addr = core::ptr::from_ref(value).cast::<u8>() as usize;
        let _ = request(&[what, addr, size_of_val(value), 0, 0, 0], 0);
    }

    /// Marks the bytes of `value` as holding secret (undefined) data.
    pub(crate) fn poison<T: ?Sized>(value: &T) {
        mark(MAKE_MEM_UNDEFINED, value);
    }

    /// Marks the bytes of `value` as public (defined) again.
    pub(crate) fn unpoison<T: ?Sized>(value: &T) {
        mark(MAKE_MEM_DEFINED, value);
    }

    /// Whether the program runs under valgrind (`RUNNING_ON_VALGRIND`).
    pub(crate) fn running_on_valgrind() -> bool {
        request(&[0x1001, 0, 0, 0, 0, 0], 0) != 0
    }
}

/// A code whose value (not its public digit count) is undefined for
/// memcheck. `Code::from_value` range-checks the value, a branch on it: in
/// production that check belongs to `Code::parse`, which is documented as
/// branching on what was typed, so memcheck's one report there (in
/// `from_value`, called from this harness) is expected and is not the
/// verifier's.
fn poisoned_code(code: Code) -> Code {
    let value = std::hint::black_box(code.value());
    // `CTGRIND_KEY_ONLY=1` poisons the key alone, to see that the key's
    // undefinedness by itself reaches the outcome (and nothing before it).
    if std::env::var_os("CTGRIND_KEY_ONLY").is_none() {
        vg::poison(&value);
    }
    Code::from_value(value, code.digits()).unwrap_or(code)
}

fn check(label: &str, v: Verification, expect_accepted: bool) -> bool {
    // The outcome is public from here on: the verifier has returned it.
    vg::unpoison(&v);
    let ok = v.is_accepted() == expect_accepted;
    println!(
        "{label:<44} {:<9} {}",
        if v.is_accepted() {
            "accepted"
        } else {
            "refused"
        },
        if ok { "as expected" } else { "UNEXPECTED" }
    );
    ok
}

/// The canary (`ctgrind canary`): code that does leak, so that the check
/// can be seen to fail. A table lookup indexed by a secret byte (memcheck:
/// "Use of uninitialised value", an address) and an early-exit comparison
/// of the secret with a guess (memcheck: "Conditional jump or move").
fn canary() {
    let secret: Vec<u8> = (0..20u8).map(|i| i.wrapping_mul(37)).collect();
    vg::poison(secret.as_slice());
    let table: [u8; 256] = core::array::from_fn(|i| i.to_le_bytes()[0]);
    let index = usize::from(secret.first().copied().unwrap_or(0));
    let looked_up = std::hint::black_box(&table).get(index).copied();
    let guess = [0u8; 20];
    let equal = secret.iter().zip(&guess).all(|(a, b)| a == b);
    vg::unpoison(&looked_up);
    vg::unpoison(&equal);
    println!("canary: looked up {looked_up:?}, equal {equal}: memcheck must report both");
}

/// One OCRA suite under test: its key length, and the right responses by
/// (label, counter offset from the floor, time offset from the clock,
/// accepted). A wrong response is added to each. A suite with `P` gets
/// the password hash of "1234", poisoned like the key.
struct OcraCase {
    suite: &'static str,
    secret_len: u8,
    right: &'static [(&'static str, i64, i64, bool)],
}

/// The replay floor of the counter suites.
const OCRA_FLOOR: u64 = 1_000;

const OCRA_CASES: [OcraCase; 5] = [
    OcraCase {
        suite: "OCRA-1:HOTP-SHA1-6:C-QN08",
        secret_len: 20,
        right: &[
            ("floor - 1 (first candidate, a replay)", -1, 0, false),
            ("floor", 0, 0, true),
            ("floor + 10 (last candidate)", 10, 0, true),
        ],
    },
    OcraCase {
        suite: "OCRA-1:HOTP-SHA256-8:QN08-T1M",
        secret_len: 32,
        right: &[
            ("clock - 1", 0, -1, true),
            ("clock", 0, 0, true),
            ("clock + 1", 0, 1, true),
        ],
    },
    OcraCase {
        suite: "OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1",
        secret_len: 64,
        right: &[("floor", 0, 0, true), ("floor + 10", 10, 0, true)],
    },
    OcraCase {
        suite: "OCRA-1:HOTP-SHA256-8:C-QN08-T1M",
        secret_len: 32,
        right: &[
            ("floor + 3, clock - 1", 3, -1, true),
            ("floor + 10, clock + 1", 10, 1, true),
        ],
    },
    OcraCase {
        suite: "OCRA-1:HOTP-SHA1-0:QA08",
        secret_len: 20,
        right: &[("the full HMAC", 0, 0, true)],
    },
];

/// The OCRA cases (`ctgrind ocra`). The responses are computed with an
/// unpoisoned key; then the secret is poisoned before the key absorbs it,
/// and each typed response's value (`as_bytes`, inside the response; its
/// digit count and length are the suite's, public) is poisoned before
/// `verify_ocra` sees it.
fn ocra_cases() -> bool {
    let now = 1_790_000_405;
    let params = OcraParams::default();
    // `CTGRIND_KEY_ONLY=1` poisons the key (and password hash) alone,
    // `CTGRIND_RESPONSE_ONLY=1` the typed response alone: each must reach
    // the outcome by itself.
    let poison_typed = std::env::var_os("CTGRIND_KEY_ONLY").is_none();
    let poison_key = std::env::var_os("CTGRIND_RESPONSE_ONLY").is_none();
    let mut all = true;
    for case in &OCRA_CASES {
        let Ok(suite) = OcraSuite::parse(case.suite) else {
            eprintln!("suite {}", case.suite);
            std::process::exit(2);
        };
        let secret: Vec<u8> = (0..case.secret_len)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        // SHA-1 of "1234" (RFC 6287 Appendix C), secret like the key.
        let pin_sha1: [u8; 20] = [
            0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4, 0xa3, 0x90, 0xb0, 0xa5,
            0x72, 0xac, 0x0d, 0x2c, 0x02, 0x20,
        ];
        let mut challenge = OcraInput::new("12345678");
        if suite.password_hash().is_some() {
            challenge = challenge.with_password_hash(&pin_sha1);
        }
        let state = if suite.counter() {
            TokenState::starting_at(OCRA_FLOOR)
        } else {
            TokenState::new()
        };
        let clock = suite.time_step_at(now);
        let respond = |key: &Key, c: i64, t: i64| {
            let mut input = challenge;
            if suite.counter() {
                input = input.with_counter(OCRA_FLOOR.saturating_add_signed(c));
            }
            if let Some(clock) = clock {
                input = input.with_time_step(clock.saturating_add_signed(t));
            }
            ocra(key, &suite, &input).map(|r| r.to_string())
        };
        // What the token would show at each case, and every response the
        // windows hold (to build a wrong one), with an unpoisoned key.
        let (texts, window) = match Key::new(suite.algorithm(), &secret) {
            Ok(k) => {
                let texts: Result<Vec<String>, _> =
                    case.right.iter().map(|r| respond(&k, r.1, r.2)).collect();
                let mut window = Vec::new();
                let counters = if suite.counter() { -1..=10 } else { 0..=0 };
                for c in counters {
                    let times = if clock.is_some() { -1..=1 } else { 0..=0 };
                    for t in times {
                        window.push(respond(&k, c, t));
                    }
                }
                let window: Result<Vec<String>, _> = window.into_iter().collect();
                match (texts, window) {
                    (Ok(t), Ok(w)) => (t, w),
                    _ => std::process::exit(2),
                }
            }
            Err(e) => {
                eprintln!("key: {e}");
                std::process::exit(2);
            }
        };
        // A wrong response: the first one's last character moved on until
        // it matches nowhere in the windows.
        let wrong = texts.first().and_then(|first| {
            let hex = suite.digits() == 0;
            let radix = if hex { 16 } else { 10 };
            let (head, last) = first.split_at(first.len().saturating_sub(1));
            let last = last.chars().next()?.to_digit(radix)?;
            (1..radix).find_map(|k| {
                let other = char::from_digit((last + k) % radix, radix)?;
                let text = format!("{head}{other}");
                (!window.contains(&text)).then_some(text)
            })
        });
        if poison_key {
            vg::poison(secret.as_slice());
            if suite.password_hash().is_some() {
                vg::poison(pin_sha1.as_slice());
            }
        }
        let Ok(key) = Key::new(suite.algorithm(), &secret) else {
            std::process::exit(2);
        };
        let mut typed_cases: Vec<(&str, &String, bool)> = case
            .right
            .iter()
            .zip(&texts)
            .map(|(r, text)| (r.0, text, r.3))
            .collect();
        if let Some(w) = &wrong {
            typed_cases.push(("wrong response", w, false));
        }
        for (what, text, expect) in typed_cases {
            let Ok(typed) = OcraResponse::parse(text, &suite) else {
                eprintln!("{}: {what}: cannot parse", case.suite);
                std::process::exit(2);
            };
            if poison_typed {
                vg::poison(typed.as_bytes());
            }
            let v = verify_ocra(&key, &suite, &params, &state, &challenge, &typed, now);
            // The outcome is public from here on: the verifier has returned it.
            vg::unpoison(&v);
            let accepted = v
                .as_ref()
                .is_ok_and(otp_core::OcraVerification::is_accepted);
            let ok = v.is_ok() && accepted == expect;
            println!(
                "{:<36} {what:<38} {:<9} {}",
                case.suite,
                match &v {
                    Ok(v) if v.is_accepted() => "accepted",
                    Ok(_) => "refused",
                    Err(_) => "error",
                },
                if ok { "as expected" } else { "UNEXPECTED" }
            );
            all &= ok;
        }
    }
    all
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("canary") => {
            canary();
            return;
        }
        Some("ocra") => {
            println!(
                "ctgrind ocra: under valgrind: {}; SHA-NI lockstep: {}",
                vg::running_on_valgrind(),
                otp_core::lockstep_available()
            );
            if !ocra_cases() {
                std::process::exit(1);
            }
            return;
        }
        _ => {}
    }
    let under = vg::running_on_valgrind();
    println!(
        "ctgrind: under valgrind: {under}; SHA-NI lockstep: {}",
        otp_core::lockstep_available()
    );
    let mut all = true;
    for (algorithm, secret_len) in [
        (Algorithm::Sha1, 20),
        (Algorithm::Sha256, 32),
        (Algorithm::Sha512, 64),
        (Algorithm::Sha1, 100),
    ] {
        let secret: Vec<u8> = (0..secret_len)
            .map(|i: u8| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        let step = TimeStep::default();
        let now = 1_790_000_405;
        let t = step.step_at(now).unwrap_or(0);
        let params = Params {
            mode: Mode::Totp(step),
            window: Window::new(2, 2),
            ..Params::default()
        };
        // The codes the token would show, computed with an unpoisoned key.
        let (first, middle, last, next) = match Key::new(algorithm, &secret) {
            Ok(k) => (
                hotp(&k, t - 2, Digits::Six),
                hotp(&k, t, Digits::Six),
                hotp(&k, t + 2, Digits::Six),
                hotp(&k, t + 3, Digits::Six),
            ),
            Err(e) => {
                eprintln!("key: {e}");
                std::process::exit(2);
            }
        };
        let wrong = Code::from_value((middle.value() + 1) % 1_000_000, Digits::Six);
        // The secret is poisoned before the key absorbs it, so every pad
        // byte derived from it is undefined too.
        vg::poison(secret.as_slice());
        let Ok(key) = Key::new(algorithm, &secret) else {
            std::process::exit(2);
        };
        let state = TokenState::new();
        let name = format!("{algorithm} ({secret_len}-byte secret)");
        for (what, code, expect) in [
            ("right code, first position", Some(first), true),
            ("right code, centre", Some(middle), true),
            ("right code, last position", Some(last), true),
            ("wrong code", wrong, false),
        ] {
            let Some(code) = code else { continue };
            let typed = poisoned_code(code);
            let v = verify(&key, &params, &state, &typed, now);
            all &= check(&format!("{name}: verify, {what}"), v, expect);
        }
        // Resync over ±100 steps with the last pair.
        let (c1, c2) = (poisoned_code(last), poisoned_code(next));
        let r = resync(&key, &params, &state, &c1, &c2, now);
        all &= check(&format!("{name}: resync, right pair"), r, true);
    }
    if !all {
        std::process::exit(1);
    }
}
