#![doc = include_str!("../README.md")]

use std::panic::{AssertUnwindSafe, catch_unwind};

use zeroize::Zeroizing;

use otp_core::{
    Algorithm, ClockError, Code, Digits, Key, Mode, OcraInput, OcraParams, OcraResponse, OcraSuite,
    Params, Rejected, TimeStep, TokenState, Window,
};

mod ptr;

use ptr::{
    optional_slice, optional_u64, read_array, slice_from, write_array, write_cstr,
    write_optional_u64,
};

// Status codes. Stable: a number is never reused for another meaning.

/// Success; for a verification, the code was accepted.
pub const OTP_OK: i32 = 0;
/// A required pointer was NULL.
pub const OTP_NULL_POINTER: i32 = 1;
/// A length was larger than any input the library accepts (4096 bytes).
pub const OTP_BAD_LENGTH: i32 = 2;
/// The algorithm id is not `OTP_ALG_SHA1`, `OTP_ALG_SHA256` or `OTP_ALG_SHA512`.
pub const OTP_BAD_ALGORITHM: i32 = 3;
/// The key is shorter than 16 bytes or longer than 128 bytes.
pub const OTP_BAD_KEY: i32 = 4;
/// The digit count is not 6, 7 or 8 (HOTP and TOTP).
pub const OTP_BAD_DIGITS: i32 = 5;
/// The TOTP time step is zero seconds.
pub const OTP_BAD_TIME_STEP: i32 = 6;
/// The verification mode is not `OTP_MODE_HOTP` or `OTP_MODE_TOTP`.
pub const OTP_BAD_MODE: i32 = 7;
/// The OCRA suite string is malformed or not UTF-8.
pub const OTP_BAD_SUITE: i32 = 8;
/// An OCRA input does not fit the suite: a question of the wrong format or
/// length, a counter, password hash, session or time step that the suite
/// lacks or needs, of the wrong length.
pub const OTP_BAD_INPUT: i32 = 9;
/// The token state buffer is malformed: unknown version, `locked` not 0
/// or 1, or a reserved byte not zero.
pub const OTP_BAD_STATE: i32 = 10;
/// The code or response to verify is malformed: empty, not (hex) digits,
/// or of the wrong length. Nothing was counted against the token.
pub const OTP_BAD_CODE: i32 = 11;
/// The output buffer is too small for the code and its terminating NUL.
pub const OTP_BUFFER_TOO_SMALL: i32 = 12;
/// The clock reads earlier than the token's start time T0.
pub const OTP_CLOCK_BEFORE_T0: i32 = 13;
/// Refused: the code is not correct. The failure is counted in the new state.
pub const OTP_REJECTED_INVALID: i32 = 20;
/// Refused: the code was already used (at or below the replay floor).
pub const OTP_REJECTED_REPLAYED: i32 = 21;
/// Refused: the token is locked after too many failures.
pub const OTP_REJECTED_LOCKED: i32 = 22;
/// Refused: the token's counter is exhausted; replace the token.
pub const OTP_REJECTED_COUNTER_EXHAUSTED: i32 = 23;
/// A bug: the library panicked; the panic was caught at the boundary.
/// Outputs may be partly written; do not store a state written by this call.
pub const OTP_PANIC: i32 = 99;

/// HMAC-SHA-1 (RFC 4226; RFC 6238's `SHA1` mode).
pub const OTP_ALG_SHA1: u32 = 1;
/// HMAC-SHA-256 (RFC 6238's `SHA256` mode).
pub const OTP_ALG_SHA256: u32 = 2;
/// HMAC-SHA-512 (RFC 6238's `SHA512` mode).
pub const OTP_ALG_SHA512: u32 = 3;

/// `otp_verify`: event-based HOTP (the state's floor is the next counter).
pub const OTP_MODE_HOTP: u32 = 1;
/// `otp_verify`: time-based TOTP (the state's floor is the next time step).
pub const OTP_MODE_TOTP: u32 = 2;

