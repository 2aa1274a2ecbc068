//! Every way an operation can be refused, as a typed value that a UI shows
//! as one clear sentence in English or Japanese.

use core::fmt;

use otp_core::{ClockError, CodeError};
use otp_provision::SerialError;
use serde::{Deserialize, Serialize};

use crate::{AuditError, StoreError, TransactionError, UserIdError};

/// The language of messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Japanese, in the bank's own words where the manual has them.
    Ja,
}

/// Which code a refusal is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Which {
    /// The token in use now (現在ご利用中のトークン).
    Current,
    /// The new token (新しいトークン).
    New,
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The operator is not an administrator: only administrators manage tokens.
    NotAdministrator,
    /// No user has this ID.
    UnknownUser,
    /// The user ID as typed is not valid.
    UserId(UserIdError),
    /// The operator's own ID is locked: an administrator locked out must go
    /// to the branch.
    OperatorLocked,
    /// The target user's ID is locked: an administrator must unlock it.
    UserLocked,
    /// The target has no registered token: use new registration instead of exchange.
    NoTokenRegistered,
    /// The target already has a token: use exchange instead of registration.
    AlreadyRegistered,
    /// The token in use now is lost, broken or dead: the exchange cannot be
    /// done online; a written request at the branch is required.
    BranchRequired,
    /// The code as typed is malformed (letters, dashes, wrong length, ...),
    /// once read by [`normalize_code`](crate::normalize_code).
    Code(Which, CodeError),
    /// The code is not correct.
    WrongCode(Which),
    /// The code was used already: the same password cannot be used twice
    /// in a row.
    Replayed(Which),
    /// The serial as typed is malformed.
    Serial(SerialError),
    /// No token with this serial is in the bank's inventory.
    UnknownSerial,
    /// The token is registered to another user (or to this one already).
    SerialAssigned,
    /// The token has been revoked and cannot be registered again.
    SerialRevoked,
    /// The approval (or per-transfer confirmation) password is not correct.
    WrongPassword,
    /// The administrator has neither an approval password nor a per-transfer
    /// confirmation password registered.
    NoPasswordRegistered,
    /// The bank's policy forbids removing a user's token outside an exchange.
    UnregisterForbidden,
    /// The exchange session expired: start again.
    SessionExpired,
    /// The exchange session was finished or used already.
    SessionUsed,
    /// The exchange session record was altered or belongs to someone else.
    SessionInvalid,
    /// Someone else changed the user's token at the same time: start again.
    Conflict,
    /// Login refused. One refusal for an unknown ID, an ID without a token,
    /// a locked ID and a wrong code, so that an outsider learns nothing
    /// about which IDs exist.
    LoginFailed,
    /// An administrator may not register, exchange or unregister their own
    /// token, nor unlock their own ID: another administrator or the branch
    /// does that.
    OwnId,
    /// An administrator's ID is unlocked only by the branch, on a written
    /// request.
    BranchUnlockRequired,
    /// The ID was unlocked as many times today as the bank allows; further
    /// unlocks need a written request at the branch.
    UnlockLimit,
    /// A new password does not meet the bank's rules: at least
    /// [`crate::MIN_PASSWORD_CHARS`] characters, and not the current one.
    WeakPassword,
    /// The usage mode "not used" (利用しない) was asked for, and the
    /// bank's policy does not allow it ([`crate::Policy::allow_not_used`]).
    NotUsedForbidden,
    /// The usage mode "not used" was asked for an administrator: an
    /// administrator confirms other users' operations with their token.
    NotUsedForAdministrator,
    /// The usage mode "software token" is set by enrolling the
    /// authenticator app ([`crate::Bank::begin_software_token`]), whose
    /// first code proves it works, not by the mode setting alone.
    SoftwareTokenByEnrollment,
    /// The transaction to sign is malformed (a zero amount, a destination
    /// account empty, too long or with other characters).
    Transaction(TransactionError),
    /// The user's token cannot sign transactions: a button-only token, or
    /// a suite that needs a PIN hash or a session the bank does not hold.
    NoSigningToken,
    /// The token's suite has neither a counter nor a time step: the same
    /// transfer's response would be valid again, so the bank does not
    /// accept its signatures.
    ReplayableSigningSuite,
    /// The signature (the keypad token's response) as typed is malformed.
    Signature(CodeError),
    /// The signature is not the token's response to this transaction.
    WrongSignature,
    /// The signature was used already (or an older one was typed): each
    /// signature is accepted once.
    SignatureReplayed,
    /// The system could not complete the operation; nothing was changed.
    Internal(InternalError),
}

