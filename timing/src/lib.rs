//! Shared pieces of the timing-leak checks: the verification fixture, a
//! small deterministic random generator, and Welch's t statistic.
#![forbid(unsafe_code)]

use otp_core::{Algorithm, Code, Digits, Key, Mode, Params, TimeStep, TokenState, Window, hotp};

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
