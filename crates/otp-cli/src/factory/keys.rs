//! The seed file's pre-shared key: from a key file, from `OTP_PSKC_KEY`,
//! or typed on the terminal (never from the command line: every local
//! user sees it in `ps`).

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use otp_provision::PreSharedKey;
use zeroize::Zeroizing;

/// A pre-shared key from 32 hex digits.
pub(crate) fn parse_psk(hex_text: &str) -> Result<PreSharedKey> {
    let bytes =
        Zeroizing::new(hex::decode(hex_text.trim()).map_err(|_| {
            anyhow!("the encryption key is not hex: give 32 hex digits (128 bits)")
        })?);
    let key: [u8; 16] = bytes.as_slice().try_into().map_err(|_| {
        anyhow!(
            "the encryption key is {} bits: give 32 hex digits (128 bits)",
            bytes.len().saturating_mul(8)
        )
    })?;
    Ok(PreSharedKey::new(key))
}

/// The environment variable that may hold the pre-shared key, in hex.
pub(crate) const KEY_ENV: &str = "OTP_PSKC_KEY";

/// The pre-shared key from the key file `file` if given, else from
/// [`KEY_ENV`] if set; `None` if neither.
pub(crate) fn psk_from(file: Option<&Path>) -> Result<Option<PreSharedKey>> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key file `{}`", path.display()))?,
        );
        return parse_psk(&text)
            .with_context(|| format!("the key file `{}`", path.display()))
            .map(Some);
    }
    match std::env::var_os(KEY_ENV) {
        None => Ok(None),
        Some(value) => {
            let value = Zeroizing::new(value.into_string().map_err(|_| {
                anyhow!("{KEY_ENV}: the encryption key is not hex: give 32 hex digits (128 bits)")
            })?);
            parse_psk(&value).context(KEY_ENV).map(Some)
        }
    }
}

/// The pre-shared key typed on the terminal (not echoed), if standard
/// input is one; `None` otherwise.
pub(crate) fn psk_from_terminal(prompt: &str) -> Result<Option<PreSharedKey>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = Zeroizing::new(
        rpassword::prompt_password(prompt).context("cannot read the key from the terminal")?,
    );
    parse_psk(&typed).map(Some)
}
