//! The manual's bank, ready to drive: users W0001 (administrator with a
//! token and an approval password), W0002 (general user with a token) and
//! W0005 (general user without one), each with the login password
//! [`LOGIN_PASSWORD`], a stock of virtual tokens imported
//! from the vendor's PSKC seed file, all on one simulated clock. Test
//! suites and `otp demo` start from here; [`script`] walks the manual's
//! exchange on it, step by step. (The examples do not: they use only what
//! a production build has.)

use std::collections::BTreeMap;
use std::sync::Arc;

use otp_core::OcraSuite;
use otp_provision::{Clock, Inventory, Profile, SeedRecord, SerialNumber};
use otp_token::{Factory, SimClock, Token, TokenSpec};

pub mod script;

use crate::{
    AuditKey, Authority, Bank, BranchAuthorization, HashCost, Password, PasswordKind, Refusal,
    Store, StoreError, UserId,
};

/// The administrator's approval password in the scenario.
pub const ADMIN_APPROVAL_PASSWORD: &str = "approve-2020";

/// Every scenario user's login password (ログインパスワード) for the web
/// sign-in ([`Bank::sign_in`]): W0001, W0002 and W0005 all have it. A demo
/// fixture, printed by `otp serve --demo`; a real bank's users choose
/// their own.
pub const LOGIN_PASSWORD: &str = "login-2020";

/// The scenario bank's audit key (a fixture: a real bank's key is random
/// and kept in a key file).
pub const AUDIT_KEY: [u8; 32] = [0xa7; 32];

/// The branch officer's authority the scenario uses.
#[must_use]
pub fn branch() -> BranchAuthorization {
    BranchAuthorization::new("B-042", "REQ-2020-1001")
}

/// How many tokens the vendor delivers in the scenario.
pub const STOCK: usize = 8;

/// The manual's bank with its users and virtual tokens.
#[derive(Debug)]
pub struct Scenario<S: Store> {
    /// The bank.
    pub bank: Bank<S>,
    /// The clock shared by the bank and every token.
    pub clock: SimClock,
    /// Every token the vendor made, by serial, in the users' hands or in
    /// the bank's stock.
    pub tokens: BTreeMap<SerialNumber, Token>,
    /// W0001, W0002, W0005.
    pub admin: UserId,
    /// W0002: a general user with a token.
    pub general: UserId,
    /// W0005: a general user without a token.
    pub without_token: UserId,
}

/// Why the scenario could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The store failed.
    Store(StoreError),
    /// A step of the set-up was refused.
    Refused(Refusal),
    /// The factory or the seed file failed.
    Token(String),
    /// [`script::walk`] was given a scenario whose clock (`now`) is past
    /// [`script::PREVIOUS_LOGIN`]: the walk would take the clock back.
    StartedTooLate {
        /// The scenario's clock.
        now: u64,
    },
}

impl core::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Store(e) => write!(f, "scenario set-up: {e}"),
            Self::Refused(r) => write!(f, "scenario set-up refused: {r}"),
            Self::Token(e) => write!(f, "scenario set-up: {e}"),
            Self::StartedTooLate { now } => write!(
                f,
                "the scripted walk needs a scenario set up at script::START, this one's clock is at {now}"
            ),
        }
    }
}

impl core::error::Error for ScenarioError {}

impl From<StoreError> for ScenarioError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<Refusal> for ScenarioError {
    fn from(e: Refusal) -> Self {
        Self::Refused(e)
    }
}

fn id(text: &str) -> Result<UserId, ScenarioError> {
    UserId::parse(text).map_err(|e| ScenarioError::Token(e.to_string()))
}

impl<S: Store> Scenario<S> {
    /// Sets the scenario up on `store` at Unix time `start`: imports the
    /// vendor's seed file, creates the three users, and registers tokens
    /// for W0001 and W0002 through the registration flow itself. Password
    /// hashes use `cost` ([`HashCost::TESTING`] keeps test suites fast).
    ///
    /// # Errors
    ///
    /// [`ScenarioError`] if any step fails (it should not on a fresh store).
    pub fn setup(store: S, start: u64, cost: HashCost) -> Result<Self, ScenarioError> {
        let clock = SimClock::new(start);
        let bank = Bank::new(store, Arc::new(clock.clone()))?
            .with_hash_cost(cost)
            .with_audit_key(AuditKey::new(AUDIT_KEY));
        let mut batch = Factory::deterministic_for_tests([0x5e; 32])
            .named("Virtual Token Co.", "VT-6")
            .serials("VT", 2020_0001)
            .map_err(|e| ScenarioError::Token(e.to_string()))?
            .manufacture(STOCK, start.saturating_sub(86_400))
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        let seed_file = batch
            .seed_file(None)
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        let inventory = Inventory::from_pskc(&seed_file, None)
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        bank.import_inventory("vendor", &inventory)?;
        let tokens = batch
            .into_tokens()
            .into_iter()
            .map(|t| (t.serial(), t))
            .collect();

        let admin = id("W0001")?;
        let general = id("W0002")?;
        let without_token = id("W0005")?;
        let branch = branch();
        bank.enroll_user(&branch, &admin, "しんきん太郎", Authority::Administrator)?;
        bank.set_password(
            &branch,
            &admin,
            PasswordKind::Approval,
            &Password::new(ADMIN_APPROVAL_PASSWORD),
        )?;
        bank.set_password(
            &branch,
            &admin,
            PasswordKind::PerTransfer,
            &Password::new("transfer-2020"),
        )?;
        bank.enroll_user(&branch, &general, "しんきん太郎", Authority::General)?;
        bank.enroll_user(&branch, &without_token, "しんきん太郎", Authority::General)?;
        for user in [&admin, &general, &without_token] {
            bank.set_password(
                &branch,
                user,
                PasswordKind::Login,
                &Password::new(LOGIN_PASSWORD),
            )?;
        }

        let mut scenario = Self {
            bank,
            clock,
            tokens,
            admin,
            general,
            without_token,
        };
        // The administrator's token is registered by the branch (no
        // administrator registers their own); W0002's by the administrator
        // through the registration flow.
        for user in [scenario.admin.clone(), scenario.general.clone()] {
            let serial = scenario
                .stock()
                .first()
                .copied()
                .ok_or_else(|| ScenarioError::Token("no token in stock".into()))?;
            let code = scenario.press(&serial)?;
            if user == scenario.admin {
                scenario
                    .bank
                    .branch_register(&branch, &user, serial.as_str(), &code)?;
            } else {
                let password = Password::new(ADMIN_APPROVAL_PASSWORD);
                scenario
                    .bank
                    .begin_registration(&scenario.admin, &user)?
                    .confirm(&scenario.bank, serial.as_str(), &code, &password)
                    .map_err(Refusal::from)?;
            }
            scenario.clock.advance(30);
        }
        Ok(scenario)
    }

