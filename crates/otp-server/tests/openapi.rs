//! docs/openapi.json is the document the code generates: a change to the
//! API without regenerating it fails here (and in CI).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

/// The command that rewrites docs/openapi.json from the code.
const REGENERATE: &str = "OTP_WRITE_OPENAPI=1 cargo test -p otp-server --test openapi";

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn openapi_document_is_checked_in() {
    let generated = otp_server::api::openapi().to_pretty_json().unwrap() + "\n";
    let path = checked_in();
    if std::env::var_os("OTP_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == generated,
        "docs/openapi.json is not the document the code generates; regenerate it with\n\n    {REGENERATE}\n\nand commit it"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_the_bearer_scheme() {
    let doc: serde_json::Value =
        serde_json::from_str(&otp_server::api::openapi().to_json().unwrap()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"]["/api/v1/openapi.json"]["get"].is_object());
}
