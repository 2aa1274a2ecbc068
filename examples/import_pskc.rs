//! Importing a vendor's PSKC (RFC 6030) seed file, encrypted with a
//! pre-shared AES-128 key, into the bank's inventory; a wrong key and a
//! tampered file are refused without importing anything.
//!
//!     cargo run -p otp-examples --example import_pskc
#![forbid(unsafe_code)]

use otp_provision::{Inventory, PreSharedKey};
use otp_token::Factory;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The vendor's side: a batch of 5 tokens and its encrypted seed file.
    let transport_key = PreSharedKey::new(*b"shared-with-bank").named("bank-2026");
    let mut batch = Factory::from_os_rng()?.manufacture(5, 1_796_083_200)?;
    let seed_file = batch.seed_file(Some(&transport_key))?;
    println!("seed file: {} bytes of PSKC XML", seed_file.len());

    // The bank's side.
    let inventory = Inventory::from_pskc(&seed_file, Some(&transport_key))?;
    for record in inventory.iter() {
        println!(
            "{}  {:?}  {:?}",
            record.serial, record.profile.mode, record.profile.algorithm
        );
    }

    let wrong = PreSharedKey::new(*b"not-the-real-key");
    match Inventory::from_pskc(&seed_file, Some(&wrong)) {
        Err(e) => println!("wrong key: {e}"),
        Ok(_) => return Err("a wrong key must not import".into()),
    }
    // Alter the last token's encrypted secret (the first CipherValue in the
    // file is the MAC key's; the last is a secret's).
    let at = seed_file
        .rfind("<xenc:CipherValue>")
        .ok_or("no encrypted value")?
        + "<xenc:CipherValue>".len();
    let mut tampered = seed_file.clone();
    tampered.insert_str(at, "AAAA");
    match Inventory::from_pskc(&tampered, Some(&transport_key)) {
        Err(e) => println!("tampered file: {e}"),
        Ok(_) => return Err("a tampered file must not import".into()),
    }
    Ok(())
}
