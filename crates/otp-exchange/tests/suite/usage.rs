//! The OTP usage mode (利用形態): the administrator's setting and its
//! refusals, "not used" revoking the token atomically and signing in
//! without a code, software token enrollment end to end, and hardware
//! registration setting the mode. Generic over the store:
//! `tests/usage.rs` runs them on the in-memory store, otp-store's
//! `tests/usage.rs` on SQLite and PostgreSQL.
#![allow(dead_code, reason = "each runner uses part of it")]

use std::sync::{Arc, Barrier};

use otp_core::{Digits, Mode};
use otp_exchange::scenario::{Scenario, branch};
use otp_exchange::{
    Action, AuditResult, Bank, Exchanged, ExpectFirstCode, Policy, Refusal, Store, TokenStatus,
    UsageMode, UsageModeSet, UserId, Which,
};
use otp_provision::{SeedRecord, SerialNumber};

use crate::invariants::{Shared, approval, login_password, seed, server};

fn allowing(policy: Policy) -> Policy {
    Policy {
        allow_not_used: true,
        ..policy
    }
}

/// The scenario's bank with `policy`.
fn with_policy<S: Store>(s: Scenario<S>, policy: Policy) -> Scenario<S> {
    let Scenario {
        bank,
        clock,
        tokens,
        admin,
        general,
        without_token,
    } = s;
    Scenario {
        bank: bank.with_policy(policy),
        clock,
        tokens,
        admin,
        general,
        without_token,
    }
}

/// Another server on the same store with `policy`.
fn server_with<S: Store + 'static>(
    s: &Scenario<Shared<S>>,
    shared: &Shared<S>,
    policy: Policy,
) -> Bank<Shared<S>> {
    Arc::into_inner(server(s, shared))
        .unwrap()
        .with_policy(policy)
}

fn other(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// The app: the token read back from the `otpauth://` URI.
fn app_from(uri: &str) -> SeedRecord {
    SeedRecord::from_otpauth_uri(uri).unwrap()
}

/// The code the app shows at `now`.
fn app_code(app: &SeedRecord, now: u64) -> String {
    let Mode::Totp(step) = app.profile.mode else {
        panic!("not TOTP")
    };
    otp_core::totp(&app.key(), &step, now, app.profile.digits)
        .unwrap()
        .to_string()
}

/// The last audit record.
fn last<S: Store>(s: &Scenario<S>) -> otp_exchange::AuditRecord {
    s.bank.records().audit_chain().unwrap().pop().unwrap()
}

fn mode_of<S: Store>(s: &Scenario<S>, user: &UserId) -> UsageMode {
    s.bank.records().user(user).unwrap().unwrap().usage_mode
}

/// Every refusal of 利用形態設定, each audited as a refused `UsageMode`
/// record with its reason and changing nothing: a general user, the
/// administrator's own ID, an unknown ID, "software token" (set by
/// enrollment only), "not used" under the default policy, "not used" for
/// an administrator where the policy allows it, a locked user, and a wrong
/// approval password, which counts toward the operator's lock.
pub fn usage_mode_refusals<S: Store + 'static>(store: S) {
    let (s, shared, second) = seed(store);
    let (admin, general) = (s.admin.clone(), s.general.clone());
    let nobody = UserId::parse("W9999").unwrap();
    let set = |bank: &Bank<Shared<S>>, op: &UserId, target: &UserId, mode| {
        bank.set_usage_mode(op, target, mode, &approval())
    };
    let refused = |s: &Scenario<Shared<S>>, reason: &str| {
        let r = last(s);
        assert_eq!(r.entry.action, Action::UsageMode);
        assert_eq!(r.entry.result, AuditResult::Refused);
        assert_eq!(r.entry.reason.as_deref(), Some(reason));
    };
    let hw = UsageMode::HardwareToken;
    assert_eq!(
        set(&s.bank, &general, &s.without_token, hw),
        Err(Refusal::NotAdministrator)
    );
    refused(&s, "not_administrator");
    assert_eq!(set(&s.bank, &admin, &admin, hw), Err(Refusal::OwnId));
    refused(&s, "own_id");
    assert_eq!(set(&s.bank, &admin, &nobody, hw), Err(Refusal::UnknownUser));
    assert_eq!(
        set(&s.bank, &admin, &general, UsageMode::SoftwareToken),
        Err(Refusal::SoftwareTokenByEnrollment)
    );
    refused(&s, "software_token_enrollment_required");
    assert_eq!(
        set(&s.bank, &admin, &general, UsageMode::NotUsed),
        Err(Refusal::NotUsedForbidden)
    );
    refused(&s, "not_used_forbidden");
    let allowing_bank = server_with(&s, &shared, allowing(Policy::default()));
    assert_eq!(
        set(&allowing_bank, &admin, &second, UsageMode::NotUsed),
        Err(Refusal::NotUsedForAdministrator)
    );
    refused(&s, "not_used_administrator");
    // Nothing was evaluated so far: no password attempt spent.
    let lock = shared.user(&admin).unwrap().unwrap().lock;
    assert_eq!((lock.passwords.failures, lock.passwords.pending), (0, 0));
    assert_eq!(
        allowing_bank.set_usage_mode(
            &admin,
            &general,
            UsageMode::NotUsed,
            &otp_exchange::Password::new("not-the-approval-password")
        ),
        Err(Refusal::WrongPassword)
    );
    refused(&s, "wrong_password");
    let lock = shared.user(&admin).unwrap().unwrap().lock;
    assert_eq!((lock.passwords.failures, lock.passwords.pending), (1, 0));
    s.bank.lock(&admin, &general).unwrap();
    assert_eq!(
        set(&allowing_bank, &admin, &general, UsageMode::NotUsed),
        Err(Refusal::UserLocked)
    );
    refused(&s, "user_locked");
    // Nothing changed for anyone.
    for u in [&admin, &general, &s.without_token, &second] {
        assert_eq!(mode_of(&s, u), UsageMode::HardwareToken, "{u}");
    }
    assert!(s.token_of(&general).unwrap().is_some());
    s.bank.verify_audit().unwrap();
}

