//! RFC 6030 Portable Symmetric Key Container (PSKC) seed files: writing a
//! batch, reading any vendor's file.
//!
//! A keypad (signing) token is one device with one secret, written as one
//! key package: `Algorithm` is the OCRA URN, `AlgorithmParameters/Suite`
//! its RFC 6287 suite (`OCRA-1:HOTP-SHA1-6:QN08`), and the rest describes
//! its login (button) code, computed with the suite's hash: HOTP with its
//! `Counter`, or TOTP when the package carries `TimeInterval` (with `Time`
//! and `TimeDrift` as for a TOTP key); `ResponseFormat/@Length` is the
//! login code's digits. The signing responses follow the suite. A record
//! whose profile's hash is not its suite's cannot be written (the file
//! could not say both).
//!
//! - `error`: [`PskcError`], why a file cannot be read or written;
//! - `limits`: [`PskcLimits`], caps on what an import reads;
//! - `xml`: a small element tree over quick-xml events;
//! - `stream`: the streaming reader, one key package at a time;
//! - `crypto`: the [`PreSharedKey`], AES-128-CBC, the MAC key and the MAC
//!   check (constant time);
//! - `reader`: a key package's values become a seed record;
//! - `keys`: the public fields of a file's keys ([`read_pskc_keys`]);
//! - `writer`: [`PskcWriter`], a file written as a stream.

mod crypto;
mod error;
mod keys;
mod limits;
mod reader;
mod stream;
#[cfg(test)]
mod tests;
mod writer;
mod xml;

use zeroize::Zeroizing;

pub use crypto::PreSharedKey;
pub use error::PskcError;
pub use keys::{PskcKeyInfo, read_pskc_keys, read_pskc_keys_with_limits};
pub use limits::PskcLimits;
pub(crate) use reader::read_pskc;
pub use reader::read_pskc_records;
pub use writer::PskcWriter;

const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
const HOTP_URN: &str = "urn:ietf:params:xml:ns:keyprov:pskc:hotp";
const TOTP_URN: &str = "urn:ietf:params:xml:ns:keyprov:pskc:totp";
/// A keypad (signing) token's key: RFC 6287 OCRA, its suite in
/// `AlgorithmParameters/Suite`. The URN of the OCRA profile of
/// draft-hoyer-keyprov-pskc-algorithm-profiles-01 §3 (the PSKC algorithm
/// profiles RFC 6030 leaves to other documents), as the `pskc` Python
/// library names it. Written, and read.
const OCRA_URN: &str = "urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1";
/// The same, as some vendors' files spell it (a NagraID file in LinOTP's
/// and the `pskc` library's tests). Read only.
const OCRA_URN_ALT: &str = "urn:ietf:params:xml:ns:keyprov:pskc:ocra";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
const HMAC_SHA224: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha224";
const HMAC_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384";
const HMAC_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512";
/// A TOTP key's time step when its file gives no `TimeInterval`.
const DEFAULT_TIME_INTERVAL: u64 = 30;
/// Deepest element nesting accepted (RFC 6030 files nest about 8 deep).
const MAX_DEPTH: usize = 32;

/// Secret bytes read from a file: zeroized on drop.
type Bytes = Zeroizing<Vec<u8>>;
