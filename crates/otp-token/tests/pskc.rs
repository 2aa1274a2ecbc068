//! PSKC seed files: round trips through the factory and the inventory, the
//! RFC 6030 examples, and files written by other tools.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use otp_core::{Algorithm, Code, Digits, TokenState, hotp, verify};
use otp_token::{Factory, Inventory, PreSharedKey, Profile, PskcError, TokenKind, read_pskc_keys};

const AT: u64 = 1_790_000_000;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap()
}

fn psk(hex_key: &str) -> PreSharedKey {
    PreSharedKey::new(hex::decode(hex_key).unwrap().try_into().unwrap())
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
        let params = record.verifier_params();
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
            kind: TokenKind::Totp(otp_core::TimeStep::new(60, 0).unwrap()),
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

#[test]
fn malformed_xml_is_a_typed_error() {
    for bad in [
        "",
        "not xml",
        "<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">",
        "<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\"></Other>",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><KeyContainer/>",
    ] {
        assert!(
            matches!(Inventory::from_pskc(bad, None), Err(PskcError::Xml { .. })),
            "{bad}"
        );
    }
    assert_eq!(
        Inventory::from_pskc(
            "<KeyContainer Version=\"2.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\"/>",
            None
        )
        .unwrap_err(),
        PskcError::UnsupportedVersion {
            version: "2.0".into()
        }
    );
}

// ---------------------------------------------------------------- RFC 6030

#[test]
fn rfc6030_figure2_minimal_container_has_no_serial() {
    let keys = read_pskc_keys(&data("rfc6030_figure2.pskcxml"), None).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id.as_deref(), Some("12345678"));
    assert_eq!(keys[0].secret_len, Some(4)); // "1234"
    assert_eq!(
        Inventory::from_pskc(&data("rfc6030_figure2.pskcxml"), None).unwrap_err(),
        PskcError::MissingSerial { package: 1 }
    );
}

#[test]
fn rfc6030_figure3_plain_hotp_key_gives_rfc4226_codes() {
    let inventory = Inventory::from_pskc(&data("rfc6030_figure3.pskcxml"), None).unwrap();
    let record = inventory.get("987654321").unwrap();
    assert_eq!(record.manufacturer, "Manufacturer");
    assert_eq!(record.issuer.as_deref(), Some("Issuer"));
    assert_eq!(record.profile.kind, TokenKind::Hotp);
    assert_eq!(record.profile.digits, Digits::Eight);
    assert_eq!(record.secret().expose_secret(), b"12345678901234567890");
    // RFC 4226 Appendix D, counter 0, 8 digits.
    assert_eq!(
        hotp(&record.key(), 0, Digits::Eight).to_string(),
        "84755224"
    );
    assert_eq!(record.initial_state(), TokenState::starting_at(0));
}

#[test]
fn rfc6030_figure4_derived_key_has_no_secret() {
    let keys = read_pskc_keys(&data("rfc6030_figure4.pskcxml"), None).unwrap();
    assert!(!keys[0].has_secret);
    assert_eq!(keys[0].counter, Some(0));
    assert_eq!(
        Inventory::from_pskc(&data("rfc6030_figure4.pskcxml"), None).unwrap_err(),
        PskcError::MissingSecret { package: 1 }
    );
}

#[test]
fn rfc6030_figure5_pin_key_is_not_an_otp_token() {
    let keys = read_pskc_keys(&data("rfc6030_figure5.pskcxml"), None).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[1].algorithm.as_deref(),
        Some("urn:ietf:params:xml:ns:keyprov:pskc:pin")
    );
    assert!(matches!(
        Inventory::from_pskc(&data("rfc6030_figure5.pskcxml"), None).unwrap_err(),
        PskcError::UnsupportedAlgorithm { package: 2, .. }
    ));
}