/// A failure of the system, not of the user: typed, so that logs and
/// monitoring tell them apart. None of them is shown to the user beyond
/// "the system could not complete the operation".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InternalError {
    /// The store failed.
    Store(StoreError),
    /// The operating system's random number generator failed.
    Random,
    /// The bank's clock is before the token's T0 or otherwise unusable.
    Clock(ClockError),
    /// The token's counter or time step cannot advance any further.
    CounterExhausted,
    /// A value could not be encoded (a ticket).
    Encoding,
    /// A compare-and-set kept failing under contention past the retry
    /// limit; nothing was changed.
    Contention,
    /// The verifier refused a code for a reason this version does not know
    /// (not counted as a wrong entry).
    UnknownVerdict,
    /// The audit trail does not verify under the bank's audit key (edited,
    /// removed or truncated records): nothing is shown from it.
    Audit(AuditError),
    /// A signature's challenge does not fit the token's suite (a suite
    /// the bank's challenges cannot serve): nothing was counted.
    Ocra(otp_core::OcraInputError),
}

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "{e}"),
            Self::Random => f.write_str("the system random number generator failed"),
            Self::Clock(e) => write!(f, "the clock cannot be used: {e}"),
            Self::CounterExhausted => f.write_str("the token's counter is exhausted"),
            Self::Encoding => f.write_str("a value could not be encoded"),
            Self::Contention => f.write_str("too much contention on one record; retry"),
            Self::UnknownVerdict => f.write_str("the verifier refused for an unknown reason"),
            Self::Audit(e) => write!(f, "the audit trail does not verify: {e}"),
            Self::Ocra(e) => write!(f, "the signature cannot be verified: {e}"),
        }
    }
}

impl core::error::Error for InternalError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Store(e) => Some(e),
            Self::Clock(e) => Some(e),
            Self::Audit(e) => Some(e),
            Self::Ocra(e) => Some(e),
            _ => None,
        }
    }
}

