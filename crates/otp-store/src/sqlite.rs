//! The SQLite store: one file, WAL mode, migrations, a small pool of
//! connections, and every write in one `BEGIN IMMEDIATE` transaction.

mod store;

pub use store::{
    Durability, SQLITE_APPLICATION_ID, SQLITE_SCHEMA_VERSION, SqliteOptions, SqliteStore,
};