/// The size in bytes of a token state buffer. Layout (little-endian):
/// byte 0 the version (`OTP_STATE_VERSION`); bytes 1..9 the replay floor
/// (u64: the lowest counter or time step still accepted); bytes 9..17 the
/// clock drift in steps (i64); bytes 17..21 the consecutive failures
/// (u32); byte 21 locked (0 or 1); bytes 22..32 reserved, zero.
pub const OTP_STATE_LEN: usize = 32;
/// The version byte of the state layout this library writes and reads.
pub const OTP_STATE_VERSION: u8 = 1;

/// The largest output any function writes, NUL included: an OCRA response
/// without truncation is a SHA-512 digest in hex (128 characters).
pub const OTP_MAX_OUTPUT_LEN: usize = 129;

/// Runs a function body, turning its error into a status and a panic into
/// [`OTP_PANIC`] so that no unwind crosses the C boundary.
fn guard(body: impl FnOnce() -> Result<i32, i32>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status) | Err(status)) => status,
        Err(_) => OTP_PANIC,
    }
}

/// A code's text, formatted on the stack (no heap copy of a code) and
/// wiped after it is written to the caller's buffer.
struct TextBuf {
    bytes: Zeroizing<[u8; OTP_MAX_OUTPUT_LEN]>,
    len: usize,
}

impl core::fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        let slot = self.bytes.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `value`'s text and a NUL into the caller's buffer.
///
/// # Safety
///
/// As [`ptr::write_cstr`].
#[allow(
    unsafe_code,
    reason = "reads or writes the caller's raw pointers; its callers uphold the contract"
)]
unsafe fn write_text(out: *mut u8, cap: usize, value: &impl core::fmt::Display) -> Result<(), i32> {
    use core::fmt::Write as _;
    let mut text = TextBuf {
        bytes: Zeroizing::new([0; OTP_MAX_OUTPUT_LEN]),
        len: 0,
    };
    // A response is at most 128 characters: a failure here is a bug.
    write!(text, "{value}").map_err(|_| OTP_PANIC)?;
    // SAFETY: forwarded from this function's contract.
    unsafe { write_cstr(out, cap, text.bytes.get(..text.len).ok_or(OTP_PANIC)?) }
}

fn algorithm(id: u32) -> Result<Algorithm, i32> {
    match id {
        OTP_ALG_SHA1 => Ok(Algorithm::Sha1),
        OTP_ALG_SHA256 => Ok(Algorithm::Sha256),
        OTP_ALG_SHA512 => Ok(Algorithm::Sha512),
        _ => Err(OTP_BAD_ALGORITHM),
    }
}

/// The key in the caller's `len` bytes at `ptr` (copied).
///
/// # Safety
///
/// As [`ptr::slice_from`].
#[allow(
    unsafe_code,
    reason = "reads or writes the caller's raw pointers; its callers uphold the contract"
)]
unsafe fn key(algorithm: Algorithm, ptr: *const u8, len: usize) -> Result<Key, i32> {
    // SAFETY: forwarded from this function's contract.
    Key::new(algorithm, unsafe { slice_from(ptr, len) }?).map_err(|_| OTP_BAD_KEY)
}

fn digits(count: u8) -> Result<Digits, i32> {
    Digits::new(count).map_err(|_| OTP_BAD_DIGITS)
}

fn time_step(step: u64, t0: u64) -> Result<TimeStep, i32> {
    TimeStep::new(step, t0).map_err(|_| OTP_BAD_TIME_STEP)
}

fn text(bytes: &[u8], error: i32) -> Result<&str, i32> {
    core::str::from_utf8(bytes).map_err(|_| error)
}

/// The suite in the caller's `len` bytes at `ptr`.
///
/// # Safety
///
/// As [`ptr::slice_from`].
#[allow(
    unsafe_code,
    reason = "reads or writes the caller's raw pointers; its callers uphold the contract"
)]
unsafe fn suite(ptr: *const u8, len: usize) -> Result<OcraSuite, i32> {
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { slice_from(ptr, len) }?;
    OcraSuite::parse(text(bytes, OTP_BAD_SUITE)?).map_err(|_| OTP_BAD_SUITE)
}