/// Setting "not used" for a user with a token revokes it in the same
/// switch as the mode change and its one audit record: the old token is
/// refused at once (login, sign-in), the list shows the mode and no
/// token, and when the switch cannot commit (the token was revoked by the
/// branch meanwhile) neither the mode nor anything else changes.
pub fn not_used_revokes_the_token_atomically<S: Store + 'static>(store: S) {
    let (s, shared, second) = seed(store);
    let mut s = with_policy(s, allowing(Policy::default()));
    let (admin, general) = (s.admin.clone(), s.general.clone());
    let old = s.token_of(&general).unwrap().unwrap();
    // The branch revokes the token between the decision and the switch:
    // the switch refuses, the mode is unchanged.
    let racer = server(&s, &shared);
    let g = general.clone();
    shared.before_switch(move || racer.branch_revoke(&branch(), &g).unwrap());
    assert_eq!(
        s.bank
            .set_usage_mode(&admin, &general, UsageMode::NotUsed, &approval()),
        Err(Refusal::Conflict)
    );
    assert_eq!(mode_of(&s, &general), UsageMode::HardwareToken);
    assert_eq!(last(&s).entry.reason.as_deref(), Some("conflict"));
    assert_eq!(
        s.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
    // A new token for W0002, then "not used".
    let new = s.stock()[0];
    let code = s.press(&new).unwrap();
    s.bank
        .branch_register(&branch(), &general, new.as_str(), &code)
        .unwrap();
    let before = s.bank.records().audit_chain().unwrap().len();
    let at = s.bank.now();
    assert_eq!(
        s.bank
            .set_usage_mode(&admin, &general, UsageMode::NotUsed, &approval()),
        Ok(UsageModeSet {
            user: general.clone(),
            previous: UsageMode::HardwareToken,
            mode: UsageMode::NotUsed,
            revoked: Some(new),
            at,
        })
    );
    let chain = s.bank.records().audit_chain().unwrap();
    assert_eq!(chain.len(), before + 1, "one record for mode and token");
    let r = &chain[before].entry;
    assert_eq!(
        (r.action, r.result, r.reason.as_deref()),
        (Action::UsageMode, AuditResult::Ok, Some("not_used"))
    );
    assert_eq!(r.old_serial, Some(new.masked().to_string()));
    assert_eq!(
        s.bank.records().token_status(&new).unwrap(),
        Some(TokenStatus::Revoked)
    );
    assert_eq!(s.token_of(&general).unwrap(), None);
    assert_eq!(mode_of(&s, &general), UsageMode::NotUsed);
    let row = s
        .bank
        .user_list(&admin, 0, 10)
        .unwrap()
        .rows
        .into_iter()
        .find(|r| r.id == general)
        .unwrap();
    assert_eq!(
        (row.usage_mode, row.serial, row.registered),
        (UsageMode::NotUsed, None, false)
    );
    // The revoked token's codes are refused everywhere.
    s.clock.advance(30);
    let code = s.press(&new).unwrap();
    assert_eq!(s.bank.login(&general, &code), Err(Refusal::LoginFailed));
    assert_eq!(
        s.bank.sign_in(&general, &login_password(), &code),
        Err(Refusal::LoginFailed)
    );
    // Back to the hardware token: recorded, no token until registration.
    assert_eq!(
        s.bank
            .set_usage_mode(&admin, &general, UsageMode::HardwareToken, &approval())
            .map(|d| (d.previous, d.revoked)),
        Ok((UsageMode::NotUsed, None))
    );
    assert_eq!(mode_of(&s, &general), UsageMode::HardwareToken);
    assert_eq!(s.token_of(&general).unwrap(), None);
    // Setting the hardware token for a user who has one keeps the token.
    let token = s.token_of(&admin).unwrap();
    assert!(token.is_some());
    assert_eq!(
        s.bank
            .set_usage_mode(&second, &admin, UsageMode::HardwareToken, &approval())
            .map(|d| d.revoked),
        Ok(None)
    );
    assert_eq!(s.token_of(&admin).unwrap(), token);
    s.bank.verify_audit().unwrap();
}

