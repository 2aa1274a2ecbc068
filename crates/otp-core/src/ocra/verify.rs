//! OCRA verification as a pure function of
//! `(key, suite, params, state, input, response, now)`, returning the
//! outcome and the next [`TokenState`], like [`verify`](crate::verify).

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::input::{OcraInput, QuestionBlock, encode_question};
use super::{
    OcraField, OcraInputError, OcraResponse, OcraSuite, check_key, finish, head, middle,
    response_from,
};
use crate::hmac_pads::{BlockHash, HmacPads, HmacStream};
use crate::key::{Key, Pads};
use crate::verify::{Match, shift, signed_distance};
use crate::{MAX_POSITION, Rejected, TokenState, Window};

/// How far OCRA verification searches, and the lockout policy.
///
/// Defaults: a counter window of 1 behind (to recognise the last response
/// typed again) and 10 ahead, a time window of ±1 step around the clock
/// plus the learned drift, lock after 6 consecutive failures.
///
/// # Examples
///
/// ```
/// use otp_core::{OcraParams, Window};
/// let p = OcraParams { time_window: Window::new(2, 2), ..OcraParams::default() };
/// assert_eq!(p.counter_window, Window::new(1, 10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OcraParams {
    /// For suites with `C`: counters before and after the replay floor.
    /// Counters below the floor only tell a replayed response from a
    /// wrong one.
    pub counter_window: Window,
    /// For suites with `T`: steps before and after the clock's step plus
    /// the token's learned drift.
    pub time_window: Window,
    /// Consecutive failures after which the token locks. Zero disables the
    /// lock (not recommended).
    pub max_failures: u32,
}

impl Default for OcraParams {
    fn default() -> Self {
        Self {
            counter_window: Window::new(1, 10),
            time_window: Window::new(1, 1),
            max_failures: 6,
        }
    }
}

/// Proof that an OCRA response was verified, and where it matched. Only
/// this crate makes one; it is not `Clone`.
///
/// # Examples
///
/// See [`verify_ocra`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OcraAccepted {
    counter: Option<u64>,
    time_step: Option<u64>,
    counter_offset: i64,
    time_offset: i64,
}

impl OcraAccepted {
    /// The matched counter, for suites with `C`.
    #[must_use]
    pub const fn counter(&self) -> Option<u64> {
        self.counter
    }

    /// The matched time step, for suites with `T`.
    #[must_use]
    pub const fn time_step(&self) -> Option<u64> {
        self.time_step
    }

    /// How far the matched counter is past the replay floor (0 without `C`).
    #[must_use]
    pub const fn counter_offset(&self) -> i64 {
        self.counter_offset
    }

    /// The matched time step minus the clock's step: the token's drift in
    /// steps (0 without `T`).
    #[must_use]
    pub const fn time_offset(&self) -> i64 {
        self.time_offset
    }
}

/// The result of [`verify_ocra`]: the outcome, and the state to persist
/// whatever the outcome.
#[derive(Debug, PartialEq, Eq, Hash)]
#[must_use = "persist `state`, or replay refusal and lockout do not work"]
pub struct OcraVerification {
    /// Accepted, with where the response matched, or why not.
    pub outcome: Result<OcraAccepted, Rejected>,
    /// The next token state.
    pub state: TokenState,
}

impl OcraVerification {
    /// `true` when the response was accepted.
    #[must_use]
    pub const fn is_accepted(&self) -> bool {
        self.outcome.is_ok()
    }

    const fn refused(state: TokenState, why: Rejected) -> Self {
        Self {
            outcome: Err(why),
            state,
        }
    }
}

/// Which position guards against replay.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Floor {
    /// Suites with `C`: the counter (a time step, if any, only has to be
    /// in its window).
    Counter,
    /// Suites with `T` and no `C`: the time step.
    Time,
    /// Suites with neither: nothing in the core can tell a replay (the
    /// challenge must be fresh: that is the caller's duty).
    None,
}

