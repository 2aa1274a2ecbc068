//! The manual's rules one by one, end to end, with the manual's three users
//! and virtual tokens on a simulated clock.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, AUDIT_KEY, Scenario, branch};
use otp_exchange::{
    Action, AuditKey, AuditResult, Authority, Flow, HashCost, Lang, MemoryStore, Password,
    PasswordKind, Pending, Policy, Refusal, Ticket, TokenStatus, UserId, Which, verify_chain,
};
use otp_provision::{Clock as _, SerialNumber};

const START: u64 = 1_601_512_200; // 2020-10-01 09:30 JST

fn seed() -> Scenario<MemoryStore> {
    Scenario::setup(MemoryStore::new(), START, HashCost::TESTING).unwrap()
}

fn approval() -> Password {
    Password::new(ADMIN_APPROVAL_PASSWORD)
}

fn new_serial(s: &Scenario<MemoryStore>) -> SerialNumber {
    s.stock()[0]
}

/// The manual's exchange for W0002, start to finish.
fn exchange(s: &mut Scenario<MemoryStore>, user: &UserId) -> (SerialNumber, SerialNumber) {
    let old = s.token_of(user).unwrap().unwrap();
    let new = new_serial(s);
    let step4 = s.bank.begin_exchange(&s.admin, user).unwrap();
    let code = s.press(&old).unwrap();
    let step5 = step4.submit_code(&s.bank, &code).unwrap();
    let new_code = s.press(&new).unwrap();
    let done = step5
        .confirm(&s.bank, new.as_str(), &new_code, &approval())
        .unwrap();
    assert_eq!((done.old_serial, done.new_serial), (Some(old), new));
    (old, new)
}

#[test]
fn the_selection_screen_lists_the_three_users() {
    let s = seed();
    let list = s.bank.user_list(&s.admin, 0, 5).unwrap();
    assert_eq!((list.first, list.last, list.total), (1, 3, 3));
    let rows: Vec<_> = list
        .rows
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.authority.label(Lang::Ja),
                r.serial.map(|m| m.to_string()),
                r.registered,
            )
        })
        .collect();
    assert_eq!(rows[0].0, "W0001");
    assert_eq!(rows[0].1, "管理者");
    assert!(rows[0].2.as_deref().unwrap().starts_with("●●●●●●●●"));
    assert_eq!(rows[1].1, "一般者");
    assert!(rows[1].3);
    assert_eq!(
        (rows[2].0, rows[2].2.clone(), rows[2].3),
        ("W0005", None, false)
    );
}

#[test]
fn exchange_switches_tokens_atomically_and_the_new_one_is_valid_from_now() {
    let mut s = seed();
    let user = s.general.clone();
    let (old, new) = exchange(&mut s, &user);
    // Immediately after: the old token's code is refused, the new one's accepted.
    s.clock.advance(30);
    let old_code = s.press(&old).unwrap();
    assert_eq!(
        s.bank.login(&user, &old_code).unwrap_err(),
        Refusal::LoginFailed
    );
    let new_code = s.press(&new).unwrap();
    assert!(s.bank.login(&user, &new_code).is_ok());
    assert_eq!(s.token_of(&user).unwrap(), Some(new));
    assert_eq!(
        s.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
}

#[test]
fn the_login_code_cannot_be_used_again_for_the_exchange() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let code = s.press(&old).unwrap();
    s.bank.login(&user, &code).unwrap();
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    // Pressing again within the step shows the same code: refused as a replay.
    s.clock.advance(5);
    let same = s.press(&old).unwrap();
    assert_eq!(same, code);
    let retry = step4.submit_code(&s.bank, &same).unwrap_err();
    assert_eq!(retry.refusal, Refusal::Replayed(Which::Current));
    assert!(retry.refusal.message(Lang::Ja).contains("15～30秒"));
    // A new code appears after the step changes, and is accepted.
    let step4 = retry.resume.unwrap();
    let next_at = s.tokens[&old].next_code_at(s.clock.now()).unwrap();
    s.clock.set(next_at + 1);
    let fresh = s.press(&old).unwrap();
    assert_ne!(fresh, code);
    assert!(step4.submit_code(&s.bank, &fresh).is_ok());
    // The repeat was not counted as a wrong entry.
    let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (0, 0));
}

