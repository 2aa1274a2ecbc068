//! A flow parked between web requests: the [`Ticket`], its versioned
//! body (the session and the stage it waits in) encrypted and
//! authenticated with AES-256-GCM under a key derived from the bank's
//! session key, and opened only once.

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use otp_provision::SerialNumber;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{InternalError, Refusal};

use super::Session;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(
    clippy::enum_variant_names,
    reason = "the names are the ticket format's (serde), and the states' they park"
)]
pub(super) enum Stage {
    ExpectCurrentCode,
    ExpectNewToken {
        current: Option<(SerialNumber, u64)>,
    },
    /// A software token enrollment: the minted token's serial (its
    /// secret stays sealed in the inventory).
    ExpectFirstCode {
        serial: SerialNumber,
    },
}

/// The ticket format: 2 since sessions carry the binding generation, 3
/// since the body is encrypted (before, it was readable JSON under a MAC:
/// the full serial and both IDs in the browser's hidden field).
pub(super) const TICKET_VERSION: u8 = 3;

/// The text before the sealed body: the format, readable so that an older
/// or newer ticket is refused without trying to open it.
const PREFIX: &str = "t3.";

/// Associated data of every ticket's encryption.
const AAD: &[u8] = b"otp-exchange/ticket/v3";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Serialize, Deserialize)]
pub(super) struct TicketBody {
    pub(super) v: u8,
    pub(super) session: Session,
    pub(super) stage: Stage,
    pub(super) nonce: [u8; 16],
}

/// A state parked between web requests: `t3.` and the base64url of
/// `nonce ‖ AES-256-GCM(key, JSON body)`, the key derived from the bank's
/// session key. Opaque to whoever carries it (a browser's hidden field,
/// an API caller): it holds no secret, code or password, and its contents
/// (who, for whom, which token, since when, where the current token's code
/// matched) cannot be read from it, only given back. The 96-bit nonce is
/// random for each ticket (the bank would need billions of tickets under
/// one session key before a repeat became likely).
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
        let json = Zeroizing::new(
            serde_json::to_vec(&body).map_err(|_| Refusal::Internal(InternalError::Encoding))?,
        );
        let mut iv = [0u8; NONCE_LEN];
        crate::bank::random_bytes(&mut iv).map_err(|_| InternalError::Random)?;
        // Encrypted in place in a zeroizing buffer sized for the tag.
        let mut body = Zeroizing::new(Vec::with_capacity(json.len() + TAG_LEN));
        body.extend_from_slice(&json);
        cipher(key)?
            .encrypt_in_place(&iv.into(), AAD, &mut *body)
            .map_err(|_| Refusal::Internal(InternalError::Encoding))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + body.len());
        sealed.extend_from_slice(&iv);
        sealed.extend_from_slice(&body);
        Ok(Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&sealed))))
    }

    pub(super) fn open(&self, key: &[u8; 32]) -> Result<TicketBody, Refusal> {
        let sealed = self.0.strip_prefix(PREFIX).ok_or(Refusal::SessionInvalid)?;
        let sealed = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| Refusal::SessionInvalid)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(Refusal::SessionInvalid);
        }
        let (iv, rest) = sealed.split_at(NONCE_LEN);
        let iv: [u8; NONCE_LEN] = iv.try_into().map_err(|_| Refusal::SessionInvalid)?;
        let mut json = Zeroizing::new(rest.to_vec());
        // The tag is checked (in constant time) before anything is read.
        cipher(key)?
            .decrypt_in_place(&iv.into(), AAD, &mut *json)
            .map_err(|_| Refusal::SessionInvalid)?;
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

/// The tickets' cipher: AES-256-GCM under HMAC-SHA-256(session key,
/// "otp-exchange/ticket/aes-256-gcm/v3"), so the session key itself is
/// never an encryption key.
fn cipher(session_key: &[u8; 32]) -> Result<Aes256Gcm, Refusal> {
    let key = crate::derive::derived_key(session_key, b"otp-exchange/ticket/aes-256-gcm/v3")
        .map_err(Refusal::Internal)?;
    Aes256Gcm::new_from_slice(key.as_slice())
        .map_err(|_| Refusal::Internal(InternalError::Encoding))
}
