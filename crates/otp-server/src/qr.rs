//! The QR code an authenticator app scans to enrol a software token: the
//! `otpauth://` URI drawn as inline SVG (presentation attributes only: no
//! script and no `style`, so the page's Content-Security-Policy holds).
//! The URI carries the token's secret: the SVG is built in a zeroizing
//! buffer and shown once, on a `no-store` page.

use qrcode::{EcLevel, QrCode, render::svg};
use zeroize::Zeroizing;

/// Why no QR code was drawn: the URI is too long for any QR version.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooLong;

/// The URI as an `<svg>` element (no XML declaration), error correction M,
/// a quiet zone of 4 modules, at least 200 pixels a side.
pub(crate) fn svg(uri: &str) -> Result<Zeroizing<String>, TooLong> {
    let code =
        QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M).map_err(|_| TooLong)?;
    let drawn = Zeroizing::new(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000"))
            .light_color(svg::Color("#fff"))
            .build(),
    );
    let start = drawn.find("<svg").unwrap_or(0);
    Ok(Zeroizing::new(
        drawn.get(start..).unwrap_or_default().to_owned(),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    /// (That it reads back as the URI is `tests/usage.rs`'s: an
    /// independent reader scans the page's code there.)
    #[test]
    fn the_svg_holds_no_script_no_style_and_no_declaration() {
        let uri = "otpauth://totp/OTP%20Bank:W0002?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=OTP%20Bank&algorithm=SHA1&digits=6&period=30";
        let drawn = svg(uri).unwrap();
        assert!(
            drawn.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{}",
            &drawn[..80]
        );
        assert!(drawn.ends_with("</svg>"));
        for banned in ["<script", "style=", "<?xml", "href"] {
            assert!(!drawn.contains(banned), "{banned}");
        }
    }

    #[test]
    fn a_uri_no_qr_code_can_hold_is_refused() {
        assert_eq!(svg(&"A".repeat(8_000)).err(), Some(TooLong));
    }
}
