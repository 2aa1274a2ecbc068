//! Generation, parsing, verification and resync allocate nothing: a
//! counting global allocator watches this thread while they run.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failure should stop the test"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use otp_core::{
    Algorithm, Code, Digits, Key, OcraInput, OcraParams, OcraResponse, OcraSuite, Params, Secret,
    TimeStep, TokenState, Window, hotp, ocra, resync, totp, verify, verify_ocra,
};

struct Counting;

// Per thread, so that tests running in parallel do not count each other.
thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    if WATCHING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: forwards every call unchanged to the system allocator; the only
// addition is a counter bump, which allocates nothing itself.
#[allow(
    unsafe_code,
    reason = "a GlobalAlloc impl is unsafe by definition; it only forwards"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count_allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    WATCHING.with(|w| w.set(true));
    f();
    WATCHING.with(|w| w.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_sees_an_allocation() {
    // Proves the watcher works, so the zero below means something.
    let n = count_allocations(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(n, 1);
}

#[test]
fn generation_and_verification_allocate_nothing() {
    let n = count_allocations(|| {
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            let secret = Secret::from_bytes(&[0x5a; 64]).unwrap();
            let key = Key::from_secret(algorithm, &secret);
            let step = TimeStep::default();
            let params = Params {
                window: Window::new(10, 10),
                ..Params::totp(step)
            };
            let now = 1_800_000_000;
            let code = totp(&key, &step, now, Digits::Six).unwrap();
            let shown = std::hint::black_box(code);
            let mut buf = [0u8; 8];
            // Display without allocating: write into a stack buffer.
            use std::io::Write as _;
            write!(&mut buf[..], "{shown}").unwrap();
            let typed = Code::parse(std::str::from_utf8(&buf[..6]).unwrap(), Digits::Six).unwrap();
            let v = verify(&key, &params, &TokenState::new(), &typed, now);
            assert!(v.is_accepted());
            let again = verify(&key, &params, &v.state, &typed, now);
            assert!(!again.is_accepted());
            let c1 = hotp(&key, step.step_at(now).unwrap() + 50, Digits::Six);
            let c2 = hotp(&key, step.step_at(now).unwrap() + 51, Digits::Six);
            assert!(resync(&key, &params, &TokenState::new(), &c1, &c2, now).is_accepted());
            let bad = Code::parse("１２３４５６", Digits::Six);
            assert!(bad.is_err());
        }
    });
    assert_eq!(n, 0, "generation and verification must not allocate");
}

#[test]
fn ocra_parsing_generation_and_verification_allocate_nothing() {
    let digits = "9876543210".repeat(7); // allocated before watching
    let n = count_allocations(|| {
        for (text, algorithm) in [
            ("OCRA-1:HOTP-SHA1-6:C-QN64-PSHA1-S512-T1M", Algorithm::Sha1),
            ("OCRA-1:HOTP-SHA256-8:QA08-T30S", Algorithm::Sha256),
            ("OCRA-1:HOTP-SHA512-0:C-QH64", Algorithm::Sha512),
        ] {
            let suite = OcraSuite::parse(text).unwrap();
            assert!(OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-C").is_err());
            let key = Key::new(algorithm, &[0x5a; 64]).unwrap();
            let pin = [0x71u8; 20];
            let session = [0x33u8; 512];
            let question = &digits[..suite.question_len().into()];
            let mut challenge = OcraInput::mutual(question, "1234");
            if suite.password_hash().is_some() {
                challenge = challenge.with_password_hash(&pin);
            }
            if suite.session_len().is_some() {
                challenge = challenge.with_session(&session);
            }
            let now = 1_800_000_000;
            let mut input = challenge;
            if suite.counter() {
                input = input.with_counter(3);
            }
            if let Some(t) = suite.time_step_at(now) {
                input = input.with_time_step(t);
            }
            let response = ocra(&key, &suite, &input).unwrap();
            let mut shown = [0u8; 128];
            use std::io::Write as _;
            let mut cursor = &mut shown[..];
            write!(cursor, "{response}").unwrap();
            let written = 128 - cursor.len();
            let typed =
                OcraResponse::parse(std::str::from_utf8(&shown[..written]).unwrap(), &suite)
                    .unwrap();
            let params = OcraParams::default();
            let state = TokenState::starting_at(1);
            let v = verify_ocra(&key, &suite, &params, &state, &challenge, &typed, now).unwrap();
            assert!(v.is_accepted());
            let again =
                verify_ocra(&key, &suite, &params, &v.state, &challenge, &typed, now).unwrap();
            assert!(!again.is_accepted());
        }
    });
    assert_eq!(n, 0, "OCRA must not allocate");
}