#[test]
fn each_mistake_on_the_new_token_screen_is_refused_and_can_be_corrected() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let new = new_serial(&s);
    let code = s.press(&old).unwrap();
    let mut step5 = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    let admin_token = s.token_of(&s.admin).unwrap().unwrap();
    let new_code = s.press(&new).unwrap();
    let wrong_code = format!("{:06}", (new_code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for (serial, code, password, want) in [
        (
            "VT2020",
            new_code.as_str(),
            approval(),
            Refusal::Serial(otp_provision::SerialError::WrongLength {
                expected: 12,
                found: 6,
            }),
        ),
        (
            "ＶＴ２０２０００００１",
            new_code.as_str(),
            approval(),
            Refusal::Serial(otp_provision::SerialError::FullWidth),
        ),
        (
            "ZZ0000000001",
            new_code.as_str(),
            approval(),
            Refusal::UnknownSerial,
        ),
        (
            admin_token.as_str(),
            new_code.as_str(),
            approval(),
            Refusal::SerialAssigned,
        ),
        (
            old.as_str(),
            new_code.as_str(),
            approval(),
            Refusal::SerialAssigned,
        ),
        (
            new.as_str(),
            wrong_code.as_str(),
            approval(),
            Refusal::WrongCode(Which::New),
        ),
        (
            new.as_str(),
            "１２３４５",
            approval(),
            Refusal::Code(
                Which::New,
                otp_core::CodeError::WrongLength {
                    expected: 6,
                    found: 5,
                },
            ),
        ),
        (
            new.as_str(),
            new_code.as_str(),
            Password::new("wrong"),
            Refusal::WrongPassword,
        ),
    ] {
        let retry = step5.confirm(&s.bank, serial, code, &password).unwrap_err();
        assert_eq!(retry.refusal, want, "serial {serial}");
        step5 = retry.resume.unwrap();
    }
    // Nothing changed while refused.
    assert_eq!(s.token_of(&user).unwrap(), Some(old));
    // Corrected: accepted (lower case and spaces around the serial are forgiven).
    let typed = format!(" {} ", new.as_str().to_lowercase());
    let done = step5
        .confirm(&s.bank, &typed, &new_code, &approval())
        .unwrap();
    assert_eq!(done.new_serial, new);
}

#[test]
fn a_revoked_serial_cannot_be_registered_again() {
    let mut s = seed();
    let user = s.general.clone();
    let (old, _) = exchange(&mut s, &user);
    s.clock.advance(30);
    let step5 = s
        .bank
        .begin_registration(&s.admin, &s.without_token.clone())
        .unwrap();
    let code = s.press(&old).unwrap();
    let retry = step5
        .confirm(&s.bank, old.as_str(), &code, &approval())
        .unwrap_err();
    assert_eq!(retry.refusal, Refusal::SerialRevoked);
}

#[test]
fn an_administrator_without_approval_password_uses_the_per_transfer_password() {
    let mut s = seed();
    s.bank
        .remove_password(&branch(), &s.admin, PasswordKind::Approval)
        .unwrap();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let new = new_serial(&s);
    let code = s.press(&old).unwrap();
    let step5 = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    let new_code = s.press(&new).unwrap();
    // The approval password is no longer registered, so it is wrong here.
    let retry = step5
        .confirm(&s.bank, new.as_str(), &new_code, &approval())
        .unwrap_err();
    assert_eq!(retry.refusal, Refusal::WrongPassword);
    let done = retry.resume.unwrap().confirm(
        &s.bank,
        new.as_str(),
        &new_code,
        &Password::new("transfer-2020"),
    );
    assert!(done.is_ok());
    // With neither password, the step is refused outright.
    s.bank
        .remove_password(&branch(), &s.admin, PasswordKind::PerTransfer)
        .unwrap();
    s.clock.advance(30);
    let new2 = new_serial(&s);
    let code = s.press(&new).unwrap();
    let step5 = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    let new_code = s.press(&new2).unwrap();
    let retry = step5
        .confirm(&s.bank, new2.as_str(), &new_code, &approval())
        .unwrap_err();
    assert_eq!(retry.refusal, Refusal::NoPasswordRegistered);
    assert!(retry.resume.is_none());
}

#[test]
fn the_sixth_wrong_entry_locks_the_id_until_an_administrator_unlocks_it() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let right = s.press(&old).unwrap();
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let mut step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    for attempt in 1..=5 {
        let retry = step4.submit_code(&s.bank, &wrong).unwrap_err();
        assert_eq!(
            retry.refusal,
            Refusal::WrongCode(Which::Current),
            "attempt {attempt}"
        );
        step4 = retry.resume.unwrap();
    }
    let sixth = step4.submit_code(&s.bank, &wrong).unwrap_err();
    assert_eq!(sixth.refusal, Refusal::UserLocked);
    assert!(sixth.resume.is_none());
    assert!(s.bank.records().user(&user).unwrap().unwrap().lock.locked);
    // Locked: even the right code and a new exchange are refused.
    assert_eq!(
        s.bank.login(&user, &right).unwrap_err(),
        Refusal::LoginFailed
    );
    assert_eq!(
        s.bank.begin_exchange(&s.admin, &user).unwrap_err(),
        Refusal::UserLocked
    );
    // A general user cannot unlock; an administrator can.
    assert_eq!(
        s.bank.unlock(&user, &user, &approval()).unwrap_err(),
        Refusal::NotAdministrator
    );
    s.bank.unlock(&s.admin, &user, &approval()).unwrap();
    assert!(s.bank.login(&user, &right).is_ok());
}

