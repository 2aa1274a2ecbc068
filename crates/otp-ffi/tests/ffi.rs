//! The C functions called as C calls them: the RFC 4226, 6238 and 6287
//! vectors (otp-core's data files, copied from the RFCs), verification with
//! the state buffer, and every error path.

#![allow(
    unsafe_code,
    reason = "the tests call the C ABI's unsafe extern functions"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failure is the test failing"
)]

use std::ptr::{null, null_mut};

use otp_ffi::*;

fn data(name: &str) -> toml::Table {
    let path = format!(
        "{}/../otp-core/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn vectors(table: &toml::Table) -> &Vec<toml::Value> {
    table["vector"].as_array().unwrap()
}

/// The NUL-terminated text in `buf`.
fn c_text(buf: &[u8]) -> &str {
    let end = buf.iter().position(|&b| b == 0).expect("a NUL");
    std::str::from_utf8(&buf[..end]).unwrap()
}

fn hotp(alg: u32, key: &[u8], counter: u64, digits: u8) -> Result<String, i32> {
    let mut out = [0xffu8; 16];
    // SAFETY: the pointers are valid for the lengths given.
    let status = unsafe {
        otp_hotp(
            alg,
            key.as_ptr(),
            key.len(),
            counter,
            digits,
            out.as_mut_ptr(),
            out.len(),
        )
    };
    if status == OTP_OK {
        Ok(c_text(&out).to_owned())
    } else {
        Err(status)
    }
}

fn totp(alg: u32, key: &[u8], time: u64, step: u64, t0: u64, digits: u8) -> Result<String, i32> {
    let mut out = [0xffu8; 16];
    // SAFETY: as above.
    let status = unsafe {
        otp_totp(
            alg,
            key.as_ptr(),
            key.len(),
            time,
            step,
            t0,
            digits,
            out.as_mut_ptr(),
            out.len(),
        )
    };
    if status == OTP_OK {
        Ok(c_text(&out).to_owned())
    } else {
        Err(status)
    }
}

fn fresh_state(floor: u64) -> [u8; OTP_STATE_LEN] {
    let mut state = [0u8; OTP_STATE_LEN];
    // SAFETY: the buffer is OTP_STATE_LEN bytes.
    assert_eq!(unsafe { otp_state_init(floor, state.as_mut_ptr()) }, OTP_OK);
    state
}

/// `otp_verify` in HOTP mode (window 1 behind, 10 ahead, 3 failures lock);
/// the new state replaces `state`.
fn verify_hotp(key: &[u8], state: &mut [u8; OTP_STATE_LEN], code: &str) -> (i32, u64) {
    let mut position = u64::MAX;
    let state_ptr = state.as_mut_ptr();
    // SAFETY: the same buffer as input and output is allowed (docs/ffi.md).
    let status = unsafe {
        otp_verify(
            OTP_MODE_HOTP,
            OTP_ALG_SHA1,
            key.as_ptr(),
            key.len(),
            6,
            0,
            0,
            state_ptr,
            code.as_ptr(),
            code.len(),
            0,
            1,
            10,
            3,
            state_ptr,
            &mut position,
        )
    };
    (status, position)
}

const RFC4226_KEY: &[u8] = b"12345678901234567890";

#[test]
fn rfc4226_appendix_d_hotp_through_the_c_abi() {
    let table = data("rfc4226_hotp.toml");
    for v in vectors(&table) {
        let count = v["count"].as_integer().unwrap();
        let expected = v["hotp"].as_str().unwrap();
        assert_eq!(
            hotp(OTP_ALG_SHA1, RFC4226_KEY, count.try_into().unwrap(), 6).as_deref(),
            Ok(expected),
            "count {count}"
        );
    }
    assert_eq!(vectors(&table).len(), 10);
}

#[test]
fn rfc6238_appendix_b_totp_through_the_c_abi() {
    let table = data("rfc6238_totp.toml");
    let seeds = table["seeds"].as_table().unwrap();
    for v in vectors(&table) {
        let mode = v["mode"].as_str().unwrap();
        let alg = match mode {
            "SHA1" => OTP_ALG_SHA1,
            "SHA256" => OTP_ALG_SHA256,
            "SHA512" => OTP_ALG_SHA512,
            other => panic!("unknown mode {other}"),
        };
        let seed = seeds[mode].as_str().unwrap().as_bytes();
        let time = u64::try_from(v["time"].as_integer().unwrap()).unwrap();
        assert_eq!(
            totp(alg, seed, time, 30, 0, 8).as_deref(),
            Ok(v["totp"].as_str().unwrap()),
            "{mode} at {time}"
        );
    }
    assert_eq!(vectors(&table).len(), 18);
}

struct Ocra<'a> {
    suite: &'a str,
    key: &'a [u8],
    q: &'a str,
    q2: Option<&'a str>,
    c: Option<u64>,
    p: Option<&'a [u8]>,
    s: Option<&'a [u8]>,
    t: Option<u64>,
}

