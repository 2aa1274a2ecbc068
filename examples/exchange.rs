//! The seed's token exchange through the library API, screen by screen:
//! W0001 (administrator) exchanges W0002's token.
//!
//!     cargo run -p otp-examples --example exchange
#![forbid(unsafe_code)]

use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{HashCost, Lang, MemoryStore, Password};

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

    // Screens 3-4: select W0002, type the current token's code.
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
    s.clock.advance(30);
    let old_code = s.press(&old)?;
    println!(
        "old token now: {:?}",
        s.bank.login(&user, &old_code).map(|_| "accepted")
    );
    let new_code = s.press(&new)?;
    println!(
        "new token now: {:?}",
        s.bank.login(&user, &new_code).map(|_| "accepted")
    );
    Ok(())
}