#[test]
fn wrong_approval_passwords_lock_the_administrator_who_then_needs_the_branch() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let new = new_serial(&s);
    let code = s.press(&old).unwrap();
    let mut step5 = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    let new_code = s.press(&new).unwrap();
    for _ in 1..=5 {
        let retry = step5
            .confirm(&s.bank, new.as_str(), &new_code, &Password::new("guess"))
            .unwrap_err();
        assert_eq!(retry.refusal, Refusal::WrongPassword);
        step5 = retry.resume.unwrap();
    }
    let sixth = step5
        .confirm(&s.bank, new.as_str(), &new_code, &Password::new("guess"))
        .unwrap_err();
    assert_eq!(sixth.refusal, Refusal::OperatorLocked);
    assert!(sixth.refusal.message(Lang::Ja).contains("お取引店舗"));
    assert_eq!(
        s.bank.begin_exchange(&s.admin, &user).unwrap_err(),
        Refusal::OperatorLocked
    );
    assert_eq!(s.token_of(&user).unwrap(), Some(old));
}

#[test]
fn an_administrator_may_lock_an_id_on_purpose() {
    let s = seed();
    s.bank.lock(&s.admin, &s.general).unwrap();
    assert_eq!(
        s.bank.begin_exchange(&s.admin, &s.general).unwrap_err(),
        Refusal::UserLocked
    );
}

#[test]
fn a_general_user_cannot_operate_the_flows() {
    let s = seed();
    assert_eq!(
        s.bank.begin_exchange(&s.general, &s.general).unwrap_err(),
        Refusal::NotAdministrator
    );
    assert_eq!(
        s.bank
            .begin_registration(&s.general, &s.without_token)
            .unwrap_err(),
        Refusal::NotAdministrator
    );
    assert_eq!(
        s.bank.user_list(&s.general, 0, 5).unwrap_err(),
        Refusal::NotAdministrator
    );
    assert_eq!(
        s.bank
            .unregister(&s.general, &s.general, "123456", &approval())
            .unwrap_err(),
        Refusal::NotAdministrator
    );
}

