//! The audit trail (利用履歴照会): every attempt and outcome, append-only
//! and tamper-evident. Each record is an explicit, versioned byte encoding
//! of its fields, chained by HMAC-SHA-256 under the bank's [`AuditKey`]
//! (held outside the database) over its number, the previous record's MAC
//! and its bytes; the store keeps the chain's head beside it. Editing,
//! reordering, inserting or removing a record, the last one included,
//! breaks the chain for anyone holding the key, and nobody without the key
//! can rewrite it consistently. Records never contain a secret, a typed
//! code or a password.

use core::fmt;

use otp_provision::SerialNumber;
use serde::{Deserialize, Serialize};

use crate::UserId;

mod chain;
pub(crate) use chain::ChainMac;
use chain::chain_mac;
pub use chain::{AuditError, AuditFormat, AuditHead, AuditKey, AuditRecord, verify_chain};

/// What was attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Action {
    /// A login code verified against a user's token.
    Login,
    /// The administrator selected a user for exchange or registration.
    Select,
    /// A code from the user's current token (exchange step 2).
    CurrentCode,
    /// The new token's serial, code and the approval password (step 3).
    NewToken,
    /// The atomic switch from the old token to the new one.
    Exchange,
    /// A first token registered for a user without one.
    Register,
    /// A token unregistered (登録解除).
    Unregister,
    /// The user reported no current token: the branch is required.
    NoCurrentToken,
    /// A branch officer revoked a lost or broken token.
    BranchRevoke,
    /// An administrator unlocked an ID.
    Unlock,
    /// An administrator locked an ID on purpose.
    Lock,
    /// Tokens were added to the inventory from a seed file.
    Import,
    /// A user was created or updated.
    UserUpdate,
    /// The token secrets were re-sealed under a new key (key rotation).
    Rekey,
    /// An administrator set a user's OTP usage mode (利用形態設定); the
    /// reason names the new mode (`UsageMode::as_str`) and the old serial
    /// the token it revoked, if any.
    UsageMode,
    /// A software token was minted and reserved for a user's enrollment
    /// (the new serial, masked); its first code and the switch that binds
    /// it follow as `NewToken` and `Register`/`Exchange` records whose
    /// reason is `software_token`.
    SoftwareToken,
    /// An API key was created; the reason is `<scope>:<key id>`.
    ApiKeyCreate,
    /// An API key was revoked; the reason is the key's id.
    ApiKeyRevoke,
    /// A transaction signed on a keypad token
    /// ([`crate::Bank::sign_transaction`]); the reason of a signed one is
    /// `transaction:` and the transaction's
    /// [`reference`](crate::Bank::transaction_reference).
    SignTransaction,
}

/// Whether the attempt succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditResult {
    /// It did.
    Ok,
    /// It was refused; `reason` says why.
    Refused,
}

/// One event, before it is chained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix time of the event.
    pub at: u64,
    /// Who did it (an administrator, a user logging in, or a branch
    /// officer's reference).
    pub operator: String,
    /// Whose ID or token it was about.
    pub target: Option<UserId>,
    /// What was attempted.
    pub action: Action,
    /// The old token's serial, masked.
    pub old_serial: Option<String>,
    /// The new token's serial, masked.
    pub new_serial: Option<String>,
    /// The outcome.
    pub result: AuditResult,
    /// A stable reason code when refused (see `Refusal::reason_code`).
    pub reason: Option<String>,
}

impl AuditEntry {
    /// A new entry; serials are masked when set with [`with_old`](Self::with_old)
    /// and [`with_new`](Self::with_new).
    #[must_use]
    pub fn new(at: u64, operator: &str, target: Option<&UserId>, action: Action) -> Self {
        Self {
            at,
            operator: operator.to_owned(),
            target: target.cloned(),
            action,
            old_serial: None,
            new_serial: None,
            result: AuditResult::Ok,
            reason: None,
        }
    }