/// The state buffer's bytes for `state`.
fn encode_state(state: &TokenState) -> [u8; OTP_STATE_LEN] {
    let mut out = [0u8; OTP_STATE_LEN];
    let (version, rest) = out.split_at_mut(1);
    version.fill(OTP_STATE_VERSION);
    let (floor, rest) = rest.split_at_mut(8);
    floor.copy_from_slice(&state.floor.to_le_bytes());
    let (drift, rest) = rest.split_at_mut(8);
    drift.copy_from_slice(&state.drift.to_le_bytes());
    let (failures, rest) = rest.split_at_mut(4);
    failures.copy_from_slice(&state.failures.to_le_bytes());
    let (locked, _reserved) = rest.split_at_mut(1);
    locked.fill(u8::from(state.locked));
    out
}

/// The state in a buffer, or [`OTP_BAD_STATE`].
fn decode_state(bytes: &[u8; OTP_STATE_LEN]) -> Result<TokenState, i32> {
    let (&version, rest) = bytes.split_first().ok_or(OTP_BAD_STATE)?;
    let (floor, rest) = rest.split_first_chunk::<8>().ok_or(OTP_BAD_STATE)?;
    let (drift, rest) = rest.split_first_chunk::<8>().ok_or(OTP_BAD_STATE)?;
    let (failures, rest) = rest.split_first_chunk::<4>().ok_or(OTP_BAD_STATE)?;
    let (&locked, reserved) = rest.split_first().ok_or(OTP_BAD_STATE)?;
    if version != OTP_STATE_VERSION || locked > 1 || reserved.iter().any(|&b| b != 0) {
        return Err(OTP_BAD_STATE);
    }
    Ok(TokenState {
        floor: u64::from_le_bytes(*floor),
        drift: i64::from_le_bytes(*drift),
        failures: u32::from_le_bytes(*failures),
        locked: locked == 1,
    })
}

/// The state in the caller's `OTP_STATE_LEN` bytes at `ptr`.
///
/// # Safety
///
/// As [`ptr::read_array`].
#[allow(
    unsafe_code,
    reason = "reads or writes the caller's raw pointers; its callers uphold the contract"
)]
unsafe fn read_state(ptr: *const u8) -> Result<TokenState, i32> {
    // SAFETY: forwarded from this function's contract.
    decode_state(&unsafe { read_array::<OTP_STATE_LEN>(ptr) }?)
}

fn rejected(why: Rejected) -> i32 {
    match why {
        Rejected::Invalid => OTP_REJECTED_INVALID,
        Rejected::Replayed { .. } => OTP_REJECTED_REPLAYED,
        Rejected::Locked => OTP_REJECTED_LOCKED,
        Rejected::DigitsMismatch => OTP_BAD_CODE,
        Rejected::Clock(ClockError::BeforeT0) => OTP_CLOCK_BEFORE_T0,
        Rejected::CounterExhausted => OTP_REJECTED_COUNTER_EXHAUSTED,
        // `Rejected` is non-exhaustive: a refusal this version does not
        // know is still a refusal.
        _ => OTP_REJECTED_INVALID,
    }
}

/// Writes a fresh token state whose replay floor is `floor` (0 for a new
/// HOTP token, or its first unused counter; 0 for TOTP) into
/// `state_out` (`OTP_STATE_LEN` bytes).
///
/// # Safety
///
/// `state_out` is NULL or points to `OTP_STATE_LEN` writable bytes.
#[allow(
    unsafe_code,
    reason = "the C ABI: an exported symbol taking raw pointers"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_state_init(floor: u64, state_out: *mut u8) -> i32 {
    // SAFETY: this function's `# Safety` contract is what the pointer
    // helpers (`ptr`) and the helpers below require of every pointer.
    guard(|| unsafe {
        write_array(state_out, &encode_state(&TokenState::starting_at(floor)))?;
        Ok(OTP_OK)
    })
}

