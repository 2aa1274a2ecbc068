//! PSKC seed files: the RFC 6030 examples and files written by other
//! tools. (Round trips through the factory are in otp-token's
//! `tests/seed_file.rs`.)
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use otp_core::{Digits, Mode, TokenState, hotp};
use otp_provision::{Inventory, PreSharedKey, PskcError, read_pskc_keys};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap()
}

fn psk(hex_key: &str) -> PreSharedKey {
    PreSharedKey::new(hex::decode(hex_key).unwrap().try_into().unwrap())
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
    assert_eq!(record.profile.mode, Mode::Hotp);
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
    assert_eq!(hotp_token.profile.mode, Mode::Hotp);
    assert_eq!(hotp_token.manufacturer, "Feitian Technology Co.,Ltd");
    let totp_token = inventory.get("2600124809778").unwrap();
    assert!(matches!(totp_token.profile.mode, Mode::Totp(s) if s.seconds() == 60 && s.t0() == 0));
    assert_eq!(totp_token.secret().len(), 20);
}

/// A vendor's OCRA keys (`urn:ietf:params:xml:ns:keyprov:pskc:ocra`, the
/// suite in `AlgorithmParameters/Suite`) import as keypad tokens with
/// their suite; their login code is HOTP (no `TimeInterval`) with the
/// suite's hash and the file's counter.
#[test]
fn linotp_nagraid_ocra_keys_import_with_their_suites() {
    let file = data("linotp_nagraid_ocra.pskcxml");
    let key = psk("4A057F6AB6FCB57AB5408E46A9835E68");
    let keys = read_pskc_keys(&file, Some(&key)).unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.has_secret));
    assert_eq!(keys[0].serial.as_deref(), Some("306EUO4-00960"));
    assert_eq!(
        keys[0].suite.as_deref(),
        Some("OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1")
    );
    let inventory = Inventory::from_pskc(&file, Some(&key)).unwrap();
    assert_eq!(inventory.len(), 3);
    let token = inventory.get("306EUO4-00960").unwrap();
    assert_eq!(
        token.suite.map(|s| s.to_string()).as_deref(),
        Some("OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1")
    );
    assert_eq!(token.profile.mode, Mode::Hotp);
    assert_eq!(token.profile.algorithm, otp_core::Algorithm::Sha1);
    assert_eq!(token.counter, keys[0].counter.unwrap());
    assert!(inventory.iter().all(|r| r.suite.is_some()));
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