/// A general user in the mode "not used" signs in with the ID and login
/// password alone (the code empty): the previous login is carried, a
/// wrong password counts toward the ID's lock, a code typed is refused
/// (`code_not_expected`), and a bank whose policy no longer allows the mode
/// refuses the sign-in (`not_used_forbidden`); a user with a token who
/// types no code is refused as a malformed code.
pub fn not_used_signs_in_without_a_code<S: Store + 'static>(store: S) {
    let (s, shared, _) = seed(store);
    let s = with_policy(s, allowing(Policy::default()));
    let (admin, user) = (s.admin.clone(), s.without_token.clone());
    assert_eq!(
        s.bank
            .set_usage_mode(&admin, &user, UsageMode::NotUsed, &approval())
            .map(|d| d.revoked),
        Ok(None)
    );
    let first = s.bank.sign_in(&user, &login_password(), "").unwrap();
    assert_eq!(
        (
            first.user(),
            first.serial(),
            first.position(),
            first.with_code()
        ),
        (&user, None, None, false)
    );
    assert_eq!(first.previous_login(), None);
    let r = last(&s).entry;
    assert_eq!(
        (r.action, r.result, r.reason.as_deref()),
        (Action::Login, AuditResult::Ok, Some("not_used"))
    );
    s.clock.advance(60);
    let second = s.bank.sign_in(&user, &login_password(), "").unwrap();
    assert_eq!(second.previous_login(), Some(first.this_login()));
    assert_eq!(second.this_login(), first.this_login() + 60);
    // A wrong password counts; a code typed does not, and is refused.
    assert_eq!(
        s.bank
            .sign_in(&user, &otp_exchange::Password::new("guess-1"), ""),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(
        last(&s).entry.reason.as_deref(),
        Some("wrong_login_password")
    );
    assert_eq!(
        s.bank.sign_in(&user, &login_password(), "123456"),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(last(&s).entry.reason.as_deref(), Some("code_not_expected"));
    let lock = shared.user(&user).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (1, 0));
    // A right sign-in clears the wrong entries.
    s.bank.sign_in(&user, &login_password(), "").unwrap();
    let lock = shared.user(&user).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (0, 0));
    // Six wrong passwords lock the ID: then even the right one fails.
    for i in 0..6 {
        assert_eq!(
            s.bank.sign_in(
                &user,
                &otp_exchange::Password::new(&format!("guess-{i}")),
                ""
            ),
            Err(Refusal::LoginFailed)
        );
    }
    assert!(shared.user(&user).unwrap().unwrap().lock.locked);
    assert_eq!(
        s.bank.sign_in(&user, &login_password(), ""),
        Err(Refusal::LoginFailed)
    );
    s.bank.unlock(&admin, &user, &approval()).unwrap();
    // Made an administrator by the branch: the stored mode does not let
    // an administrator sign in without a code.
    s.bank
        .enroll_user(
            &branch(),
            &user,
            "しんきん太郎",
            otp_exchange::Authority::Administrator,
        )
        .unwrap();
    assert_eq!(mode_of(&s, &user), UsageMode::NotUsed);
    assert_eq!(
        s.bank.sign_in(&user, &login_password(), ""),
        Err(Refusal::LoginFailed)
    );
    s.bank
        .enroll_user(
            &branch(),
            &user,
            "しんきん太郎",
            otp_exchange::Authority::General,
        )
        .unwrap();
    s.bank.sign_in(&user, &login_password(), "").unwrap();
    // The bank turns the mode off: the user is refused.
    let strict = server_with(&s, &shared, Policy::default());
    assert_eq!(
        strict.sign_in(&user, &login_password(), ""),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(last(&s).entry.reason.as_deref(), Some("not_used_forbidden"));
    // A user with a token who types no code: refused, as malformed.
    let general = s.general.clone();
    assert_eq!(
        s.bank.sign_in(&general, &login_password(), ""),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(
        last(&s).entry.reason.as_deref(),
        Some("malformed_code_current")
    );
    let lock = shared.user(&general).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (0, 0));
    s.bank.verify_audit().unwrap();
}

