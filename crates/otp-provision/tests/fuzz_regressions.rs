//! Inputs found by the fuzz targets in `fuzz/` (see docs/security.md),
//! kept as ordinary tests. Each says what went wrong and where it was fixed.
#![allow(clippy::unwrap_used, reason = "tests")]

use otp_core::Mode;
use otp_provision::{SeedRecord, UriError};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// Reads `uri`, writes the record back, reads that: the same record.
fn round_trip(uri: &str) -> SeedRecord {
    let record = SeedRecord::from_otpauth_uri(uri).unwrap();
    let written = record.to_otpauth_uri();
    let back = SeedRecord::from_otpauth_uri(&written).unwrap();
    assert_eq!(back.serial, record.serial, "serial, via {written}");
    assert_eq!(back.issuer, record.issuer, "issuer, via {written}");
    assert_eq!(back.profile, record.profile);
    assert_eq!(back.counter, record.counter);
    assert_eq!(
        back.secret().expose_secret(),
        record.secret().expose_secret()
    );
    record
}

/// fuzz target `otpauth_uri`, artifact crash-610d4549e60189cc71965ec5689265c60a0c720c.
/// Cause: an `issuer` parameter with a colon was written into the label as
/// `issuer:account`; reading splits the label at its first colon, so the
/// account came back as the issuer's tail plus the account. Fixed in
/// `otp-provision/src/otpauth.rs` (then `otp-token/src/otpauth.rs`) (`to_otpauth_uri`): such an issuer travels
/// only in the `issuer` parameter.
///
/// The artifact itself (label issuer `Example`, `issuer` parameter
/// `ample:...`) is now refused as [`UriError::IssuerMismatch`]; the same
/// issuer given only as the parameter still round trips.
#[test]
fn an_issuer_with_a_colon_round_trips() {
    assert_eq!(
        SeedRecord::from_otpauth_uri(&format!(
            "otpauth://totp/Example:alice@google,com?secret={SECRET}&issuer=ample:alice@google,com?seExample"
        ))
        .err(),
        Some(UriError::IssuerMismatch)
    );
    let r = round_trip(&format!(
        "otpauth://totp/alice@google,com?secret={SECRET}&issuer=ample:alice@google,com?seExample"
    ));
    assert_eq!(r.serial, "alice@google,com");
    assert_eq!(
        r.issuer.as_deref(),
        Some("ample:alice@google,com?seExample")
    );
}

/// Same cause, other side: an account with a colon and no issuer (the
/// label's issuer was emptied by an empty `issuer` parameter) was written as
/// a bare label, whose first colon then read as the separator. Fixed in
/// `to_otpauth_uri`: such an account gets an empty issuer prefix (`:a:b`).
///
/// The artifact's empty `issuer` parameter now contradicts the label's
/// `Bank` and is refused ([`UriError::IssuerMismatch`]); an empty label
/// issuer still gives the same record.
#[test]
fn an_account_with_a_colon_and_no_issuer_round_trips() {
    assert_eq!(
        SeedRecord::from_otpauth_uri(&format!(
            "otpauth://totp/Bank:VT:0001?secret={SECRET}&issuer="
        ))
        .err(),
        Some(UriError::IssuerMismatch)
    );
    let r = round_trip(&format!("otpauth://totp/:VT:0001?secret={SECRET}&issuer="));
    assert_eq!((r.serial.as_str(), r.issuer.as_deref()), ("VT:0001", None));
    let r = round_trip(&format!(
        "otpauth://hotp/%3Aodd:account?secret={SECRET}&counter=7"
    ));
    assert_eq!(r.counter, 7);
}

/// The `otpauth_uri` target's record check: a time token's record carries
/// no counter (`SeedRecord::counter` is documented "0 for TOTP"), but a
/// `counter` parameter on a `totp` URI was kept, and then lost on the way
/// back out. Fixed in `from_otpauth_uri`: the counter is read for HOTP only.
#[test]
fn a_counter_on_a_time_token_uri_is_ignored() {
    let r = round_trip(&format!(
        "otpauth://totp/VT0000000001?secret={SECRET}&counter=5"
    ));
    assert!(matches!(r.profile.mode, Mode::Totp(_)));
    assert_eq!(r.counter, 0);
}
