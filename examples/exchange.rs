//! The seed's token exchange through the library API, as a bank's web
//! handlers drive it: W0001 (administrator) exchanges W0002's token.
//!
//! A production-style start, with no test fixture: an empty bank imports
//! the vendor's seed file, the branch enrolls the users and registers the
//! administrator's token, the administrator registers W0002's. Then the
//! exchange's typestate: `begin_exchange` (screens 2-3) → `submit_code`
//! (screen 4) → `confirm` (screen 5), a refused step handing back the state
//! to try again from. The example exits non-zero if a step does not behave.
//!
//! `otp demo` walks the same exchange screen by screen with every refusal
//! the manual mentions (`otp_exchange::scenario::script`, a test fixture).
//!
//!     cargo run -p otp-examples --example exchange
#![forbid(unsafe_code)]

use std::error::Error;
use std::sync::Arc;

use otp_exchange::{
    AuditKey, Authority, Bank, BranchAuthorization, Lang, MemoryStore, Password, PasswordKind,
    Refusal, Retry, UserId,
};
use otp_provision::{Clock as _, Inventory};
use otp_token::{Factory, SimClock, Token};

/// Presses "1" on `token` and reads the six digits on its display.
fn press(token: &mut Token, clock: &SimClock) -> Result<String, Box<dyn Error>> {
    let screen = token.press(clock.now())?;
    Ok(screen.code().ok_or("the display is blank")?.to_string())
}

fn main() -> Result<(), Box<dyn Error>> {
    // The bank. The clock is simulated so that the virtual tokens keep
    // time with it (2020-10-01 11:00 JST); a real bank uses the system
    // clock and loads its audit key from its key file.
    let clock = SimClock::new(1_601_517_600);
    let audit_key = AuditKey::random()?;
    let bank = Bank::new(MemoryStore::new(), Arc::new(clock.clone()))?.with_audit_key(audit_key);

    // The vendor's batch of three tokens and its seed file (plain here; a
    // real one is encrypted: see the import_pskc example).
    let mut batch = Factory::from_os_rng()?.manufacture(3, clock.now() - 86_400)?;
    let seed_file = batch.seed_file(None)?;
    bank.import_inventory("vendor", &Inventory::from_pskc(&seed_file, None)?)?;
    let [mut admin_token, mut old, mut new]: [Token; 3] = batch
        .into_tokens()
        .try_into()
        .map_err(|_| "the batch should hold three tokens")?;

    // The branch, on written applications: the users, the administrator's
    // approval password and token. The administrator registers W0002's.
    let branch = BranchAuthorization::new("B-042", "REQ-2020-1001");
    let (admin, user) = (UserId::parse("W0001")?, UserId::parse("W0002")?);
    let approval = Password::new("approve-2020");
    bank.enroll_user(&branch, &admin, "しんきん太郎", Authority::Administrator)?;
    bank.enroll_user(&branch, &user, "しんきん太郎", Authority::General)?;
    bank.set_password(&branch, &admin, PasswordKind::Approval, &approval)?;
    let code = press(&mut admin_token, &clock)?;
    bank.branch_register(&branch, &admin, admin_token.serial().as_str(), &code)?;
    let (serial, code) = (old.serial(), press(&mut old, &clock)?);
    let registration = bank.begin_registration(&admin, &user)?;
    registration.confirm(&bank, serial.as_str(), &code, &approval)?;

    // Screens 2-4: W0001 selects W0002, who types the code of the token in
    // use now (a new one: the registration used the last).
    clock.advance(30);
    let step4 = bank.begin_exchange(&admin, &user)?;
    let step5 = step4.submit_code(&bank, &press(&mut old, &clock)?)?;
    println!("screen 4: the token in use now is verified");

    // Screen 5: the new token's serial and code, and the approval password,
    // mistyped first: the refusal hands back screen 5 to try again from.
    let (serial, code) = (new.serial(), press(&mut new, &clock)?);
    let mistyped = Password::new("approve-2002");
    let step5 = match step5.confirm(&bank, serial.as_str(), &code, &mistyped) {
        Err(Retry {
            refusal: Refusal::WrongPassword,
            resume: Some(step5),
        }) => step5,
        other => return Err(format!("a mistyped approval password: {other:?}").into()),
    };
    println!("screen 5: {}", Refusal::WrongPassword.message(Lang::Ja));
    let done = step5.confirm(&bank, serial.as_str(), &code, &approval)?;

    // Screen 6: valid from now. The old token is refused (as any failed
    // sign-in, so an outsider learns nothing), the new one accepted.
    let revoked = done
        .old_serial
        .ok_or("the exchange should revoke a token")?;
    println!(
        "screen 6: {} → {}",
        revoked.masked(),
        done.new_serial.masked()
    );
    clock.advance(30);
    let old_login = bank.login(&user, &press(&mut old, &clock)?).map(|_| ());
    if old_login != Err(Refusal::LoginFailed) {
        return Err(format!("the old token after the exchange: {old_login:?}").into());
    }
    bank.login(&user, &press(&mut new, &clock)?)?;
    println!("the old token is refused, the new one accepted");

    // Every step above is in the keyed audit chain.
    println!("audit chain verified: {} records", bank.verify_audit()?);
    Ok(())
}
