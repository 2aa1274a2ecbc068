#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod api_key;
mod audit;
mod bank;
mod derive;
pub mod exchange;
mod guard;
mod ids;
mod memory;
mod password;
mod refusal;
#[cfg(feature = "test-util")]
pub mod scenario;
mod store;
mod transaction;
mod typed;

pub use api_key::{
    API_KEY_ID_LEN, API_KEY_PREFIX, API_KEY_SECRET_LEN, ApiKeyRecord, ApiKeyRefused,
    ApiKeyRevocation, ApiScope, NewApiKey, is_api_key_id,
};
pub use audit::{
    Action, AuditDecodeError, AuditEntry, AuditError, AuditFormat, AuditHead, AuditKey,
    AuditRecord, AuditResult, verify_chain,
};
pub use bank::{
    ApiKeyCreateError, AuditCheckError, Bank, BranchAuthorization, CurrentTokenVerified,
    LoginTimes, MAX_API_KEY_NAME_CHARS, MAX_SEAL_LABEL, Policy, Records, SIGNING_COUNTER_WINDOW,
    SignedIn, TransactionSigned, UsageModeSet, UserList, UserRow, split_api_key,
};
pub use exchange::{
    Exchanged, ExpectCurrentCode, ExpectFirstCode, ExpectNewToken, Flow, Pending, Retry, Ticket,
};
pub use ids::{Authority, MAX_USER_ID_LEN, UserId, UserIdError};
pub use memory::MemoryStore;
pub use password::{
    Credentials, HashCost, MIN_PASSWORD_CHARS, Password, PasswordHash, PasswordKind, StoredHashes,
};
pub use refusal::{InternalError, Lang, Refusal, Which};
pub use store::{
    Attempts, IdLock, LockChange, StateSlot, Store, StoreError, Switch, SwitchError, TokenEntry,
    TokenStatus, UsageMode, UserPage, UserRecord, Verification,
};
pub use transaction::{MAX_DESTINATION_LEN, Transaction, TransactionError};
pub use typed::normalize_code;
