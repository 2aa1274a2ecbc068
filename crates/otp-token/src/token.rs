//! The virtual hardware token: a button, a six-digit display, a drifting
//! clock and a battery.

use core::fmt;

use otp_core::{Code, Key, Mode, OcraInput, OcraResponse, OcraSuite, Secret, hotp, ocra};
use otp_provision::{Clock, Profile, SerialNumber};

use crate::Crystal;

mod battery;
mod error;

pub use battery::Battery;
use battery::Level;
pub use error::TokenError;

/// Seconds in a (365-day) year, the unit of battery life.
pub const SECONDS_PER_YEAR: u64 = 365 * 86_400;

/// What the display shows.
///
/// `Display` renders it as the LCD would: the digits, `bAtt` before them
/// when the battery is low, nothing when off or dead.
///
/// # Examples
///
/// ```
/// use otp_token::Screen;
/// assert_eq!(Screen::Off.to_string(), "");
/// let code = otp_core::Code::parse("123456", otp_core::Digits::Six)?;
/// assert_eq!(Screen::LowBattery(code).to_string(), "bAtt 123456");
/// # Ok::<(), otp_core::CodeError>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Screen {
    /// The display is off (never pressed, or the display time has passed).
    Off,
    /// A one-time password.
    Code(Code),
    /// A one-time password with the `bAtt` warning: replace the token soon.
    LowBattery(Code),
    /// The response to a challenge typed on a keypad token (RFC 6287 OCRA).
    Response(OcraResponse),
    /// A response with the `bAtt` warning: replace the token soon.
    LowBatteryResponse(OcraResponse),
    /// Blank for good: the battery is exhausted.
    Dead,
}

impl Screen {
    /// The code shown, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_token::Screen::Dead.code().is_none());
    /// ```
    #[must_use]
    pub const fn code(&self) -> Option<Code> {
        match self {
            Self::Code(c) | Self::LowBattery(c) => Some(*c),
            Self::Response(_) | Self::LowBatteryResponse(_) | Self::Off | Self::Dead => None,
        }
    }

    /// The challenge's response shown, if any (keypad tokens).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_token::Screen::Off.response().is_none());
    /// ```
    #[must_use]
    pub const fn response(&self) -> Option<OcraResponse> {
        match self {
            Self::Response(r) | Self::LowBatteryResponse(r) => Some(*r),
            Self::Code(_) | Self::LowBattery(_) | Self::Off | Self::Dead => None,
        }
    }

    /// `true` when the display shows the `bAtt` warning.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!otp_token::Screen::Off.battery_low());
    /// ```
    #[must_use]
    pub const fn battery_low(&self) -> bool {
        matches!(self, Self::LowBattery(_) | Self::LowBatteryResponse(_))
    }
}

impl fmt::Display for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off | Self::Dead => Ok(()),
            Self::Code(c) => fmt::Display::fmt(c, f),
            Self::LowBattery(c) => write!(f, "bAtt {c}"),
            Self::Response(r) => fmt::Display::fmt(r, f),
            Self::LowBatteryResponse(r) => write!(f, "bAtt {r}"),
        }
    }
}

/// How a token is built: everything but its secret.
///
/// `TokenSpec::default()` is a bench token: the [`Profile`] default, a
/// perfect crystal, activated at time 0 with an unlimited battery, a 30 s
/// display, an event counter starting at 0. [`TokenSpec::activated_at`]
/// gives a real one: activated at a date, with the default 5-year
/// [`Battery`].
///
/// # Examples
///
/// ```
/// use otp_provision::SerialNumber;
/// use otp_token::{Crystal, Token, TokenSpec};
/// let spec = TokenSpec { crystal: Crystal::new(12, 3)?, activated_at: 1_700_000_000, ..TokenSpec::default() };
/// let secret = otp_core::Secret::from_bytes(&[7; 20])?;
/// let token = Token::new(SerialNumber::numbered("VT", 1)?, &secret, spec)?;
/// assert_eq!(token.crystal().drift_ppm(), 12);
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenSpec {
    /// Kind, hash and digits.
    pub profile: Profile,
    /// The token's crystal.
    pub crystal: Crystal,
    /// When the battery was connected and the clock set (Unix seconds).
    pub activated_at: u64,
    /// The battery.
    pub battery: Battery,
    /// How long the display stays on after a press, in seconds.
    pub display_seconds: u64,
    /// The event counter's first value (HOTP; ignored for TOTP).
    pub counter: u64,
}

