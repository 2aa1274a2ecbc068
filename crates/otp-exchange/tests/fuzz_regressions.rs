//! Sequences found by the `exchange` fuzz target in `fuzz/` (see
//! docs/security.md), kept as ordinary tests. Each says what went wrong and
//! where it was fixed.
#![allow(clippy::unwrap_used, reason = "tests")]

use otp_exchange::scenario::ADMIN_APPROVAL_PASSWORD;
use otp_exchange::scenario::Scenario;
use otp_exchange::{HashCost, MemoryStore, Password, Refusal};

const START: u64 = 1_601_512_200; // 2020-10-01 09:30 JST

/// fuzz target `exchange`, artifact crash-7aa0b78d1db43742441e83ed03163298b5570677:
/// `BeginExchange(Admin, General)`, `Lock(Admin, Admin)`, five
/// `SubmitCode` with a wrong code, `SubmitCode` with the right one.
/// Cause: `ExpectCurrentCode::submit_code` checked the session's expiry and
/// the user's lock but not the administrator who began the session, so a
/// locked administrator (locked on purpose here; in practice after six
/// wrong approval passwords) could keep typing the user's current-token
/// codes: wrong ones counted toward the *user's* lock, and a right one
/// passed screen 4. Fixed in `otp-exchange/src/exchange.rs`: `submit_code`
/// requires `Bank::administrator` (an unlocked administrator) like every
/// other step.
#[test]
fn a_locked_administrator_cannot_continue_an_exchange() {
    let s = Scenario::setup(MemoryStore::new(), START, HashCost::TESTING).unwrap();
    let (admin, user) = (s.admin.clone(), s.general.clone());
    let old = s.token_of(&user).unwrap().unwrap();
    let step4 = s.bank.begin_exchange(&admin, &user).unwrap();
    s.bank.lock(&admin, &admin).unwrap();

    let wrong = step4.submit_code(&s.bank, "000000").unwrap_err();
    assert_eq!(wrong.refusal, Refusal::OperatorLocked);
    assert!(
        wrong.resume.is_none(),
        "a locked administrator's session ends"
    );
    // The wrong code was not counted against the user.
    let w0002 = s.bank.records().user(&user).unwrap().unwrap();
    assert_eq!(w0002.lock.codes.failures, 0);

    // A fresh session from a parked ticket is refused the same way, even
    // with the right code.
    // A locked administrator cannot unlock itself.
    s.bank
        .unlock(&admin, &admin, &Password::new(ADMIN_APPROVAL_PASSWORD))
        .unwrap_err();
    let mut s = Scenario::setup(MemoryStore::new(), START, HashCost::TESTING).unwrap();
    let step4 = s.bank.begin_exchange(&s.admin, &s.general).unwrap();
    s.bank.lock(&s.admin, &s.admin).unwrap();
    let code = s.press(&old).unwrap();
    let right = step4.submit_code(&s.bank, &code).unwrap_err();
    assert_eq!(right.refusal, Refusal::OperatorLocked);
}

/// fuzz target `exchange`, artifact crash-9bf8bfa77b68ef5476d53935a4e3af64ffa7d4bd:
/// `SignIn(Admin, false, Raw(""))`, a wrong login password and no code.
/// Cause: the target's oracle, not the bank: since the usage mode, an
/// empty code means "none" (a user who uses no one-time password) and is
/// decided after the lookup like every other failure, so the answer is the
/// one sign-in refusal, not a typing error. The oracle was brought up to
/// date in `fuzz/fuzz_targets/exchange.rs`; this keeps the bank's answer.
#[test]
fn an_empty_code_at_sign_in_is_the_one_sign_in_refusal() {
    let s = Scenario::setup(MemoryStore::new(), START, HashCost::TESTING).unwrap();
    let wrong = Password::new("not-the-login-password");
    let right = Password::new(otp_exchange::scenario::LOGIN_PASSWORD);
    for password in [&wrong, &right] {
        assert_eq!(
            s.bank.sign_in(&s.admin, password, "").unwrap_err(),
            Refusal::LoginFailed
        );
    }
    // The wrong password was counted; a token user's empty code with the
    // right password was not.
    let w0001 = s.bank.records().user(&s.admin).unwrap().unwrap();
    assert_eq!(w0001.lock.codes.failures, 1, "{:?}", w0001.lock);
}