impl Refusal {
    /// The sentence a UI shows, in `lang`.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Lang, Refusal, Which};
    /// let r = Refusal::Replayed(Which::Current);
    /// assert!(r.message(Lang::En).contains("cannot be used twice in a row"));
    /// assert!(r.message(Lang::Ja).contains("同じパスワードは連続して使用できません"));
    /// ```
    #[must_use]
    pub fn message(&self, lang: Lang) -> String {
        let token = |w: &Which| match (w, lang) {
            (Which::Current, Lang::En) => "the token in use now",
            (Which::New, Lang::En) => "the new token",
            (Which::Current, Lang::Ja) => "現在ご利用中のトークン",
            (Which::New, Lang::Ja) => "新しいトークン",
        };
        match (self, lang) {
            (Self::NotAdministrator, Lang::En) => "Only an administrator can use the administration functions (tokens, ID locks, usage history).".into(),
            (Self::NotAdministrator, Lang::Ja) => "管理機能（トークン・IDロック・利用履歴）は管理者のみが利用できます。".into(),
            (Self::UnknownUser, Lang::En) => "No customer has this ID.".into(),
            (Self::UnknownUser, Lang::Ja) => "該当するお客様IDがありません。".into(),
            (Self::UserId(e), Lang::En) => format!("{e}."),
            (Self::UserId(_), Lang::Ja) => "お客様IDは半角英数字で入力してください。".into(),
            (Self::OperatorLocked, Lang::En) => "Your ID is locked. An administrator whose ID is locked must apply at the branch.".into(),
            (Self::OperatorLocked, Lang::Ja) => "ご利用のIDはロックされています。お取引店舗へお届けください。".into(),
            (Self::UserLocked, Lang::En) => "This ID is locked after too many wrong entries. An administrator must unlock it (ID lock/unlock).".into(),
            (Self::UserLocked, Lang::Ja) => "このIDはロックされています。管理者がIDロック解除を行ってください。".into(),
            (Self::NoTokenRegistered, Lang::En) => "This user has no registered token. Use new registration.".into(),
            (Self::NoTokenRegistered, Lang::Ja) => "このお客様にはトークンが登録されていません。新規登録を行ってください。".into(),
            (Self::AlreadyRegistered, Lang::En) => "This user already has a token. Use exchange.".into(),
            (Self::AlreadyRegistered, Lang::Ja) => "このお客様には既にトークンが登録されています。交換を行ってください。".into(),
            (Self::BranchRequired, Lang::En) => "Without the token in use now, the exchange cannot be done online. Please submit a written request at your branch.".into(),
            (Self::BranchRequired, Lang::Ja) => "現在ご利用中のトークンがない場合、お取引店舗への届出が必要です。".into(),
            (Self::Code(w, e), Lang::En) => format!("One-time password of {}: {e}.", token(w)),
            (Self::Code(w, _), Lang::Ja) => format!("{}のワンタイムパスワードは半角数字6桁で入力してください。", token(w)),
            (Self::WrongCode(w), Lang::En) => format!("The one-time password of {} is not correct.", token(w)),
            (Self::WrongCode(w), Lang::Ja) => format!("{}のワンタイムパスワードが正しくありません。", token(w)),
            (Self::Replayed(w), Lang::En) => format!(
                "The same password cannot be used twice in a row. Press \"1\" on {} again after a while: a new password takes 15-30 seconds to appear.",
                token(w)
            ),
            (Self::Replayed(w), Lang::Ja) => format!(
                "同じパスワードは連続して使用できません。しばらくしてから{}の「1」ボタンを押してください（新しいパスワードの表示まで15～30秒かかります）。",
                token(w)
            ),
            (Self::Serial(e), Lang::En) => format!("Serial number: {e}."),
            (Self::Serial(_), Lang::Ja) => "シリアル番号は半角英数字12桁で入力してください。".into(),
            (Self::UnknownSerial, Lang::En) => "No token with this serial number is known. Check the serial on the back of the new token.".into(),
            (Self::UnknownSerial, Lang::Ja) => "このシリアル番号のトークンはありません。新しいトークンの裏面のシリアル番号をご確認ください。".into(),
            (Self::SerialAssigned, Lang::En) => "This token is already registered to a user.".into(),
            (Self::SerialAssigned, Lang::Ja) => "このトークンは既に登録されています。".into(),
            (Self::SerialRevoked, Lang::En) => "This token has been revoked and cannot be registered.".into(),
            (Self::SerialRevoked, Lang::Ja) => "このトークンは無効化されているため登録できません。".into(),
            (Self::WrongPassword, Lang::En) => "The approval password (or per-transfer confirmation password) is not correct.".into(),
            (Self::WrongPassword, Lang::Ja) => "承認用パスワード（または都度振込送信確認用パスワード）が正しくありません。".into(),
            (Self::NoPasswordRegistered, Lang::En) => "No approval password or per-transfer confirmation password is registered for your ID.".into(),
            (Self::NoPasswordRegistered, Lang::Ja) => "承認用パスワード・都度振込送信確認用パスワードが登録されていません。".into(),
            (Self::UnregisterForbidden, Lang::En) => "The bank does not allow removing this user's token except by exchanging it.".into(),
            (Self::UnregisterForbidden, Lang::Ja) => "このトークンは交換以外の方法で登録解除できません。".into(),
            (Self::SessionExpired, Lang::En) => "The operation timed out. Please start again from the selection screen.".into(),
            (Self::SessionExpired, Lang::Ja) => "一定時間が経過したため操作を最初からやり直してください。".into(),
            (Self::SessionUsed, Lang::En) => "This operation was already completed or cancelled. Please start again.".into(),
            (Self::SessionUsed, Lang::Ja) => "この操作は既に完了または中止されています。最初からやり直してください。".into(),
            (Self::SessionInvalid, Lang::En) => "The operation could not be continued. Please start again.".into(),
            (Self::SessionInvalid, Lang::Ja) => "操作を継続できません。最初からやり直してください。".into(),
            (Self::Conflict, Lang::En) => "The user's token was changed at the same time by another operation. Please start again.".into(),
            (Self::Conflict, Lang::Ja) => "他の操作によりトークン情報が変更されました。最初からやり直してください。".into(),
            (Self::LoginFailed, Lang::En) => "The customer ID or the one-time password is not correct, or this ID cannot be used now.".into(),
            (Self::LoginFailed, Lang::Ja) => "お客様IDまたはワンタイムパスワードが正しくないか、このIDは現在ご利用いただけません。".into(),
            (Self::OwnId, Lang::En) => "An administrator cannot register, exchange or unregister their own token or unlock their own ID, nor set their own usage mode. Ask another administrator or apply at the branch.".into(),
            (Self::OwnId, Lang::Ja) => "管理者ご自身のトークンの登録・交換・登録解除、利用形態の設定およびIDロック解除はできません。他の管理者に依頼するか、お取引店舗へお届けください。".into(),
            (Self::BranchUnlockRequired, Lang::En) => "An administrator's ID can be unlocked only at the branch. Please submit a written request at your branch.".into(),
            (Self::BranchUnlockRequired, Lang::Ja) => "管理者のIDロック解除はお取引店舗へのお届けが必要です。".into(),
            (Self::UnlockLimit, Lang::En) => "This ID has been unlocked as many times today as allowed. Please submit a written request at your branch.".into(),
            (Self::UnlockLimit, Lang::Ja) => "本日のIDロック解除の回数が上限に達しました。お取引店舗へお届けください。".into(),
            (Self::WeakPassword, Lang::En) => format!("The new password must have at least {} characters and differ from the current one; nothing was changed.", crate::MIN_PASSWORD_CHARS),
            (Self::WeakPassword, Lang::Ja) => format!("新しいパスワードは{}文字以上で、現在のパスワードと異なるものにしてください（変更していません）。", crate::MIN_PASSWORD_CHARS),
            (Self::NotUsedForbidden, Lang::En) => "The bank does not allow using the service without a one-time password. Please choose a hardware token or a software token.".into(),
            (Self::NotUsedForbidden, Lang::Ja) => "ワンタイムパスワードを利用しない設定はご利用いただけません。ハードウェアトークンまたはソフトウェアトークンを選択してください。".into(),
            (Self::NotUsedForAdministrator, Lang::En) => "An administrator cannot be set to use no one-time password: administrators confirm other users' operations with their token.".into(),
            (Self::NotUsedForAdministrator, Lang::Ja) => "管理者はワンタイムパスワードを利用しない設定にはできません（他の利用者の操作をトークンで確認するため）。".into(),
            (Self::SoftwareTokenByEnrollment, Lang::En) => "A software token is set by registering the authenticator app. Please use software token registration.".into(),
            (Self::SoftwareTokenByEnrollment, Lang::Ja) => "ソフトウェアトークンは、スマートフォンアプリの登録（ソフトウェアトークン登録）により設定してください。".into(),
            (Self::Transaction(e), Lang::En) => format!("The transfer cannot be signed: {e}."),
            (Self::Transaction(_), Lang::Ja) => "振込内容（金額・振込先口座）に誤りがあります。".into(),
            (Self::NoSigningToken, Lang::En) => "This user's token cannot sign transactions. A keypad token is required.".into(),
            (Self::NoSigningToken, Lang::Ja) => "このお客様のトークンでは取引の署名ができません。キーパッド付きトークンが必要です。".into(),
            (Self::ReplayableSigningSuite, Lang::En) => "This token's signatures could be used again (its suite has neither a counter nor a time step); the bank does not accept them.".into(),
            (Self::ReplayableSigningSuite, Lang::Ja) => "このトークンの署名は再利用される恐れがあるため、ご利用いただけません。".into(),
            (Self::Signature(e), Lang::En) => format!("Transaction signature: {e}."),
            (Self::Signature(_), Lang::Ja) => "トークンに表示された数字を半角数字で入力してください。".into(),
            (Self::WrongSignature, Lang::En) => "The transaction signature is not correct. Type the challenge shown on the screen on the token and enter the number it shows.".into(),
            (Self::WrongSignature, Lang::Ja) => "取引署名が正しくありません。画面に表示された数字をトークンに入力し、表示された数字を入力してください。".into(),
            (Self::SignatureReplayed, Lang::En) => "This signature was used already. Type the challenge on the token again for a new one.".into(),
            (Self::SignatureReplayed, Lang::Ja) => "この署名は既に使用されています。もう一度トークンに数字を入力してください。".into(),
            (Self::Internal(_), Lang::En) => "The system could not complete the operation; nothing was changed. Please try again later.".into(),
            (Self::Internal(_), Lang::Ja) => "システムエラーのため処理できませんでした（変更は行われていません）。しばらくしてから再度お試しください。".into(),
        }
    }

