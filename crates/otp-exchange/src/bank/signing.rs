//! Transaction signing: a keypad token's RFC 6287 OCRA response over a
//! transfer's challenge, verified with the same lock, replay floor and
//! audit as a login's code.

use otp_core::{OcraParams, OcraResponse, OcraSuite, TokenState, Window, verify_ocra};
use otp_provision::SerialNumber;

use crate::guard::{Counter, lock_entry};
use crate::transaction::{TransactionKey, challenge_len};
use crate::{
    Action, AuditEntry, Credentials, InternalError, LockChange, Refusal, Store, TokenStatus,
    Transaction, UserId, Verification,
};

use super::steps::{MAX_RETRIES, judge_as};
use super::{Bank, Fail};

/// The counter window of a signature (suites with `C`): one behind the
/// signing floor (to tell the last signature typed again from a wrong
/// one) and ten ahead (challenges typed on the token and never sent).
pub const SIGNING_COUNTER_WINDOW: Window = Window::new(1, 10);

/// Proof that a transaction was signed: the response over its challenge
/// was verified for the user's keypad token, and the token's signing
/// floor moved past it in the same transaction as the lock and the audit
/// record. Only [`Bank::sign_transaction`] makes one.
#[derive(Debug, PartialEq, Eq)]
pub struct TransactionSigned {
    user: UserId,
    serial: SerialNumber,
    reference: String,
    counter: Option<u64>,
    time_step: Option<u64>,
}

impl TransactionSigned {
    /// Whose transaction.
    #[must_use]
    pub const fn user(&self) -> &UserId {
        &self.user
    }

    /// The keypad token that signed it.
    #[must_use]
    pub const fn serial(&self) -> SerialNumber {
        self.serial
    }

    /// The transaction's reference
    /// ([`Bank::transaction_reference`]), as the audit record names it.
    #[must_use]
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The signing counter the response matched (suites with `C`).
    #[must_use]
    pub const fn counter(&self) -> Option<u64> {
        self.counter
    }

    /// The time step the response matched (suites with `T`).
    #[must_use]
    pub const fn time_step(&self) -> Option<u64> {
        self.time_step
    }
}

/// The signing suite of a token, if the bank can verify its signatures:
/// a keypad token whose suite needs no PIN hash or session (the bank holds
/// neither), answers in 4 to 10 digits, takes a challenge of at least
/// `min_challenge` digits, and has a counter or a time step (else a
/// response would be valid again for the same transfer).
fn signing_suite(suite: Option<OcraSuite>, min_challenge: u8) -> Result<OcraSuite, Refusal> {
    let suite = suite.ok_or(Refusal::NoSigningToken)?;
    // A PIN hash or a session the bank does not hold; a response of the
    // whole HMAC in hex (`-0`), which no keypad displays; a challenge so
    // short that a colliding transfer can be found by asking for
    // challenges.
    if suite.password_hash().is_some()
        || suite.session_len().is_some()
        || suite.digits() == 0
        || challenge_len(&suite) < usize::from(min_challenge)
    {
        return Err(Refusal::NoSigningToken);
    }
    if !suite.counter() && suite.time_step().is_none() {
        return Err(Refusal::ReplayableSigningSuite);
    }
    Ok(suite)
}

impl<S: Store, C: Credentials> Bank<S, C> {
    /// The challenge `user` types on their keypad token to sign
    /// `transaction` (the screen shows it: "press 2, type these digits"):
    /// as many decimal digits as the suite of the token registered to them
    /// takes, drawn from an HMAC of the user, the amount and the
    /// destination under a key derived from the bank's session key. Keyed,
    /// it cannot be computed without the bank, so nobody can search
    /// offline for another transfer with the same challenge (a 5-digit
    /// challenge took 10^5 hashes, an 8-digit one 10^8), whose signature
    /// the customer's response would then be. Every server of the bank
    /// (one session key) gives the same challenge.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::NoTokenRegistered`],
    /// [`Refusal::NoSigningToken`] (a button-only token, or a suite with a
    /// PIN hash or session), [`Refusal::ReplayableSigningSuite`] (a suite
    /// without counter or time step), [`Refusal::Internal`].
    pub fn transaction_challenge(
        &self,
        user: &UserId,
        transaction: &Transaction,
    ) -> Result<String, Refusal> {
        let record = self.user_record(user)?;
        let serial = record.token.ok_or(Refusal::NoTokenRegistered)?;
        let entry = self.store.token(&serial)?.ok_or(Refusal::Conflict)?;
        let suite = signing_suite(entry.seed.suite, self.policy.min_signing_challenge)?;
        transaction
            .challenge(&self.transaction_key()?, user, &suite)
            .map_err(Refusal::Internal)
    }

