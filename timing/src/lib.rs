//! Shared pieces of the timing-leak checks: the verification fixtures
//! (TOTP and OCRA), a small deterministic random generator, and Welch's t
//! statistic.
#![forbid(unsafe_code)]

use otp_core::{
    Algorithm, Code, Digits, Key, Mode, OcraInput, OcraParams, OcraResponse, OcraSuite, Params,
    TimeStep, TokenState, Window, hotp, ocra,
};

/// The fixed instant of every measurement (a Wednesday in 2026).
pub const NOW: u64 = 1_790_000_405;

/// xorshift64*: fast, deterministic, good enough to pick classes and codes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed (zero is replaced).
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub const fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (`n > 0`; the bias is irrelevant here).
    pub fn below(&mut self, n: u32) -> u32 {
        u32::try_from(self.next_u64() % u64::from(n.max(1))).unwrap_or(0)
    }

    /// One random bit.
    pub const fn bit(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }
}

/// What one verification needs: a key, the bank's parameters, a fresh
/// token state, and the instant.
#[derive(Debug)]
pub struct Fixture {
    /// The token's key (a random 160-bit secret).
    pub key: Key,
    /// TOTP, 30 s, 6 digits, the given window.
    pub params: Params,
    /// A never-used token.
    pub state: TokenState,
    /// The server's step at [`NOW`].
    pub step: u64,
}

impl Fixture {
    /// A fixture with a random secret and a `±w` window.
    #[must_use]
    pub fn new(rng: &mut Rng, algorithm: Algorithm, w: u16) -> Option<Self> {
        let mut secret = [0u8; 20];
        for b in &mut secret {
            *b = rng.next_u64().to_le_bytes()[0];
        }
        let key = Key::new(algorithm, &secret).ok()?;
        let step = TimeStep::default();
        let params = Params {
            mode: Mode::Totp(step),
            window: Window::new(w, w),
            ..Params::default()
        };
        Some(Self {
            key,
            params,
            state: TokenState::new(),
            step: step.step_at(NOW).ok()?,
        })
    }

    /// The code of the window position `offset` steps from the centre.
    #[must_use]
    pub fn code_at(&self, offset: i64) -> Code {
        hotp(
            &self.key,
            self.step.saturating_add_signed(offset),
            self.params.digits,
        )
    }

    /// Whether `value` is the code of any position in the window.
    #[must_use]
    pub fn in_window(&self, value: u32) -> bool {
        let w = i64::from(self.params.window.behind);
        (-w..=w).any(|o| self.code_at(o).value() == value)
    }

    /// A random code that matches no position of the window.
    #[must_use]
    pub fn wrong_code(&self, rng: &mut Rng) -> Code {
        loop {
            let v = rng.below(Digits::Six.modulus());
            if !self.in_window(v)
                && let Some(c) = Code::from_value(v, self.params.digits)
            {
                return c;
            }
        }
    }

    /// The right code (centre) with the digit at `place` (0 = the last,
    /// 5 = the first of six) changed to a random other digit, such that it
    /// matches no position of the window.
    #[must_use]
    pub fn differing_digit(&self, rng: &mut Rng, place: u32) -> Code {
        let right = self.code_at(0).value();
        let unit = 10u32.pow(place);
        let digit = right / unit % 10;
        loop {
            let other = (digit + 1 + rng.below(9)) % 10;
            let v = right - digit * unit + other * unit;
            if !self.in_window(v)
                && let Some(c) = Code::from_value(v, self.params.digits)
            {
                return c;
            }
        }
    }
}

/// The counter every OCRA counter fixture's token has reached (its replay
/// floor): the counter window then runs from `OCRA_FLOOR - behind` to
/// `OCRA_FLOOR + ahead`.
pub const OCRA_FLOOR: u64 = 1_000;

/// What one OCRA verification needs: a key, the suite, the bank's window
/// parameters, the token state, and one fixed challenge (public, the same
/// for every measurement of a fixture).
#[derive(Debug)]
pub struct OcraFixture {
    /// The token's key (a random secret of the hash's output length).
    pub key: Key,
    /// The suite.
    pub suite: OcraSuite,
    /// The windows: [`OcraParams::default`] (counter 1 behind and 10
    /// ahead, time ±1) unless made [`OcraFixture::with_params`].
    pub params: OcraParams,
    /// A token at counter [`OCRA_FLOOR`] (suites with `C`), or never used.
    pub state: TokenState,
    /// The challenge question (8 random digits).
    question: String,
    /// The counter the window is placed around, for suites with `C`.
    counter: Option<u64>,
    /// The clock's time step at [`NOW`], for suites with `T`.
    clock: Option<u64>,
    /// Every response the window accepts or recognises as a replay.
    window: Vec<String>,
}