    /// A short stable identifier for the audit trail and logs, such as
    /// `wrong_code_current`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_exchange::Refusal::SerialAssigned.reason_code(), "serial_assigned");
    /// ```
    #[must_use]
    pub const fn reason_code(&self) -> &'static str {
        match self {
            Self::NotAdministrator => "not_administrator",
            Self::UnknownUser => "unknown_user",
            Self::UserId(_) => "malformed_user_id",
            Self::OperatorLocked => "operator_locked",
            Self::UserLocked => "user_locked",
            Self::NoTokenRegistered => "no_token_registered",
            Self::AlreadyRegistered => "already_registered",
            Self::BranchRequired => "branch_required",
            Self::Code(Which::Current, _) => "malformed_code_current",
            Self::Code(Which::New, _) => "malformed_code_new",
            Self::WrongCode(Which::Current) => "wrong_code_current",
            Self::WrongCode(Which::New) => "wrong_code_new",
            Self::Replayed(Which::Current) => "replayed_code_current",
            Self::Replayed(Which::New) => "replayed_code_new",
            Self::Serial(_) => "malformed_serial",
            Self::UnknownSerial => "unknown_serial",
            Self::SerialAssigned => "serial_assigned",
            Self::SerialRevoked => "serial_revoked",
            Self::WrongPassword => "wrong_password",
            Self::NoPasswordRegistered => "no_password_registered",
            Self::UnregisterForbidden => "unregister_forbidden",
            Self::SessionExpired => "session_expired",
            Self::SessionUsed => "session_used",
            Self::SessionInvalid => "session_invalid",
            Self::Conflict => "conflict",
            Self::LoginFailed => "login_failed",
            Self::OwnId => "own_id",
            Self::BranchUnlockRequired => "branch_unlock_required",
            Self::UnlockLimit => "unlock_limit",
            Self::WeakPassword => "weak_password",
            Self::NotUsedForbidden => "not_used_forbidden",
            Self::NotUsedForAdministrator => "not_used_administrator",
            Self::SoftwareTokenByEnrollment => "software_token_enrollment_required",
            Self::Transaction(_) => "malformed_transaction",
            Self::NoSigningToken => "no_signing_token",
            Self::ReplayableSigningSuite => "replayable_signing_suite",
            Self::Signature(_) => "malformed_signature",
            Self::WrongSignature => "wrong_signature",
            Self::SignatureReplayed => "replayed_signature",
            Self::Internal(_) => "internal_error",
        }
    }
}