fn ocra(o: &Ocra<'_>, out_len: usize) -> Result<String, i32> {
    let mut out = vec![0xffu8; out_len];
    let (q2, q2_len) = o.q2.map_or((null(), 0), |q| (q.as_ptr(), q.len()));
    let (p, p_len) = o.p.map_or((null(), 0), |p| (p.as_ptr(), p.len()));
    let (s, s_len) = o.s.map_or((null(), 0), |s| (s.as_ptr(), s.len()));
    let c = o.c.as_ref().map_or(null(), |c| c as *const u64);
    let t = o.t.as_ref().map_or(null(), |t| t as *const u64);
    // SAFETY: every pointer is NULL or valid for its length.
    let status = unsafe {
        otp_ocra(
            o.suite.as_ptr(),
            o.suite.len(),
            o.key.as_ptr(),
            o.key.len(),
            o.q.as_ptr(),
            o.q.len(),
            q2,
            q2_len,
            c,
            p,
            p_len,
            s,
            s_len,
            t,
            out.as_mut_ptr(),
            out.len(),
        )
    };
    if status == OTP_OK {
        Ok(c_text(&out).to_owned())
    } else {
        Err(status)
    }
}

struct OcraCheck<'a> {
    suite: &'a str,
    key: &'a [u8],
    q: &'a str,
    p: Option<&'a [u8]>,
    response: &'a str,
    now: u64,
}

/// `otp_ocra_verify` with counter window 1 behind, 10 ahead, time window ±1, 3
/// failures lock; the new state replaces `state`.
fn ocra_verify(
    o: &OcraCheck<'_>,
    state: &mut [u8; OTP_STATE_LEN],
) -> (i32, Option<u64>, Option<u64>) {
    let (mut counter, mut time) = (u64::MAX, u64::MAX);
    let (p, p_len) = o.p.map_or((null(), 0), |p| (p.as_ptr(), p.len()));
    let state_ptr = state.as_mut_ptr();
    // SAFETY: every pointer is NULL or valid for its length; one state
    // buffer as input and output.
    let status = unsafe {
        otp_ocra_verify(
            o.suite.as_ptr(),
            o.suite.len(),
            o.key.as_ptr(),
            o.key.len(),
            o.q.as_ptr(),
            o.q.len(),
            null(),
            0,
            p,
            p_len,
            null(),
            0,
            o.response.as_ptr(),
            o.response.len(),
            o.now,
            1,
            10,
            1,
            1,
            3,
            state_ptr,
            state_ptr,
            &mut counter,
            &mut time,
        )
    };
    let seen = |v: u64| (v != u64::MAX).then_some(v);
    (status, seen(counter), seen(time))
}