/// Registering a hardware token (online or at the branch) sets the mode
/// to "hardware token" in the same switch: a user left in "not used"
/// then signs in only with a code.
pub fn hardware_registration_sets_the_mode<S: Store + 'static>(store: S) {
    let (s, _, _) = seed(store);
    let mut s = with_policy(s, allowing(Policy::default()));
    let (admin, user) = (s.admin.clone(), s.without_token.clone());
    s.bank
        .set_usage_mode(&admin, &user, UsageMode::NotUsed, &approval())
        .unwrap();
    let new = s.stock()[0];
    let code = s.press(&new).unwrap();
    let done = s
        .bank
        .begin_registration(&admin, &user)
        .unwrap()
        .confirm(&s.bank, new.as_str(), &code, &approval())
        .unwrap();
    assert_eq!(done.new_serial, new);
    assert_eq!(mode_of(&s, &user), UsageMode::HardwareToken);
    let r = last(&s).entry;
    assert_eq!((r.action, r.reason), (Action::Register, None));
    assert_eq!(
        s.bank.sign_in(&user, &login_password(), ""),
        Err(Refusal::LoginFailed)
    );
    s.clock.advance(30);
    let code = s.press(&new).unwrap();
    assert_eq!(
        s.bank
            .sign_in(&user, &login_password(), &code)
            .unwrap()
            .serial(),
        Some(new)
    );
    s.bank.verify_audit().unwrap();
}