    /// Records the old token's serial, masked.
    #[must_use]
    pub fn with_old(mut self, serial: Option<&SerialNumber>) -> Self {
        self.old_serial = serial.map(|s| s.masked().to_string());
        self
    }

    /// Records the new token's serial, masked.
    #[must_use]
    pub fn with_new(mut self, serial: Option<&SerialNumber>) -> Self {
        self.new_serial = serial.map(|s| s.masked().to_string());
        self
    }

    /// Marks the entry refused, with the reason code.
    #[must_use]
    pub fn refused(mut self, reason: &str) -> Self {
        self.result = AuditResult::Refused;
        self.reason = Some(reason.to_owned());
        self
    }

    /// Chains the entry after the record whose MAC is `prev_hash` (all
    /// zeros for the first), as record number `seq`, under `key`. Stores
    /// call this in the same transaction that reads the chain's head.
    #[must_use]
    pub fn seal(self, seq: u64, prev_hash: [u8; 32], key: &AuditKey) -> AuditRecord {
        let hash = chain_mac(key, seq, &prev_hash, &self.encode());
        AuditRecord {
            seq,
            entry: self,
            prev_hash,
            hash,
            format: AuditFormat::V2,
        }
    }

    /// The record's bytes, version 2: what is stored and what the MAC
    /// covers. Big-endian integers; each text a 32-bit length then UTF-8;
    /// each optional field a 0 or 1 byte first; the action and result as
    /// the fixed numbers of [`Action::code`] and [`AuditResult`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Action, AuditEntry};
    /// let e = AuditEntry::new(7, "W0001", None, Action::Import);
    /// assert_eq!(AuditEntry::decode(&e.encode()), Ok(e));
    /// ```
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, t: &str) {
            // Texts are IDs, masked serials and reason codes: far below
            // 4 GiB; a longer one is cut at the limit, never wrapped.
            let len = u32::try_from(t.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(t.as_bytes().get(..len as usize).unwrap_or_default());
        }
        fn opt(out: &mut Vec<u8>, t: Option<&str>) {
            match t {
                None => out.push(0),
                Some(t) => {
                    out.push(1);
                    text(out, t);
                }
            }
        }
        let mut out = Vec::with_capacity(64);
        out.push(ENCODING_VERSION);
        out.extend_from_slice(&self.at.to_be_bytes());
        text(&mut out, &self.operator);
        opt(&mut out, self.target.as_ref().map(UserId::as_str));
        out.push(self.action.code());
        opt(&mut out, self.old_serial.as_deref());
        opt(&mut out, self.new_serial.as_deref());
        out.push(match self.result {
            AuditResult::Ok => 0,
            AuditResult::Refused => 1,
        });
        opt(&mut out, self.reason.as_deref());
        out
    }

    /// Reads bytes made by [`AuditEntry::encode`].
    ///
    /// # Errors
    ///
    /// [`AuditDecodeError`] for another version, a truncated record, a
    /// field out of range or bytes left over.
    pub fn decode(bytes: &[u8]) -> Result<Self, AuditDecodeError> {
        let mut r = Reader { bytes };
        if r.byte()? != ENCODING_VERSION {
            return Err(AuditDecodeError::Version);
        }
        let at = u64::from_be_bytes(r.array()?);
        let operator = r.text()?;
        let target = r
            .opt()?
            .map(|t| UserId::parse(&t).map_err(|_| AuditDecodeError::Field("target")))
            .transpose()?;
        let action = Action::from_code(r.byte()?).ok_or(AuditDecodeError::Field("action"))?;
        let old_serial = r.opt()?;
        let new_serial = r.opt()?;
        let result = match r.byte()? {
            0 => AuditResult::Ok,
            1 => AuditResult::Refused,
            _ => return Err(AuditDecodeError::Field("result")),
        };
        let reason = r.opt()?;
        if !r.bytes.is_empty() {
            return Err(AuditDecodeError::TrailingBytes);
        }
        Ok(Self {
            at,
            operator,
            target,
            action,
            old_serial,
            new_serial,
            result,
            reason,
        })
    }
}

