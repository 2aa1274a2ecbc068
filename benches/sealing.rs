//! What sealing token secrets at rest costs a verification.
//!
//! ```text
//! cargo bench -p otp-benches --bench sealing
//! ```
//!
//! `aes_256_gcm_open_20_byte_secret`: the one extra step of every
//! verification, opening a sealed 20-byte secret with AES-256-GCM (the
//! store's envelope: 12-byte nonce, 16-byte tag, associated data of the
//! same length as the store's: label, 16-byte store id, data key id,
//! serial) under a cipher whose key schedule is cached, as the store
//! caches it. `sqlite_token_read`: `SqliteStore::token`, a whole read of
//! one token (SQL, decode, unseal) from a warm page cache. Compare both
//! with the fsync every durable verification pays (~130 µs here, see
//! docs/benchmarks.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "a benchmark"
)]

use std::hint::black_box;
use std::sync::Arc;

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use criterion::{Criterion, criterion_group, criterion_main};
use otp_core::Secret;
use otp_exchange::{Action, AuditEntry, AuditKey, Store, TokenEntry};
use otp_provision::{Profile, SeedRecord, SerialNumber};
use otp_store::{SqliteOptions, SqliteStore, StaticSealer};

fn open(c: &mut Criterion) {
    let cipher = Aes256Gcm::new_from_slice(&[7; 32]).unwrap();
    let nonce = [9u8; 12];
    let mut aad = b"otp-store/token-secret/v1\0".to_vec();
    aad.extend_from_slice(&[1; 16]);
    aad.extend_from_slice(&1i64.to_be_bytes());
    aad.extend_from_slice(b"VT0000000001");
    let mut sealed = b"12345678901234567890".to_vec();
    cipher
        .encrypt_in_place(&nonce.into(), &aad, &mut sealed)
        .unwrap();
    c.bench_function("aes_256_gcm_open_20_byte_secret", |b| {
        b.iter(|| {
            let mut buf = zeroize::Zeroizing::new(black_box(&sealed).clone());
            cipher
                .decrypt_in_place(&nonce.into(), black_box(&aad), &mut *buf)
                .unwrap();
            black_box(buf.len())
        });
    });
}

fn token_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(
        dir.path().join("bench.db"),
        SqliteOptions::default(),
        Arc::new(StaticSealer::new("bench", [0x42; 32])),
    )
    .unwrap();
    let serial = SerialNumber::parse("VT0000000001").unwrap();
    let seed = SeedRecord::new(
        serial.as_str(),
        Secret::from_bytes(b"12345678901234567890").unwrap(),
        Profile::default(),
    );
    store
        .add_tokens(
            vec![TokenEntry::unassigned(seed).unwrap()],
            &AuditEntry::new(1, "bench", None, Action::Import),
            &AuditKey::new([1; 32]),
        )
        .unwrap();
    c.bench_function("sqlite_token_read", |b| {
        b.iter(|| black_box(store.token(black_box(&serial)).unwrap()));
    });
}

criterion_group!(benches, open, token_read);
criterion_main!(benches);
