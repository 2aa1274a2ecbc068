//! Token secrets at rest: sealed in the file, opened only with the store's
//! own key, upgraded in place from plaintext, rotated without downtime;
//! database files private and never written through a link.
//!
//! `cargo test -p otp-store --test sealing` (the PostgreSQL half with
//! `-- --ignored` against `scripts/pg-test-server.sh`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub,
    dead_code,
    missing_docs,
    reason = "tests"
)]

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use otp_core::Secret;
use otp_exchange::{Action, AuditEntry, Store, StoreError, TokenEntry};
use otp_provision::{Profile, SeedRecord, SerialNumber};
use otp_store::{
    KeyFileError, KeyFileSealer, OpenError, SealError, SecretSealer, SqliteStore, StaticSealer,
};
use support::{TempDir, key};

/// A small deterministic generator, so every run seals different-looking
/// but reproducible secrets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A fleet of `n` tokens with random 20-byte secrets; the secrets too.
fn fleet(n: u64, seed: u64) -> (Vec<TokenEntry>, Vec<Vec<u8>>) {
    let mut rng = Rng(seed);
    let mut tokens = Vec::new();
    let mut secrets = Vec::new();
    for i in 0..n {
        let bytes: Vec<u8> = (0..20).map(|_| rng.next().to_le_bytes()[3]).collect();
        let serial = format!("VT{:010}", 7_000_000 + i);
        let seed = SeedRecord::new(
            &serial,
            Secret::from_bytes(&bytes).unwrap(),
            Profile::default(),
        );
        tokens.push(TokenEntry::unassigned(seed).unwrap());
        secrets.push(bytes);
    }
    (tokens, secrets)
}

fn import(store: &impl Store, tokens: Vec<TokenEntry>) {
    let audit = AuditEntry::new(1_700_000_000, "vendor", None, Action::Import);
    store.add_tokens(tokens, &audit, &key()).unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// Every byte of the database, its log and its index.
fn files_of(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            all.extend_from_slice(&bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What `strings` would find, and more: no secret in the files, as raw
/// bytes, hex (either case) or base32.
fn assert_no_secret(path: &Path, secrets: &[Vec<u8>]) {
    let bytes = files_of(path);
    assert!(!bytes.is_empty());
    for s in secrets {
        for form in [
            s.clone(),
            hex(s).into_bytes(),
            hex(s).to_uppercase().into_bytes(),
            base32(s).into_bytes(),
        ] {
            assert!(
                !contains(&bytes, &form),
                "a token secret is readable in {}",
                path.display()
            );
        }
    }
}

fn sealer_a() -> Arc<dyn SecretSealer> {
    Arc::new(StaticSealer::new("a", [0xa1; 32]))
}

#[test]
fn an_imported_fleet_leaves_no_secret_in_the_files_and_every_code_still_verifies() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let (tokens, secrets) = fleet(300, 0x5eed);
    let serials: Vec<SerialNumber> = tokens.iter().map(|t| t.serial).collect();
    let store = SqliteStore::open(&path, sealer_a()).unwrap();
    import(&store, tokens);
    // While the store is open (the log holds the pages) and after.
    assert_no_secret(&path, &secrets);
    for (serial, secret) in serials.iter().zip(&secrets) {
        let t = store.token(serial).unwrap().unwrap();
        assert_eq!(t.seed.secret().expose_secret(), &secret[..]);
    }
    drop(store);
    assert_no_secret(&path, &secrets);
    let again = SqliteStore::open(&path, sealer_a()).unwrap();
    let t = again.token(&serials[299]).unwrap().unwrap();
    assert_eq!(t.seed.secret().expose_secret(), &secrets[299][..]);
}

#[test]
fn the_wrong_key_is_a_typed_error_and_changes_nothing() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let store = SqliteStore::open(&path, sealer_a()).unwrap();
    import(&store, fleet(3, 1).0);
    drop(store);
    let before = std::fs::read(&path).unwrap();
    let wrong: Arc<dyn SecretSealer> = Arc::new(StaticSealer::new("a", [0xa2; 32]));
    let err = SqliteStore::open(&path, wrong).unwrap_err();
    assert_eq!(err, OpenError::SealingKey(SealError::Refused));
    assert!(err.to_string().contains("key"), "{err}");
    let unknown: Arc<dyn SecretSealer> = Arc::new(StaticSealer::new("b", [0xa1; 32]));
    let err = SqliteStore::open(&path, unknown).unwrap_err();
    assert_eq!(
        err,
        OpenError::SealingKey(SealError::UnknownKey("a".into()))
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Rewrites token rows behind the store's back.
fn sql(path: &Path, statement: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(statement).unwrap();
}

#[test]
fn a_plaintext_or_moved_secret_written_behind_the_store_is_refused() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let (tokens, _) = fleet(2, 2);
    let (a, b) = (tokens[0].serial, tokens[1].serial);
    let store = SqliteStore::open(&path, sealer_a()).unwrap();
    import(&store, tokens);
    drop(store);
    // An attacker's own secret, in plaintext, in place of the sealed one.
    sql(
        &path,
        &format!(
            "UPDATE tokens SET secret = x'{}', data_key = NULL WHERE serial = '{}'",
            hex(b"attacker-chosen-key!"),
            a.as_str()
        ),
    );
    let store = SqliteStore::open(&path, sealer_a()).unwrap();
    assert!(
        matches!(store.token(&a), Err(StoreError::Corrupt(m)) if m.contains("not sealed")),
        "a plaintext secret was accepted"
    );
    drop(store);
    // B's sealed secret copied into A's row: the serial is in the sealed
    // value's associated data.
    sql(
        &path,
        &format!(
            "UPDATE tokens SET (secret, data_key) = (SELECT secret, data_key FROM tokens WHERE serial = '{}') WHERE serial = '{}'",
            b.as_str(),
            a.as_str()
        ),
    );
    let store = SqliteStore::open(&path, sealer_a()).unwrap();
    let err = store.token(&a).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("does not open")),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains(a.as_str()),
        "the message shows the serial: {err}"
    );
    assert!(store.token(&b).unwrap().is_some());
}