impl Default for TokenSpec {
    fn default() -> Self {
        Self {
            profile: Profile::default(),
            crystal: Crystal::PERFECT,
            activated_at: 0,
            battery: Battery::unlimited(),
            display_seconds: 30,
            counter: 0,
        }
    }
}

impl TokenSpec {
    /// A token activated at `at` (Unix seconds) with the default battery
    /// (5 years or 30,000 presses); everything else as the default.
    ///
    /// # Examples
    ///
    /// ```
    /// let spec = otp_token::TokenSpec::activated_at(1_790_000_000);
    /// assert_eq!(spec.battery, otp_token::Battery::default());
    /// ```
    #[must_use]
    pub fn activated_at(at: u64) -> Self {
        Self {
            activated_at: at,
            battery: Battery::default(),
            ..Self::default()
        }
    }
}

#[derive(Clone, Copy)]
struct Shown {
    from: u64,
    until: u64,
    screen: Screen,
}

/// A virtual hardware token. Press its button with [`Token::press`] and
/// read the code; the token keeps its own (drifting) time, counts presses
/// against its battery and, for an event token, advances its counter.
///
/// The secret is absorbed into an `otp_core::Key` when the token is built
/// and never leaves it: there is no accessor, `Debug` shows only the
/// serial and public parameters.
///
/// # Examples
///
/// ```
/// use otp_provision::SerialNumber;
/// use otp_token::{Token, TokenSpec};
/// let secret = otp_core::Secret::from_bytes(b"12345678901234567890")?;
/// let mut token = Token::new(SerialNumber::numbered("VT", 7)?, &secret, TokenSpec::default())?;
/// let first = token.press(59)?.to_string();
/// assert_eq!(first, "287082"); // RFC 6238, T = 59, last six digits
/// assert_eq!(token.press(59)?.to_string(), first); // same step, same code
/// assert_eq!(token.next_code_at(59), Some(60));
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub struct Token {
    serial: SerialNumber,
    key: Key,
    spec: TokenSpec,
    presses: u64,
    counter: u64,
    shown: Option<Shown>,
    /// A keypad token's OCRA suite.
    suite: Option<OcraSuite>,
    /// A keypad token's signing counter (suites with `C`): its own, apart
    /// from the button's, as a signing application's on a real device, so
    /// that logins do not carry signatures out of the bank's window.
    sign_counter: u64,
}

