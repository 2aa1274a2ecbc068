//! A flow parked between web requests: the [`Ticket`], its versioned
//! body (the session and the stage it waits in) sealed with HMAC-SHA-256
//! under the bank's session key, and opened only once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use otp_provision::SerialNumber;
use serde::{Deserialize, Serialize};

use crate::{InternalError, Refusal};

use super::Session;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Stage {
    ExpectCurrentCode,
    ExpectNewToken {
        current: Option<(SerialNumber, u64)>,
    },
}

/// The ticket format: 2 since sessions carry the binding generation.
pub(super) const TICKET_VERSION: u8 = 2;

#[derive(Serialize, Deserialize)]
pub(super) struct TicketBody {
    pub(super) v: u8,
    pub(super) session: Session,
    pub(super) stage: Stage,
    pub(super) nonce: [u8; 16],
}

/// A state parked between web requests: base64url JSON sealed with
/// HMAC-SHA-256 under the bank's session key. Opaque to the browser; it
/// holds no secret, code or password (only who, for whom, since when, and
/// where the current token's code matched).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ticket(String);

impl Ticket {
    pub(super) fn seal(key: &[u8; 32], session: Session, stage: Stage) -> Result<Self, Refusal> {
        let mut nonce = [0u8; 16];
        crate::bank::random_bytes(&mut nonce).map_err(|_| InternalError::Random)?;
        let body = TicketBody {
            v: TICKET_VERSION,
            session,
            stage,
            nonce,
        };
        let json =
            serde_json::to_vec(&body).map_err(|_| Refusal::Internal(InternalError::Encoding))?;
        let tag = mac(key, &json)?;
        Ok(Self(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(tag)
        )))
    }

    pub(super) fn open(&self, key: &[u8; 32]) -> Result<TicketBody, Refusal> {
        let (body, tag) = self.0.split_once('.').ok_or(Refusal::SessionInvalid)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Refusal::SessionInvalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| Refusal::SessionInvalid)?;
        let expected = mac(key, &json)?;
        // Constant-time comparison of the tags.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_slice(),
            tag.as_slice(),
        )) {
            return Err(Refusal::SessionInvalid);
        }
        let body: TicketBody =
            serde_json::from_slice(&json).map_err(|_| Refusal::SessionInvalid)?;
        if body.v != TICKET_VERSION {
            return Err(Refusal::SessionInvalid);
        }
        Ok(body)
    }

    /// The ticket as text, for a hidden form field or a header.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A ticket from text sent back by the browser (checked by
    /// [`Bank::resume`](crate::Bank::resume)).
    #[must_use]
    pub fn from_text(text: &str) -> Self {
        Self(text.to_owned())
    }
}

pub(super) fn mac(key: &[u8; 32], data: &[u8]) -> Result<[u8; 32], Refusal> {
    let mut m = <HmacSha256 as hmac::KeyInit>::new_from_slice(key)
        .map_err(|_| Refusal::Internal(InternalError::Encoding))?;
    m.update(data);
    Ok(m.finalize().into_bytes().into())
}