/// The audit reason of a sign-in whose login password was wrong (the
/// answer is [`Refusal::LoginFailed`]).
pub(crate) const WRONG_LOGIN_PASSWORD: &str = "wrong_login_password";
/// The audit reason of a sign-in for an ID without a login password.
pub(crate) const NO_LOGIN_PASSWORD: &str = "no_login_password";
/// The audit reason of a sign-in with a code for a user whose usage mode
/// is "not used" (the code field must be empty).
pub(crate) const CODE_NOT_EXPECTED: &str = "code_not_expected";

/// Reasons only the audit trail records (the answer is a more general
/// refusal), with their words in a Japanese usage history.
const AUDIT_ONLY_LABELS: [(&str, &str); 3] = [
    (WRONG_LOGIN_PASSWORD, "ログインパスワード誤り"),
    (NO_LOGIN_PASSWORD, "ログインパスワード未登録"),
    (
        CODE_NOT_EXPECTED,
        "ワンタイムパスワードを利用しないIDへのワンタイムパスワード入力",
    ),
];

/// Every reason code of [`Refusal::reason_code`] with its words in a
/// Japanese usage history.
const REASON_LABELS: [(&str, &str); 40] = [
    ("not_administrator", "管理者以外の操作"),
    ("unknown_user", "該当するお客様IDなし"),
    ("malformed_user_id", "お客様IDの入力誤り"),
    ("operator_locked", "操作者のIDロック中"),
    ("user_locked", "IDロック中"),
    ("no_token_registered", "トークン未登録"),
    ("already_registered", "トークン登録済み"),
    ("branch_required", "お取引店舗への届出が必要"),
    (
        "malformed_code_current",
        "現在ご利用中のトークンのワンタイムパスワード入力誤り",
    ),
    (
        "malformed_code_new",
        "新しいトークンのワンタイムパスワード入力誤り",
    ),
    (
        "wrong_code_current",
        "現在ご利用中のトークンのワンタイムパスワード誤り",
    ),
    ("wrong_code_new", "新しいトークンのワンタイムパスワード誤り"),
    (
        "replayed_code_current",
        "現在ご利用中のトークンの同じパスワードの連続使用",
    ),
    (
        "replayed_code_new",
        "新しいトークンの同じパスワードの連続使用",
    ),
    ("malformed_serial", "シリアル番号の入力誤り"),
    ("unknown_serial", "該当するシリアル番号なし"),
    ("serial_assigned", "登録済みのトークン"),
    ("serial_revoked", "無効化されたトークン"),
    ("wrong_password", "承認用パスワード誤り"),
    ("no_password_registered", "承認用パスワード未登録"),
    ("unregister_forbidden", "交換以外の登録解除は不可"),
    ("session_expired", "一定時間経過"),
    ("session_used", "完了または中止済みの操作"),
    ("session_invalid", "継続できない操作"),
    ("conflict", "他の操作と競合"),
    ("login_failed", "ログイン失敗"),
    ("own_id", "管理者ご自身のIDへの操作"),
    (
        "branch_unlock_required",
        "お取引店舗へのお届けが必要なIDロック解除",
    ),
    ("unlock_limit", "本日のIDロック解除の回数上限"),
    ("weak_password", "新しいパスワードが条件外"),
    (
        "not_used_forbidden",
        "ワンタイムパスワードを利用しない設定は不可",
    ),
    (
        "not_used_administrator",
        "管理者のワンタイムパスワード利用は必須",
    ),
    (
        "software_token_enrollment_required",
        "ソフトウェアトークンはアプリ登録により設定",
    ),
    ("malformed_transaction", "振込内容の誤り"),
    ("no_signing_token", "取引署名できないトークン"),
    ("replayable_signing_suite", "再利用の恐れがある取引署名方式"),
    ("malformed_signature", "取引署名の入力誤り"),
    ("wrong_signature", "取引署名誤り"),
    ("replayed_signature", "取引署名の再使用"),
    ("internal_error", "システムエラー"),
];