/// Verifies an OCRA `response` to `input` at Unix time `now` (ignored
/// without `T`).
///
/// The verifier supplies the counter and time step: the counter runs over
/// `params.counter_window` around `state.floor`, the time step over
/// `params.time_window` around the clock's step plus `state.drift`. For a
/// suite with both, every pair is tried (the window sizes multiply). Every
/// candidate is computed and compared with the response in constant time,
/// and the match selected without branching or early exit; only the final
/// outcome is branched on. Of several fresh matches (a short response
/// collides now and then in a wide window) the one nearest the expected
/// position wins: the lowest counter at or past the floor, then the time
/// step nearest the clock plus the drift, the lower of two as near; the
/// lowest would teach a drift the token does not have.
///
/// The state after a success:
/// - suites with `C`: floor = matched counter plus one; drift = the time
///   offset if the suite has `T`, else 0;
/// - suites with `T` and no `C`: floor = matched step plus one, drift = its
///   offset from the clock, so a second response in the same time step is
///   refused as a replay;
/// - suites with neither: the floor and drift are kept (replay protection
///   is then the freshness of the challenge, the caller's duty).
///
/// Failures count toward the lock as in [`verify`](crate::verify).
///
/// # Errors
///
/// An [`OcraInputError`] when the input cannot be verified at all (the
/// state is then unchanged, nothing counted): the key is for another
/// hash, the input sets the counter or time step
/// ([`OcraInputError::SetByVerifier`]), or another input does not fit
/// the suite.
///
/// # Examples
///
/// ```
/// use otp_core::*;
/// let suite = OcraSuite::parse("OCRA-1:HOTP-SHA512-8:QN08-T1M")?;
/// let key = Key::new(Algorithm::Sha512, b"1234567890123456789012345678901234567890123456789012345678901234")?;
/// let now = 1_206_446_790; // RFC 6287 Appendix B: minute 0x132d0b6
/// let typed = OcraResponse::parse("95209754", &suite)?; // Appendix C.1, Q = 00000000
/// let challenge = OcraInput::new("00000000");
/// let v = verify_ocra(&key, &suite, &OcraParams::default(), &TokenState::new(), &challenge, &typed, now + 60)?;
/// assert_eq!(v.outcome.as_ref().map(|a| (a.time_step(), a.time_offset())), Ok((Some(0x132d0b6), -1)));
/// // The same step is refused from now on.
/// let again = verify_ocra(&key, &suite, &OcraParams::default(), &v.state, &challenge, &typed, now)?;
/// assert_eq!(again.outcome, Err(Rejected::Replayed { repeat_of_last: true }));
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub fn verify_ocra(
    key: &Key,
    suite: &OcraSuite,
    params: &OcraParams,
    state: &TokenState,
    input: &OcraInput<'_>,
    response: &OcraResponse,
    now: u64,
) -> Result<OcraVerification, OcraInputError> {
    check_key(key, suite)?;
    if input.counter().is_some() {
        return Err(OcraInputError::SetByVerifier(OcraField::Counter));
    }
    if input.time_step().is_some() {
        return Err(OcraInputError::SetByVerifier(OcraField::Time));
    }
    // Validate the rest as the computation will see it.
    let mut complete = *input;
    if suite.counter() {
        complete = complete.with_counter(0);
    }
    if suite.time_step().is_some() {
        complete = complete.with_time_step(0);
    }
    suite.validate(&complete)?;

    if state.locked {
        return Ok(OcraVerification::refused(*state, Rejected::Locked));
    }
    if !response.fits(suite) {
        return Ok(OcraVerification::refused(*state, Rejected::DigitsMismatch));
    }
    let floor = state.floor;
    let counters = if suite.counter() {
        let lo = floor.saturating_sub(u64::from(params.counter_window.behind));
        let hi = floor
            .saturating_add(u64::from(params.counter_window.ahead))
            .min(MAX_POSITION);
        if lo > hi {
            return Ok(OcraVerification::refused(
                *state,
                Rejected::CounterExhausted,
            ));
        }
        Some((lo, hi))
    } else {
        None
    };
    let clock = suite.time_step_at(now);
    let center = clock.map_or(0, |clock| shift(clock, state.drift));
    let times = match clock {
        Some(_) => {
            let lo = center.saturating_sub(u64::from(params.time_window.behind));
            let hi = center
                .saturating_add(u64::from(params.time_window.ahead))
                .min(MAX_POSITION);
            if lo > hi {
                return Ok(OcraVerification::refused(
                    *state,
                    Rejected::CounterExhausted,
                ));
            }
            Some((lo, hi))
        }
        None => None,
    };
    let guard = if suite.counter() {
        Floor::Counter
    } else if clock.is_some() {
        Floor::Time
    } else {
        Floor::None
    };

    let question = encode_question(suite.question_format(), input);
    let search = Search {
        suite,
        input,
        question: &question,
        response,
        counters,
        times,
        guard,
        floor,
        center,
    };
    let found = match key.pads() {
        Pads::Sha1(p) => search.run(p),
        Pads::Sha256(p) => search.run(p),
        Pads::Sha512(p) => search.run(p),
    };

    Ok(if bool::from(found.fresh.found) {
        let counter = counters.map(|_| found.fresh_counter);
        let time_step = times.map(|_| found.fresh_time);
        let counter_offset = counter.map_or(0, |c| signed_distance(floor, c));
        let time_offset = match (time_step, clock) {
            (Some(t), Some(clock)) => signed_distance(clock, t),
            _ => 0,
        };
        // A matched position is at most MAX_POSITION: the floor after it fits.
        let next = match guard {
            Floor::Counter => TokenState {
                floor: found.fresh_counter.saturating_add(1),
                drift: time_offset,
                failures: 0,
                locked: false,
            },
            Floor::Time => TokenState {
                floor: found.fresh_time.saturating_add(1),
                drift: time_offset,
                failures: 0,
                locked: false,
            },
            Floor::None => state.unlocked(),
        };
        OcraVerification {
            outcome: Ok(OcraAccepted {
                counter,
                time_step,
                counter_offset,
                time_offset,
            }),
            state: next,
        }
    } else if bool::from(found.stale.found) {
        let repeat_of_last = floor.checked_sub(1) == Some(found.stale.position);
        let next = if repeat_of_last {
            *state
        } else {
            state.failed(params.max_failures)
        };
        OcraVerification::refused(next, Rejected::Replayed { repeat_of_last })
    } else {
        OcraVerification::refused(state.failed(params.max_failures), Rejected::Invalid)
    })
}

