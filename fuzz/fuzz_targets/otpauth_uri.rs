//! `SeedRecord::from_otpauth_uri` on any string: never panics; what it
//! accepts is a usable record (a valid secret, a non-empty serial with no
//! surrounding spaces, no counter on a time token), and writing it back
//! with `to_otpauth_uri` and reading that gives the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::Mode;
use otp_provision::SeedRecord;

fuzz_target!(|uri: &str| {
    let Ok(record) = SeedRecord::from_otpauth_uri(uri) else {
        return;
    };
    assert!(!record.serial.is_empty());
    assert_eq!(record.serial.trim(), record.serial);
    assert!((16..=128).contains(&record.secret().len()));
    if let Mode::Totp(step) = record.profile.mode {
        assert!(step.seconds() > 0);
        assert_eq!(record.counter, 0, "a time token's record carries a counter");
    }
    assert!(record.issuer.as_deref() != Some(""));
    // The secret never reaches Debug.
    let shown = format!("{record:?}");
    assert!(!shown.contains("secret: ["));

    let written = record.to_otpauth_uri();
    let back = match SeedRecord::from_otpauth_uri(&written) {
        Ok(back) => back,
        Err(e) => panic!("{written:?} (written from {uri:?}) does not read back: {e:?}"),
    };
    assert_eq!(back.serial, record.serial, "serial changed via {written:?}");
    assert_eq!(back.issuer, record.issuer, "issuer changed via {written:?}");
    assert_eq!(back.profile, record.profile);
    assert_eq!(back.counter, record.counter);
    assert_eq!(
        back.secret().expose_secret(),
        record.secret().expose_secret()
    );
    // Writing is deterministic: the second URI is the first.
    assert_eq!(back.to_otpauth_uri(), written);
});