impl OcraFixture {
    /// A fixture for `suite` with a random secret (20, 32 or 64 bytes for
    /// SHA-1, SHA-256, SHA-512), a random question and the default windows.
    #[must_use]
    pub fn new(rng: &mut Rng, suite: &str) -> Option<Self> {
        Self::with_params(rng, suite, OcraParams::default())
    }

    /// [`OcraFixture::new`] with the windows of `params`.
    #[must_use]
    pub fn with_params(rng: &mut Rng, suite: &str, params: OcraParams) -> Option<Self> {
        let suite = OcraSuite::parse(suite).ok()?;
        let algorithm = suite.algorithm();
        let len = match algorithm {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            _ => 64,
        };
        let secret: Vec<u8> = (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect();
        let key = Key::new(algorithm, &secret).ok()?;
        let question = format!("{:08}", rng.below(100_000_000));
        let counter = suite.counter().then_some(OCRA_FLOOR);
        let state = counter.map_or_else(TokenState::new, TokenState::starting_at);
        let clock = suite.time_step_at(NOW);
        let mut f = Self {
            key,
            suite,
            params,
            state,
            question,
            counter,
            clock,
            window: Vec::new(),
        };
        let span = |w: Window| -i64::from(w.behind)..=i64::from(w.ahead);
        let counters: Vec<Option<i64>> = match counter {
            Some(_) => span(params.counter_window).map(Some).collect(),
            None => vec![None],
        };
        let times: Vec<Option<i64>> = match clock {
            Some(_) => span(params.time_window).map(Some).collect(),
            None => vec![None],
        };
        let mut window = Vec::new();
        for c in &counters {
            for t in &times {
                window.push(f.response(*c, *t)?.to_string());
            }
        }
        f.window = window;
        Some(f)
    }

    /// The challenge, as the verifier receives it (no counter, no time).
    #[must_use]
    pub fn input(&self) -> OcraInput<'_> {
        OcraInput::new(&self.question)
    }

    /// The response at counter offset `c` from the floor and time offset
    /// `t` from the clock (each ignored when the suite lacks it).
    #[must_use]
    pub fn response(&self, c: Option<i64>, t: Option<i64>) -> Option<OcraResponse> {
        let mut input = self.input();
        if let Some(base) = self.counter {
            input = input.with_counter(base.saturating_add_signed(c.unwrap_or(0)));
        }
        if let Some(base) = self.clock {
            input = input.with_time_step(base.saturating_add_signed(t.unwrap_or(0)));
        }
        ocra(&self.key, &self.suite, &input).ok()
    }

    /// The response at offset `offset` of the suite's moving input
    /// (the counter for suites with `C`, the time step for suites with
    /// `T`; both for a suite with both).
    #[must_use]
    pub fn response_at(&self, offset: i64) -> Option<OcraResponse> {
        self.response(Some(offset), Some(offset))
    }

    /// Parses `text` as a response for this suite, if it matches no
    /// position of the window.
    fn outside(&self, text: &str) -> Option<OcraResponse> {
        if self.window.iter().any(|w| w == text) {
            None
        } else {
            OcraResponse::parse(text, &self.suite).ok()
        }
    }

    /// A random response that matches no position of the window.
    #[must_use]
    pub fn wrong(&self, rng: &mut Rng) -> Option<OcraResponse> {
        let digits = usize::from(self.suite.digits());
        let modulus = 10u32.checked_pow(u32::try_from(digits).ok()?)?;
        (0..1_000).find_map(|_| self.outside(&format!("{:0digits$}", rng.below(modulus))))
    }

    /// The right response (offset 0) with its digit at `index` (0 = the
    /// first) changed to a random other digit, such that it matches no
    /// position of the window.
    #[must_use]
    pub fn differing_digit(&self, rng: &mut Rng, index: usize) -> Option<OcraResponse> {
        let right = self.response_at(0)?.to_string().into_bytes();
        let digit = u32::from(right.get(index)?.wrapping_sub(b'0'));
        (0..1_000).find_map(|_| {
            let other = (digit + 1 + rng.below(9)) % 10;
            let mut text = right.clone();
            *text.get_mut(index)? = b'0'.wrapping_add(other.to_le_bytes()[0]);
            self.outside(core::str::from_utf8(&text).ok()?)
        })
    }
}

/// Running mean and variance of one class (Welford).
#[derive(Debug, Clone, Copy, Default)]
pub struct Moments {
    /// Samples.
    pub n: f64,
    /// Mean.
    pub mean: f64,
    m2: f64,
}

impl Moments {
    /// Adds one sample.
    pub fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }

    /// The sample variance.
    #[must_use]
    pub fn variance(&self) -> f64 {
        if self.n < 2.0 {
            0.0
        } else {
            self.m2 / (self.n - 1.0)
        }
    }
}

/// Welch's t statistic between two classes.
#[must_use]
pub fn welch_t(a: &Moments, b: &Moments) -> f64 {
    let se = (a.variance() / a.n + b.variance() / b.n).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (a.mean - b.mean) / se
    }
}