    /// The challenge [`Bank::transaction_challenge`] gives `user` for
    /// `transaction` on a token of `suite`, without looking the token up:
    /// for a caller that knows the suite (a test checking a response apart
    /// from the bank, a tool printing challenges ahead).
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] if the key cannot be derived.
    pub fn transaction_challenge_in(
        &self,
        user: &UserId,
        transaction: &Transaction,
        suite: &OcraSuite,
    ) -> Result<String, Refusal> {
        transaction
            .challenge(&self.transaction_key()?, user, suite)
            .map_err(Refusal::Internal)
    }

    /// The reference of `user`'s `transaction` in the audit trail
    /// (`transaction:` and this, on the `SignTransaction` record) and in
    /// [`TransactionSigned::reference`]: 16 hex digits of an HMAC of the
    /// user, the amount and the destination under a key derived from the
    /// bank's session key. The bank matches its transfer records to the
    /// trail by computing it again; whoever reads the trail without the
    /// key cannot test a guessed account number or amount.
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] if the key cannot be derived.
    pub fn transaction_reference(
        &self,
        user: &UserId,
        transaction: &Transaction,
    ) -> Result<String, Refusal> {
        transaction
            .reference(&self.transaction_key()?, user)
            .map_err(Refusal::Internal)
    }

    /// The key of transactions' challenges and references.
    fn transaction_key(&self) -> Result<TransactionKey, Refusal> {
        TransactionKey::derive(&self.session_key).map_err(Refusal::Internal)
    }

    /// Verifies `response`, typed from `user`'s keypad token, as their
    /// signature of `transaction`: the token's RFC 6287 response to
    /// [`Bank::transaction_challenge`], with its signing counter or time
    /// step supplied by the bank (a counter window of
    /// [`SIGNING_COUNTER_WINDOW`] around the signing floor, the policy's
    /// [`window`](field@crate::Policy::window) of time steps around the clock
    /// plus the signing drift).
    ///
    /// The same guarantees as a login's code:
    /// - the verdict is committed before it is answered, in one
    ///   compare-and-set on the token's signing state, its assignment to
    ///   the user, the user's token and the user's whole ID lock, with its
    ///   audit record (`SignTransaction`; a signed one's reason is
    ///   `transaction:` and the transaction's reference); a verdict that
    ///   loses a race is thrown away and the response verified again
    ///   against what won;
    /// - a wrong signature counts toward the ID's lock as a wrong code
    ///   does (the same counter: six wrong entries of either lock the
    ///   ID), a locked ID verifies nothing, a right one clears the count;
    /// - a signature is accepted once: its counter (or time step) becomes
    ///   the signing floor, so the same response, or an older one, is
    ///   refused ([`Refusal::SignatureReplayed`]) however many requests
    ///   race with it. A response for another transaction is wrong.
    ///
    /// # Errors
    ///
    /// [`Refusal::Transaction`] never happens here (a [`Transaction`] is
    /// checked when made); [`Refusal::UnknownUser`],
    /// [`Refusal::NoTokenRegistered`], [`Refusal::NoSigningToken`],
    /// [`Refusal::ReplayableSigningSuite`], [`Refusal::Signature`] for a
    /// response that is not the suite's digits (not counted),
    /// [`Refusal::UserLocked`], [`Refusal::WrongSignature`],
    /// [`Refusal::SignatureReplayed`], [`Refusal::Conflict`] when the
    /// token changed hands meanwhile, [`Refusal::Internal`]. Every refusal
    /// is audited.
    pub fn sign_transaction(
        &self,
        user: &UserId,
        transaction: &Transaction,
        response: &str,
    ) -> Result<TransactionSigned, Refusal> {
        let tx_key = self.transaction_key()?;
        let reference = transaction
            .reference(&tx_key, user)
            .map_err(Refusal::Internal)?;
        let mut audit = AuditEntry::new(
            self.now(),
            user.as_str(),
            Some(user),
            Action::SignTransaction,
        );
        audit.reason = Some(format!("transaction:{reference}"));
        let result = self.check_signature(user, transaction, response, &audit, &reference, &tx_key);
        self.finish(&audit, result)
    }

    /// The one verification path of a signature; see
    /// [`Bank::sign_transaction`].
    fn check_signature(
        &self,
        target: &UserId,
        transaction: &Transaction,
        typed: &str,
        audit: &AuditEntry,
        reference: &str,
        tx_key: &TransactionKey,
    ) -> Result<TransactionSigned, Fail> {
        for _ in 0..MAX_RETRIES {
            let (user, entry) = self
                .store
                .user_and_token(target)?
                .ok_or(Refusal::UnknownUser)?;
            let serial = user.token.ok_or(Refusal::NoTokenRegistered)?;
            let Some(entry) = entry.filter(|e| {
                e.serial == serial && e.status == TokenStatus::Assigned(target.clone())
            }) else {
                return Err(Refusal::Conflict.into());
            };
            let suite = signing_suite(entry.seed.suite, self.policy.min_signing_challenge)?;
            let response = OcraResponse::parse(&crate::normalize_code(typed), &suite)
                .map_err(Refusal::Signature)?;
            // Attempts in flight (sign-ins evaluating their password)
            // count toward the limit as wrong entries do.
            if user.lock.locked || user.lock.codes.spent() >= self.policy.limit() {
                return Err(Refusal::UserLocked.into());
            }
            let key = entry.seed.signing_key().ok_or(Refusal::NoSigningToken)?;
            let params = OcraParams {
                counter_window: SIGNING_COUNTER_WINDOW,
                time_window: self.policy.window,
                max_failures: 0,
            };
            // The ID's lock is the one lock authority.
            let unlocked = TokenState {
                locked: false,
                failures: 0,
                ..entry.signing
            };
            let challenge = transaction
                .challenge(tx_key, target, &suite)
                .map_err(Refusal::Internal)?;
            let at = self.now();
            let v = verify_ocra(
                &key,
                &suite,
                &params,
                &unlocked,
                &otp_core::OcraInput::new(&challenge),
                &response,
                at,
            )
            .map_err(|e| Refusal::Internal(InternalError::Ocra(e)))?;
            let (refusal, outcome) = judge_as(
                v.outcome.as_ref().err(),
                Refusal::WrongSignature,
                Refusal::SignatureReplayed,
            );
            let next = user.lock.count(Counter::Codes, outcome, &self.policy);
            let mut entries = vec![match &refusal {
                None => audit.clone(),
                Some(r) => audit.clone().refused(r.reason_code()),
            }];
            let newly_locked = next.locked && !user.lock.locked;
            if newly_locked {
                entries.push(lock_entry(at, target, Counter::Codes, self.policy.limit()));
            }
            let refusal = if newly_locked {
                Some(Refusal::UserLocked)
            } else {
                refusal
            };
            let verification = Verification::new(
                target.clone(),
                serial,
                entry.signing,
                v.state,
                vec![LockChange::new(target.clone(), user.lock, next)],
                entries,
            )
            .of_signature();
            if !self
                .store
                .record_verification(&verification, &self.audit_key)?
            {
                continue;
            }
            return match (refusal, v.outcome) {
                (None, Ok(accepted)) => Ok(TransactionSigned {
                    user: target.clone(),
                    serial,
                    reference: reference.to_owned(),
                    counter: accepted.counter(),
                    time_step: accepted.time_step(),
                }),
                (Some(r), _) => Err(Fail::audited(r)),
                (None, Err(_)) => Err(Fail::audited(Refusal::Conflict)),
            };
        }
        Err(InternalError::Contention.into())
    }
}