    /// Presses "1" on the token with this serial now and reads the display.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Token`] for an unknown serial or a dead token.
    pub fn press(&mut self, serial: &SerialNumber) -> Result<String, ScenarioError> {
        let now = self.clock.now();
        let token = self
            .tokens
            .get_mut(serial)
            .ok_or_else(|| ScenarioError::Token(format!("no token {}", serial.masked())))?;
        let screen = token
            .press(now)
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        screen
            .code()
            .map(|c| c.to_string())
            .ok_or_else(|| ScenarioError::Token("the display is blank".into()))
    }

    /// Makes a keypad (signing) token answering with `suite`, its button
    /// showing TOTP codes under the suite's hash, and adds it to the
    /// bank's stock (and to [`Self::tokens`]). Its secret is derived from
    /// the token's number: a test fixture, like the vendor's batch.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Token`] for a suite the keypad cannot use (a PIN
    /// hash or a session), [`ScenarioError::Store`] if the import fails.
    pub fn add_keypad_token(&mut self, suite: OcraSuite) -> Result<SerialNumber, ScenarioError> {
        use sha2::{Digest as _, Sha256};
        let number = u64::try_from(self.tokens.len()).unwrap_or(u64::MAX);
        let serial = SerialNumber::numbered("KP", 2020_0001_u64.saturating_add(number))
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        let bytes: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(
            Sha256::new()
                .chain_update(b"scenario keypad token\0")
                .chain_update(serial.as_str())
                .finalize()
                .into(),
        );
        let secret = otp_core::Secret::from_bytes(bytes.as_ref())
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        let profile = Profile {
            algorithm: suite.algorithm(),
            ..Profile::default()
        };
        let spec = TokenSpec {
            profile,
            activated_at: self.clock.now().saturating_sub(86_400),
            ..TokenSpec::default()
        };
        let token = Token::keypad(serial, &secret, spec, suite)
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        let mut record = SeedRecord::new(serial.as_str(), secret, profile);
        record.manufacturer = "Virtual Token Co.".into();
        record.model = "VT-K8".into();
        record.suite = Some(suite);
        let mut inventory = Inventory::new();
        inventory
            .insert(record)
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        self.bank.import_inventory("vendor", &inventory)?;
        self.tokens.insert(serial, token);
        Ok(serial)
    }

    /// Types `challenge` on the keypad token with this serial now and
    /// reads the response.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Token`] for an unknown serial, a button-only
    /// token, a challenge the suite cannot take or a dead token.
    pub fn press_challenge(
        &mut self,
        serial: &SerialNumber,
        challenge: &str,
    ) -> Result<String, ScenarioError> {
        let now = self.clock.now();
        let token = self
            .tokens
            .get_mut(serial)
            .ok_or_else(|| ScenarioError::Token(format!("no token {}", serial.masked())))?;
        let screen = token
            .press_challenge(now, challenge)
            .map_err(|e| ScenarioError::Token(e.to_string()))?;
        screen
            .response()
            .map(|r| r.to_string())
            .ok_or_else(|| ScenarioError::Token("the display is blank".into()))
    }

    /// The serial of the token registered to `user`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store fails.
    pub fn token_of(&self, user: &UserId) -> Result<Option<SerialNumber>, StoreError> {
        Ok(self.bank.records().user(user)?.and_then(|u| u.token))
    }

    /// The tokens still in the bank's stock (unassigned), by serial.
    #[must_use]
    pub fn stock(&self) -> Vec<SerialNumber> {
        self.tokens
            .keys()
            .filter(|s| {
                matches!(
                    self.bank.records().token_status(s),
                    Ok(Some(crate::TokenStatus::Unassigned))
                )
            })
            .copied()
            .collect()
    }
}