#[test]
fn rfc6287_appendix_c_every_ocra_vector_through_the_c_abi() {
    let table = data("rfc6287_ocra.toml");
    let keys = table["keys"].as_table().unwrap();
    let pin = hex::decode(table["pin_sha1"].as_str().unwrap()).unwrap();
    for v in vectors(&table) {
        let key = hex::decode(keys[v["key"].as_str().unwrap()].as_str().unwrap()).unwrap();
        let (q, q2) = match (v.get("q_first"), v.get("q_second")) {
            (Some(a), Some(b)) => (a.as_str().unwrap(), Some(b.as_str().unwrap())),
            _ => (v["q"].as_str().unwrap(), None),
        };
        let o = Ocra {
            suite: v["suite"].as_str().unwrap(),
            key: &key,
            q,
            q2,
            c: v.get("c")
                .map(|c| u64::try_from(c.as_integer().unwrap()).unwrap()),
            p: v.get("p")
                .and_then(|p| p.as_bool().unwrap().then_some(pin.as_slice())),
            s: None,
            t: v.get("t_hex")
                .map(|t| u64::from_str_radix(t.as_str().unwrap(), 16).unwrap()),
        };
        let expected = v["ocra"].as_str().unwrap();
        assert_eq!(
            ocra(&o, OTP_MAX_OUTPUT_LEN).as_deref(),
            Ok(expected),
            "{} q={q}",
            o.suite
        );
        // The output buffer needs the digits and the NUL, no more.
        assert_eq!(
            ocra(&o, expected.len() + 1).as_deref(),
            Ok(expected),
            "{}",
            o.suite
        );
        assert_eq!(ocra(&o, expected.len()), Err(OTP_BUFFER_TOO_SMALL));
    }
    assert_eq!(vectors(&table).len(), 70);
}

#[test]
fn hotp_verification_round_trips_the_state_and_refuses_a_replay() {
    let mut state = fresh_state(0);
    // RFC 4226 count 1: ahead of the floor, within the window.
    assert_eq!(verify_hotp(RFC4226_KEY, &mut state, "287082"), (OTP_OK, 1));
    assert_eq!(state[0], OTP_STATE_VERSION);
    assert_eq!(&state[1..9], &2u64.to_le_bytes(), "floor moves past 1");
    // The same code again (one behind the floor, inside the window):
    // replayed, nothing accepted.
    assert_eq!(
        verify_hotp(RFC4226_KEY, &mut state, "287082").0,
        OTP_REJECTED_REPLAYED
    );
    // The next one (count 2) is accepted.
    assert_eq!(verify_hotp(RFC4226_KEY, &mut state, "359152"), (OTP_OK, 2));
    // Three wrong codes lock the token; the failures are in the state
    // written on each refusal.
    for failures in 1..=3u32 {
        assert_eq!(
            verify_hotp(RFC4226_KEY, &mut state, "000000").0,
            OTP_REJECTED_INVALID
        );
        assert_eq!(&state[17..21], &failures.to_le_bytes());
    }
    assert_eq!(state[21], 1, "locked");
    // Locked: even the right code (count 3) is refused.
    assert_eq!(
        verify_hotp(RFC4226_KEY, &mut state, "969429").0,
        OTP_REJECTED_LOCKED
    );
}

#[test]
fn totp_verification_accepts_the_rfc_vector_at_its_time() {
    let mut state = fresh_state(0);
    let seed = b"12345678901234567890";
    let mut position = 0u64;
    let code = "94287082"; // RFC 6238 SHA1 at t = 59: step 1
    let state_in = state;
    // SAFETY: valid pointers; distinct state buffers this time.
    let status = unsafe {
        otp_verify(
            OTP_MODE_TOTP,
            OTP_ALG_SHA1,
            seed.as_ptr(),
            seed.len(),
            8,
            30,
            0,
            state_in.as_ptr(),
            code.as_ptr(),
            code.len(),
            59,
            1,
            1,
            6,
            state.as_mut_ptr(),
            &mut position,
        )
    };
    assert_eq!((status, position), (OTP_OK, 1));
    assert_eq!(&state[1..9], &2u64.to_le_bytes());
}