#[test]
fn flows_match_the_users_state() {
    let s = seed();
    assert_eq!(
        s.bank
            .begin_exchange(&s.admin, &s.without_token)
            .unwrap_err(),
        Refusal::NoTokenRegistered
    );
    assert_eq!(
        s.bank.begin_registration(&s.admin, &s.general).unwrap_err(),
        Refusal::AlreadyRegistered
    );
    let nobody = UserId::parse("W9999").unwrap();
    assert_eq!(
        s.bank.begin_exchange(&s.admin, &nobody).unwrap_err(),
        Refusal::UnknownUser
    );
}

/// `123456` as the token's display shows it: `123 456`.
fn spaced(code: &str) -> String {
    format!("{} {}", &code[..3], &code[3..])
}

/// `123456` as a Japanese input method types it: `１２３　４５６`.
fn ime(code: &str) -> String {
    code.chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let wide = char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap();
            if i == 3 {
                vec!['\u{3000}', wide]
            } else {
                vec![wide]
            }
        })
        .collect()
}

/// Regression: a code typed as the token displays it (`821 135`), or with
/// a Japanese input method (`８２１　１３５`), was refused as having
/// "spaces or separators" or "full-width digits", on every screen.
#[test]
fn codes_typed_as_the_token_displays_them_are_accepted_on_every_screen() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let new = new_serial(&s);
    // Screen 4 (the current token) and screen 5 (the new one).
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    let code = spaced(&s.press(&old).unwrap());
    let step5 = step4.submit_code(&s.bank, &code).unwrap();
    let new_code = ime(&s.press(&new).unwrap());
    step5
        .confirm(&s.bank, new.as_str(), &new_code, &approval())
        .unwrap();
    // Sign-in, with the spaces and digits mixed as a person might type them.
    s.clock.advance(30);
    let code = s.press(&new).unwrap();
    let typed = format!(" {}\u{3000}{} ", &code[..3], ime(&code[3..]).trim());
    s.bank.login(&user, &typed).unwrap();
    // Anything else keeps its own refusal, before the ID is looked up.
    for (typed, why) in [
        ("123 45a", otp_core::CodeError::NotDigit),
        ("１２ａ４　５６", otp_core::CodeError::NotDigit),
        (
            "123 45",
            otp_core::CodeError::WrongLength {
                expected: 6,
                found: 5,
            },
        ),
        ("-123456", otp_core::CodeError::Separator),
        ("+123456", otp_core::CodeError::NotDigit),
        ("123-456", otp_core::CodeError::Separator),
        ("123 - 456", otp_core::CodeError::Separator),
        ("\u{3000}", otp_core::CodeError::Empty),
    ] {
        assert_eq!(
            s.bank.login(&user, typed).unwrap_err(),
            Refusal::Code(Which::Current, why),
            "{typed}"
        );
    }
}

#[test]
fn new_registration_for_w0005() {
    let mut s = seed();
    let user = s.without_token.clone();
    let new = new_serial(&s);
    let step5 = s.bank.begin_registration(&s.admin, &user).unwrap();
    assert_eq!(step5.flow(), Flow::Registration);
    let code = s.press(&new).unwrap();
    let done = step5
        .confirm(&s.bank, new.as_str(), &code, &approval())
        .unwrap();
    assert_eq!(done.old_serial, None);
    s.clock.advance(30);
    let code = s.press(&new).unwrap();
    assert!(s.bank.login(&user, &code).is_ok());
}

#[test]
fn a_new_token_that_drifted_in_storage_is_accepted_within_the_first_use_window() {
    let mut s = seed();
    let user = s.without_token.clone();
    let new = new_serial(&s);
    // The token's clock ran 4 minutes fast in the warehouse: 8 steps.
    let code = {
        let later = s.clock.now() + 240;
        let token = s.tokens.get_mut(&new).unwrap();
        token.press(later).unwrap().code().unwrap().to_string()
    };
    let done = s.bank.begin_registration(&s.admin, &user).unwrap().confirm(
        &s.bank,
        new.as_str(),
        &code,
        &approval(),
    );
    assert!(done.is_ok());
    // Its drift was recorded: the next login a step later needs no wide window.
    let state = s.bank.records().token_state(&new).unwrap().unwrap();
    assert!((7..=9).contains(&state.drift), "drift {}", state.drift);
}

