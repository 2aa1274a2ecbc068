//! The checked-in `include/otp.h` is what cbindgen generates from the
//! source today. `OTP_FFI_BLESS=1` rewrites it.

use std::path::Path;

#[test]
fn header_is_up_to_date() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))?;
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()?;
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/otp.h");
    if std::env::var_os("OTP_FFI_BLESS").is_some() {
        std::fs::write(&path, &generated)?;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "crates/otp-ffi/include/otp.h is stale: regenerate it with \
         `OTP_FFI_BLESS=1 cargo test -p otp-ffi --test header` and commit it"
    );
    Ok(())
}