/// Writes the HOTP code (RFC 4226) of `counter` as `digits` ASCII digits
/// and a NUL into `out_buf` (`out_len` bytes, at least `digits + 1`).
///
/// # Safety
///
/// `key_ptr` is NULL or points to `key_len` readable bytes; `out_buf` is
/// NULL or points to `out_len` writable bytes.
#[allow(
    unsafe_code,
    reason = "the C ABI: an exported symbol taking raw pointers"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_hotp(
    alg: u32,
    key_ptr: *const u8,
    key_len: usize,
    counter: u64,
    digits: u8,
    out_buf: *mut u8,
    out_len: usize,
) -> i32 {
    // SAFETY: this function's `# Safety` contract is what the pointer
    // helpers (`ptr`) and the helpers below require of every pointer.
    guard(|| unsafe {
        let key = key(algorithm(alg)?, key_ptr, key_len)?;
        let code = otp_core::hotp(&key, counter, self::digits(digits)?);
        write_text(out_buf, out_len, &code)?;
        Ok(OTP_OK)
    })
}

/// Writes the TOTP code (RFC 6238) at `unix_time` with steps of `step`
/// seconds from `t0` as `digits` ASCII digits and a NUL into `out_buf`.
///
/// # Safety
///
/// As [`otp_hotp`].
#[allow(
    unsafe_code,
    reason = "the C ABI: an exported symbol taking raw pointers"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_totp(
    alg: u32,
    key_ptr: *const u8,
    key_len: usize,
    unix_time: u64,
    step: u64,
    t0: u64,
    digits: u8,
    out_buf: *mut u8,
    out_len: usize,
) -> i32 {
    // SAFETY: this function's `# Safety` contract is what the pointer
    // helpers (`ptr`) and the helpers below require of every pointer.
    guard(|| unsafe {
        let key = key(algorithm(alg)?, key_ptr, key_len)?;
        let step = time_step(step, t0)?;
        let code = otp_core::totp(&key, &step, unix_time, self::digits(digits)?)
            .map_err(|_| OTP_CLOCK_BEFORE_T0)?;
        write_text(out_buf, out_len, &code)?;
        Ok(OTP_OK)
    })
}

/// Verifies a HOTP or TOTP code (`mode`: `OTP_MODE_HOTP`, or
/// `OTP_MODE_TOTP` with `step` and `t0`; `step` and `t0` are ignored for
/// HOTP) against the token state in `state_in`, in constant time over the
/// window (`window_behind`, `window_ahead` positions around the expected
/// one). `max_failures` consecutive failures lock the token (0: never).
///
/// Returns `OTP_OK` (accepted) or an `OTP_REJECTED_*` status, and in both
/// cases writes the new state to `state_out` (which may be `state_in`):
/// store it, or replay refusal and lockout do not work. On acceptance the
/// counter or time step that matched goes to `*position_out` (if not
/// NULL). Any other status writes nothing.
///
/// # Safety
///
/// `key_ptr`/`code_ptr` point to `key_len`/`code_len` readable bytes;
/// `state_in` and `state_out` to `OTP_STATE_LEN` bytes; `position_out` is
/// NULL or writable.
#[allow(
    unsafe_code,
    reason = "the C ABI: an exported symbol taking raw pointers"
)]
#[allow(clippy::too_many_arguments, reason = "a flat C signature")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_verify(
    mode: u32,
    alg: u32,
    key_ptr: *const u8,
    key_len: usize,
    digits: u8,
    step: u64,
    t0: u64,
    state_in: *const u8,
    code_ptr: *const u8,
    code_len: usize,
    now: u64,
    window_behind: u16,
    window_ahead: u16,
    max_failures: u32,
    state_out: *mut u8,
    position_out: *mut u64,
) -> i32 {
    // SAFETY: this function's `# Safety` contract is what the pointer
    // helpers (`ptr`) and the helpers below require of every pointer.
    guard(|| unsafe {
        let mode = match mode {
            OTP_MODE_HOTP => Mode::Hotp,
            OTP_MODE_TOTP => Mode::Totp(time_step(step, t0)?),
            _ => return Err(OTP_BAD_MODE),
        };
        let key = key(algorithm(alg)?, key_ptr, key_len)?;
        let digits = self::digits(digits)?;
        let state = read_state(state_in)?;
        let code = Code::parse(text(slice_from(code_ptr, code_len)?, OTP_BAD_CODE)?, digits)
            .map_err(|_| OTP_BAD_CODE)?;
        if state_out.is_null() {
            return Err(OTP_NULL_POINTER);
        }
        let params = Params {
            mode,
            digits,
            window: Window::new(window_behind, window_ahead),
            max_failures,
            ..Params::default()
        };
        let verification = otp_core::verify(&key, &params, &state, &code, now);
        write_array(state_out, &encode_state(&verification.state))?;
        match verification.outcome {
            Ok(accepted) => {
                write_optional_u64(position_out, accepted.position());
                Ok(OTP_OK)
            }
            Err(why) => Ok(rejected(why)),
        }
    })
}