impl Token {
    /// Builds a token holding `secret` (copied into its key).
    ///
    /// # Errors
    ///
    /// [`TokenError::ZeroDisplayTime`] for a display time of 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{SerialNumber, Profile};
    /// use otp_token::{Token, TokenSpec};
    /// let secret = otp_core::Secret::from_bytes(&[1; 20])?;
    /// let spec = TokenSpec { profile: Profile::hotp(), ..TokenSpec::default() };
    /// let token = Token::new(SerialNumber::numbered("EV", 1)?, &secret, spec)?;
    /// assert_eq!(token.counter(), 0);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn new(serial: SerialNumber, secret: &Secret, spec: TokenSpec) -> Result<Self, TokenError> {
        if spec.display_seconds == 0 {
            return Err(TokenError::ZeroDisplayTime);
        }
        Ok(Self {
            serial,
            key: Key::from_secret(spec.profile.algorithm, secret),
            spec,
            presses: 0,
            counter: spec.counter,
            shown: None,
            suite: None,
            sign_counter: 0,
        })
    }

    /// Builds a keypad token: a signing token that answers a challenge
    /// typed on its keypad ("press 2, type the 8 digits shown on the
    /// screen") with the RFC 6287 response of `suite`, from its own clock
    /// for a suite with `T` and its own signing counter (starting at
    /// 0, [`Token::with_sign_counter`]) for a suite with `C`, apart from
    /// the button's counter. Its key uses the suite's hash
    /// (the profile's algorithm is set to it); [`Token::press`] still
    /// shows the profile's one-time password.
    ///
    /// # Errors
    ///
    /// [`TokenError::ZeroDisplayTime`] for a display time of 0;
    /// [`TokenError::KeypadSuite`] for a suite with a PIN hash `P` or
    /// session `S`, which a keypad token has no way to be given.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::SerialNumber;
    /// use otp_token::{Token, TokenSpec};
    /// let suite: otp_core::OcraSuite = "OCRA-1:HOTP-SHA1-6:QN08".parse()?;
    /// let secret = otp_core::Secret::from_bytes(b"12345678901234567890")?;
    /// let mut token = Token::keypad(SerialNumber::numbered("KP", 1)?, &secret, TokenSpec::default(), suite)?;
    /// // RFC 6287 Appendix C.1: Q = 00000000.
    /// assert_eq!(token.press_challenge(0, "00000000")?.to_string(), "237653");
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn keypad(
        serial: SerialNumber,
        secret: &Secret,
        mut spec: TokenSpec,
        suite: OcraSuite,
    ) -> Result<Self, TokenError> {
        if suite.password_hash().is_some() || suite.session_len().is_some() {
            return Err(TokenError::KeypadSuite);
        }
        spec.profile.algorithm = suite.algorithm();
        let mut token = Self::new(serial, secret, spec)?;
        token.suite = Some(suite);
        Ok(token)
    }

    /// The same token, its signing counter (suites with `C`) at `counter`:
    /// the next challenge is answered with it.
    #[must_use]
    pub const fn with_sign_counter(mut self, counter: u64) -> Self {
        self.sign_counter = counter;
        self
    }

    /// A keypad token's signing counter: the one the next challenge uses
    /// (suites with `C`; 0 and unused otherwise).
    #[must_use]
    pub const fn sign_counter(&self) -> u64 {
        self.sign_counter
    }

    /// A keypad token's OCRA suite; `None` for a button-only token.
    #[must_use]
    pub const fn suite(&self) -> Option<OcraSuite> {
        self.suite
    }

    /// Types `challenge` on the keypad at true time `at` and shows the
    /// response, for the display time. A suite with `C` advances the
    /// token's signing counter (not the button's); with `T`, the token's own (drifting) clock gives
    /// the time step. The battery and display behave as for
    /// [`Token::press`].
    ///
    /// # Errors
    ///
    /// [`TokenError::NoKeypad`] for a button-only token,
    /// [`TokenError::Challenge`] when the challenge does not fit the suite
    /// (too long, or not digits for a `QN` suite), and as [`Token::press`].
    /// A failed press changes nothing and does not use the battery.
    ///
    /// # Examples
    ///
    /// See [`Token::keypad`].
    pub fn press_challenge(&mut self, at: u64, challenge: &str) -> Result<Screen, TokenError> {
        let suite = self.suite.ok_or(TokenError::NoKeypad)?;
        let age = at
            .checked_sub(self.spec.activated_at)
            .ok_or(TokenError::BeforeActivation)?;
        let level = self.spec.battery.level(self.presses, age);
        if level == Level::Empty {
            self.shown = None;
            return Ok(Screen::Dead);
        }
        let mut input = OcraInput::new(challenge);
        let mut next_counter = None;
        if suite.counter() {
            input = input.with_counter(self.sign_counter);
            next_counter = Some(
                self.sign_counter
                    .checked_add(1)
                    .ok_or(TokenError::CounterExhausted)?,
            );
        }
        if let Some(step) = suite.time_step_at(self.local_time(at)) {
            input = input.with_time_step(step);
        }
        let response = ocra(&self.key, &suite, &input).map_err(TokenError::Challenge)?;
        if let Some(next) = next_counter {
            self.sign_counter = next;
        }
        self.presses = self.presses.saturating_add(1);
        let screen = if level == Level::Low {
            Screen::LowBatteryResponse(response)
        } else {
            Screen::Response(response)
        };
        self.shown = Some(Shown {
            from: at,
            until: at.saturating_add(self.spec.display_seconds),
            screen,
        });
        Ok(screen)
    }

    /// Presses the button at true time `at` (Unix seconds): the display
    /// turns on for the display time and shows the code. A time token shows
    /// the same code for every press within one step of its own clock; an
    /// event token shows a new code on every press. Near the end of the
    /// battery the code comes with `bAtt`; after it, [`Screen::Dead`].
    ///
    /// # Errors
    ///
    /// [`TokenError::BeforeActivation`] before the activation date,
    /// [`TokenError::Clock`] when the token's clock reads before T0,
    /// [`TokenError::CounterExhausted`] when an event counter would wrap.
    /// A failed press changes nothing and does not use the battery.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Profile, SerialNumber};
    /// use otp_token::{Token, TokenSpec};
    /// let secret = otp_core::Secret::from_bytes(b"12345678901234567890")?;
    /// let spec = TokenSpec { profile: Profile::hotp(), ..TokenSpec::default() };
    /// let mut token = Token::new(SerialNumber::numbered("EV", 1)?, &secret, spec)?;
    /// assert_eq!(token.press(0)?.to_string(), "755224"); // RFC 4226, counter 0
    /// assert_eq!(token.press(1)?.to_string(), "287082"); // counter 1
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn press(&mut self, at: u64) -> Result<Screen, TokenError> {
        let age = at
            .checked_sub(self.spec.activated_at)
            .ok_or(TokenError::BeforeActivation)?;
        let level = self.spec.battery.level(self.presses, age);
        if level == Level::Empty {
            self.shown = None;
            return Ok(Screen::Dead);
        }
        let (code, next_counter) = match self.spec.profile.mode {
            Mode::Totp(step) => {
                let local = self.local_time(at);
                let position = step.step_at(local)?;
                (hotp(&self.key, position, self.spec.profile.digits), None)
            }
            Mode::Hotp => {
                let next = self
                    .counter
                    .checked_add(1)
                    .ok_or(TokenError::CounterExhausted)?;
                (
                    hotp(&self.key, self.counter, self.spec.profile.digits),
                    Some(next),
                )
            }
        };
        if let Some(next) = next_counter {
            self.counter = next;
        }
        self.presses = self.presses.saturating_add(1);
        let screen = if level == Level::Low {
            Screen::LowBattery(code)
        } else {
            Screen::Code(code)
        };
        self.shown = Some(Shown {
            from: at,
            until: at.saturating_add(self.spec.display_seconds),
            screen,
        });
        Ok(screen)
    }

    /// Presses the button at `clock`'s current time.
    ///
    /// # Errors
    ///
    /// As [`Token::press`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::SerialNumber;
    /// use otp_token::{SimClock, Token, TokenSpec};
    /// let clock = SimClock::new(1_790_000_000);
    /// let secret = otp_core::Secret::from_bytes(&[5; 20])?;
    /// let mut token = Token::new(SerialNumber::numbered("VT", 1)?, &secret, TokenSpec::default())?;
    /// assert!(token.press_now(&clock)?.code().is_some());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn press_now(&mut self, clock: &impl Clock) -> Result<Screen, TokenError> {
        self.press(clock.now())
    }

    /// What the display shows at true time `at`, without pressing: the last
    /// code until the display time has passed, then [`Screen::Off`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::SerialNumber;
    /// use otp_token::{Token, TokenSpec, Screen};
    /// let secret = otp_core::Secret::from_bytes(&[5; 20])?;
    /// let mut token = Token::new(SerialNumber::numbered("VT", 1)?, &secret, TokenSpec::default())?;
    /// token.press(100)?;
    /// assert!(token.screen(129).code().is_some());
    /// assert!(matches!(token.screen(130), Screen::Off));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub fn screen(&self, at: u64) -> Screen {
        match self.shown {
            Some(s) if s.from <= at && at < s.until => s.screen,
            _ => Screen::Off,
        }
    }

    /// The first true time at or after `at` when a press shows a code
    /// different from a press at `at`: the start of the token's next time
    /// step (so 0 to 30 s away, the manual's "a new one takes 15–30 s"), or
    /// `at` itself for an event token. `None` when the battery is exhausted
    /// by then, or the event counter is.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::SerialNumber;
    /// use otp_token::{Token, TokenSpec};
    /// let secret = otp_core::Secret::from_bytes(&[5; 20])?;
    /// let token = Token::new(SerialNumber::numbered("VT", 1)?, &secret, TokenSpec::default())?;
    /// assert_eq!(token.next_code_at(1_000), Some(1_020));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub fn next_code_at(&self, at: u64) -> Option<u64> {
        let next = match self.spec.profile.mode {
            Mode::Hotp => {
                self.counter.checked_add(1)?;
                at
            }
            Mode::Totp(step) => {
                let local = self.local_time(at);
                let change = step.next_change_after(local)?;
                self.spec
                    .crystal
                    .true_time_of(self.spec.activated_at, at, change)?
            }
        };
        let age = next.saturating_sub(self.spec.activated_at);
        (self.spec.battery.level(self.presses, age) != Level::Empty).then_some(next)
    }

    /// What the token's own clock reads at true time `at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::SerialNumber;
    /// use otp_token::{Crystal, Token, TokenSpec};
    /// let secret = otp_core::Secret::from_bytes(&[5; 20])?;
    /// let spec = TokenSpec { crystal: Crystal::new(0, 42)?, ..TokenSpec::default() };
    /// let token = Token::new(SerialNumber::numbered("VT", 1)?, &secret, spec)?;
    /// assert_eq!(token.local_time(1_000), 1_042);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub fn local_time(&self, at: u64) -> u64 {
        self.spec.crystal.local_time(self.spec.activated_at, at)
    }

    /// The serial number printed on the back.
    #[must_use]
    pub const fn serial(&self) -> SerialNumber {
        self.serial
    }

    /// Kind, hash and digits.
    #[must_use]
    pub const fn profile(&self) -> Profile {
        self.spec.profile
    }

    /// The token's crystal.
    #[must_use]
    pub const fn crystal(&self) -> Crystal {
        self.spec.crystal
    }

    /// Everything the token was built with (its counter field is the
    /// starting counter, not the current one).
    #[must_use]
    pub const fn spec(&self) -> TokenSpec {
        self.spec
    }

    /// How many times the button was pressed with a live battery.
    #[must_use]
    pub const fn presses(&self) -> u64 {
        self.presses
    }

    /// The event counter of the next press (HOTP).
    #[must_use]
    pub const fn counter(&self) -> u64 {
        self.counter
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("serial", &self.serial)
            .field("spec", &self.spec)
            .field("presses", &self.presses)
            .field("counter", &self.counter)
            .field("suite", &self.suite)
            .field("sign_counter", &self.sign_counter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use otp_core::{ClockError, Digits, TimeStep};

    use super::*;

    fn token(spec: TokenSpec) -> Token {
        let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
        Token::new(SerialNumber::numbered("T", 1).unwrap(), &secret, spec).unwrap()
    }

    #[test]
    fn rfc6238_vectors_through_the_button() {
        let spec = TokenSpec {
            profile: Profile {
                digits: Digits::Eight,
                ..Profile::default()
            },
            battery: Battery::unlimited(),
            ..TokenSpec::default()
        };
        let mut t = token(spec);
        for (at, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.press(at).unwrap().to_string(), code);
        }
    }

    #[test]
    fn same_step_same_code_and_display_timeout() {
        let mut t = token(TokenSpec {
            display_seconds: 10,
            ..TokenSpec::default()
        });
        let a = t.press(1_000).unwrap().to_string();
        assert_eq!(t.press(1_019).unwrap().to_string(), a);
        assert_eq!(t.screen(1_028).to_string(), a);
        assert!(matches!(t.screen(1_029), Screen::Off));
        assert_ne!(t.press(1_020).unwrap().to_string(), a);
        assert_eq!(t.next_code_at(1_020), Some(1_050));
    }

    #[test]
    fn battery_low_then_dead() {
        let mut t = token(TokenSpec {
            battery: Battery::new(3, 5).with_warning(1, 0),
            ..TokenSpec::default()
        });
        assert!(!t.press(10).unwrap().battery_low());
        assert!(!t.press(11).unwrap().battery_low());
        let low = t.press(12).unwrap();
        assert!(low.battery_low());
        assert!(low.to_string().starts_with("bAtt "));
        assert!(matches!(t.press(13).unwrap(), Screen::Dead));
        assert_eq!(t.presses(), 3);
        assert_eq!(t.next_code_at(13), None);

        let mut old = token(TokenSpec {
            battery: Battery::new(1_000, 1),
            ..TokenSpec::activated_at(0)
        });
        assert!(old.press(SECONDS_PER_YEAR - 86_400).unwrap().battery_low());
        assert!(matches!(old.press(SECONDS_PER_YEAR).unwrap(), Screen::Dead));
    }

    #[test]
    fn event_counter_never_wraps() {
        let mut t = token(TokenSpec {
            profile: Profile::hotp(),
            counter: u64::MAX - 1,
            battery: Battery::unlimited(),
            ..TokenSpec::default()
        });
        assert!(t.press(0).is_ok());
        assert_eq!(t.counter(), u64::MAX);
        assert_eq!(t.press(1).unwrap_err(), TokenError::CounterExhausted);
        assert_eq!(t.next_code_at(1), None);
    }

    #[test]
    fn before_activation_and_before_t0() {
        let mut t = token(TokenSpec {
            activated_at: 100,
            ..TokenSpec::default()
        });
        assert_eq!(t.press(99).unwrap_err(), TokenError::BeforeActivation);
        let mut late = token(TokenSpec {
            profile: Profile {
                mode: Mode::Totp(TimeStep::new(30, 1_000).unwrap()),
                ..Profile::default()
            },
            ..TokenSpec::default()
        });
        assert_eq!(
            late.press(10).unwrap_err(),
            TokenError::Clock(ClockError::BeforeT0)
        );
        assert_eq!(late.presses(), 0);
    }

    #[test]
    fn debug_is_redacted() {
        let t = token(TokenSpec::default());
        let dbg = format!("{t:?}");
        assert!(dbg.contains("T00000000001"));
        assert!(!dbg.contains("1234567890"));
    }
}