/// Begins W0002's software token enrollment and reads the app's token
/// back from the URI shown once.
fn enroll<S: Store + 'static>(
    s: &Scenario<Shared<S>>,
    target: &UserId,
) -> (ExpectFirstCode, SeedRecord) {
    let mut state = s
        .bank
        .begin_software_token(&s.admin, target, &approval())
        .unwrap();
    let uri = state.take_otpauth_uri().unwrap();
    assert!(state.take_otpauth_uri().is_none(), "shown once");
    (state, app_from(&uri))
}

/// Software token enrollment end to end: the minted token (serial `SW` and
/// 10 digits, TOTP SHA-1 6 digits 30 s, 20-byte secret) is reserved for
/// the user and sealed in the inventory; the URI (issuer "OTP Bank",
/// account the customer ID) is shown once and read back by the app; the
/// state crosses a web request as a ticket that carries neither the
/// secret nor the serial readable, and comes back only through
/// `resume_software_token`; the app's first code confirms it: the token is
/// bound, the old hardware token revoked and the mode "software token" in
/// one switch (one `Exchange` record, reason `software_token`); sign-in
/// works with the app and refuses the old token.
pub fn software_token_enrollment_end_to_end<S: Store + 'static>(store: S) {
    let (mut s, _, _) = seed(store);
    let (admin, general) = (s.admin.clone(), s.general.clone());
    let old = s.token_of(&general).unwrap().unwrap();
    let (state, app) = enroll(&s, &general);
    let serial = state.serial();
    assert!(serial.as_str().starts_with("SW"), "{}", serial.as_str());
    assert!(serial.as_str()[2..].bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(state.parties(), (&admin, &general));
    assert_eq!(state.old_serial(), Some(old));
    assert!(!format!("{state:?}").contains("otpauth"));
    assert_eq!(app.serial, "W0002");
    assert_eq!(app.issuer.as_deref(), Some("OTP Bank"));
    assert_eq!(app.profile.digits, Digits::Six);
    assert_eq!(app.profile.algorithm, otp_core::Algorithm::Sha1);
    assert!(matches!(app.profile.mode, Mode::Totp(t) if t.seconds() == 30 && t.t0() == 0));
    assert_eq!(app.secret().expose_secret().len(), 20);
    // Reserved in the inventory, with the same secret.
    assert_eq!(
        s.bank.records().token_status(&serial).unwrap(),
        Some(TokenStatus::Reserved(general.clone()))
    );
    let r = last(&s).entry;
    assert_eq!(
        (r.action, r.result, r.new_serial.clone()),
        (
            Action::SoftwareToken,
            AuditResult::Ok,
            Some(serial.masked().to_string())
        )
    );
    // Until confirmed, the old token works and the new one does not.
    assert_eq!(mode_of(&s, &general), UsageMode::HardwareToken);
    assert_eq!(
        s.bank.login(&general, &app_code(&app, s.bank.now())),
        Err(Refusal::LoginFailed)
    );
    // Across a web request.
    let ticket = state.into_ticket(&s.bank).unwrap();
    let secret_b32 = data_encoding_base32(app.secret().expose_secret());
    assert!(!ticket.as_str().contains(&secret_b32));
    assert!(!ticket.as_str().contains(serial.as_str()));
    assert_eq!(
        s.bank.resume(&admin, &ticket).map(|_| ()),
        Err(Refusal::SessionInvalid)
    );
    let mut state = s.bank.resume_software_token(&admin, &ticket).unwrap();
    assert!(state.take_otpauth_uri().is_none());
    assert_eq!(state.serial(), serial);
    assert_eq!(
        s.bank.resume_software_token(&admin, &ticket).map(|_| ()),
        Err(Refusal::SessionUsed)
    );
    s.clock.advance(45);
    let at = s.bank.now();
    assert_eq!(
        state.confirm(&s.bank, &app_code(&app, at)).unwrap(),
        Exchanged {
            user: general.clone(),
            old_serial: Some(old),
            new_serial: serial,
            at,
        }
    );
    let r = last(&s).entry;
    assert_eq!(
        (r.action, r.result, r.reason.as_deref()),
        (Action::Exchange, AuditResult::Ok, Some("software_token"))
    );
    assert_eq!(
        (r.old_serial, r.new_serial),
        (
            Some(old.masked().to_string()),
            Some(serial.masked().to_string())
        )
    );
    assert_eq!(mode_of(&s, &general), UsageMode::SoftwareToken);
    assert_eq!(s.token_of(&general).unwrap(), Some(serial));
    assert_eq!(
        s.bank.records().token_status(&serial).unwrap(),
        Some(TokenStatus::Assigned(general.clone()))
    );
    assert_eq!(
        s.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
    s.clock.advance(30);
    let old_code = s.press(&old).unwrap();
    assert_eq!(
        s.bank.sign_in(&general, &login_password(), &old_code),
        Err(Refusal::LoginFailed)
    );
    let signed = s
        .bank
        .sign_in(&general, &login_password(), &app_code(&app, s.bank.now()))
        .unwrap();
    assert_eq!(signed.serial(), Some(serial));
    // The list shows the mode; exchanging back to a hardware token sets it.
    let row = s
        .bank
        .user_list(&admin, 0, 10)
        .unwrap()
        .rows
        .into_iter()
        .find(|r| r.id == general)
        .unwrap();
    assert_eq!(
        (row.usage_mode, row.serial),
        (UsageMode::SoftwareToken, Some(serial.masked()))
    );
    s.clock.advance(30);
    let hw = s.stock()[0];
    let hw_code = s.press(&hw).unwrap();
    s.bank
        .begin_exchange(&admin, &general)
        .unwrap()
        .submit_code(&s.bank, &app_code(&app, s.bank.now()))
        .unwrap()
        .confirm(&s.bank, hw.as_str(), &hw_code, &approval())
        .unwrap();
    assert_eq!(mode_of(&s, &general), UsageMode::HardwareToken);
    assert_eq!(
        s.bank.records().token_status(&serial).unwrap(),
        Some(TokenStatus::Revoked)
    );
    s.bank.verify_audit().unwrap();
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs write secrets.
fn data_encoding_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bank's name is the URI's issuer; a user without a token gets a
/// first registration (`Register`, reason `software_token`).
pub fn the_issuer_is_the_bank_name<S: Store + 'static>(store: S) {
    let (s, _, _) = seed(store);
    let s = {
        let Scenario {
            bank,
            clock,
            tokens,
            admin,
            general,
            without_token,
        } = s;
        Scenario {
            bank: bank.with_bank_name("しんきん銀行"),
            clock,
            tokens,
            admin,
            general,
            without_token,
        }
    };
    let user = s.without_token.clone();
    let (state, app) = enroll(&s, &user);
    assert_eq!(app.issuer.as_deref(), Some("しんきん銀行"));
    assert_eq!(app.serial, "W0005");
    let done = state
        .confirm(&s.bank, &app_code(&app, s.bank.now()))
        .unwrap();
    assert_eq!(done.old_serial, None);
    let r = last(&s).entry;
    assert_eq!(
        (r.action, r.reason.as_deref()),
        (Action::Register, Some("software_token"))
    );
    assert_eq!(mode_of(&s, &user), UsageMode::SoftwareToken);
}

/// A wrong first code is refused with the state back, counts toward the
/// user's ID lock as a new token's wrong code does, and the right one
/// still confirms; the enrollment's refusals are the typed ones
/// (administrator only, not on their own ID, a locked user, the approval
/// password counted).
pub fn a_wrong_first_code_counts<S: Store + 'static>(store: S) {
    let (s, shared, _) = seed(store);
    let (admin, general) = (s.admin.clone(), s.general.clone());
    assert_eq!(
        s.bank
            .begin_software_token(&general, &s.without_token, &approval())
            .map(|_| ()),
        Err(Refusal::NotAdministrator)
    );
    assert_eq!(
        s.bank
            .begin_software_token(&admin, &admin, &approval())
            .map(|_| ()),
        Err(Refusal::OwnId)
    );
    assert_eq!(
        s.bank
            .begin_software_token(
                &admin,
                &general,
                &otp_exchange::Password::new("not-the-approval-password")
            )
            .map(|_| ()),
        Err(Refusal::WrongPassword)
    );
    let r = last(&s).entry;
    assert_eq!(
        (r.action, r.reason.as_deref()),
        (Action::SoftwareToken, Some("wrong_password"))
    );
    assert_eq!(
        shared
            .user(&admin)
            .unwrap()
            .unwrap()
            .lock
            .passwords
            .failures,
        1
    );
    let (state, app) = enroll(&s, &general);
    let right = app_code(&app, s.bank.now());
    let retry = state.confirm(&s.bank, &other(&right)).unwrap_err();
    assert_eq!(retry.refusal, Refusal::WrongCode(Which::New));
    let lock = shared.user(&general).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (1, 0));
    let r = last(&s).entry;
    assert_eq!(
        (r.action, r.reason.as_deref()),
        (Action::NewToken, Some("wrong_code_new"))
    );
    let state = retry.resume.unwrap();
    let serial = state.serial();
    state.confirm(&s.bank, &right).unwrap();
    assert_eq!(s.token_of(&general).unwrap(), Some(serial));
    let lock = shared.user(&general).unwrap().unwrap().lock;
    assert_eq!(lock.codes.failures, 0);
    // A locked user gets no enrollment.
    s.bank.lock(&admin, &general).unwrap();
    assert_eq!(
        s.bank
            .begin_software_token(&admin, &general, &approval())
            .map(|_| ()),
        Err(Refusal::UserLocked)
    );
}

