//! Properties: no panic on any input; URI round trips.
#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use otp_core::{Algorithm, Digits, Mode, Secret, TimeStep};
use otp_provision::{Inventory, PreSharedKey, Profile, SeedRecord, SerialNumber, read_pskc_keys};
use proptest::prelude::*;

fn profile() -> impl Strategy<Value = Profile> {
    (
        prop_oneof![
            Just(Mode::Hotp),
            (1u64..=300).prop_map(|s| Mode::Totp(TimeStep::new(s, 0).unwrap())),
        ],
        prop_oneof![
            Just(Algorithm::Sha1),
            Just(Algorithm::Sha256),
            Just(Algorithm::Sha512)
        ],
        prop_oneof![Just(Digits::Six), Just(Digits::Seven), Just(Digits::Eight)],
    )
        .prop_map(|(kind, algorithm, digits)| Profile {
            mode: kind,
            algorithm,
            digits,
        })
}

/// A keypad token's record: a suite from its parts (hash, digits, `C`,
/// question, `T`), the login profile with the suite's hash.
fn keypad_record() -> impl Strategy<Value = SeedRecord> {
    (
        proptest::collection::vec(any::<u8>(), 16..=64),
        profile(),
        prop_oneof![Just("SHA1"), Just("SHA256"), Just("SHA512")],
        prop_oneof![Just(0u8), 4u8..=10],
        any::<bool>(),
        prop_oneof![Just('A'), Just('N'), Just('H')],
        4u8..=64,
        prop_oneof![
            Just(String::new()),
            Just("-T1M".to_owned()),
            Just("-T30S".to_owned()),
            Just("-T48H".to_owned())
        ],
        any::<u64>(),
        any::<i64>(),
    )
        .prop_map(
            |(secret, profile, hash, digits, c, q, qlen, t, counter, drift)| {
                let c = if c { "C-" } else { "" };
                let suite: otp_core::OcraSuite =
                    format!("OCRA-1:HOTP-{hash}-{digits}:{c}Q{q}{qlen:02}{t}")
                        .parse()
                        .unwrap();
                let mut r = SeedRecord::new(
                    "KP0000000001",
                    Secret::from_bytes(&secret).unwrap(),
                    Profile {
                        algorithm: suite.algorithm(),
                        ..profile
                    },
                );
                r.suite = Some(suite);
                match profile.mode {
                    Mode::Hotp => r.counter = counter,
                    Mode::Totp(_) => r.time_drift = drift,
                }
                r
            },
        )
}

