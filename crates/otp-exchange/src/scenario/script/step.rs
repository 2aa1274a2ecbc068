//! What a walk is made of: the screen a step is on, what was done and
//! typed, what the bank answered, what the manual expects.

use otp_provision::SerialNumber;

use crate::{Authority, Refusal, UserId, UserList};

/// The screens of the manual, and the sign-in page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Screen {
    /// The sign-in page (a user types a code from their token).
    SignIn,
    /// Screen 1: the administrator's functions (管理機能).
    AdminFunctions,
    /// Screen 2: step "1 Select" (選択), the customer IDs.
    Select,
    /// Screen 3: step "2 Register" (登録), the user's token information.
    TokenInfo,
    /// Screen 4: the one-time password of the token in use now.
    CurrentCode,
    /// Screen 5: the new token's information.
    NewToken,
    /// Screen 6: step "3 Done" (完了).
    Done,
    /// The usage history (利用履歴照会) of a user.
    UsageHistory,
}

/// Which approval password was typed: a marker, never the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Approval {
    /// The administrator's approval password, mistyped.
    Mistyped,
    /// The administrator's approval password.
    Right,
}

/// What the person did on a step. Codes are the one-time codes a
/// simulated token showed; passwords appear only as an [`Approval`] marker.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Act {
    /// `user` signs in with `code`, read from their token `token`.
    SignIn {
        /// Who signs in.
        user: UserId,
        /// The token pressed.
        token: SerialNumber,
        /// The code it showed, as typed.
        code: String,
    },
    /// The screen is shown: a menu choice or the bank's page, no input.
    Open,
    /// The administrator opens the selection list (page 1, 5 rows a page).
    ListUsers,
    /// The administrator selects `user` for a token exchange.
    SelectForExchange {
        /// The customer ID selected.
        user: UserId,
    },
    /// The current token's code is typed (Next).
    TypeCurrentCode {
        /// The token pressed.
        token: SerialNumber,
        /// The code it showed, as typed.
        code: String,
    },
    /// The person waits for `token` to show its next code, `waited`
    /// seconds (the step's time is when it appears).
    WaitForNextCode {
        /// The token pressed.
        token: SerialNumber,
        /// Seconds waited.
        waited: u64,
    },
    /// The new token's serial, its code and the approval password are
    /// typed (Confirm).
    Confirm {
        /// The serial typed.
        serial: SerialNumber,
        /// The code the token with that serial showed, as typed.
        code: String,
        /// Which approval password was typed.
        approval: Approval,
    },
    /// The administrator reads `user`'s usage history.
    ReadHistory {
        /// Whose history.
        user: UserId,
    },
}

/// What the bank did when a step was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// The screen was shown (for screen 3: without the user's record,
    /// which the bank did not find).
    Shown,
    /// The sign-in was accepted.
    SignedIn,
    /// The selection list.
    Listed(UserList),
    /// The user was selected; the exchange waits for the current token's code.
    Selected,
    /// Screen 3's boxes.
    TokenInfo {
        /// Customer ID.
        user: UserId,
        /// User name.
        name: String,
        /// Administrator or general user.
        authority: Authority,
        /// The registered token (`None`: not registered).
        token: Option<SerialNumber>,
    },
    /// The token showed a new code; whether it did within
    /// [`NEXT_CODE_SECONDS`](super::NEXT_CODE_SECONDS).
    NextCode {
        /// `true` when the wait was within 15–30 s.
        within_manual: bool,
    },
    /// The current token's code was verified.
    CurrentTokenVerified,
    /// The exchange was confirmed: `old` revoked, `new` valid from now.
    Exchanged {
        /// The revoked token.
        old: Option<SerialNumber>,
        /// The token valid from now.
        new: SerialNumber,
    },
    /// The usage history was read and its chain verified.
    History {
        /// How many records are about the user. Not judged: the expected
        /// value repeats the outcome's, as the count follows the bank's
        /// bookkeeping (set-up included), which the manual does not fix.
        records: usize,
        /// How many of them are refusals: the manual expects one for
        /// every refusal the user met on the walk. (Their reasons are the
        /// bank's own: a failed sign-in is recorded with why it failed.)
        refused: usize,
    },
}

/// One step of the walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Where the step happens.
    pub screen: Screen,
    /// When, in Unix seconds on the simulated clock.
    pub at: u64,
    /// What the person did.
    pub act: Act,
    /// What the bank answered.
    pub outcome: Result<Accepted, Refusal>,
    /// What the manual says the bank must answer.
    pub expected: Result<Accepted, Refusal>,
}

impl Step {
    /// Whether the bank answered as the manual says.
    #[must_use]
    pub fn behaved(&self) -> bool {
        self.outcome == self.expected
    }
}

/// The walk: its steps, and whether it went to the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// `false` when the walk stopped early: after a step that did not
    /// behave, or after a refusal the manual lets the person try again
    /// from, when the bank ended the flow instead.
    pub finished: bool,
}

impl Walk {
    /// Whether the walk went to the end and every step behaved.
    #[must_use]
    pub fn behaved(&self) -> bool {
        self.finished && self.steps.iter().all(Step::behaved)
    }
}
