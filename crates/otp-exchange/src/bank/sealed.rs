//! What an API in front of the bank needs beyond the screens: small
//! states sealed under a key derived from the bank's session key (an
//! administrator's API session), and the seed file import confirmed by
//! an administrator's approval password.

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use otp_provision::Inventory;
use zeroize::Zeroizing;

use crate::{
    Action, AuditEntry, Credentials, InternalError, Password, Refusal, Store, StoreError,
    TokenEntry, UserId,
};

use super::{Bank, Fail};

/// The text before every sealed value (its format).
const PREFIX: &str = "s1.";
/// What every derived key and every associated data starts with: no
/// derivation of the tickets' (`otp-exchange/ticket/...`) starts so.
const DOMAIN: &[u8] = b"otp-exchange/sealed/v1/";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The longest label accepted.
pub const MAX_SEAL_LABEL: usize = 64;

impl<S: Store, C: Credentials> Bank<S, C> {
    /// Seals `plain` (AES-256-GCM, a random 96-bit nonce) under a key
    /// derived from the bank's session key and `label`
    /// (HMAC-SHA-256(session key, `otp-exchange/sealed/v1/` ‖ label)), with
    /// the label as associated data: `s1.` and the base64url of nonce ‖
    /// ciphertext. Every bank sharing the session key opens it with the
    /// same label ([`Bank::open_sealed`]); no other label, and no ticket
    /// key, opens it. The session key itself never leaves the bank.
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] for a label that is empty or longer than
    /// [`MAX_SEAL_LABEL`], or when the random number generator fails.
    pub fn seal(&self, label: &str, plain: &[u8]) -> Result<String, Refusal> {
        let cipher = self.sealing_cipher(label)?;
        let mut iv = [0u8; NONCE_LEN];
        super::random_bytes(&mut iv).map_err(|_| InternalError::Random)?;
        let mut body = Zeroizing::new(Vec::with_capacity(plain.len() + TAG_LEN));
        body.extend_from_slice(plain);
        cipher
            .encrypt_in_place(&iv.into(), &aad(label), &mut *body)
            .map_err(|_| InternalError::Encoding)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + body.len());
        sealed.extend_from_slice(&iv);
        sealed.extend_from_slice(&body);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&sealed)))
    }

    /// Opens what [`Bank::seal`] sealed under `label`: the plain bytes,
    /// or [`Refusal::SessionInvalid`] for text that is not one (another
    /// format, tampered, another label, another session key). The tag is
    /// checked, in constant time, before anything is read.
    ///
    /// # Errors
    ///
    /// [`Refusal::SessionInvalid`]; [`Refusal::Internal`] for a label
    /// [`Bank::seal`] refuses.
    pub fn open_sealed(&self, label: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, Refusal> {
        let cipher = self.sealing_cipher(label)?;
        let sealed = sealed.strip_prefix(PREFIX).ok_or(Refusal::SessionInvalid)?;
        let sealed = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| Refusal::SessionInvalid)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(Refusal::SessionInvalid);
        }
        let (iv, rest) = sealed.split_at(NONCE_LEN);
        let iv: [u8; NONCE_LEN] = iv.try_into().map_err(|_| Refusal::SessionInvalid)?;
        let mut plain = Zeroizing::new(rest.to_vec());
        cipher
            .decrypt_in_place(&iv.into(), &aad(label), &mut *plain)
            .map_err(|_| Refusal::SessionInvalid)?;
        Ok(plain)
    }

    fn sealing_cipher(&self, label: &str) -> Result<Aes256Gcm, Refusal> {
        if label.is_empty() || label.len() > MAX_SEAL_LABEL {
            return Err(InternalError::Encoding.into());
        }
        let key = crate::derive::derived_key(&self.session_key, &aad(label))?;
        Aes256Gcm::new_from_slice(key.as_slice()).map_err(|_| InternalError::Encoding.into())
    }

    /// Whether `operator` may act as an administrator now: an unlocked
    /// administrator. For a caller (an API) that shows records only to
    /// administrators; every act of the bank checks it again.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`], [`Refusal::Internal`].
    pub fn check_administrator(&self, operator: &UserId) -> Result<(), Refusal> {
        self.administrator(operator).map(|_| ())
    }

    /// Adds every token of a vendor's seed file to the stock as
    /// unassigned, for an administrator who confirms it with their
    /// approval password (or per-transfer confirmation password),
    /// checked as in every other administrator's act (one attempt
    /// reserved on the operator's password counter first, a wrong one
    /// counted toward their lock). All or nothing, audited in the same
    /// transaction (`Import`, operator the administrator, reason
    /// `<n> tokens`); a refusal is audited too.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`] for an unknown operator,
    /// [`Refusal::WrongPassword`], [`Refusal::NoPasswordRegistered`],
    /// [`Refusal::Conflict`] when a serial of the file is in the bank's
    /// stock already (nothing imported), [`Refusal::Internal`].
    pub fn import_inventory_approved(
        &self,
        operator: &UserId,
        password: &Password,
        inventory: &Inventory,
    ) -> Result<usize, Refusal> {
        let audit = AuditEntry::new(self.now(), operator.as_str(), None, Action::Import);
        let result = (|| -> Result<usize, Fail> {
            self.administrator(operator)?;
            let mut entries = Vec::with_capacity(inventory.len());
            for record in inventory.iter() {
                otp_provision::SerialNumber::parse(&record.serial).map_err(Refusal::Serial)?;
                let entry = TokenEntry::unassigned(record.duplicate())
                    .ok_or(Refusal::Serial(otp_provision::SerialError::Empty))?;
                entries.push(entry);
            }
            self.check_password(operator, password, &audit)?;
            let count = entries.len();
            let mut done = audit.clone();
            done.at = self.now();
            done.reason = Some(format!("{count} tokens"));
            match self.store.add_tokens(entries, &done, &self.audit_key) {
                Ok(_) => Ok(count),
                Err(StoreError::Duplicate(_)) => Err(Refusal::Conflict.into()),
                Err(e) => Err(e.into()),
            }
        })();
        self.finish(&audit, result)
    }
}