/// The version byte of [`AuditEntry::encode`].
const ENCODING_VERSION: u8 = 2;

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], AuditDecodeError> {
        if self.bytes.len() < n {
            return Err(AuditDecodeError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, AuditDecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AuditDecodeError> {
        self.take(N)?
            .try_into()
            .map_err(|_| AuditDecodeError::Truncated)
    }

    fn text(&mut self) -> Result<String, AuditDecodeError> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| AuditDecodeError::Field("text"))
    }

    fn opt(&mut self) -> Result<Option<String>, AuditDecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.text().map(Some),
            _ => Err(AuditDecodeError::Field("option")),
        }
    }
}

/// Why stored audit bytes could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditDecodeError {
    /// Not version 2 of the encoding.
    Version,
    /// The bytes end inside a field.
    Truncated,
    /// A field holds a value outside its range.
    Field(&'static str),
    /// Bytes follow the last field.
    TrailingBytes,
}

impl fmt::Display for AuditDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version => f.write_str("the audit record is not of encoding version 2"),
            Self::Truncated => f.write_str("the audit record ends inside a field"),
            Self::Field(name) => write!(f, "the audit record's {name} is out of range"),
            Self::TrailingBytes => f.write_str("bytes follow the audit record's last field"),
        }
    }
}

impl core::error::Error for AuditDecodeError {}

