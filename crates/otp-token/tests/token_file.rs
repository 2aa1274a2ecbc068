//! The token file exactly as `docs/cli.md` shows it is read by the library.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use otp_token::{FileKind, TokenFile};

/// The ```toml block that shows the token file in docs/cli.md.
fn documented_example() -> &'static str {
    let doc = include_str!("../../../docs/cli.md");
    let intro = "`tests/token_file.rs`:\n\n```toml\n";
    let start = doc.find(intro).expect("docs/cli.md shows the token file") + intro.len();
    let len = doc[start..].find("```").expect("the example block ends");
    &doc[start..start + len]
}

/// Every field of the documented example, and the token it makes: RFC 6238's
/// SHA-1 secret shows the last six digits of RFC 6238's code at 59 s.
#[test]
fn the_documented_example_parses() {
    let text = documented_example();
    assert!(text.starts_with("# A virtual OTP token (otp-token/1)."));
    let file = TokenFile::parse(text).unwrap();
    assert_eq!(file.serial, "VT0000000042");
    assert_eq!(file.kind, FileKind::Totp);
    assert_eq!(file.algorithm, "SHA1");
    assert_eq!(file.digits, 6);
    assert_eq!(file.step, 30);
    assert_eq!(file.t0, 0);
    assert_eq!(file.drift_ppm, 0);
    assert_eq!(file.offset, 0);
    assert_eq!(file.activated_at, 0);
    assert_eq!(file.counter, 0);
    assert_eq!(file.manufacturer, "...");
    assert_eq!(file.secret_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_eq!(
        file.secret().unwrap().expose_secret(),
        b"12345678901234567890"
    );
    let mut token = file.token().unwrap();
    assert_eq!(token.press(59).unwrap().to_string(), "287082");
    assert_eq!(
        file.otpauth_uri().unwrap().as_str(),
        "otpauth://totp/VT0000000042?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&period=30"
    );
}

/// Rendering the documented file gives the documented lines, without the
/// explanatory comments.
#[test]
fn the_documented_example_renders_back() {
    let file = TokenFile::parse(documented_example()).unwrap();
    let expected: String = documented_example()
        .lines()
        .map(|line| match line.find("  ") {
            Some(at) if !line.starts_with('#') => line[..at].trim_end().to_owned(),
            _ => line.to_owned(),
        })
        .map(|line| line + "\n")
        .collect();
    assert_eq!(file.render().unwrap().as_str(), expected);
}
