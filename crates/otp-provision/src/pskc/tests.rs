//! The seed file reader and writer, unit by unit.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use std::io::Write;

use otp_core::{Algorithm, Digits, Mode, Secret, TimeStep};
use rand::{Rng, SeedableRng as _, rngs::ChaCha20Rng};

use crate::{Profile, SeedRecord};

use super::{crypto::*, error::*, limits::*, reader::*, writer::*};

/// Writes records as a PSKC 1.0 file, plain or encrypted with `key`
/// (what otp-token's `Batch::seed_file` does).
fn write_pskc(
    records: &[SeedRecord],
    key: Option<&PreSharedKey>,
    rng: &mut impl Rng,
) -> Result<String, PskcError> {
    let mut writer = PskcWriter::new(Vec::new(), key, rng)?;
    for record in records {
        writer.write(record)?;
    }
    String::from_utf8(writer.finish()?).map_err(|_| PskcError::Write)
}

fn read_back(records: &[SeedRecord], key: Option<&PreSharedKey>) -> Vec<SeedRecord> {
    let xml = write_pskc(records, key, &mut ChaCha20Rng::from_seed([3; 32])).unwrap();
    let mut out = Vec::new();
    read_pskc(&xml, key, &PskcLimits::default(), |n, p| {
        out.push(p.into_record(n)?);
        Ok(())
    })
    .unwrap();
    out
}