impl Action {
    /// The fixed number of the action in the record encoding.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Login => 1,
            Self::Select => 2,
            Self::CurrentCode => 3,
            Self::NewToken => 4,
            Self::Exchange => 5,
            Self::Register => 6,
            Self::Unregister => 7,
            Self::NoCurrentToken => 8,
            Self::BranchRevoke => 9,
            Self::Unlock => 10,
            Self::Lock => 11,
            Self::Import => 12,
            Self::UserUpdate => 13,
            Self::Rekey => 14,
            Self::UsageMode => 15,
            Self::SoftwareToken => 16,
            Self::ApiKeyCreate => 17,
            Self::ApiKeyRevoke => 18,
            Self::SignTransaction => 19,
        }
    }

    /// The action with this number.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Login,
            2 => Self::Select,
            3 => Self::CurrentCode,
            4 => Self::NewToken,
            5 => Self::Exchange,
            6 => Self::Register,
            7 => Self::Unregister,
            8 => Self::NoCurrentToken,
            9 => Self::BranchRevoke,
            10 => Self::Unlock,
            11 => Self::Lock,
            12 => Self::Import,
            13 => Self::UserUpdate,
            14 => Self::Rekey,
            15 => Self::UsageMode,
            16 => Self::SoftwareToken,
            17 => Self::ApiKeyCreate,
            18 => Self::ApiKeyRevoke,
            19 => Self::SignTransaction,
            _ => return None,
        })
    }

    /// The action's name in a usage history (利用履歴照会): in English its
    /// stable name (as `Debug` prints it, which scripts may match); in
    /// Japanese the bank screens' words (トークン交換, IDロック解除, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Action, Lang};
    /// assert_eq!(Action::Exchange.label(Lang::En), "Exchange");
    /// assert_eq!(Action::Exchange.label(Lang::Ja), "トークン交換");
    /// assert_eq!(Action::Unlock.label(Lang::Ja), "IDロック解除");
    /// ```
    #[must_use]
    pub const fn label(self, lang: crate::Lang) -> &'static str {
        match lang {
            crate::Lang::En => match self {
                Self::Login => "Login",
                Self::Select => "Select",
                Self::CurrentCode => "CurrentCode",
                Self::NewToken => "NewToken",
                Self::Exchange => "Exchange",
                Self::Register => "Register",
                Self::Unregister => "Unregister",
                Self::NoCurrentToken => "NoCurrentToken",
                Self::BranchRevoke => "BranchRevoke",
                Self::Unlock => "Unlock",
                Self::Lock => "Lock",
                Self::Import => "Import",
                Self::UserUpdate => "UserUpdate",
                Self::Rekey => "Rekey",
                Self::UsageMode => "UsageMode",
                Self::SoftwareToken => "SoftwareToken",
                Self::ApiKeyCreate => "ApiKeyCreate",
                Self::ApiKeyRevoke => "ApiKeyRevoke",
                Self::SignTransaction => "SignTransaction",
            },
            crate::Lang::Ja => match self {
                Self::Login => "ログイン",
                Self::Select => "利用者選択",
                Self::CurrentCode => "現在のトークン確認",
                Self::NewToken => "新しいトークン確定",
                Self::Exchange => "トークン交換",
                Self::Register => "トークン新規登録",
                Self::Unregister => "トークン登録解除",
                Self::NoCurrentToken => "現在のトークンなし",
                Self::BranchRevoke => "店舗届出によるトークン無効化",
                Self::Unlock => "IDロック解除",
                Self::Lock => "IDロック",
                Self::Import => "トークン在庫登録",
                Self::UserUpdate => "利用者登録・変更",
                Self::Rekey => "暗号鍵の更新",
                Self::UsageMode => "利用形態設定",
                Self::SoftwareToken => "ソフトウェアトークン発行",
                Self::ApiKeyCreate => "APIキー発行",
                Self::ApiKeyRevoke => "APIキー失効",
                Self::SignTransaction => "取引署名",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_distinct_code_that_round_trips() {
        let mut seen = std::collections::HashSet::new();
        for code in 0..=u8::MAX {
            if let Some(a) = Action::from_code(code) {
                assert_eq!(a.code(), code);
                assert!(seen.insert(code));
            }
        }
        assert_eq!(seen.len(), 19);
    }

    #[test]
    fn every_action_has_its_debug_name_in_english_and_distinct_japanese_words() {
        let mut ja = std::collections::HashSet::new();
        for a in (0..=u8::MAX).filter_map(Action::from_code) {
            assert_eq!(a.label(crate::Lang::En), format!("{a:?}"));
            let words = a.label(crate::Lang::Ja);
            assert!(!words.is_ascii(), "{a:?}");
            assert!(ja.insert(words), "{a:?}: {words}");
        }
        assert_eq!(ja.len(), 19);
    }

    #[test]
    fn the_encoding_is_fixed_byte_for_byte() {
        let mut e = AuditEntry::new(
            0x0102,
            "W1",
            Some(&UserId::parse("W2").unwrap_or_else(|_| unreachable!())),
            Action::Login,
        );
        e = e.refused("x");
        assert_eq!(
            e.encode(),
            [
                2, 0, 0, 0, 0, 0, 0, 1, 2, // version, at
                0, 0, 0, 2, b'W', b'1', // operator
                1, 0, 0, 0, 2, b'W', b'2', // target
                1,    // action
                0, 0, // no serials
                1, // refused
                1, 0, 0, 0, 1, b'x', // reason
            ]
        );
    }

    #[test]
    fn decoding_refuses_every_truncation_and_trailing_bytes() {
        let e = AuditEntry::new(9, "op", None, Action::Unlock).refused("why");
        let bytes = e.encode();
        for n in 0..bytes.len() {
            assert!(AuditEntry::decode(&bytes[..n]).is_err(), "cut at {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            AuditEntry::decode(&longer),
            Err(AuditDecodeError::TrailingBytes)
        );
    }

    #[test]
    fn a_chain_under_another_key_does_not_verify() {
        let key = AuditKey::new([1; 32]);
        let r = AuditEntry::new(1, "a", None, Action::Import).seal(1, [0; 32], &key);
        let head = AuditHead {
            seq: 1,
            hash: r.hash,
        };
        assert!(verify_chain(std::slice::from_ref(&r), &key, Some(head)).is_ok());
        assert_eq!(
            verify_chain(&[r], &AuditKey::new([2; 32]), Some(head)),
            Err(AuditError::Altered { seq: 1 })
        );
    }
}