#[test]
fn a_sealed_secret_from_another_store_does_not_open() {
    let dir = TempDir::new();
    let (one, two) = (dir.path().join("one.db"), dir.path().join("two.db"));
    let (tokens, _) = fleet(1, 3);
    let serial = tokens[0].serial;
    let s1 = SqliteStore::open(&one, sealer_a()).unwrap();
    import(&s1, tokens);
    let s2 = SqliteStore::open(&two, sealer_a()).unwrap();
    import(
        &s2,
        fleet(1, 4)
            .0
            .into_iter()
            .map(|mut t| {
                t.serial = serial;
                t
            })
            .collect(),
    );
    drop((s1, s2));
    // Same KEK, same serial, same data-key id: only the store identity
    // differs. Copy store one's sealed secret and data key into two.
    let conn = rusqlite::Connection::open(&one).unwrap();
    let (secret, wrapped): (Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT t.secret, d.wrapped FROM tokens t JOIN data_keys d ON d.id = t.data_key",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let conn = rusqlite::Connection::open(&two).unwrap();
    conn.execute("UPDATE tokens SET secret = ?1", [&secret])
        .unwrap();
    drop(conn);
    let s2 = SqliteStore::open(&two, sealer_a()).unwrap();
    assert!(matches!(s2.token(&serial), Err(StoreError::Corrupt(_))));
    drop(s2);
    let conn = rusqlite::Connection::open(&two).unwrap();
    conn.execute("UPDATE data_keys SET wrapped = ?1", [&wrapped])
        .unwrap();
    drop(conn);
    assert_eq!(
        SqliteStore::open(&two, sealer_a()).unwrap_err(),
        OpenError::SealingKey(SealError::Refused)
    );
}

/// A schema-3 file (plaintext secrets), as the previous release wrote it.
fn version_3_file(path: &Path, tokens: &[TokenEntry], secrets: &[Vec<u8>]) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
         INSERT INTO schema_version VALUES (3);",
    )
    .unwrap();
    for sql in [
        include_str!("../sql/sqlite_v1.sql"),
        include_str!("../sql/sqlite_v2.sql"),
        include_str!("../sql/sqlite_v3.sql"),
    ] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "application_id", otp_store::SQLITE_APPLICATION_ID)
        .unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for (t, s) in tokens.iter().zip(secrets) {
        conn.execute(
            "INSERT INTO tokens (serial, seed_serial, manufacturer, model, issuer, key_id, kind, step_seconds, t0, algorithm, digits, counter, time_drift, secret, status, assigned_to, floor, drift, failures, locked)
             VALUES (?1, ?1, 'VT', 'v', NULL, '', 'totp', 30, 0, 'SHA1', 6, 0, 0, ?2, 'unassigned', NULL, 0, 0, 0, 0)",
            rusqlite::params![t.serial.as_str(), s],
        )
        .unwrap();
    }
}