#[test]
fn rfc6030_figure6_aes128_cbc_with_hmac_sha1() {
    let file = data("rfc6030_figure6.pskcxml");
    let key = psk("12345678901234567890123456789012").named("Pre-shared-key");
    let inventory = Inventory::from_pskc(&file, Some(&key)).unwrap();
    let record = inventory.get("987654321").unwrap();
    assert_eq!(record.secret().expose_secret(), b"12345678901234567890");
    assert_eq!(
        hotp(&record.key(), 1, Digits::Eight).to_string(),
        "94287082"
    );
    assert_eq!(
        Inventory::from_pskc(&file, None).unwrap_err(),
        PskcError::KeyRequired
    );
    assert!(matches!(
        Inventory::from_pskc(&file, Some(&psk("00000000000000000000000000000000"))).unwrap_err(),
        PskcError::WrongKey | PskcError::MacMismatch { .. }
    ));
    let tampered = file.replace(
        "Su+NvtQfmvfJzF6bmQiJqoLRExc=",
        "Tu+NvtQfmvfJzF6bmQiJqoLRExc=",
    );
    assert_eq!(
        Inventory::from_pskc(&tampered, Some(&key)).unwrap_err(),
        PskcError::MacMismatch { package: 1 }
    );
}

#[test]
fn rfc6030_figure7_pbkdf2_is_refused_as_unsupported() {
    assert!(matches!(
        Inventory::from_pskc(&data("rfc6030_figure7.pskcxml"), Some(&psk("651e63cd57008476af1ff6422cd02e41")))
            .unwrap_err(),
        PskcError::UnsupportedEncryption { algorithm } if algorithm.ends_with("#pbkdf2")
    ));
}

#[test]
fn rfc6030_figure10_bulk_file_has_two_keys_for_one_device() {
    let file = data("rfc6030_figure10.pskcxml");
    let keys = read_pskc_keys(&file, None).unwrap();
    assert_eq!(keys.len(), 4);
    assert_eq!(
        Inventory::from_pskc(&file, None).unwrap_err(),
        PskcError::DuplicateSerial {
            serial: "9999999".into()
        }
    );
}

// ------------------------------------------------------------ other tools

#[test]
fn linotp_feitian_file_imports_hotp_and_60_second_totp_tokens() {
    let inventory = Inventory::from_pskc(&data("linotp_feitian.pskcxml"), None).unwrap();
    assert_eq!(inventory.len(), 6);
    let hotp_token = inventory.get("1000133508267").unwrap();
    assert_eq!(hotp_token.profile.kind, TokenKind::Hotp);
    assert_eq!(hotp_token.manufacturer, "Feitian Technology Co.,Ltd");
    let totp_token = inventory.get("2600124809778").unwrap();
    assert!(
        matches!(totp_token.profile.kind, TokenKind::Totp(s) if s.seconds() == 60 && s.t0() == 0)
    );
    assert_eq!(totp_token.secret().len(), 20);
}

#[test]
fn linotp_nagraid_file_decrypts_but_ocra_is_not_imported() {
    let file = data("linotp_nagraid_ocra.pskcxml");
    let key = psk("4A057F6AB6FCB57AB5408E46A9835E68");
    let keys = read_pskc_keys(&file, Some(&key)).unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.has_secret));
    assert_eq!(keys[0].serial.as_deref(), Some("306EUO4-00960"));
    assert!(matches!(
        Inventory::from_pskc(&file, Some(&key)).unwrap_err(),
        PskcError::UnsupportedAlgorithm { package: 1, .. }
    ));
}

#[test]
fn python_pskc_file_with_hmac_sha224_mac_decrypts() {
    let file = data("python_pskc_aes128_cbc_hmac_sha224.pskcxml");
    let key = psk("12345678901234567890123456789012");
    let keys = read_pskc_keys(&file, Some(&key)).unwrap();
    assert_eq!(keys[0].secret_len, Some(20));
    let bad = file.replace("CjGsEXpmZYGMyejd", "CjGsEXpmZYGMyejE");
    assert_eq!(
        read_pskc_keys(&bad, Some(&key)).unwrap_err(),
        PskcError::MacMismatch { package: 1 }
    );
}

#[test]
fn pre_rfc_draft_files_are_refused_as_not_pskc() {
    assert_eq!(
        Inventory::from_pskc(&data("actividentity_draft.pskcxml"), None).unwrap_err(),
        PskcError::NotPskc
    );
}
