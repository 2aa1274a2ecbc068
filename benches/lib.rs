//! Benchmarks live in `verify.rs` (`cargo bench -p otp-benches`); this
//! library is empty.
#![forbid(unsafe_code)]