#[test]
fn ocra_verification_counter_and_time_suites() {
    let table = data("rfc6287_ocra.toml");
    let keys = table["keys"].as_table().unwrap();
    let pin = hex::decode(table["pin_sha1"].as_str().unwrap()).unwrap();
    let key32 = hex::decode(keys["standard32"].as_str().unwrap()).unwrap();
    let key64 = hex::decode(keys["standard64"].as_str().unwrap()).unwrap();
    let now = u64::try_from(table["time_unix"].as_integer().unwrap()).unwrap();

    // C-QN08-PSHA1, C = 1 ("86775851" in Appendix C.1), from a floor of 0.
    let mut state = fresh_state(0);
    let counter = OcraCheck {
        suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
        key: &key32,
        q: "12345678",
        p: Some(&pin),
        response: "86775851",
        now: 0,
    };
    assert_eq!(ocra_verify(&counter, &mut state), (OTP_OK, Some(1), None));
    assert_eq!(&state[1..9], &2u64.to_le_bytes());
    assert_eq!(
        ocra_verify(&counter, &mut state).0,
        OTP_REJECTED_REPLAYED,
        "the same response twice"
    );
    // Without the password hash the suite's input is incomplete.
    let no_pin = OcraCheck { p: None, ..counter };
    assert_eq!(ocra_verify(&no_pin, &mut state).0, OTP_BAD_INPUT);

    // QN08-T1M at the RFC's time ("95209754" for question 00000000).
    let mut state = fresh_state(0);
    let time = OcraCheck {
        suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M",
        key: &key64,
        q: "00000000",
        p: None,
        response: "95209754",
        now,
    };
    assert_eq!(
        ocra_verify(&time, &mut state),
        (OTP_OK, None, Some(0x132d0b6))
    );
    assert_eq!(ocra_verify(&time, &mut state).0, OTP_REJECTED_REPLAYED);
    let wrong = OcraCheck {
        response: "00000000",
        ..time
    };
    assert_eq!(ocra_verify(&wrong, &mut state).0, OTP_REJECTED_INVALID);
    assert_eq!(&state[17..21], &1u32.to_le_bytes(), "the failure counted");
    let malformed = OcraCheck {
        response: "9520975",
        ..time
    };
    assert_eq!(ocra_verify(&malformed, &mut state).0, OTP_BAD_CODE);
    assert_eq!(
        &state[17..21],
        &1u32.to_le_bytes(),
        "a malformed response is not counted"
    );
}

#[test]
fn generation_error_paths() {
    let key = RFC4226_KEY;
    assert_eq!(hotp(0, key, 0, 6), Err(OTP_BAD_ALGORITHM));
    assert_eq!(hotp(4, key, 0, 6), Err(OTP_BAD_ALGORITHM));
    assert_eq!(hotp(OTP_ALG_SHA1, &key[..15], 0, 6), Err(OTP_BAD_KEY));
    assert_eq!(hotp(OTP_ALG_SHA1, &[7; 129], 0, 6), Err(OTP_BAD_KEY));
    assert_eq!(hotp(OTP_ALG_SHA1, key, 0, 5), Err(OTP_BAD_DIGITS));
    assert_eq!(hotp(OTP_ALG_SHA1, key, 0, 9), Err(OTP_BAD_DIGITS));
    assert_eq!(totp(OTP_ALG_SHA1, key, 59, 0, 0, 6), Err(OTP_BAD_TIME_STEP));
    assert_eq!(
        totp(OTP_ALG_SHA1, key, 59, 30, 60, 6),
        Err(OTP_CLOCK_BEFORE_T0)
    );
    let mut out = [0u8; 8];
    // SAFETY: NULL and overlong inputs are refused before any use.
    unsafe {
        assert_eq!(
            otp_hotp(OTP_ALG_SHA1, null(), 20, 0, 6, out.as_mut_ptr(), 8),
            OTP_NULL_POINTER
        );
        assert_eq!(
            otp_hotp(OTP_ALG_SHA1, key.as_ptr(), 5000, 0, 6, out.as_mut_ptr(), 8),
            OTP_BAD_LENGTH
        );
        assert_eq!(
            otp_hotp(OTP_ALG_SHA1, key.as_ptr(), 20, 0, 6, null_mut(), 8),
            OTP_NULL_POINTER
        );
        assert_eq!(
            otp_hotp(OTP_ALG_SHA1, key.as_ptr(), 20, 0, 6, out.as_mut_ptr(), 6),
            OTP_BUFFER_TOO_SMALL
        );
        assert_eq!(
            otp_totp(
                OTP_ALG_SHA1,
                key.as_ptr(),
                20,
                59,
                30,
                0,
                8,
                out.as_mut_ptr(),
                8
            ),
            OTP_BUFFER_TOO_SMALL
        );
        assert_eq!(otp_state_init(0, null_mut()), OTP_NULL_POINTER);
    }

    let base = Ocra {
        suite: "OCRA-1:HOTP-SHA1-6:QN08",
        key,
        q: "00000000",
        q2: None,
        c: None,
        p: None,
        s: None,
        t: None,
    };
    assert_eq!(ocra(&base, 16).as_deref(), Ok("237653"));
    for suite in [
        "",
        "OCRA-1:HOTP-SHA1-6",
        "OCRA-2:HOTP-SHA1-6:QN08",
        "\u{ff}",
    ] {
        assert_eq!(
            ocra(&Ocra { suite, ..base }, 16),
            Err(OTP_BAD_SUITE),
            "{suite:?}"
        );
    }
    let bad_suite_bytes = [0xffu8, 0xfe];
    let mut out = [0u8; 16];
    // SAFETY: valid pointers; the suite is not UTF-8.
    let status = unsafe {
        otp_ocra(
            bad_suite_bytes.as_ptr(),
            2,
            key.as_ptr(),
            20,
            b"0".as_ptr(),
            1,
            null(),
            0,
            null(),
            null(),
            0,
            null(),
            0,
            null(),
            out.as_mut_ptr(),
            16,
        )
    };
    assert_eq!(status, OTP_BAD_SUITE);
    // Inputs the suite does not take, or of the wrong form.
    assert_eq!(ocra(&Ocra { c: Some(1), ..base }, 16), Err(OTP_BAD_INPUT));
    assert_eq!(ocra(&Ocra { t: Some(1), ..base }, 16), Err(OTP_BAD_INPUT));
    assert_eq!(ocra(&Ocra { q: "ABC", ..base }, 16), Err(OTP_BAD_INPUT));
    assert_eq!(ocra(&Ocra { q: "", ..base }, 16), Err(OTP_BAD_INPUT));
    assert_eq!(
        ocra(
            &Ocra {
                p: Some(&[0; 19]),
                ..base
            },
            16
        ),
        Err(OTP_BAD_INPUT)
    );
    // 16 bytes is the shortest key (RFC 4226 R6): 15 is refused.
    assert_eq!(
        ocra(
            &Ocra {
                key: &key[..15],
                ..base
            },
            16
        ),
        Err(OTP_BAD_KEY)
    );
}