#[test]
fn unregister_needs_a_code_from_the_token_and_the_approval_password_and_revokes_it() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let code = s.press(&old).unwrap();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        s.bank
            .unregister(&s.admin, &user, &wrong, &approval())
            .unwrap_err(),
        Refusal::WrongCode(Which::Current)
    );
    assert_eq!(
        s.bank
            .unregister(&s.admin, &user, &code, &Password::new("nope"))
            .unwrap_err(),
        Refusal::WrongPassword
    );
    s.clock.advance(30);
    let code = s.press(&old).unwrap();
    s.bank
        .unregister(&s.admin, &user, &code, &approval())
        .unwrap();
    assert_eq!(s.token_of(&user).unwrap(), None);
    s.clock.advance(30);
    let code = s.press(&old).unwrap();
    assert_eq!(
        s.bank.login(&user, &code).unwrap_err(),
        Refusal::LoginFailed
    );
    assert_eq!(
        s.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
}

#[test]
fn a_bank_may_forbid_unregistering_outside_the_exchange() {
    let s = seed();
    let policy = Policy {
        allow_unregister: false,
        ..Policy::default()
    };
    let bank = s.bank.with_policy(policy);
    assert_eq!(
        bank.unregister(&s.admin, &s.general, "123456", &approval())
            .unwrap_err(),
        Refusal::UnregisterForbidden
    );
}

#[test]
fn no_current_token_sends_the_user_to_the_branch_whose_officer_revokes_it() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    let refusal = step4.no_current_token(&s.bank);
    assert_eq!(refusal, Refusal::BranchRequired);
    assert!(
        refusal
            .message(Lang::Ja)
            .contains("お取引店舗への届出が必要です")
    );
    assert!(
        refusal
            .message(Lang::En)
            .contains("written request at your branch")
    );
    // Online registration is impossible while the lost token is registered.
    assert_eq!(
        s.bank.begin_registration(&s.admin, &user).unwrap_err(),
        Refusal::AlreadyRegistered
    );
    s.bank.branch_revoke(&branch(), &user).unwrap();
    assert_eq!(
        s.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
    let new = new_serial(&s);
    let code = s.press(&new).unwrap();
    let done = s.bank.begin_registration(&s.admin, &user).unwrap().confirm(
        &s.bank,
        new.as_str(),
        &code,
        &approval(),
    );
    assert!(done.is_ok());
}

#[test]
fn sessions_expire_after_ten_minutes() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    s.clock.advance(601);
    let code = s.press(&old).unwrap();
    let retry = step4.submit_code(&s.bank, &code).unwrap_err();
    assert_eq!(retry.refusal, Refusal::SessionExpired);
    assert!(retry.resume.is_none());
}

/// A ticket travels through the browser (a hidden form field) or an API
/// caller: it must not show what the screens mask. Its body is encrypted,
/// so neither the full serial of the token nor the operator's or the
/// customer's ID can be read from it, in any decoding.
#[test]
fn a_ticket_shows_no_serial_and_no_id_to_whoever_carries_it() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    let code = s.press(&old).unwrap();
    let step5 = step4.submit_code(&s.bank, &code).unwrap();
    let ticket = step5.into_ticket(&s.bank).unwrap();
    let text = ticket.as_str();
    let mut readings = vec![text.as_bytes().to_vec()];
    for part in text.split('.') {
        for engine in [
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
        ] {
            if let Ok(bytes) = base64::Engine::decode(engine, part) {
                readings.push(bytes);
            }
        }
    }
    assert!(readings.len() > 1, "{text}");
    for reading in &readings {
        let reading = String::from_utf8_lossy(reading);
        for hidden in [old.as_str(), s.admin.as_str(), user.as_str(), "Exchange"] {
            assert!(
                !reading.contains(hidden),
                "{hidden} readable in the ticket: {reading}"
            );
        }
    }
    // Two tickets of the same state differ (a fresh nonce each time).
    let again = s.bank.resume(&s.admin, &ticket).unwrap();
    let Pending::ExpectNewToken(step5) = again else {
        panic!("wrong stage");
    };
    let one = step5.into_ticket(&s.bank).unwrap();
    assert_ne!(one.as_str(), text);
}