proptest! {
    #[test]
    fn keypad_records_round_trip_through_pskc(record in keypad_record(), encrypted in any::<bool>()) {
        use rand::SeedableRng as _;
        let key = PreSharedKey::new([7; 16]);
        let key = encrypted.then_some(&key);
        let rng = rand::rngs::ChaCha20Rng::from_seed([1; 32]);
        let mut file = otp_provision::PskcWriter::new(Vec::new(), key, rng).unwrap();
        file.write(&record).unwrap();
        let xml = String::from_utf8(file.finish().unwrap()).unwrap();
        let inventory = Inventory::from_pskc(&xml, key).unwrap();
        let back = inventory.get("KP0000000001").unwrap();
        prop_assert_eq!(back.suite, record.suite);
        prop_assert_eq!(back.profile, record.profile);
        prop_assert_eq!(back.counter, record.counter);
        prop_assert_eq!(back.time_drift, record.time_drift);
        prop_assert_eq!(back.secret().expose_secret(), record.secret().expose_secret());
    }

    #[test]
    fn serial_parsing_never_panics_and_valid_serials_round_trip(input in "\\PC{0,20}") {
        if let Ok(s) = SerialNumber::parse(&input) {
            prop_assert_eq!(SerialNumber::parse(s.as_str()), Ok(s));
            prop_assert_eq!(s.as_str().len(), 12);
            prop_assert!(s.masked().to_string().ends_with(&s.as_str()[8..]));
        }
    }

    #[test]
    fn alphanumeric_serials_are_accepted_in_any_case(input in "[a-zA-Z0-9]{12}", pad in " {0,3}") {
        let s = SerialNumber::parse(&format!("{pad}{input}{pad}")).unwrap();
        prop_assert_eq!(s.as_str(), input.to_ascii_uppercase());
    }

    #[test]
    fn uri_parsing_never_panics(input in "\\PC{0,120}") {
        let _ = SeedRecord::from_otpauth_uri(&input);
        let _ = SeedRecord::from_otpauth_uri(&format!("otpauth://{input}"));
        let _ = SeedRecord::from_otpauth_uri(&format!("otpauth://totp/a?{input}"));
    }

    #[test]
    fn uri_round_trip(
        secret in proptest::collection::vec(any::<u8>(), 16..=64),
        serial in "[ -~]{1,20}",
        issuer in proptest::option::of("[ -9;-~]{1,20}"),
        profile in profile(),
        counter in any::<u64>(),
    ) {
        prop_assume!(!serial.trim().is_empty() && !serial.contains(':'));
        let mut r = SeedRecord::new(serial.trim(), Secret::from_bytes(&secret).unwrap(), profile);
        r.issuer = issuer.map(|i| i.trim().to_owned()).filter(|i| !i.is_empty());
        if profile.mode == Mode::Hotp {
            r.counter = counter;
        }
        let back = SeedRecord::from_otpauth_uri(&r.to_otpauth_uri()).unwrap();
        prop_assert_eq!(&back.serial, &r.serial);
        prop_assert_eq!(&back.issuer, &r.issuer);
        prop_assert_eq!(back.profile, r.profile);
        prop_assert_eq!(back.counter, r.counter);
        prop_assert_eq!(back.secret().expose_secret(), r.secret().expose_secret());
    }

    #[test]
    fn xml_parsing_never_panics(input in "\\PC{0,300}") {
        let key = PreSharedKey::new([7; 16]);
        let _ = Inventory::from_pskc(&input, None);
        let _ = read_pskc_keys(&input, Some(&key));
    }

    #[test]
    fn pskc_shaped_noise_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">"),
                Just("</KeyContainer>"), Just("<KeyPackage>"), Just("</KeyPackage>"),
                Just("<Key Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc:totp\">"), Just("</Key>"),
                Just("<Data>"), Just("</Data>"), Just("<Secret>"), Just("</Secret>"),
                Just("<PlainValue>"), Just("</PlainValue>"), Just("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="),
                Just("<EncryptedValue>"), Just("</EncryptedValue>"), Just("<DeviceInfo><SerialNo>1</SerialNo></DeviceInfo>"),
                Just("<TimeInterval><PlainValue>0</PlainValue></TimeInterval>"), Just("&amp;"), Just("&#x0;"),
                Just("<EncryptionKey/>"), Just("<MACMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\"/>"),
                Just("99999999999999999999999"), Just("<ResponseFormat Length=\"9\"/>"),
                Just("<Key Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1\">"),
                Just("<Key Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc:ocra\">"),
                Just("<AlgorithmParameters>"), Just("</AlgorithmParameters>"),
                Just("<Suite>OCRA-1:HOTP-SHA1-6:C-QN08</Suite>"), Just("<Suite>OCRA-1:HOTP-SHA9-6:QX99-T0M</Suite>"),
                Just("<Suite>"), Just("</Suite>"), Just("OCRA-1:HOTP-SHA512-10:C-QN64-PSHA512-S512-T48H"),
            ],
            0..30,
        )
    ) {
        let xml: String = parts.concat();
        let key = PreSharedKey::new([7; 16]);
        let _ = Inventory::from_pskc(&xml, None);
        let _ = Inventory::from_pskc(&xml, Some(&key));
    }
}

#[test]
fn google_authenticator_style_uri() {
    let r = SeedRecord::from_otpauth_uri(
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Example",
    )
    .unwrap();
    assert_eq!(r.serial, "alice@google.com");
    assert_eq!(r.issuer.as_deref(), Some("Example"));
    assert_eq!(r.profile, Profile::default());
    assert_eq!(
        SeedRecord::from_otpauth_uri("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").unwrap_err(),
        otp_provision::UriError::Secret(otp_core::KeyError::TooShort { min: 16, found: 10 })
    );
    assert_eq!(
        SeedRecord::from_otpauth_uri("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
            .unwrap_err(),
        otp_provision::UriError::BadCounter
    );
}
