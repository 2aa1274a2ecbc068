//! `Bank::import_inventory_approved`: a seed file imported by an
//! administrator who confirms it with their approval password.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    missing_docs,
    reason = "tests"
)]

use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario, script};
use otp_exchange::{
    Action, AuditResult, HashCost, MemoryStore, Password, Refusal, TokenStatus, UserId,
};
use otp_provision::{Inventory, SerialNumber};

fn inventory(prefix: &str) -> Inventory {
    let mut batch = otp_token::Factory::deterministic_for_tests([0x31; 32])
        .serials(prefix, 1)
        .unwrap()
        .manufacture(2, 1_600_000_000)
        .unwrap();
    Inventory::from_pskc(&batch.seed_file(None).unwrap(), None).unwrap()
}

fn last_import(s: &Scenario<MemoryStore>) -> otp_exchange::AuditEntry {
    s.bank
        .records()
        .audit_chain()
        .unwrap()
        .into_iter()
        .rev()
        .find(|r| r.entry.action == Action::Import)
        .unwrap()
        .entry
}

#[test]
fn an_approved_import_is_the_administrators_all_or_nothing() {
    let s = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING).unwrap();
    let right = Password::new(ADMIN_APPROVAL_PASSWORD);
    let file = inventory("AP");
    let first = SerialNumber::parse("AP0000000001").unwrap();

    // A general user is no administrator: refused, audited, nothing added.
    assert_eq!(
        s.bank.import_inventory_approved(&s.general, &right, &file),
        Err(Refusal::NotAdministrator)
    );
    let refused = last_import(&s);
    assert_eq!(refused.operator, "W0002");
    assert_eq!(refused.result, AuditResult::Refused);
    assert_eq!(refused.reason.as_deref(), Some("not_administrator"));
    assert_eq!(s.bank.records().token_status(&first).unwrap(), None);

    // A wrong approval password: refused and counted toward the lock.
    assert_eq!(
        s.bank
            .import_inventory_approved(&s.admin, &Password::new("not-it"), &file),
        Err(Refusal::WrongPassword)
    );
    let admin = s.bank.records().user(&s.admin).unwrap().unwrap();
    assert_eq!(admin.lock.passwords.failures, 1);
    assert_eq!(s.bank.records().token_status(&first).unwrap(), None);

    // Right: every token, unassigned, one audit record naming the admin.
    assert_eq!(
        s.bank.import_inventory_approved(&s.admin, &right, &file),
        Ok(2)
    );
    let done = last_import(&s);
    assert_eq!(done.operator, "W0001");
    assert_eq!(done.result, AuditResult::Ok);
    assert_eq!(done.reason.as_deref(), Some("2 tokens"));
    assert_eq!(
        s.bank.records().token_status(&first).unwrap(),
        Some(TokenStatus::Unassigned)
    );
    let admin = s.bank.records().user(&s.admin).unwrap().unwrap();
    assert_eq!(admin.lock.passwords.failures, 0);

    // The same file again: a conflict, nothing changed.
    assert_eq!(
        s.bank.import_inventory_approved(&s.admin, &right, &file),
        Err(Refusal::Conflict)
    );
    // An unknown operator.
    assert_eq!(
        s.bank.import_inventory_approved(
            &UserId::parse("W0009").unwrap(),
            &right,
            &inventory("UN")
        ),
        Err(Refusal::UnknownUser)
    );
}