#[test]
fn tickets_carry_the_flow_between_requests_once_and_refuse_tampering() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let ticket = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .into_ticket(&s.bank)
        .unwrap();
    let wire = serde_json::to_string(&ticket).unwrap();
    let ticket: Ticket = serde_json::from_str(&wire).unwrap();

    // Another administrator cannot pick it up.
    let other = UserId::parse("W0009").unwrap();
    s.bank
        .enroll_user(&branch(), &other, "other", Authority::Administrator)
        .unwrap();
    assert_eq!(
        s.bank.resume(&other, &ticket).unwrap_err(),
        Refusal::SessionInvalid
    );

    // A changed byte is refused.
    let mut text = ticket.as_str().to_owned();
    let i = text.len() / 3;
    let flipped = if &text[i..=i] == "A" { "B" } else { "A" };
    text.replace_range(i..=i, flipped);
    assert_eq!(
        s.bank
            .resume(&s.admin, &Ticket::from_text(&text))
            .unwrap_err(),
        Refusal::SessionInvalid
    );
    assert_eq!(
        s.bank
            .resume(&s.admin, &Ticket::from_text("garbage"))
            .unwrap_err(),
        Refusal::SessionInvalid
    );

    // The real one works once.
    let Pending::ExpectCurrentCode(step4) = s.bank.resume(&s.admin, &ticket).unwrap() else {
        panic!("wrong stage");
    };
    assert_eq!(
        s.bank.resume(&s.admin, &ticket).unwrap_err(),
        Refusal::SessionUsed
    );
    let code = s.press(&old).unwrap();
    let step5 = step4.submit_code(&s.bank, &code).unwrap();
    let ticket5 = step5.into_ticket(&s.bank).unwrap();
    let Pending::ExpectNewToken(step5) = s.bank.resume(&s.admin, &ticket5).unwrap() else {
        panic!("wrong stage");
    };
    let new = new_serial(&s);
    let new_code = s.press(&new).unwrap();
    step5
        .confirm(&s.bank, new.as_str(), &new_code, &approval())
        .unwrap();
    // Replaying the finished session's ticket is refused.
    assert_eq!(
        s.bank.resume(&s.admin, &ticket5).unwrap_err(),
        Refusal::SessionUsed
    );

    // An expired ticket is refused even if never used.
    let ticket = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .into_ticket(&s.bank)
        .unwrap();
    s.clock.advance(601);
    assert_eq!(
        s.bank.resume(&s.admin, &ticket).unwrap_err(),
        Refusal::SessionExpired
    );
}

#[test]
fn competing_exchanges_commit_exactly_once() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let stock = s.stock();
    let (new_a, new_b) = (stock[0], stock[1]);
    // Two sessions pass the current-token step with two consecutive codes.
    let code = s.press(&old).unwrap();
    let a = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    s.clock.advance(30);
    let code = s.press(&old).unwrap();
    let b = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    let code_a = s.press(&new_a).unwrap();
    let code_b = s.press(&new_b).unwrap();
    assert!(
        a.confirm(&s.bank, new_a.as_str(), &code_a, &approval())
            .is_ok()
    );
    let lost = b
        .confirm(&s.bank, new_b.as_str(), &code_b, &approval())
        .unwrap_err();
    assert_eq!(lost.refusal, Refusal::Conflict);
    assert_eq!(s.token_of(&user).unwrap(), Some(new_a));
    assert_eq!(
        s.bank.records().token_status(&new_b).unwrap(),
        Some(TokenStatus::Unassigned)
    );
}

