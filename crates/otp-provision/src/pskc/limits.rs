//! Caps on what an import reads.

/// Caps on what a seed-file import reads, so that a hostile file cannot
/// exhaust memory: the input's size, checked before parsing, and the
/// number of key packages, checked while parsing. Key packages are read
/// one at a time (the reader never holds a tree of the whole file), and
/// each may have at most 4,096 elements.
///
/// # Examples
///
/// ```
/// use otp_provision::PskcLimits;
/// let limits = PskcLimits::default();
/// assert_eq!(limits.max_bytes, 64 * 1024 * 1024);
/// assert_eq!(limits.max_key_packages, 1_000_000);
/// let big = limits.with_max_bytes(256 * 1024 * 1024).with_max_key_packages(2_000_000);
/// assert_eq!(big.max_bytes, 256 * 1024 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PskcLimits {
    /// The largest input accepted, in bytes (default 64 MiB): larger is
    /// [`PskcError::TooLarge`](crate::PskcError::TooLarge).
    pub max_bytes: usize,
    /// The most key packages accepted (default 1,000,000): more is
    /// [`PskcError::TooManyKeyPackages`](crate::PskcError::TooManyKeyPackages).
    pub max_key_packages: usize,
}

impl PskcLimits {
    /// The default [`PskcLimits::max_bytes`]: 64 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
    /// The default [`PskcLimits::max_key_packages`]: 1,000,000.
    pub const DEFAULT_MAX_KEY_PACKAGES: usize = 1_000_000;

    /// The defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_key_packages: Self::DEFAULT_MAX_KEY_PACKAGES,
        }
    }

    /// The same limits with another input size cap.
    #[must_use]
    pub const fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The same limits with another key-package cap.
    #[must_use]
    pub const fn with_max_key_packages(mut self, max_key_packages: usize) -> Self {
        self.max_key_packages = max_key_packages;
        self
    }
}

impl Default for PskcLimits {
    fn default() -> Self {
        Self::new()
    }
}
