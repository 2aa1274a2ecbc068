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
    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
        .map_err(|_| TooLong)?;
    let drawn = Zeroizing::new(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000"))
            .light_color(svg::Color("#fff"))
            .build(),
    );
    let start = drawn.find("<svg").unwrap_or(0);
    Ok(Zeroizing::new(drawn.get(start..).unwrap_or_default().to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    /// Reads the SVG back as a camera would: each dark module of the path
    /// (`M x y h s v s H x V y`) painted on a grey-scale grid, then decoded
    /// by an independent QR reader (rqrr).
    fn read_back(svg: &str) -> String {
        let size: usize = svg
            .split("width=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        let path = svg.split("fill=\"#000\" d=\"").nth(1).unwrap();
        let path = path.split('"').next().unwrap();
        let mut dark = vec![false; size * size];
        for module in path.split('M').filter(|m| !m.is_empty()) {
            let (xy, rest) = module.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let side: usize = rest.split('v').next().unwrap().parse().unwrap();
            for dy in 0..side {
                for dx in 0..side {
                    dark[(y + dy) * size + x + dx] = true;
                }
            }
        }
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| {
            if dark[y * size + x] { 0 } else { 255 }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_svg_reads_back_as_the_uri_and_holds_no_script_or_style() {
        let uri = "otpauth://totp/OTP%20Bank:W0002?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=OTP%20Bank&algorithm=SHA1&digits=6&period=30";
        let drawn = svg(uri).unwrap();
        assert!(drawn.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{}", &drawn[..80]);
        assert!(drawn.ends_with("</svg>"));
        for banned in ["<script", "style=", "<?xml", "href"] {
            assert!(!drawn.contains(banned), "{banned}");
        }
        assert_eq!(read_back(&drawn), uri);
    }

    #[test]
    fn a_uri_no_qr_code_can_hold_is_refused() {
        assert_eq!(svg(&"A".repeat(8_000)).err(), Some(TooLong));
    }
}