/// An enrollment abandoned, or whose ticket expired, leaves its token
/// reserved for that user: never registered to anyone — not by screen 5
/// for another user or for the same one, not by the branch — and a new
/// enrollment mints another token.
pub fn an_abandoned_enrollment_is_never_anyone_elses<S: Store + 'static>(store: S) {
    let (mut s, _, _) = seed(store);
    let (admin, general, user) = (s.admin.clone(), s.general.clone(), s.without_token.clone());
    let (state, app) = enroll(&s, &user);
    let serial = state.serial();
    let ticket = state.into_ticket(&s.bank).unwrap();
    s.clock.advance(s.bank.policy().session_ttl + 1);
    assert_eq!(
        s.bank.resume_software_token(&admin, &ticket).map(|_| ()),
        Err(Refusal::SessionExpired)
    );
    let code = app_code(&app, s.bank.now());
    // Screen 5 of the same user's registration.
    let refused = s
        .bank
        .begin_registration(&admin, &user)
        .unwrap()
        .confirm(&s.bank, serial.as_str(), &code, &approval())
        .unwrap_err();
    assert_eq!(refused.refusal, Refusal::SerialAssigned);
    // Screen 5 of another user's exchange.
    let old = s.token_of(&general).unwrap().unwrap();
    let current = s.press(&old).unwrap();
    let refused = s
        .bank
        .begin_exchange(&admin, &general)
        .unwrap()
        .submit_code(&s.bank, &current)
        .unwrap()
        .confirm(&s.bank, serial.as_str(), &code, &approval())
        .unwrap_err();
    assert_eq!(refused.refusal, Refusal::SerialAssigned);
    // An exchange's ticket is not an enrollment's: refused, and left
    // unused for the screen it belongs to.
    let exchange = s
        .bank
        .begin_exchange(&admin, &general)
        .unwrap()
        .into_ticket(&s.bank)
        .unwrap();
    assert_eq!(
        s.bank.resume_software_token(&admin, &exchange).map(|_| ()),
        Err(Refusal::SessionInvalid)
    );
    assert!(matches!(
        s.bank.resume(&admin, &exchange),
        Ok(otp_exchange::Pending::ExpectCurrentCode(_))
    ));
    // The branch.
    assert_eq!(
        s.bank
            .branch_register(&branch(), &user, serial.as_str(), &code)
            .map(|_| ()),
        Err(Refusal::SerialAssigned)
    );
    assert_eq!(
        s.bank.records().token_status(&serial).unwrap(),
        Some(TokenStatus::Reserved(user.clone()))
    );
    // A new enrollment: another token; the first stays reserved.
    let (state, app2) = enroll(&s, &user);
    assert_ne!(state.serial(), serial);
    let second = state.serial();
    state
        .confirm(&s.bank, &app_code(&app2, s.bank.now()))
        .unwrap();
    assert_eq!(s.token_of(&user).unwrap(), Some(second));
    assert_eq!(
        s.bank.records().token_status(&serial).unwrap(),
        Some(TokenStatus::Reserved(user.clone()))
    );
    assert_eq!(mode_of(&s, &general), UsageMode::HardwareToken);
}

