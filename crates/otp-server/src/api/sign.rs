//! `POST /api/v1/transactions/challenge` and `POST
//! /api/v1/transactions/sign`: a transfer signed on the user's keypad token
//! (RFC 6287 OCRA), through the policy's
//! [`Bank::transaction_challenge`](otp_exchange::Bank::transaction_challenge)
//! and [`Bank::sign_transaction`](otp_exchange::Bank::sign_transaction):
//! the same lock, replay floor and audit as a login's code.

use core::num::NonZeroU64;

use axum::Json;
use axum::extract::State;
use otp_exchange::{Bank, Refusal, Store, Transaction, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroize as _;

use super::ApiState;
use super::auth::ValidateKey;
use super::extract::ApiJson;
use super::problem::{Messages, Problem};

/// An amount of a request: a whole number from 1 to 2^63-1 (an `int64`
/// with a minimum of 1, as the document says); any other is refused when
/// the body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount(NonZeroU64);

impl Amount {
    /// The amount.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u64::try_from(n)
            .ok()
            .and_then(NonZeroU64::new)
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("the amount must be 1 to 2^63-1"))
    }
}

/// A transfer: whose, how much, to which account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The customer ID (`W0005`).
    #[schema(example = "W0005")]
    pub user: String,
    /// The amount, in the account's smallest unit (yen): 1 to 2^63-1 (any
    /// other number is not the operation's JSON: 422).
    #[schema(value_type = i64, example = 150_000, minimum = 1)]
    pub amount: Amount,
    /// The destination account: 1 to 34 ASCII letters, digits or `-`.
    #[schema(example = "1234567")]
    pub destination: String,
}

/// A transfer and the response the keypad token showed for its challenge.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The customer ID.
    #[schema(example = "W0005")]
    pub user: String,
    /// The amount, as in the challenge's request.
    #[schema(value_type = i64, example = 150_000, minimum = 1)]
    pub amount: Amount,
    /// The destination account, as in the challenge's request.
    #[schema(example = "1234567")]
    pub destination: String,
    /// The digits the token showed (its suite's length; spaces and
    /// full-width digits are read as the screens read a code).
    #[schema(example = "73835474")]
    pub response: String,
}

impl Drop for SignRequest {
    fn drop(&mut self) {
        self.response.zeroize();
    }
}

impl core::fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignRequest")
            .field("user", &self.user)
            .field("amount", &self.amount)
            .field("destination", &self.destination)
            .field("response", &"<redacted>")
            .finish()
    }
}

/// Whether the challenge was issued or the signature accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignResult {
    /// Issued (a challenge) or accepted and recorded (a signature).
    Accepted,
    /// Refused; `reason` says why.
    Rejected,
}

/// Why (the stable reason code; the policy's
/// [`Refusal::reason_code`] for a refusal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignReason {
    /// Issued or accepted.
    Accepted,
    /// An unknown ID, an ID without a token, a button-only token, or a
    /// suite the bank does not take signatures from (a PIN hash, a
    /// session, or neither counter nor time step): one answer for all.
    NoSigningToken,
    /// The destination is not 1 to 34 letters, digits or `-`.
    MalformedTransaction,
    /// The response is not the suite's digits (not counted).
    MalformedSignature,
    /// The response is not the token's for this transfer (counted toward
    /// the ID's lock, with wrong login codes).
    WrongSignature,
    /// This signature (or an older one) was accepted already.
    ReplayedSignature,
    /// The ID is locked.
    UserLocked,
    /// The user's token changed while the signature was checked: ask again.
    Conflict,
}

impl SignReason {
    /// The reason code, as the JSON says it.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::NoSigningToken => "no_signing_token",
            Self::MalformedTransaction => "malformed_transaction",
            Self::MalformedSignature => "malformed_signature",
            Self::WrongSignature => "wrong_signature",
            Self::ReplayedSignature => "replayed_signature",
            Self::UserLocked => "user_locked",
            Self::Conflict => "conflict",
        }
    }

    /// The reason of a refusal, or `None` for a failure of the system.
    fn of(refusal: &Refusal) -> Option<Self> {
        Some(match refusal {
            Refusal::Transaction(_) => Self::MalformedTransaction,
            Refusal::Signature(_) => Self::MalformedSignature,
            Refusal::WrongSignature => Self::WrongSignature,
            Refusal::SignatureReplayed => Self::ReplayedSignature,
            Refusal::UserLocked => Self::UserLocked,
            Refusal::Conflict => Self::Conflict,
            Refusal::Internal(_) => return None,
            // Unknown ID, no token, a token that cannot sign: one answer.
            _ => Self::NoSigningToken,
        })
    }
}

