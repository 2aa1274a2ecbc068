//! The PostgreSQL store, for banks with several application servers.

mod store;
mod tls;

pub use store::{PG_SCHEMA_VERSION, PgOptions, PgStore};
pub use tls::TlsMode;