#[test]
fn a_plaintext_store_is_sealed_in_place_when_upgraded() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let (tokens, secrets) = fleet(50, 5);
    version_3_file(&path, &tokens, &secrets);
    assert!(
        contains(&files_of(&path), &secrets[0]),
        "the fixture holds plaintext"
    );
    let store = SqliteStore::open(&path, sealer_a()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION
    );
    for (t, s) in tokens.iter().zip(&secrets) {
        let read = store.token(&t.serial).unwrap().unwrap();
        assert_eq!(read.seed.secret().expose_secret(), &s[..]);
    }
    assert_no_secret(&path, &secrets);
    drop(store);
    assert_no_secret(&path, &secrets);
}

#[test]
fn rekey_moves_every_secret_to_a_new_key_while_another_handle_keeps_reading() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let kek = dir.path().join("bank.kek");
    let first = KeyFileSealer::create(&kek).unwrap();
    let old_id = first.current_key().unwrap();
    let (tokens, secrets) = fleet(120, 6);
    let serials: Vec<SerialNumber> = tokens.iter().map(|t| t.serial).collect();
    let server = SqliteStore::open(&path, Arc::new(first)).unwrap();
    import(&server, tokens);

    // Rotation: a new KEK in the file, the store re-sealed in batches by
    // another process's handle, then the old KEK retired.
    let new_id = KeyFileSealer::rotate(&kek).unwrap();
    let admin = SqliteStore::open(&path, Arc::new(KeyFileSealer::open(&kek).unwrap())).unwrap();
    assert_eq!(admin.kek_ids().unwrap(), vec![old_id.clone()]);
    let done = admin.rekey(7).unwrap();
    assert_eq!(done.resealed, 120);
    assert_eq!(done.retired, 1);
    assert_eq!(admin.kek_ids().unwrap(), vec![new_id.clone()]);
    assert_eq!(KeyFileSealer::retire(&kek).unwrap(), 1);

    // The server opened with the old key file still reads every token: it
    // loads the new data key, and its sealer reads the file again.
    for (serial, secret) in serials.iter().zip(&secrets) {
        let t = server.token(serial).unwrap().unwrap();
        assert_eq!(t.seed.secret().expose_secret(), &secret[..]);
    }
    // And imports under the new data key.
    import(
        &server,
        fleet(1, 7)
            .0
            .into_iter()
            .map(|mut t| {
                t.serial = SerialNumber::parse("VT0009999999").unwrap();
                t
            })
            .collect(),
    );
    drop((server, admin));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let keys: Vec<i64> = conn
        .prepare("SELECT DISTINCT data_key FROM tokens")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, vec![done.data_key]);
    drop(conn);
    // Only the new key is left, and it opens the store.
    let only_new = KeyFileSealer::open(&kek).unwrap();
    assert_eq!(only_new.key_ids().unwrap(), vec![new_id]);
    let store = SqliteStore::open(&path, Arc::new(only_new)).unwrap();
    assert!(store.token(&serials[0]).unwrap().is_some());
    // The old key alone no longer does.
    let old_only: Arc<dyn SecretSealer> = Arc::new(StaticSealer::new(&old_id, [0; 32]));
    assert!(matches!(
        SqliteStore::open(&path, old_only),
        Err(OpenError::SealingKey(SealError::UnknownKey(_)))
    ));
}