#[test]
fn the_audit_trail_records_every_attempt_verifies_and_holds_no_secret() {
    let mut s = seed();
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let code = s.press(&old).unwrap();
    s.bank.login(&user, &code).unwrap();
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    let retry = step4.submit_code(&s.bank, &code).unwrap_err();
    s.clock.advance(30);
    let code2 = s.press(&old).unwrap();
    let step5 = retry.resume.unwrap().submit_code(&s.bank, &code2).unwrap();
    let new = new_serial(&s);
    let new_code = s.press(&new).unwrap();
    step5
        .confirm(&s.bank, new.as_str(), &new_code, &approval())
        .unwrap();

    let chain = s.bank.records().audit_chain().unwrap();
    let head = s.bank.records().audit_head().unwrap();
    let key = AuditKey::new(AUDIT_KEY);
    verify_chain(&chain, &key, head).unwrap();
    assert_eq!(s.bank.verify_audit().unwrap(), chain.len() as u64);
    let trail = s
        .bank
        .audit_trail(&s.admin, &user, START, u64::MAX)
        .unwrap();
    let actions: Vec<_> = trail
        .iter()
        .map(|r| (r.entry.action, r.entry.result, r.entry.reason.clone()))
        .collect();
    assert!(actions.contains(&(Action::Login, AuditResult::Ok, None)));
    assert!(actions.contains(&(
        Action::CurrentCode,
        AuditResult::Refused,
        Some("replayed_code_current".into())
    )));
    assert!(actions.contains(&(Action::Exchange, AuditResult::Ok, None)));
    let exchange = trail
        .iter()
        .find(|r| r.entry.action == Action::Exchange)
        .unwrap();
    assert_eq!(
        exchange.entry.old_serial.as_deref(),
        Some(old.masked().to_string().as_str())
    );
    let text = serde_json::to_string(&chain).unwrap();
    for secret in [
        code.as_str(),
        code2.as_str(),
        new_code.as_str(),
        ADMIN_APPROVAL_PASSWORD,
        old.as_str(),
        new.as_str(),
    ] {
        assert!(!text.contains(secret), "the audit trail contains {secret}");
    }
    // Tampering is detected.
    let refused = chain
        .iter()
        .position(|r| r.entry.result == AuditResult::Refused)
        .unwrap();
    let mut edited = chain.clone();
    edited[refused].entry.result = AuditResult::Ok;
    edited[refused].entry.reason = None;
    assert!(
        verify_chain(&edited, &key, head).is_err(),
        "an erased refusal must break the chain"
    );
    // Its target or time changed (what the usage history filters on).
    let mut edited = chain.clone();
    edited[refused].entry.target = Some(UserId::parse("W0005").unwrap());
    assert!(verify_chain(&edited, &key, head).is_err());
    let mut edited = chain.clone();
    edited[refused].entry.at += 1;
    assert!(verify_chain(&edited, &key, head).is_err());
    let mut removed = chain.clone();
    removed.remove(2);
    assert!(verify_chain(&removed, &key, head).is_err());
    // The last record removed: detected by the stored head.
    let mut truncated = chain.clone();
    truncated.pop();
    assert!(verify_chain(&truncated, &key, head).is_err());
    // Rewritten consistently without the key: detected.
    assert!(verify_chain(&chain, &AuditKey::new([0; 32]), head).is_err());
}

#[test]
fn a_locked_administrator_cannot_resume_a_parked_session() {
    let s = seed();
    let ticket = s
        .bank
        .begin_exchange(&s.admin, &s.general)
        .unwrap()
        .into_ticket(&s.bank)
        .unwrap();
    s.bank.lock(&s.admin, &s.admin).unwrap();
    assert_eq!(
        s.bank.resume(&s.admin, &ticket).unwrap_err(),
        Refusal::OperatorLocked
    );
}