fn aad(label: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DOMAIN.len() + label.len());
    aad.extend_from_slice(DOMAIN);
    aad.extend_from_slice(label.as_bytes());
    aad
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use std::sync::Arc;

    use crate::{Bank, MemoryStore, Refusal};

    fn bank(key: u8) -> Bank<MemoryStore> {
        Bank::new(MemoryStore::new(), Arc::new(otp_provision::SystemClock))
            .unwrap()
            .with_session_key([key; 32])
    }

    #[test]
    fn a_sealed_value_opens_only_under_its_label_and_session_key() {
        let a = bank(1);
        let sealed = a.seal("api-admin", b"hello").unwrap();
        assert!(sealed.starts_with("s1."));
        assert_eq!(
            a.open_sealed("api-admin", &sealed).unwrap().as_slice(),
            b"hello"
        );
        assert_eq!(
            bank(1)
                .open_sealed("api-admin", &sealed)
                .unwrap()
                .as_slice(),
            b"hello"
        );
        assert_eq!(
            a.open_sealed("other", &sealed),
            Err(Refusal::SessionInvalid)
        );
        assert_eq!(
            bank(2).open_sealed("api-admin", &sealed),
            Err(Refusal::SessionInvalid)
        );
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            a.open_sealed("api-admin", &tampered),
            Err(Refusal::SessionInvalid)
        );
        assert_eq!(
            a.open_sealed("api-admin", "s1."),
            Err(Refusal::SessionInvalid)
        );
        assert_eq!(
            a.open_sealed("api-admin", "t3.abc"),
            Err(Refusal::SessionInvalid)
        );
        assert!(matches!(a.seal("", b"x"), Err(Refusal::Internal(_))));
    }
}