/// The answer of `POST /api/v1/transactions/challenge`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChallengeResponse {
    /// `accepted` (issued) or `rejected`.
    pub result: SignResult,
    /// The reason code.
    pub reason: SignReason,
    /// The digits to show the customer, who types them on the keypad
    /// token ("press 2, type these digits"); `null` when refused.
    #[schema(example = "40952287")]
    pub challenge: Option<String>,
    /// What to show the user, in Japanese and English.
    pub messages: Messages,
}

/// The answer of `POST /api/v1/transactions/sign`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SignResponse {
    /// `accepted` (the signature is recorded: the transfer may proceed)
    /// or `rejected`.
    pub result: SignResult,
    /// The reason code.
    pub reason: SignReason,
    /// The transfer's reference in the audit trail (16 hex digits) when
    /// accepted; `null` otherwise.
    #[schema(example = "3f2a9c0d5e1b7a64")]
    pub reference: Option<String>,
    /// What to show the user, in Japanese and English.
    pub messages: Messages,
}

/// The typed request's transfer, or the refusal for a malformed one.
fn transaction(amount: Amount, destination: &str) -> Result<Transaction, Refusal> {
    Transaction::new(amount.get(), destination).map_err(Refusal::Transaction)
}

/// Issues the challenge of a transfer.
///
/// The digits depend on the user, the amount and the destination: the
/// response typed from the token then signs this transfer and no other.
#[utoipa::path(
    post,
    path = "/api/v1/transactions/challenge",
    tag = "transactions",
    operation_id = "transaction_challenge",
    security(("api_key" = [])),
    request_body(content = ChallengeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Issued or refused.", body = ChallengeResponse),
        (status = 400, description = "`malformed_request`: the body is not JSON.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`: no valid API key.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`: the body is too large.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`: not `application/json`.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_request`: JSON without `user`, `amount` (a whole number 1 to 2^63-1) and `destination`.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: this key or this user ID is over its rate; see `Retry-After`.", body = super::ProblemBody, content_type = "application/problem+json",
         headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`store_unavailable`: the store could not be read.", body = super::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn challenge<S: Store + 'static>(
    State(state): State<ApiState<S>>,
    _key: ValidateKey,
    ApiJson(request): ApiJson<ChallengeRequest>,
) -> Result<Json<ChallengeResponse>, Problem> {
    let outcome = run(
        &state,
        &request.user,
        request.amount,
        &request.destination,
        |bank, user, tx| bank.transaction_challenge(user, tx),
    )
    .await?;
    Ok(Json(match outcome {
        Ok(challenge) => ChallengeResponse {
            result: SignResult::Accepted,
            reason: SignReason::Accepted,
            challenge: Some(challenge),
            messages: Messages {
                ja: "トークンに表示の数字を入力してください。".to_owned(),
                en: "Type these digits on the token.".to_owned(),
            },
        },
        Err(r) => {
            let (reason, messages) = rejected(&r, "a challenge could not be issued")?;
            ChallengeResponse {
                result: SignResult::Rejected,
                reason,
                challenge: None,
                messages,
            }
        }
    }))
}

/// Verifies a transfer's signature.
///
/// The verdict is recorded (signing floor, ID lock, audit) before
/// `accepted` is answered; when the store cannot record it the answer is
/// `503 store_unavailable`, never `accepted`. The same signature is
/// accepted once, however many requests race with it.
#[utoipa::path(
    post,
    path = "/api/v1/transactions/sign",
    tag = "transactions",
    operation_id = "transaction_sign",
    security(("api_key" = [])),
    request_body(content = SignRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Checked: accepted or rejected.", body = SignResponse),
        (status = 400, description = "`malformed_request`: the body is not JSON.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`: no valid API key.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`: the body is too large.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`: not `application/json`.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_request`: JSON without `user`, `amount` (a whole number 1 to 2^63-1), `destination` and `response`.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: this key or this user ID is over its rate; see `Retry-After`.", body = super::ProblemBody, content_type = "application/problem+json",
         headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`store_unavailable`: nothing was recorded, nothing accepted.", body = super::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sign<S: Store + 'static>(
    State(state): State<ApiState<S>>,
    _key: ValidateKey,
    ApiJson(request): ApiJson<SignRequest>,
) -> Result<Json<SignResponse>, Problem> {
    let response = zeroize::Zeroizing::new(request.response.clone());
    let outcome = run(
        &state,
        &request.user,
        request.amount,
        &request.destination,
        move |bank, user, tx| bank.sign_transaction(user, tx, &response),
    )
    .await?;
    Ok(Json(match outcome {
        Ok(signed) => SignResponse {
            result: SignResult::Accepted,
            reason: SignReason::Accepted,
            reference: Some(signed.reference().to_owned()),
            messages: Messages {
                ja: "取引を承認しました。".to_owned(),
                en: "The transfer is signed.".to_owned(),
            },
        },
        Err(r) => {
            let (reason, messages) = rejected(&r, "a signature could not be recorded")?;
            SignResponse {
                result: SignResult::Rejected,
                reason,
                reference: None,
                messages,
            }
        }
    }))
}

/// What a refused call answers: its reason and the words shown (the
/// user-related refusals are one answer), or, for a failure of the system
/// (logged as `what`), `503 store_unavailable`.
fn rejected(r: &Refusal, what: &'static str) -> Result<(SignReason, Messages), Problem> {
    let Some(reason) = SignReason::of(r) else {
        tracing::error!(refusal = %r.reason_code(), "{what}");
        return Err(Problem::store_unavailable());
    };
    let shown = if reason == SignReason::NoSigningToken {
        Refusal::NoSigningToken
    } else {
        r.clone()
    };
    Ok((reason, Messages::of(&shown)))
}

/// Runs `call` on the bank for a request's user and transfer: the
/// transfer is checked first (a malformed one is refused), an ID that
/// cannot exist is refused as one without a signing token, then the
/// per-user limit is spent and the bank called off the async threads.
async fn run<S: Store + 'static, T: Send + 'static>(
    state: &ApiState<S>,
    user: &str,
    amount: Amount,
    destination: &str,
    call: impl FnOnce(&Bank<S>, &UserId, &Transaction) -> Result<T, Refusal> + Send + 'static,
) -> Result<Result<T, Refusal>, Problem> {
    let tx = match transaction(amount, destination) {
        Ok(tx) => tx,
        Err(r) => return Ok(Err(r)),
    };
    let Ok(user) = UserId::parse(user) else {
        return Ok(Err(Refusal::NoSigningToken));
    };
    state
        .user_limit
        .check(user.as_str(), std::time::Instant::now())
        .map_err(Problem::rate_limited)?;
    state.blocking(move |bank| call(bank, &user, &tx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_response() {
        let request: SignRequest = serde_json::from_str(
            r#"{"user": "W0005", "amount": 1, "destination": "1", "response": "73835474"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{request:?}").contains("73835474"));
    }

    #[test]
    fn every_reason_is_its_refusals_code() {
        for (r, reason) in [
            (
                Refusal::Transaction(otp_exchange::TransactionError::ZeroAmount),
                SignReason::MalformedTransaction,
            ),
            (
                Refusal::Signature(otp_core::CodeError::Empty),
                SignReason::MalformedSignature,
            ),
            (Refusal::WrongSignature, SignReason::WrongSignature),
            (Refusal::SignatureReplayed, SignReason::ReplayedSignature),
            (Refusal::UserLocked, SignReason::UserLocked),
            (Refusal::Conflict, SignReason::Conflict),
            (Refusal::NoSigningToken, SignReason::NoSigningToken),
        ] {
            assert_eq!(SignReason::of(&r), Some(reason));
            assert_eq!(r.reason_code(), reason.label());
        }
        assert_eq!(
            SignReason::of(&Refusal::UnknownUser),
            Some(SignReason::NoSigningToken)
        );
        assert_eq!(
            SignReason::of(&Refusal::ReplayableSigningSuite),
            Some(SignReason::NoSigningToken)
        );
    }
}
