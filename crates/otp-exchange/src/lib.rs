#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod audit;
mod bank;
pub mod exchange;
mod guard;
mod ids;
mod memory;
mod password;
mod refusal;
#[cfg(feature = "test-util")]
pub mod scenario;
mod store;
mod typed;

pub use audit::{
    Action, AuditDecodeError, AuditEntry, AuditError, AuditFormat, AuditHead, AuditKey,
    AuditRecord, AuditResult, verify_chain,
};
pub use bank::{
    AuditCheckError, Bank, BranchAuthorization, CurrentTokenVerified, LoginTimes, MAX_SEAL_LABEL,
    Policy, Records, SignedIn, UsageModeSet, UserList, UserRow,
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
    Attempts, IdLock, LockChange, Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus,
    UsageMode, UserPage, UserRecord, Verification,
};
pub use typed::normalize_code;