/// The OCRA data inputs a caller passes: one question, or two for a mutual
/// challenge-response (`question2` not NULL), and the optional parts.
struct Inputs<'a> {
    question: &'a str,
    question2: Option<&'a str>,
    password_hash: Option<&'a [u8]>,
    session: Option<&'a [u8]>,
}

impl<'a> Inputs<'a> {
    fn input(&self) -> OcraInput<'a> {
        let mut input = match self.question2 {
            Some(second) => OcraInput::mutual(self.question, second),
            None => OcraInput::new(self.question),
        };
        if let Some(p) = self.password_hash {
            input = input.with_password_hash(p);
        }
        if let Some(s) = self.session {
            input = input.with_session(s);
        }
        input
    }
}

/// The OCRA inputs in the caller's buffers.
///
/// # Safety
///
/// Each pointer as [`ptr::slice_from`] (the question) or
/// [`ptr::optional_slice`] (the others) requires, valid for `'a`.
#[allow(clippy::too_many_arguments, reason = "the C signature's inputs")]
#[allow(
    unsafe_code,
    reason = "reads or writes the caller's raw pointers; its callers uphold the contract"
)]
unsafe fn inputs<'a>(
    question_ptr: *const u8,
    question_len: usize,
    question2_ptr: *const u8,
    question2_len: usize,
    password_hash_ptr: *const u8,
    password_hash_len: usize,
    session_ptr: *const u8,
    session_len: usize,
) -> Result<Inputs<'a>, i32> {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        let question = text(slice_from(question_ptr, question_len)?, OTP_BAD_INPUT)?;
        let question2 = match optional_slice(question2_ptr, question2_len)? {
            Some(q) => Some(text(q, OTP_BAD_INPUT)?),
            None => None,
        };
        Ok(Inputs {
            question,
            question2,
            password_hash: optional_slice(password_hash_ptr, password_hash_len)?,
            session: optional_slice(session_ptr, session_len)?,
        })
    }
}