/// Records of every shape the writer knows: TOTP with and without a
/// drift, HOTP with a counter, an issuer, a key ID, another hash and
/// digit count, no manufacturer or model.
fn assorted_records() -> Vec<SeedRecord> {
    let secret = |b: u8| Secret::from_bytes(&[b; 20]).unwrap();
    let mut a = SeedRecord::new("VT0000000001", secret(1), Profile::default());
    a.manufacturer = "otp-token".into();
    a.model = "VT-1".into();
    a.key_id = "VT0000000001".into();
    let mut b = SeedRecord::new(
        "VT0000000002",
        Secret::from_bytes(&[2; 32]).unwrap(),
        Profile {
            mode: Mode::Hotp,
            algorithm: Algorithm::Sha256,
            digits: Digits::Eight,
        },
    );
    b.counter = 42;
    b.issuer = Some("Bank & Co <1>".into());
    let mut c = SeedRecord::new(
        "VT0000000003",
        secret(3),
        Profile {
            mode: Mode::Totp(TimeStep::new(60, 1_000).unwrap()),
            ..Profile::default()
        },
    );
    c.time_drift = -2;
    c.manufacturer = "Acme".into();
    vec![a, b, c]
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The seed file's bytes for given records and random source, pinned
/// as `write_pskc` wrote them before the streaming writer: the same
/// document, plain and encrypted.
#[test]
fn the_written_document_is_pinned() {
    let records = assorted_records();
    let psk = PreSharedKey::new([9; 16]).named("bank-2026");
    let plain = write_pskc(&records, None, &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
    let encrypted = write_pskc(&records, Some(&psk), &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
    let empty = write_pskc(&[], Some(&psk), &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
    assert_eq!(
        [
            sha256_hex(plain.as_bytes()),
            sha256_hex(encrypted.as_bytes()),
            sha256_hex(empty.as_bytes())
        ],
        [
            "f1b0865da8d7c54a65ee47cecec6520356b77404d8a29da8e2a8993d08a9fdce",
            "ca2d286bd960ebc0020a17d1afa28d98e4ace413b9ba1cd8b4022bf84bf63b77",
            "50fb51b4c0f82fcd24ede3fa8d0e800759703b4b3af8ccf0c9e5b1c89f34cb2e",
        ]
    );
}

/// The streaming writer, one record at a time, writes the document
/// `write_pskc` writes for the same records and random source.
#[test]
fn the_streaming_writer_writes_the_same_document() {
    let records = assorted_records();
    let psk = PreSharedKey::new([9; 16]).named("bank-2026");
    for key in [None, Some(&psk)] {
        let whole = write_pskc(&records, key, &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
        let mut writer = PskcWriter::new(Vec::new(), key, ChaCha20Rng::from_seed([5; 32])).unwrap();
        for (n, record) in records.iter().enumerate() {
            assert_eq!(writer.written(), n);
            writer.write(record).unwrap();
        }
        let streamed = writer.finish().unwrap();
        assert_eq!(String::from_utf8(streamed).unwrap(), whole);
    }
}

/// A failing output is [`PskcError::Write`].
#[test]
fn a_failing_output_is_a_write_error() {
    struct Full(usize);
    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 < buf.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let rng = || ChaCha20Rng::from_seed([5; 32]);
    assert_eq!(
        PskcWriter::new(Full(10), None, rng()).unwrap_err(),
        PskcError::Write
    );
    let mut writer = PskcWriter::new(Full(200), None, rng()).unwrap();
    assert_eq!(
        writer.write(&assorted_records()[0]).unwrap_err(),
        PskcError::Write
    );
}

/// Read from a stream, the records are the ones written, in order,
/// plain and encrypted.
#[test]
fn records_read_from_a_stream_are_the_ones_written() {
    let records = assorted_records();
    let psk = PreSharedKey::new([9; 16]).named("bank-2026");
    for key in [None, Some(&psk)] {
        let xml = write_pskc(&records, key, &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
        let mut back = Vec::new();
        // A one-byte buffer: events split across every read.
        let input = std::io::BufReader::with_capacity(1, xml.as_bytes());
        let n = read_pskc_records(input, key, &PskcLimits::default(), |r| {
            back.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
        let show = |r: &SeedRecord| {
            format!(
                "{} {} {} {:?} {} {:?} {} {} {}",
                r.serial,
                r.manufacturer,
                r.model,
                r.issuer,
                // The key ID is written as the serial when empty.
                if r.key_id.is_empty() {
                    &r.serial
                } else {
                    &r.key_id
                },
                r.profile,
                r.counter,
                r.time_drift,
                hex::encode(r.secret().expose_secret())
            )
        };
        assert_eq!(
            back.iter().map(show).collect::<Vec<_>>(),
            records.iter().map(show).collect::<Vec<_>>()
        );
    }
}

/// A stream is cut at the size limit: one byte more than the limit is
/// too large, the limit itself is not; the sink's error stops it.
#[test]
fn a_stream_past_the_size_limit_is_too_large() {
    let xml = write_pskc(
        &assorted_records(),
        None,
        &mut ChaCha20Rng::from_seed([5; 32]),
    )
    .unwrap();
    let read = |max: usize| {
        read_pskc_records(
            xml.as_bytes(),
            None,
            &PskcLimits::default().with_max_bytes(max),
            |_| Ok(()),
        )
    };
    assert_eq!(read(xml.len()), Ok(3));
    assert_eq!(
        read(xml.len() - 1),
        Err(PskcError::TooLarge {
            bytes: xml.len(),
            max: xml.len() - 1
        })
    );
    assert_eq!(
        read(100),
        Err(PskcError::TooLarge {
            bytes: 101,
            max: 100
        })
    );
    let mut seen = 0;
    let stopped = read_pskc_records(xml.as_bytes(), None, &PskcLimits::default(), |_| {
        seen += 1;
        Err(PskcError::Write)
    });
    assert_eq!((stopped, seen), (Err(PskcError::Write), 1));
}

/// An input that fails is [`PskcError::Read`], with its message.
#[test]
fn a_failing_input_is_a_read_error() {
    let xml = write_pskc(
        &assorted_records(),
        None,
        &mut ChaCha20Rng::from_seed([5; 32]),
    )
    .unwrap();
    let input = std::io::Read::chain(&xml.as_bytes()[..300], FailingRead);
    let e = read_pskc_records(
        std::io::BufReader::new(input),
        None,
        &PskcLimits::default(),
        |_| Ok(()),
    )
    .unwrap_err();
    assert_eq!(
        e,
        PskcError::Read {
            message: "the disk is on fire".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "the seed file could not be read (the disk is on fire)"
    );
}

struct FailingRead;
impl std::io::Read for FailingRead {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("the disk is on fire"))
    }
}

/// Counters and time parameters, encrypted as 8 big-endian bytes (the
/// drift in two's complement), read back exactly.
#[test]
fn encrypted_counters_and_drifts_round_trip() {
    let secret = || Secret::from_bytes(&[7; 20]).unwrap();
    let mut hotp = SeedRecord::new("VT0000000001", secret(), Profile::hotp());
    hotp.counter = u64::MAX - 1;
    let step = TimeStep::new(60, 1_000).unwrap();
    let totp = |drift: i64| {
        let mut r = SeedRecord::new(
            format!("VT00000001{:02}", drift.unsigned_abs() % 100),
            secret(),
            Profile {
                mode: Mode::Totp(step),
                ..Profile::default()
            },
        );
        r.time_drift = drift;
        r
    };
    let records = [hotp, totp(-3), totp(5), totp(i64::MIN), totp(i64::MAX)];
    for key in [None, Some(&PreSharedKey::new([9; 16]))] {
        let back = read_back(&records, key);
        assert_eq!(back[0].counter, u64::MAX - 1);
        assert_eq!(
            back.iter().map(|r| r.time_drift).collect::<Vec<_>>(),
            [0, -3, 5, i64::MIN, i64::MAX]
        );
        assert!(back[1..].iter().all(|r| r.profile.mode == Mode::Totp(step)));
    }
}

/// A MAC key stand-in and a real key do the same work: both are 64
/// zero-padded bytes, and a valid 20-byte key gives the HMAC of the
/// 20 bytes (zero padding up to the hash's block is HMAC's own).
#[test]
fn a_zero_padded_mac_key_gives_the_same_hmac() {
    let psk = [4u8; 16];
    let wrapped = aes_cbc_encrypt(&psk, &mut ChaCha20Rng::from_seed([1; 32]), &[0xab; 20]);
    let key = unwrap_mac_key(&psk, MacAlg::Sha1, &wrapped);
    assert!(bool::from(key.valid));
    assert_eq!(key.key[..20], [0xab; 20]);
    assert_eq!(key.key[20..], [0; 44]);
    let tag = hmac_sha1(&[0xab; 20], b"data");
    assert!(mac_ok(&key, b"data", &tag));
    let bad = unwrap_mac_key(&[5u8; 16], MacAlg::Sha1, &wrapped);
    assert_eq!(*bad.key, [0; 64]);
    assert!(!mac_ok(&bad, b"data", &tag));
}

/// The constant-time PKCS#7 check agrees with the definition.
#[test]
fn pkcs7_check_matches_the_definition() {
    for pad in 0u8..=20 {
        for fill in [pad, pad ^ 1] {
            let mut block = [0x33u8; 32];
            for b in block.iter_mut().rev().take(usize::from(pad.min(16))) {
                *b = fill;
            }
            block[31] = pad;
            let expected =
                (1..=16).contains(&pad) && block[32 - usize::from(pad)..].iter().all(|b| *b == pad);
            let (ok, got) = pkcs7(&block);
            assert_eq!(bool::from(ok), expected, "pad {pad} fill {fill}");
            assert_eq!(got, pad);
        }
    }
    assert!(!bool::from(pkcs7(&[1; 15]).0));
}

/// Keypad tokens of every shape: a counter suite with an HOTP login
/// code, a time suite with a TOTP login code (8 digits, 60 s from
/// T0 = 1000, a drift), SHA-512 with a 64-byte secret, and a suite with a
/// PIN hash (as in a NagraID file), which a seed file may carry.
fn keypad_records() -> Vec<SeedRecord> {
    let mut a = SeedRecord::new(
        "KP0000000001",
        Secret::from_bytes(&[0x11; 20]).unwrap(),
        Profile::hotp(),
    );
    a.suite = Some("OCRA-1:HOTP-SHA1-6:C-QN08".parse().unwrap());
    a.counter = 7;
    let mut b = SeedRecord::new(
        "KP0000000002",
        Secret::from_bytes(&[0x22; 32]).unwrap(),
        Profile {
            mode: Mode::Totp(TimeStep::new(60, 1_000).unwrap()),
            algorithm: Algorithm::Sha256,
            digits: Digits::Eight,
        },
    );
    b.suite = Some("OCRA-1:HOTP-SHA256-8:QN08-T1M".parse().unwrap());
    b.time_drift = -1;
    let mut c = SeedRecord::new(
        "KP0000000003",
        Secret::from_bytes(&[0x33; 64]).unwrap(),
        Profile {
            mode: Mode::Hotp,
            algorithm: Algorithm::Sha512,
            digits: Digits::Seven,
        },
    );
    c.suite = Some("OCRA-1:HOTP-SHA512-8:QN08".parse().unwrap());
    let mut d = SeedRecord::new(
        "306EUO4-00960",
        Secret::from_bytes(&[0x44; 20]).unwrap(),
        Profile::hotp(),
    );
    d.suite = Some("OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1".parse().unwrap());
    vec![a, b, c, d]
}

/// What a record says, secret and suite included.
fn keypad_fields(r: &SeedRecord) -> String {
    format!(
        "{} {:?} {:?} {} {} {}",
        r.serial,
        r.suite.map(|s| s.to_string()),
        r.profile,
        r.counter,
        r.time_drift,
        hex::encode(r.secret().expose_secret())
    )
}

/// Keypad tokens' records, written and read back, plain and encrypted,
/// keep their suites, profiles, counters, drifts and secrets; the file
/// says OCRA and the suite.
#[test]
fn keypad_records_round_trip_with_their_suites() {
    let records = keypad_records();
    let psk = PreSharedKey::new([9; 16]).named("bank-2026");
    for key in [None, Some(&psk)] {
        let back = read_back(&records, key);
        assert_eq!(
            back.iter().map(keypad_fields).collect::<Vec<_>>(),
            records.iter().map(keypad_fields).collect::<Vec<_>>()
        );
        assert_eq!(
            back[1].signing_key().map(|k| k.algorithm()),
            Some(Algorithm::Sha256)
        );
    }
    let xml = write_pskc(&records, None, &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
    assert_eq!(
        xml.matches(r#"Algorithm="urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1""#)
            .count(),
        4
    );
    assert!(xml.contains("<Suite>OCRA-1:HOTP-SHA256-8:QN08-T1M</Suite>"));
    assert!(xml.contains(r#"<ResponseFormat Length="7" Encoding="DECIMAL"/>"#));
    // Button tokens and keypad tokens in one file.
    let mut mixed = assorted_records();
    mixed.extend(keypad_records());
    let back = read_back(&mixed, Some(&psk));
    assert_eq!(
        back.iter().map(|r| r.suite.is_some()).collect::<Vec<_>>(),
        [false, false, false, true, true, true, true]
    );
    assert_eq!(back[1].profile.algorithm, Algorithm::Sha256);
}

/// `urn:ietf:params:xml:ns:keyprov:pskc:ocra`, as some vendors write it,
/// reads as the OCRA URN; `read_pskc_keys` shows the suite.
#[test]
fn the_other_ocra_urn_is_read_too() {
    let records = keypad_records();
    let xml = write_pskc(&records, None, &mut ChaCha20Rng::from_seed([5; 32]))
        .unwrap()
        .replace(
            "urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1",
            "urn:ietf:params:xml:ns:keyprov:pskc:ocra",
        );
    let mut back = Vec::new();
    read_pskc(&xml, None, &PskcLimits::default(), |n, p| {
        back.push(p.into_record(n)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        back.iter().map(keypad_fields).collect::<Vec<_>>(),
        records.iter().map(keypad_fields).collect::<Vec<_>>()
    );
    let keys = super::keys::read_pskc_keys(&xml, None).unwrap();
    assert_eq!(
        keys[3].suite.as_deref(),
        Some("OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1")
    );
}

/// An OCRA key package without a suite, with an empty one or with a
/// malformed one is a typed error naming the package.
#[test]
fn an_ocra_package_without_a_good_suite_is_refused() {
    let xml = write_pskc(
        &keypad_records()[..2],
        None,
        &mut ChaCha20Rng::from_seed([5; 32]),
    )
    .unwrap();
    let suite = "<Suite>OCRA-1:HOTP-SHA256-8:QN08-T1M</Suite>";
    assert!(xml.contains(suite));
    let read = |xml: &str| {
        read_pskc(xml, None, &PskcLimits::default(), |n, p| {
            p.into_record(n).map(|_| ())
        })
    };
    assert_eq!(
        read(&xml.replace(suite, "")),
        Err(PskcError::MissingSuite { package: 2 })
    );
    assert_eq!(
        read(&xml.replace(suite, "<Suite> </Suite>")),
        Err(PskcError::MissingSuite { package: 2 })
    );
    let bad = read(&xml.replace(suite, "<Suite>OCRA-1:HOTP-MD5-8:QN08</Suite>"));
    assert_eq!(
        bad,
        Err(PskcError::InvalidSuite {
            package: 2,
            error: otp_core::SuiteError::UnknownHash
        })
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .starts_with("key package 2 has a malformed OCRA suite: ")
    );
    // A vendor's hash name is no OCRA suite.
    assert!(matches!(
        read(&xml.replace(suite, "<Suite>HMAC-SHA256</Suite>")),
        Err(PskcError::InvalidSuite { package: 2, .. })
    ));
}

/// A record whose login code's hash is not its suite's is refused before
/// any of it is written; the file goes on and reads back without it.
#[test]
fn a_record_whose_hash_is_not_its_suites_is_refused() {
    let mut wrong = keypad_records().remove(1);
    wrong.profile.algorithm = Algorithm::Sha1;
    let mut writer = PskcWriter::new(Vec::new(), None, ChaCha20Rng::from_seed([5; 32])).unwrap();
    let before = writer.get_ref().len();
    let e = writer.write(&wrong).unwrap_err();
    assert_eq!(
        e,
        PskcError::SuiteHashMismatch {
            serial: "KP0000000002".into(),
            profile: Algorithm::Sha1,
            suite: Algorithm::Sha256,
        }
    );
    assert_eq!(
        e.to_string(),
        "token KP0000000002: its login codes use SHA1 but its OCRA suite SHA256; a seed file names one hash per key: make the profile's hash the suite's"
    );
    assert_eq!((writer.get_ref().len(), writer.written()), (before, 0));
    writer.write(&keypad_records()[0]).unwrap();
    let xml = String::from_utf8(writer.finish().unwrap()).unwrap();
    let mut serials = Vec::new();
    read_pskc(&xml, None, &PskcLimits::default(), |n, p| {
        serials.push(p.into_record(n)?.serial);
        Ok(())
    })
    .unwrap();
    assert_eq!(serials, ["KP0000000001"]);
}
