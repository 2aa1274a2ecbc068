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
//! ```text
//! cargo build --release --manifest-path timing/Cargo.toml
//! valgrind --error-exitcode=0 --track-origins=yes timing/target/release/ctgrind
//! ```
//!
//! Without valgrind the client requests are no-ops and the program just
//! runs the verifications.
#![deny(unsafe_code)]

use otp_core::{
    Algorithm, Code, Digits, Key, Mode, Params, TimeStep, TokenState, Verification, Window, hotp,
    resync, verify,
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

fn main() {
    if std::env::args().nth(1).as_deref() == Some("canary") {
        canary();
        return;
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
