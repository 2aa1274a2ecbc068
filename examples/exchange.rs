//! The seed's token exchange through the library API, screen by screen:
//! W0001 (administrator) exchanges W0002's token. No administrator
//! operates on their own ID: W0001 selecting itself is refused, and
//! W0001's own token was registered by the branch when the scenario was
//! set up. The example checks every outcome and exits non-zero if one
//! does not behave as the manual says.
//!
//!     cargo run -p otp-examples --example exchange
#![forbid(unsafe_code)]

use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{HashCost, Lang, MemoryStore, Password, Refusal};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut s = Scenario::setup(MemoryStore::new(), 1_601_512_200, HashCost::RECOMMENDED)?;
    let (admin, user) = (s.admin.clone(), s.general.clone());

    // Screen 2: the selection list.
    let list = s.bank.user_list(&admin, 0, 5)?;
    for row in &list.rows {
        let serial = row.serial.map_or_else(|| "-".to_owned(), |m| m.to_string());
        println!(
            "{}  {}  {:<6}  {}",
            row.id,
            row.name,
            row.authority.label(Lang::Ja),
            serial
        );
    }
    println!("{} to {} of {}", list.first, list.last, list.total);

    // An administrator never exchanges their own token: another
    // administrator or the branch does.
    match s.bank.begin_exchange(&admin, &admin) {
        Err(Refusal::OwnId) => println!("W0001 selecting itself: {}", Refusal::OwnId),
        other => return Err(format!("W0001 selecting itself: {other:?}").into()),
    }

    // Screens 3-4: W0001 selects W0002, who types the current token's code.
    let old = s.token_of(&user)?.ok_or("W0002 has no token")?;
    let step4 = s.bank.begin_exchange(&admin, &user)?;
    let code = s.press(&old)?;
    let step5 = step4.submit_code(&s.bank, &code)?;
    println!("current token verified");

    // Screen 5: a wrong approval password first, then the right one.
    let new = *s.stock().first().ok_or("no token in stock")?;
    let new_code = s.press(&new)?;
    let step5 = match step5.confirm(&s.bank, new.as_str(), &new_code, &Password::new("wrong")) {
        Err(retry) => {
            println!("refused: {}", retry.refusal.message(Lang::Ja));
            retry.resume.ok_or("the flow should allow a retry")?
        }
        Ok(_) => return Err("a wrong password was accepted".into()),
    };
    let done = step5.confirm(
        &s.bank,
        new.as_str(),
        &new_code,
        &Password::new(ADMIN_APPROVAL_PASSWORD),
    )?;

    // Screen 6.
    println!(
        "登録が完了しました。登録したトークンは今から有効です。 ({} -> {})",
        old.masked(),
        done.new_serial.masked()
    );

    // Valid from now: the old token's code is refused (one refusal for
    // every failed login, so an outsider learns nothing), the new one's
    // accepted.
    s.clock.advance(30);
    let old_code = s.press(&old)?;
    let old_login = s.bank.login(&user, &old_code).map(|_| "accepted");
    println!("old token now: {old_login:?}");
    if old_login != Err(Refusal::LoginFailed) {
        return Err("the old token must be refused after the exchange".into());
    }
    let new_code = s.press(&new)?;
    let new_login = s.bank.login(&user, &new_code).map(|_| "accepted");
    println!("new token now: {new_login:?}");
    if new_login.is_err() {
        return Err("the new token must be accepted after the exchange".into());
    }

    // Every step above is in the keyed audit chain.
    let records = s.bank.verify_audit()?;
    println!("audit chain verified: {records} records");
    Ok(())
}