#[test]
fn concurrent_rotations_lose_no_key() {
    // Eight processes' worth of rotations at once, 20 rounds: each new
    // key must survive (a lost one would strand every data key wrapped
    // under it).
    for round in 0..20 {
        let dir = TempDir::new();
        let kek = dir.path().join("bank.kek");
        KeyFileSealer::create(&kek).unwrap();
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| KeyFileSealer::rotate(&kek).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let held = KeyFileSealer::open(&kek).unwrap().key_ids().unwrap();
        assert_eq!(held.len(), 9, "round {round}: a rotation lost a key");
        for id in &ids {
            assert!(held.contains(id), "round {round}: {id} lost");
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_database_and_its_log_are_private_whatever_the_umask() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    // The test process's umask is usually 022: files would be 0644.
    let store = SqliteStore::open(&path, sealer_a()).unwrap();
    import(&store, fleet(2, 8).0);
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        assert_eq!(mode(Path::new(&p)), 0o600, "{suffix}");
    }
}

#[test]
fn a_database_is_not_created_in_a_folder_others_can_write_unless_sticky() {
    let dir = TempDir::new();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    for mode in [0o777, 0o770, 0o757] {
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = SqliteStore::open(open.join("bank.db"), sealer_a()).unwrap_err();
        assert!(err.to_string().contains("not sticky"), "{mode:o}: {err}");
        assert!(!open.join("bank.db").exists());
    }
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    drop(SqliteStore::open(open.join("bank.db"), sealer_a()).unwrap());
    assert_eq!(mode(&open.join("bank.db")), 0o600);
}

#[test]
fn a_link_at_the_database_or_its_log_is_never_followed() {
    let dir = TempDir::new();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"someone else's file").unwrap();
    // A dangling link where the new database would be created.
    let path = dir.path().join("bank.db");
    let elsewhere = dir.path().join("attacker-owned");
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    assert!(SqliteStore::open(&path, sealer_a()).is_err());
    assert!(
        !elsewhere.exists(),
        "the database was created through the link"
    );
    // A link to an existing file.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    assert!(SqliteStore::open(&path, sealer_a()).is_err());
    assert_eq!(std::fs::read(&victim).unwrap(), b"someone else's file");
    // A link planted at the log's, the index's or the journal's name
    // beside a real database.
    std::fs::remove_file(&path).unwrap();
    drop(SqliteStore::open(&path, sealer_a()).unwrap());
    for suffix in ["-wal", "-shm", "-journal"] {
        let companion = dir.path().join(format!("bank.db{suffix}"));
        let _ = std::fs::remove_file(&companion);
        std::os::unix::fs::symlink(&victim, &companion).unwrap();
        let err = SqliteStore::open(&path, sealer_a()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{suffix}: {err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"someone else's file");
        std::fs::remove_file(&companion).unwrap();
    }
    drop(SqliteStore::open(&path, sealer_a()).unwrap());
}

#[test]
fn a_key_file_is_created_private_and_refused_when_others_can_read_it() {
    let dir = TempDir::new();
    let kek = dir.path().join("bank.kek");
    KeyFileSealer::create(&kek).unwrap();
    assert_eq!(mode(&kek), 0o600);
    assert!(matches!(
        KeyFileSealer::create(&kek),
        Err(KeyFileError::Exists(_))
    ));
    for bad in [0o644, 0o640, 0o604, 0o660, 0o602] {
        std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(bad)).unwrap();
        assert!(
            matches!(
                KeyFileSealer::open(&kek),
                Err(KeyFileError::Permissions { .. })
            ),
            "{bad:o}"
        );
    }
    std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o600)).unwrap();
    KeyFileSealer::open(&kek).unwrap();
    // A link to a good key file is refused, and so is creating one
    // through a planted link.
    let link = dir.path().join("link.kek");
    std::os::unix::fs::symlink(&kek, &link).unwrap();
    assert!(matches!(
        KeyFileSealer::open(&link),
        Err(KeyFileError::Symlink(_))
    ));
    let planted = dir.path().join("planted.kek");
    let target = dir.path().join("target");
    std::os::unix::fs::symlink(&target, &planted).unwrap();
    assert!(KeyFileSealer::create(&planted).is_err());
    assert!(!target.exists());
    // Another user's file (the tests run as root; skip the check if not).
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&kek, Some(65534), None).unwrap();
        assert!(matches!(
            KeyFileSealer::open(&kek),
            Err(KeyFileError::Owner { owner: 65534, .. })
        ));
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh"]
    fn postgres_stores_only_sealed_secrets_and_refuses_the_wrong_key() {
        let schema = support::pg::schema();
        let _drop = support::pg::drop_later(&schema);
        let url = support::pg_url();
        let options = otp_store::PgOptions::default().with_schema(&schema);
        let store = otp_store::PgStore::connect(&url, options.clone(), sealer_a()).unwrap();
        let (tokens, secrets) = fleet(40, 9);
        let serials: Vec<SerialNumber> = tokens.iter().map(|t| t.serial).collect();
        import(&store, tokens);
        for (serial, secret) in serials.iter().zip(&secrets) {
            let t = store.token(serial).unwrap().unwrap();
            assert_eq!(t.seed.secret().expose_secret(), &secret[..]);
        }
        let mut c = support::pg::client();
        let stored: Vec<u8> = c
            .query(&format!("SELECT secret FROM {schema}.otp_tokens"), &[])
            .unwrap()
            .iter()
            .flat_map(|r| r.get::<_, Vec<u8>>(0))
            .collect();
        for s in &secrets {
            assert!(!contains(&stored, s));
        }
        let rekeyed = store.rekey(16).unwrap();
        assert_eq!((rekeyed.resealed, rekeyed.retired), (40, 1));
        assert!(store.token(&serials[3]).unwrap().is_some());
        let wrong: Arc<dyn SecretSealer> = Arc::new(StaticSealer::new("a", [0xa2; 32]));
        assert!(matches!(
            otp_store::PgStore::connect(&url, options, wrong),
            Err(OpenError::SealingKey(SealError::Refused))
        ));
    }
}
