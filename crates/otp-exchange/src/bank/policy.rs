//! The bank's rules ([`Policy`]) and the manual's defaults.

use otp_core::Window;

/// The bank's rules, with the manual's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive wrong entries that lock an ID: 6. Counted separately
    /// for codes (against the user whose token it is) and for approval
    /// passwords (against the administrator who typed them). 0 is taken
    /// as 1: the lock cannot be switched off.
    pub max_wrong_entries: u32,
    /// The verification window of a registered token: ±1 step.
    pub window: Window,
    /// The window for a new token's first code: it may have drifted in
    /// storage. Default ±10 steps (±5 minutes).
    pub first_use_window: Window,
    /// How long an exchange may take from selection to confirmation:
    /// 600 s.
    pub session_ttl: u64,
    /// Whether an administrator may unregister a user's token outside an
    /// exchange (the manual's screen offers it): `true`. It needs a code from
    /// the token and the approval password, like an exchange.
    pub allow_unregister: bool,
    /// Online unlocks of one ID per calendar day: 3. Each unlock gives
    /// another `max_wrong_entries` guesses, so this caps guessing through
    /// an insider's unlocks; past it, the branch unlocks.
    pub max_unlocks_per_day: u32,
    /// The bank's time zone, for the calendar day of the unlock cap:
    /// +9 h (JST, the manual's bank).
    pub utc_offset_seconds: i64,
    /// How long a reserved attempt may stay unsettled before it counts as
    /// a wrong entry (a server died while evaluating it): 60 s.
    pub reservation_ttl: u64,
    /// Whether a general user's usage mode may be "not used" (利用しない:
    /// sign-in with the ID and login password alone): `false`. Never for
    /// an administrator. Turned off later, it turns off the sign-in of
    /// every user left in that mode until an administrator registers a
    /// token for them.
    pub allow_not_used: bool,
    /// The fewest digits a transaction's challenge may have: 8. A keypad
    /// token whose question takes fewer signs nothing
    /// ([`Refusal::NoSigningToken`](crate::Refusal::NoSigningToken)):
    /// whoever can ask the bank for challenges could try transfers until
    /// one has the same challenge as the customer's, about 10^d tries for
    /// d digits (hours at the API's per-user limit for 5 digits, years for
    /// 8).
    pub min_signing_challenge: u8,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_wrong_entries: 6,
            window: Window::new(1, 1),
            first_use_window: Window::new(10, 10),
            session_ttl: 600,
            allow_unregister: true,
            max_unlocks_per_day: 3,
            utc_offset_seconds: 9 * 3600,
            reservation_ttl: 60,
            allow_not_used: false,
            min_signing_challenge: 8,
        }
    }
}
