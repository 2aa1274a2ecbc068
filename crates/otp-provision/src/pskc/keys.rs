//! Listing the public fields of a file's keys, without importing them.

use super::{crypto::PreSharedKey, error::PskcError, limits::PskcLimits, reader::read_pskc};

/// What a PSKC file holds about one key, as read by [`read_pskc_keys`]:
/// public fields only (the secret stays inside; use an
/// [`Inventory`](crate::Inventory) to import).
///
/// # Examples
///
/// ```
/// let xml = r#"<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
///   <KeyPackage><Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"/></KeyPackage>
/// </KeyContainer>"#;
/// let keys = otp_provision::read_pskc_keys(xml, None)?;
/// assert_eq!(keys[0].key_id.as_deref(), Some("1"));
/// assert!(!keys[0].has_secret);
/// # Ok::<(), otp_provision::PskcError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PskcKeyInfo {
    /// `DeviceInfo/SerialNo`.
    pub serial: Option<String>,
    /// `DeviceInfo/Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Key/@Id`.
    pub key_id: Option<String>,
    /// `Key/@Algorithm`.
    pub algorithm: Option<String>,
    /// `ResponseFormat/@Length`.
    pub digits: Option<String>,
    /// `AlgorithmParameters/Suite`: an OCRA key's suite, or a vendor's
    /// hash name (`HMAC-SHA256`) for HOTP and TOTP.
    pub suite: Option<String>,
    /// `true` when a secret was present (and, if encrypted, decrypted
    /// with a matching MAC).
    pub has_secret: bool,
    /// The secret's length in bytes, if present.
    pub secret_len: Option<usize>,
    /// `Data/Counter`.
    pub counter: Option<u64>,
    /// `Data/TimeInterval`.
    pub time_interval: Option<u64>,
}

/// Reads a PSKC file leniently, without turning packages into records:
/// every key package's public fields, for files whose packages a bank would
/// not import (PIN keys, OCRA, short test secrets). Container-level checks
/// (XML, version, key, MACs) are as strict as for
/// [`Inventory::from_pskc`](crate::Inventory::from_pskc).
///
/// # Errors
///
/// Any container-level [`PskcError`], a malformed field, or a MAC
/// mismatch.
///
/// # Examples
///
/// See [`PskcKeyInfo`].
pub fn read_pskc_keys(
    xml: &str,
    key: Option<&PreSharedKey>,
) -> Result<Vec<PskcKeyInfo>, PskcError> {
    read_pskc_keys_with_limits(xml, key, &PskcLimits::default())
}

/// As [`read_pskc_keys`], with other [`PskcLimits`] than the defaults.
///
/// # Errors
///
/// As [`read_pskc_keys`].
///
/// # Examples
///
/// ```
/// use otp_provision::{PskcError, PskcLimits, read_pskc_keys_with_limits};
/// let xml = r#"<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
///   <KeyPackage/><KeyPackage/></KeyContainer>"#;
/// let one = PskcLimits::default().with_max_key_packages(1);
/// assert_eq!(
///     read_pskc_keys_with_limits(xml, None, &one),
///     Err(PskcError::TooManyKeyPackages { max: 1 })
/// );
/// ```
pub fn read_pskc_keys_with_limits(
    xml: &str,
    key: Option<&PreSharedKey>,
    limits: &PskcLimits,
) -> Result<Vec<PskcKeyInfo>, PskcError> {
    let mut keys = Vec::new();
    read_pskc(xml, key, limits, |_, p| {
        keys.push(PskcKeyInfo {
            serial: p.serial,
            manufacturer: p.manufacturer,
            key_id: p.key_id,
            algorithm: p.algorithm,
            digits: p.digits,
            suite: p.suite,
            has_secret: p.secret.is_some(),
            secret_len: p.secret.as_ref().map(|s| s.len()),
            counter: p.counter,
            time_interval: p.interval,
        });
        Ok(())
    })?;
    Ok(keys)
}