/// Writes the OCRA response (RFC 6287) of the suite `suite_ptr` (ASCII,
/// e.g. `OCRA-1:HOTP-SHA1-6:QN08`) over the question (`question2_ptr`
/// NULL for one question; not NULL for a mutual challenge-response, the
/// other party's question first) into `out_buf` with a NUL: decimal digits,
/// or lowercase hex for a suite without truncation (`-0`). The key's
/// algorithm is the suite's.
///
/// Optional inputs, each NULL when the suite lacks it: `counter` (`C`),
/// `password_hash_ptr` (`P`: the digest bytes, computed by the caller),
/// `session_ptr` (`S`: exactly the suite's length), `time_step` (`T`: whole
/// steps since the Unix epoch, e.g. minutes for `T1M`).
///
/// # Safety
///
/// Every non-NULL pointer points to its length in readable bytes (the
/// `uint64_t` pointers to one `uint64_t`); `out_buf` to `out_len`
/// writable bytes (`OTP_MAX_OUTPUT_LEN` always suffices).
#[allow(
    unsafe_code,
    reason = "the C ABI: an exported symbol taking raw pointers"
)]
#[allow(clippy::too_many_arguments, reason = "a flat C signature")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_ocra(
    suite_ptr: *const u8,
    suite_len: usize,
    key_ptr: *const u8,
    key_len: usize,
    question_ptr: *const u8,
    question_len: usize,
    question2_ptr: *const u8,
    question2_len: usize,
    counter: *const u64,
    password_hash_ptr: *const u8,
    password_hash_len: usize,
    session_ptr: *const u8,
    session_len: usize,
    time_step: *const u64,
    out_buf: *mut u8,
    out_len: usize,
) -> i32 {
    // SAFETY: this function's `# Safety` contract is what the pointer
    // helpers (`ptr`) and the helpers below require of every pointer.
    guard(|| unsafe {
        let suite = suite(suite_ptr, suite_len)?;
        let key = key(suite.algorithm(), key_ptr, key_len)?;
        let inputs = inputs(
            question_ptr,
            question_len,
            question2_ptr,
            question2_len,
            password_hash_ptr,
            password_hash_len,
            session_ptr,
            session_len,
        )?;
        let mut input = inputs.input();
        if let Some(c) = optional_u64(counter) {
            input = input.with_counter(c);
        }
        if let Some(t) = optional_u64(time_step) {
            input = input.with_time_step(t);
        }
        let response = otp_core::ocra(&key, &suite, &input).map_err(|_| OTP_BAD_INPUT)?;
        write_text(out_buf, out_len, &response)?;
        Ok(OTP_OK)
    })
}