struct Search<'a> {
    suite: &'a OcraSuite,
    input: &'a OcraInput<'a>,
    question: &'a QuestionBlock,
    response: &'a OcraResponse,
    counters: Option<(u64, u64)>,
    times: Option<(u64, u64)>,
    guard: Floor,
    floor: u64,
    /// The expected time step: the clock's plus the drift (suites with
    /// `T`).
    center: u64,
}

struct Found {
    /// The fresh match nearest the expected position: the lowest counter
    /// (every fresh one is at or past the floor), then the time step
    /// nearest the clock plus the drift (the lower of two as near).
    fresh: Match,
    fresh_counter: u64,
    fresh_time: u64,
    /// The highest stale match of the guarded position.
    stale: Match,
}

impl Search<'_> {
    fn run<H: BlockHash>(&self, pads: &HmacPads<H>) -> Found {
        let mut found = Found {
            fresh: Match::none(),
            fresh_counter: 0,
            fresh_time: 0,
            stale: Match::none(),
        };
        let head = head(pads, self.suite);
        let (c_lo, c_hi) = self.counters.unwrap_or((0, 0));
        let (t_lo, t_hi) = self.times.unwrap_or((0, 0));
        for c in c_lo..=c_hi {
            let counter = self.counters.map(|_| c);
            let middle = middle(&head, self.input, self.question, counter);
            let rest = if self.times.is_some() {
                self.lockstep(pads, &middle, c, &mut found)
            } else {
                Some(t_lo)
            };
            let Some(from) = rest else { continue };
            for t in from..=t_hi {
                let time_step = self.times.map(|_| t);
                let candidate = finish(pads, self.suite, &middle, time_step);
                self.judge(&mut found, c, t, &candidate);
            }
        }
        found
    }

    /// Judges the time steps of counter `c` (after `middle`) hashed in
    /// lockstep, four at a time and the rest together, where the hash, the
    /// CPU and the message allow it (all public, the same for every
    /// group). Returns the first step left for the one-by-one path, `None`
    /// when every one is judged.
    fn lockstep<H: BlockHash>(
        &self,
        pads: &HmacPads<H>,
        middle: &HmacStream<H>,
        c: u64,
        found: &mut Found,
    ) -> Option<u64> {
        let Some((t_lo, t_hi)) = self.times else {
            return Some(0);
        };
        let mut t = t_lo;
        loop {
            let left = t_hi.saturating_sub(t);
            let judged = match left {
                0 => self.group::<H, 1>(pads, middle, c, t, found),
                1 => self.group::<H, 2>(pads, middle, c, t, found),
                2 => self.group::<H, 3>(pads, middle, c, t, found),
                _ => self.group::<H, 4>(pads, middle, c, t, found),
            };
            if !judged {
                return Some(t);
            }
            if left < 4 {
                return None;
            }
            t = t.saturating_add(4);
        }
    }

    /// Judges the `N` time steps from `t` in lockstep; `false` (nothing
    /// judged) where there is no lockstep path.
    fn group<H: BlockHash, const N: usize>(
        &self,
        pads: &HmacPads<H>,
        middle: &HmacStream<H>,
        c: u64,
        t: u64,
        found: &mut Found,
    ) -> bool {
        let steps: [u64; N] = core::array::from_fn(|lane| t.saturating_add(lane as u64));
        let Some(states) = pads.finish_lockstep(middle, &steps.map(u64::to_be_bytes)) else {
            return false;
        };
        for (step, state) in steps.iter().zip(&states) {
            let candidate = response_from::<H>(self.suite, state);
            self.judge(found, c, *step, &candidate);
        }
        true
    }

    /// Weighs one candidate at counter `c` and time step `t` (0 where the
    /// suite has neither): compared in constant time with the response and
    /// taken without a branch.
    fn judge(&self, found: &mut Found, c: u64, t: u64, candidate: &OcraResponse) {
        let hit = candidate.ct_eq(self.response);
        let (guarded, is_fresh) = match self.guard {
            Floor::Counter => (c, Choice::from(u8::from(c >= self.floor))),
            Floor::Time => (t, Choice::from(u8::from(t >= self.floor))),
            Floor::None => (0, Choice::from(1)),
        };
        // How far from the expected position, counter first: the
        // loop bounds are public, only `hit` is secret.
        let dc = self.counters.map_or(0, |_| c.abs_diff(self.floor));
        let dt = self.times.map_or(0, |_| t.abs_diff(self.center));
        let distance = (dc.min(u64::from(u32::MAX)) << 32) | dt.min(u64::from(u32::MAX));
        let take = hit & is_fresh & found.fresh.is_nearer(distance);
        found.fresh_counter.conditional_assign(&c, take);
        found.fresh_time.conditional_assign(&t, take);
        found.fresh.take_at(guarded, distance, take);
        found.stale.take(guarded, hit & !is_fresh);
    }
}
