//! The progress spinner or bar on stderr.

use std::time::Duration;

/// A spinner (or bar) on stderr from the first second; hidden when stderr
/// is not a terminal; cleared when dropped (on an error too).
pub(super) struct Progress(indicatif::ProgressBar);

impl Progress {
    pub(super) fn new(len: Option<usize>, message: &'static str) -> Self {
        let bar = match len {
            Some(n) => {
                let bar = indicatif::ProgressBar::new(u64::try_from(n).unwrap_or(u64::MAX));
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta})")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            }
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(bar)
    }
}

impl std::ops::Deref for Progress {
    type Target = indicatif::ProgressBar;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