#[test]
fn verification_error_paths_write_no_state() {
    let key = RFC4226_KEY;
    let good = fresh_state(0);
    let code = "755224";
    let call = |mode: u32, state_in: *const u8, code: &[u8], state_out: *mut u8| {
        // SAFETY: pointers are NULL or valid for their lengths.
        unsafe {
            otp_verify(
                mode,
                OTP_ALG_SHA1,
                key.as_ptr(),
                key.len(),
                6,
                30,
                0,
                state_in,
                code.as_ptr(),
                code.len(),
                0,
                0,
                10,
                3,
                state_out,
                null_mut(),
            )
        }
    };
    let mut out = [0xeeu8; OTP_STATE_LEN];
    assert_eq!(
        call(0, good.as_ptr(), code.as_bytes(), out.as_mut_ptr()),
        OTP_BAD_MODE
    );
    assert_eq!(
        call(OTP_MODE_HOTP, null(), code.as_bytes(), out.as_mut_ptr()),
        OTP_NULL_POINTER
    );
    assert_eq!(
        call(OTP_MODE_HOTP, good.as_ptr(), code.as_bytes(), null_mut()),
        OTP_NULL_POINTER
    );
    for bad in [
        &b"75522"[..],
        b"7552244",
        b"75522x",
        b"",
        b"\xff\xff\xff\xff\xff\xff",
    ] {
        assert_eq!(
            call(OTP_MODE_HOTP, good.as_ptr(), bad, out.as_mut_ptr()),
            OTP_BAD_CODE
        );
    }
    let mut bad_version = good;
    bad_version[0] = 0;
    let mut bad_lock = good;
    bad_lock[21] = 7;
    let mut bad_reserved = good;
    bad_reserved[25] = 1;
    for bad in [bad_version, bad_lock, bad_reserved] {
        assert_eq!(
            call(
                OTP_MODE_HOTP,
                bad.as_ptr(),
                code.as_bytes(),
                out.as_mut_ptr()
            ),
            OTP_BAD_STATE
        );
    }
    assert_eq!(
        out, [0xee; OTP_STATE_LEN],
        "no state written on a caller error"
    );
    // Accepted (count 0, position output NULL: not wanted).
    assert_eq!(
        call(
            OTP_MODE_HOTP,
            good.as_ptr(),
            code.as_bytes(),
            out.as_mut_ptr()
        ),
        OTP_OK
    );
    assert_eq!(&out[1..9], &1u64.to_le_bytes());
}

