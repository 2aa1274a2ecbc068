#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod audit;
mod bank;
pub mod exchange;
mod ids;
mod memory;
mod password;
mod refusal;
pub mod scenario;
mod store;

pub use audit::{Action, AuditEntry, AuditError, AuditRecord, AuditResult, verify_chain};
pub use bank::{Bank, BranchAuthorization, CurrentTokenVerified, Policy, UserList, UserRow};
pub use exchange::{Exchanged, ExpectCurrentCode, ExpectNewToken, Flow, Pending, Retry, Ticket};
pub use ids::{Authority, MAX_USER_ID_LEN, UserId, UserIdError};
pub use memory::MemoryStore;
pub use password::{Credentials, HashCost, Password, PasswordHash, PasswordKind, StoredHashes};
pub use refusal::{Lang, Refusal, Which};
pub use store::{
    IdLock, Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus, UserPage, UserRecord,
};