/// Verifies an OCRA response (decimal digits, or hex for a `-0` suite)
/// over the question and optional inputs as [`otp_ocra`] takes them,
/// except the counter and time step: the verifier takes them from the
/// state (counter window `counter_behind`/`counter_ahead` around its floor)
/// and from `now` in Unix seconds (time window `time_behind`/`time_ahead`
/// steps around the clock plus the state's drift), in constant time.
/// `max_failures` consecutive failures lock the token (0: never).
///
/// Returns `OTP_OK` or an `OTP_REJECTED_*` status and writes the new state
/// to `state_out` (which may be `state_in`) in both cases; on acceptance
/// the matching counter and time step go to `*counter_out` and
/// `*time_step_out` when not NULL and the suite has them.
///
/// # Safety
///
/// As [`otp_ocra`]; `state_in` and `state_out` point to `OTP_STATE_LEN`
/// bytes; `counter_out` and `time_step_out` are NULL or writable.
#[allow(
    unsafe_code,
    reason = "the C ABI: an exported symbol taking raw pointers"
)]
#[allow(clippy::too_many_arguments, reason = "a flat C signature")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn otp_ocra_verify(
    suite_ptr: *const u8,
    suite_len: usize,
    key_ptr: *const u8,
    key_len: usize,
    question_ptr: *const u8,
    question_len: usize,
    question2_ptr: *const u8,
    question2_len: usize,
    password_hash_ptr: *const u8,
    password_hash_len: usize,
    session_ptr: *const u8,
    session_len: usize,
    response_ptr: *const u8,
    response_len: usize,
    now: u64,
    counter_behind: u16,
    counter_ahead: u16,
    time_behind: u16,
    time_ahead: u16,
    max_failures: u32,
    state_in: *const u8,
    state_out: *mut u8,
    counter_out: *mut u64,
    time_step_out: *mut u64,
) -> i32 {
    // SAFETY: this function's `# Safety` contract is what the pointer
    // helpers (`ptr`) and the helpers below require of every pointer.
    guard(|| unsafe {
        let suite = suite(suite_ptr, suite_len)?;
        let key = key(suite.algorithm(), key_ptr, key_len)?;
        let inputs = inputs(
            question_ptr,
            question_len,
            question2_ptr,
            question2_len,
            password_hash_ptr,
            password_hash_len,
            session_ptr,
            session_len,
        )?;
        let state = read_state(state_in)?;
        let response = OcraResponse::parse(
            text(slice_from(response_ptr, response_len)?, OTP_BAD_CODE)?,
            &suite,
        )
        .map_err(|_| OTP_BAD_CODE)?;
        if state_out.is_null() {
            return Err(OTP_NULL_POINTER);
        }
        let params = OcraParams {
            counter_window: Window::new(counter_behind, counter_ahead),
            time_window: Window::new(time_behind, time_ahead),
            max_failures,
        };
        let verification = otp_core::verify_ocra(
            &key,
            &suite,
            &params,
            &state,
            &inputs.input(),
            &response,
            now,
        )
        .map_err(|_| OTP_BAD_INPUT)?;
        write_array(state_out, &encode_state(&verification.state))?;
        match verification.outcome {
            Ok(accepted) => {
                if let Some(c) = accepted.counter() {
                    write_optional_u64(counter_out, c);
                }
                if let Some(t) = accepted.time_step() {
                    write_optional_u64(time_step_out, t);
                }
                Ok(OTP_OK)
            }
            Err(why) => Ok(rejected(why)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::panic, reason = "the test's point: a panic inside the guard")]
    fn guard_turns_a_panic_into_otp_panic() {
        assert_eq!(guard(|| panic!("a bug inside the library")), OTP_PANIC);
        assert_eq!(guard(|| Ok(OTP_OK)), OTP_OK);
        assert_eq!(guard(|| Err(OTP_BAD_KEY)), OTP_BAD_KEY);
        // An arithmetic overflow panic (debug builds) is caught too.
        let max = std::hint::black_box(u64::MAX);
        #[allow(clippy::arithmetic_side_effects, reason = "the overflow is the test")]
        let status = guard(|| Ok(i32::from(max + 1 == 0)));
        assert_eq!(status, if cfg!(debug_assertions) { OTP_PANIC } else { 1 });
    }

    #[test]
    fn state_round_trips_and_layout_is_as_documented() {
        let state = TokenState {
            floor: 0x0102_0304_0506_0708,
            drift: -2,
            failures: 3,
            locked: true,
        };
        let bytes = encode_state(&state);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..9], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&bytes[9..17], &(-2i64).to_le_bytes());
        assert_eq!(&bytes[17..21], &[3, 0, 0, 0]);
        assert_eq!(bytes[21], 1);
        assert_eq!(&bytes[22..], &[0; 10]);
        assert_eq!(decode_state(&bytes), Ok(state));
    }

    #[test]
    fn malformed_states_are_refused() {
        let good = encode_state(&TokenState::new());
        let mut wrong_version = good;
        wrong_version[0] = 2;
        let mut zero_version = good;
        zero_version[0] = 0;
        let mut bad_lock = good;
        bad_lock[21] = 2;
        let mut reserved = good;
        reserved[31] = 1;
        for bad in [wrong_version, zero_version, bad_lock, reserved] {
            assert_eq!(decode_state(&bad), Err(OTP_BAD_STATE));
        }
    }

    #[test]
    fn rejections_map_to_their_statuses() {
        assert_eq!(rejected(Rejected::Invalid), OTP_REJECTED_INVALID);
        assert_eq!(
            rejected(Rejected::Replayed {
                repeat_of_last: true
            }),
            OTP_REJECTED_REPLAYED
        );
        assert_eq!(rejected(Rejected::Locked), OTP_REJECTED_LOCKED);
        assert_eq!(rejected(Rejected::DigitsMismatch), OTP_BAD_CODE);
        assert_eq!(
            rejected(Rejected::Clock(ClockError::BeforeT0)),
            OTP_CLOCK_BEFORE_T0
        );
        assert_eq!(
            rejected(Rejected::CounterExhausted),
            OTP_REJECTED_COUNTER_EXHAUSTED
        );
    }
}
