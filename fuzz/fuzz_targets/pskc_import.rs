//! PSKC import (RFC 6030), plain and encrypted.
//!
//! Raw mode (any input not starting with a zero byte): the bytes are a seed
//! file, read with no key, the RFC 6030 and NagraID pre-shared keys, a named
//! key and a wrong one. Nothing panics; an import is all or nothing; every
//! imported record is usable (a serial, a 16..=128-byte secret); importing
//! the same file twice adds nothing; the public listing agrees.
//!
//! Structured mode (a leading zero byte): a factory batch chosen by the
//! input is written as a seed file, plain or under a pre-shared key, maybe
//! with one byte changed; unchanged files read back to the same tokens and
//! secrets, never with a wrong key; changed ones never panic.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use otp_provision::{Inventory, PreSharedKey, PskcError, read_pskc_keys};
use otp_token::Factory;

/// RFC 6030 Figure 6's key (`12345678901234567890123456789012`).
const RFC_KEY: [u8; 16] = [
    0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12,
];
/// The LinOTP NagraID file's key (`4A057F6AB6FCB57AB5408E46A9835E68`).
const NAGRA_KEY: [u8; 16] = [
    0x4A, 0x05, 0x7F, 0x6A, 0xB6, 0xFC, 0xB5, 0x7A, 0xB5, 0x40, 0x8E, 0x46, 0xA9, 0x83, 0x5E, 0x68,
];

fn check_import(xml: &str, key: Option<&PreSharedKey>) {
    let Ok(inventory) = Inventory::from_pskc(xml, key) else {
        // All or nothing: a refused file adds nothing to an inventory.
        let mut inv = Inventory::new();
        assert!(inv.import_pskc(xml, key).is_err());
        assert!(inv.is_empty());
        return;
    };
    for record in inventory.iter() {
        assert!(!record.serial.is_empty());
        assert!((16..=128).contains(&record.secret().len()));
        let _ = record.key();
        let _ = record.initial_state();
        assert!(!format!("{record:?}").contains("secret: ["));
    }
    // The same file again: refused as a duplicate (if it had any key), and
    // the inventory is unchanged.
    let mut again = Inventory::from_pskc(xml, key).expect("a file that read once reads again");
    let before = again.len();
    match again.import_pskc(xml, key) {
        Ok(added) => assert_eq!(added, 0, "the same file added tokens twice"),
        Err(PskcError::DuplicateSerial { .. }) => {}
        Err(e) => panic!("second import failed otherwise: {e:?}"),
    }
    assert_eq!(again.len(), before);
    // The listing of public fields sees every package the import took.
    let listed = read_pskc_keys(xml, key).expect("an importable file can be listed");
    assert_eq!(listed.len(), inventory.len());
}

#[derive(Debug, Arbitrary)]
struct Batch {
    seed: [u8; 32],
    count: u8,
    encrypt: Option<([u8; 16], bool)>,
    flip: Option<(u16, u8)>,
}

fn structured(data: &[u8]) {
    let Ok(b) = Batch::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let count = usize::from(b.count % 4);
    let mut batch = Factory::deterministic_for_tests(b.seed)
        .manufacture(count, 1_700_000_000)
        .expect("a small batch");
    let plain = batch.seed_file(None).expect("a plain seed file");
    let reference = Inventory::from_pskc(&plain, None).expect("our own file reads back");
    assert_eq!(reference.len(), count);
    let (xml, key) = match b.encrypt {
        None => (plain, None),
        Some((k, named)) => {
            let psk = if named {
                PreSharedKey::new(k).named("fuzz")
            } else {
                PreSharedKey::new(k)
            };
            (
                batch.seed_file(Some(&psk)).expect("an encrypted seed file"),
                Some(psk),
            )
        }
    };
    match b.flip {
        None => {
            let read = Inventory::from_pskc(&xml, key.as_ref()).expect("our own file reads back");
            assert_eq!(read.len(), count);
            for (a, r) in read.iter().zip(reference.iter()) {
                assert_eq!(a.serial, r.serial);
                assert_eq!(a.secret().expose_secret(), r.secret().expose_secret());
                assert_eq!(a.profile, r.profile);
            }
            if let Some(psk) = &key {
                if count > 0 {
                    assert!(
                        Inventory::from_pskc(&xml, None).is_err(),
                        "read without its key"
                    );
                    let mut wrong = [0u8; 16];
                    wrong.copy_from_slice(&b.seed[..16]);
                    if wrong != b.encrypt.map(|(k, _)| k).unwrap_or_default() {
                        let wrong = PreSharedKey::new(wrong);
                        assert!(
                            Inventory::from_pskc(&xml, Some(&wrong)).is_err(),
                            "read with a wrong key"
                        );
                    }
                }
                let _ = psk;
            }
        }
        Some((at, byte)) => {
            let mut bytes = xml.into_bytes();
            let len = bytes.len();
            if len > 0 {
                bytes[usize::from(at) % len] = byte;
            }
            if let Ok(text) = core::str::from_utf8(&bytes) {
                check_import(text, key.as_ref());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some((0, rest)) = data.split_first() {
        structured(rest);
        return;
    }
    let Ok(xml) = core::str::from_utf8(data) else {
        return;
    };
    check_import(xml, None);
    check_import(xml, Some(&PreSharedKey::new(RFC_KEY)));
    check_import(
        xml,
        Some(&PreSharedKey::new(RFC_KEY).named("Pre-shared-key")),
    );
    check_import(xml, Some(&PreSharedKey::new(NAGRA_KEY)));
    check_import(xml, Some(&PreSharedKey::new([0; 16])));
});