/// Two confirms of one enrollment at once commit once, by brute force with
/// real threads, `rounds` times on a fresh store each: the same ticket
/// resumed twice (one gets `SessionUsed`), and two enrollments of the same
/// user confirmed together (one gets `Conflict`, its token stays
/// reserved). Exactly one switch, one token bound, the chain verifies.
pub fn concurrent_confirms_commit_once_brute<S: Store + 'static>(
    make: impl Fn() -> S,
    rounds: usize,
) {
    for round in 0..rounds {
        let (s, shared, _) = seed(make());
        let (admin, general) = (s.admin.clone(), s.general.clone());
        let (state, app) = enroll(&s, &general);
        let serial = state.serial();
        let ticket = state.into_ticket(&s.bank).unwrap();
        let code = app_code(&app, s.bank.now());
        let banks = [server(&s, &shared), server(&s, &shared)];
        // Both threads on the scenario's bank (a ticket opens only under
        // the session key that sealed it); the other servers race below.
        let bank = Arc::new(s.bank);
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (bank, barrier, ticket, code, admin) = (
                    Arc::clone(&bank),
                    Arc::clone(&barrier),
                    ticket.clone(),
                    code.clone(),
                    admin.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    bank.resume_software_token(&admin, &ticket)
                        .and_then(|st| st.confirm(&bank, &code).map_err(Refusal::from))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {results:?}");
        assert!(
            results.contains(&Err(Refusal::SessionUsed)),
            "round {round}: {results:?}"
        );
        assert_eq!(shared.user(&general).unwrap().unwrap().token, Some(serial));
        // Two enrollments of W0005 confirmed together.
        let user = UserId::parse("W0005").unwrap();
        let s2 = Scenario {
            bank: Arc::into_inner(bank).unwrap(),
            clock: s.clock,
            tokens: s.tokens,
            admin: s.admin,
            general: s.general,
            without_token: s.without_token,
        };
        let (a, app_a) = enroll(&s2, &user);
        let (b, app_b) = enroll(&s2, &user);
        let (sa, sb) = (a.serial(), b.serial());
        let now = s2.bank.now();
        let (ca, cb) = (app_code(&app_a, now), app_code(&app_b, now));
        let barrier = Arc::new(Barrier::new(2));
        let [b1, b2] = banks;
        let t1 = {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                a.confirm(&*b1, &ca).map_err(|r| r.refusal)
            })
        };
        let t2 = {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                b.confirm(&*b2, &cb).map_err(|r| r.refusal)
            })
        };
        let results = [t1.join().unwrap(), t2.join().unwrap()];
        let winners: Vec<SerialNumber> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|d| d.new_serial))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert!(
            results.contains(&Err(Refusal::Conflict)),
            "round {round}: {results:?}"
        );
        let winner = winners[0];
        let loser = if winner == sa { sb } else { sa };
        assert_eq!(shared.user(&user).unwrap().unwrap().token, Some(winner));
        assert_eq!(
            s2.bank.records().token_status(&loser).unwrap(),
            Some(TokenStatus::Reserved(user.clone()))
        );
        assert_eq!(
            shared.user(&user).unwrap().unwrap().usage_mode,
            UsageMode::SoftwareToken
        );
        s2.bank.verify_audit().unwrap();
    }
}