#[test]
fn ocra_session_input_must_have_the_suites_length() {
    // No RFC vector has a session (`S`): this checks the plumbing, that the
    // session reaches the core (it changes the response) and its length is
    // the suite's.
    let key = b"12345678901234567890123456789012";
    let base = Ocra {
        suite: "OCRA-1:HOTP-SHA256-8:QN08-S064",
        key,
        q: "12345678",
        q2: None,
        c: None,
        p: None,
        s: Some(&[0xab; 64]),
        t: None,
    };
    let one = ocra(&base, 16).unwrap();
    let other = ocra(
        &Ocra {
            s: Some(&[0xcd; 64]),
            ..base
        },
        16,
    )
    .unwrap();
    assert_eq!(one.len(), 8);
    assert_ne!(one, other, "the session is hashed");
    assert_eq!(
        ocra(
            &Ocra {
                s: Some(&[0xab; 63]),
                ..base
            },
            16
        ),
        Err(OTP_BAD_INPUT)
    );
    assert_eq!(ocra(&Ocra { s: None, ..base }, 16), Err(OTP_BAD_INPUT));
}

#[test]
fn ocra_verification_error_paths_write_no_state() {
    let key = RFC4226_KEY;
    let suite = "OCRA-1:HOTP-SHA1-6:QN08";
    let good = fresh_state(0);
    let call = |suite: &str, response: &str, state_in: *const u8, state_out: *mut u8| {
        // SAFETY: pointers are NULL or valid for their lengths.
        unsafe {
            otp_ocra_verify(
                suite.as_ptr(),
                suite.len(),
                key.as_ptr(),
                key.len(),
                b"00000000".as_ptr(),
                8,
                null(),
                0,
                null(),
                0,
                null(),
                0,
                response.as_ptr(),
                response.len(),
                0,
                0,
                0,
                0,
                0,
                3,
                state_in,
                state_out,
                null_mut(),
                null_mut(),
            )
        }
    };
    let mut out = [0xeeu8; OTP_STATE_LEN];
    assert_eq!(
        call(
            "OCRA-1:HOTP-SHA1-6",
            "237653",
            good.as_ptr(),
            out.as_mut_ptr()
        ),
        OTP_BAD_SUITE
    );
    assert_eq!(
        call(suite, "237653", null(), out.as_mut_ptr()),
        OTP_NULL_POINTER
    );
    assert_eq!(
        call(suite, "237653", good.as_ptr(), null_mut()),
        OTP_NULL_POINTER
    );
    assert_eq!(
        call(suite, "23765", good.as_ptr(), out.as_mut_ptr()),
        OTP_BAD_CODE
    );
    let mut bad = good;
    bad[0] = 9;
    assert_eq!(
        call(suite, "237653", bad.as_ptr(), out.as_mut_ptr()),
        OTP_BAD_STATE
    );
    assert_eq!(
        out, [0xee; OTP_STATE_LEN],
        "no state written on a caller error"
    );
    // RFC 6287 C.1, question 00000000: accepted, the state written (no
    // counter or time in the suite, so the floor stays and NULL outputs
    // are skipped).
    assert_eq!(
        call(suite, "237653", good.as_ptr(), out.as_mut_ptr()),
        OTP_OK
    );
    assert_eq!(out, good);
}

#[test]
fn functions_are_reentrant_across_threads() {
    // docs/ffi.md promises no global state: eight threads generating and
    // verifying at once each get the RFC's answers.
    let table = data("rfc4226_hotp.toml");
    let expected: Vec<String> = vectors(&table)
        .iter()
        .map(|v| v["hotp"].as_str().unwrap().to_owned())
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..50 {
                    for (count, want) in expected.iter().enumerate() {
                        let count = u64::try_from(count).unwrap();
                        assert_eq!(hotp(OTP_ALG_SHA1, RFC4226_KEY, count, 6).as_ref(), Ok(want));
                    }
                    let mut state = fresh_state(0);
                    assert_eq!(
                        verify_hotp(RFC4226_KEY, &mut state, &expected[3]),
                        (OTP_OK, 3)
                    );
                }
            });
        }
    });
}
