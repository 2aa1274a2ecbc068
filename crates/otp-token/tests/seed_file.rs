//! Seed files from the factory: what the factory writes, the bank's
//! inventory reads back, and the virtual tokens' codes verify against it.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use otp_core::{Algorithm, Code, Digits, Mode, Params, verify};
use otp_provision::{Inventory, PreSharedKey, Profile, PskcError};
use otp_token::Factory;

const AT: u64 = 1_790_000_000;

/// The bank's default policy for a device: otp-core's defaults for its
/// mode (an event token's look-ahead of 10), with its digits.
fn params(profile: &Profile) -> Params {
    let base = match profile.mode {
        Mode::Hotp => Params::hotp(),
        Mode::Totp(step) => Params::totp(step),
    };
    Params {
        digits: profile.digits,
        ..base
    }
}

fn round_trip(key: Option<&PreSharedKey>, profile: Profile) {
    let mut batch = Factory::deterministic_for_tests([9; 32])
        .profile(profile)
        .manufacture(40, AT)
        .unwrap();
    let file = batch.seed_file(key).unwrap();
    if key.is_some() {
        assert!(file.contains("EncryptedValue"));
        assert!(!file.contains("PlainValue>") || !file.contains("<Secret>\n          <PlainValue"));
    }
    let inventory = Inventory::from_pskc(&file, key).unwrap();
    assert_eq!(inventory.len(), 40);
    let mut tokens = batch.into_tokens();
    for (k, token) in tokens.iter_mut().enumerate() {
        let record = inventory.get(token.serial().as_str()).unwrap();
        assert_eq!(record.profile, profile);
        assert_eq!(record.manufacturer, "otp-token");
        let key = record.key();
        let params = params(&record.profile);
        let mut state = record.initial_state();
        for i in 0..3u64 {
            let now = AT + 100 + 3_600 * u64::try_from(k).unwrap() + 97 * i;
            let shown = token.press(now).unwrap().to_string();
            let code = Code::parse(&shown, profile.digits).unwrap();
            let v = verify(&key, &params, &state, &code, now + 2);
            assert!(v.is_accepted(), "{}: {:?}", token.serial(), v.outcome);
            state = v.state;
        }
    }
}

#[test]
fn factory_to_plain_pskc_to_inventory_gives_the_same_codes() {
    round_trip(None, Profile::default());
    round_trip(None, Profile::hotp());
    round_trip(
        None,
        Profile {
            mode: Mode::Totp(otp_core::TimeStep::new(60, 0).unwrap()),
            algorithm: Algorithm::Sha256,
            digits: Digits::Eight,
        },
    );
}

#[test]
fn factory_to_encrypted_pskc_to_inventory_gives_the_same_codes() {
    let key = PreSharedKey::new(*b"bank-vendor-2026").named("Acme 2026");
    round_trip(Some(&key), Profile::default());
    round_trip(
        Some(&key),
        Profile {
            algorithm: Algorithm::Sha512,
            ..Profile::hotp()
        },
    );
}

#[test]
fn encrypted_files_refuse_a_missing_wrong_or_misnamed_key_and_a_tampered_mac() {
    let key = PreSharedKey::new(*b"bank-vendor-2026");
    let mut batch = Factory::deterministic_for_tests([1; 32])
        .manufacture(3, AT)
        .unwrap();
    let file = batch.seed_file(Some(&key)).unwrap();
    assert_eq!(
        Inventory::from_pskc(&file, None).unwrap_err(),
        PskcError::KeyRequired
    );
    let wrong = PreSharedKey::new(*b"another-key-0000");
    assert!(matches!(
        Inventory::from_pskc(&file, Some(&wrong)).unwrap_err(),
        PskcError::WrongKey | PskcError::MacMismatch { .. }
    ));
    let misnamed = PreSharedKey::new(*b"bank-vendor-2026").named("other");
    assert_eq!(
        Inventory::from_pskc(&file, Some(&misnamed)).unwrap_err(),
        PskcError::WrongKey
    );
    // Flip one character of the second secret's ValueMAC (the counters and
    // time parameters have theirs too).
    let second = file.match_indices("<Secret>").nth(1).unwrap().0;
    let at = second + file[second..].find("<ValueMAC>").unwrap() + "<ValueMAC>".len();
    let mut tampered = file.clone().into_bytes();
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        Inventory::from_pskc(&tampered, Some(&key)).unwrap_err(),
        PskcError::MacMismatch { package: 2 }
    );
}

#[test]
fn a_duplicate_serial_imports_nothing() {
    let mut a = Factory::deterministic_for_tests([1; 32])
        .manufacture(3, AT)
        .unwrap();
    let mut b = Factory::deterministic_for_tests([2; 32])
        .serials("VT", 2)
        .unwrap()
        .manufacture(3, AT)
        .unwrap();
    let mut inventory = Inventory::from_pskc(&a.seed_file(None).unwrap(), None).unwrap();
    assert_eq!(
        inventory.import_pskc(&b.seed_file(None).unwrap(), None),
        Err(PskcError::DuplicateSerial {
            serial: "VT0000000002".into()
        })
    );
    assert_eq!(inventory.len(), 3);
    assert!(inventory.get("VT0000000004").is_none());
}