impl Refusal {
    /// The words a usage history (利用履歴照会) shows for a refusal's
    /// stored [`reason_code`](Self::reason_code): in English the code
    /// itself (as scripts match it), in Japanese short words in the
    /// bank's terms. `None` for a code this version does not know (a UI
    /// shows it as stored).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Lang, Refusal};
    /// assert_eq!(Refusal::reason_label("wrong_password", Lang::En), Some("wrong_password"));
    /// assert_eq!(Refusal::reason_label("wrong_password", Lang::Ja), Some("承認用パスワード誤り"));
    /// assert_eq!(Refusal::reason_label("from_the_future", Lang::Ja), None);
    /// ```
    #[must_use]
    pub fn reason_label(reason_code: &str, lang: Lang) -> Option<&'static str> {
        REASON_LABELS
            .iter()
            .chain(&AUDIT_ONLY_LABELS)
            .find(|(code, _)| *code == reason_code)
            .map(|&(code, ja)| match lang {
                Lang::En => code,
                Lang::Ja => ja,
            })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl core::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Internal(e) => Some(e),
            Self::Code(_, e) => Some(e),
            Self::Serial(e) => Some(e),
            Self::UserId(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Self::Internal(InternalError::Store(e))
    }
}

impl From<InternalError> for Refusal {
    fn from(e: InternalError) -> Self {
        Self::Internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Refusal> {
        let mut v = vec![
            Refusal::NotAdministrator,
            Refusal::UnknownUser,
            Refusal::UserId(UserIdError::Empty),
            Refusal::OperatorLocked,
            Refusal::UserLocked,
            Refusal::NoTokenRegistered,
            Refusal::AlreadyRegistered,
            Refusal::BranchRequired,
            Refusal::Serial(SerialError::FullWidth),
            Refusal::UnknownSerial,
            Refusal::SerialAssigned,
            Refusal::SerialRevoked,
            Refusal::WrongPassword,
            Refusal::NoPasswordRegistered,
            Refusal::UnregisterForbidden,
            Refusal::SessionExpired,
            Refusal::SessionUsed,
            Refusal::SessionInvalid,
            Refusal::Conflict,
            Refusal::LoginFailed,
            Refusal::OwnId,
            Refusal::BranchUnlockRequired,
            Refusal::UnlockLimit,
            Refusal::WeakPassword,
            Refusal::NotUsedForbidden,
            Refusal::NotUsedForAdministrator,
            Refusal::SoftwareTokenByEnrollment,
            Refusal::Transaction(crate::TransactionError::ZeroAmount),
            Refusal::NoSigningToken,
            Refusal::ReplayableSigningSuite,
            Refusal::Signature(CodeError::Empty),
            Refusal::WrongSignature,
            Refusal::SignatureReplayed,
            Refusal::Internal(InternalError::Store(StoreError::Unavailable("disk".into()))),
        ];
        for w in [Which::Current, Which::New] {
            v.push(Refusal::Code(w, CodeError::Empty));
            v.push(Refusal::WrongCode(w));
            v.push(Refusal::Replayed(w));
        }
        v
    }

    #[test]
    fn every_refusal_has_a_sentence_in_both_languages_and_a_unique_reason() {
        let mut reasons = std::collections::HashSet::new();
        for r in all() {
            assert!(r.message(Lang::En).ends_with('.'), "{r:?}");
            assert!(r.message(Lang::Ja).ends_with('。'), "{r:?}");
            assert!(
                reasons.insert(r.reason_code()),
                "duplicate reason {}",
                r.reason_code()
            );
        }
    }

    #[test]
    fn every_reason_has_words_for_a_japanese_usage_history() {
        let mut labels = std::collections::HashSet::new();
        for r in all() {
            let code = r.reason_code();
            assert_eq!(Refusal::reason_label(code, Lang::En), Some(code));
            let ja = Refusal::reason_label(code, Lang::Ja).unwrap();
            assert!(!ja.is_ascii(), "{code}: {ja}");
            assert!(labels.insert(ja), "duplicate label {ja}");
        }
        assert_eq!(labels.len(), REASON_LABELS.len());
        for (code, ja) in AUDIT_ONLY_LABELS {
            assert_eq!(Refusal::reason_label(code, Lang::En), Some(code));
            assert_eq!(Refusal::reason_label(code, Lang::Ja), Some(ja));
            assert!(labels.insert(ja), "duplicate label {ja}");
            assert!(all().iter().all(|r| r.reason_code() != code), "{code}");
        }
    }

    #[test]
    fn the_usage_mode_refusals_read_as_the_bank_words_them() {
        let cases = [
            (
                Refusal::NotUsedForbidden,
                "not_used_forbidden",
                "The bank does not allow using the service without a one-time password. Please choose a hardware token or a software token.",
                "ワンタイムパスワードを利用しない設定はご利用いただけません。ハードウェアトークンまたはソフトウェアトークンを選択してください。",
            ),
            (
                Refusal::NotUsedForAdministrator,
                "not_used_administrator",
                "An administrator cannot be set to use no one-time password: administrators confirm other users' operations with their token.",
                "管理者はワンタイムパスワードを利用しない設定にはできません（他の利用者の操作をトークンで確認するため）。",
            ),
            (
                Refusal::SoftwareTokenByEnrollment,
                "software_token_enrollment_required",
                "A software token is set by registering the authenticator app. Please use software token registration.",
                "ソフトウェアトークンは、スマートフォンアプリの登録（ソフトウェアトークン登録）により設定してください。",
            ),
        ];
        for (r, code, en, ja) in cases {
            assert_eq!(r.reason_code(), code);
            assert_eq!(r.message(Lang::En), en);
            assert_eq!(r.message(Lang::Ja), ja);
        }
        assert_eq!(
            Refusal::reason_label(CODE_NOT_EXPECTED, Lang::Ja),
            Some("ワンタイムパスワードを利用しないIDへのワンタイムパスワード入力")
        );
    }

    #[test]
    fn internal_errors_do_not_leak_their_details_to_users() {
        let r = Refusal::from(StoreError::Unavailable(
            "/var/lib/bank.db: permission denied".into(),
        ));
        assert!(!r.message(Lang::En).contains("/var/lib"));
    }
}
