//! `--json`: one JSON object on standard output, for a bank's scripts
//! (`otp bank users`, `otp bank audit`, `otp bank verify`, `otp token
//! press`). The schemas are documented in `docs/cli.md` and stable: keys
//! are snake_case, every key is always present (`null` where it does not
//! apply), times are given twice (`at`: unix seconds, `at_utc`: RFC 3339
//! in UTC), serials are masked wherever the text screens mask them, and
//! no secret, code typed to the bank or password is ever in them.

use anyhow::Result;
use otp_exchange::{
    Action, AuditCheckError, AuditError, AuditRecord, AuditResult, Authority, Bank, InternalError,
    Lang, Refusal, Store, UserId, UserList,
};
use serde_json::{Value, json};

use crate::Exit;
use crate::bank::{USERS_PER_PAGE, refused};
use crate::lang::tr;
use crate::time::parse_time;

/// Prints `value` as one line on standard output.
fn print(value: &Value) {
    println!("{value}");
}

/// `at` (unix seconds) as RFC 3339 in UTC (`2020-10-01T02:00:00Z`), or
/// `null` past the years jiff knows.
pub(crate) fn rfc3339(at: u64) -> Value {
    i64::try_from(at)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or(Value::Null, |ts| Value::String(ts.to_string()))
}

/// A stable snake_case name for an authority.
const fn authority(a: Authority) -> &'static str {
    match a {
        Authority::Administrator => "administrator",
        Authority::General => "general",
    }
}

/// A stable snake_case name for an audited action.
fn action(a: Action) -> String {
    let known = match a {
        Action::Login => "login",
        Action::Select => "select",
        Action::CurrentCode => "current_code",
        Action::NewToken => "new_token",
        Action::Exchange => "exchange",
        Action::Register => "register",
        Action::Unregister => "unregister",
        Action::NoCurrentToken => "no_current_token",
        Action::BranchRevoke => "branch_revoke",
        Action::Unlock => "unlock",
        Action::Lock => "lock",
        Action::Import => "import",
        Action::UserUpdate => "user_update",
        Action::Rekey => "rekey",
        // An action added after this version: its name in snake_case.
        _ => return snake_case(&format!("{a:?}")),
    };
    known.to_owned()
}

/// `CamelCase` as `camel_case`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len().saturating_add(4));
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The selection screen's page as JSON.
fn users_value(list: &UserList, operator: &UserId, page: usize) -> Value {
    let pages = list.total.div_ceil(USERS_PER_PAGE);
    let rows: Vec<Value> = list
        .rows
        .iter()
        .map(|row| {
            let status = match (row.locked, row.registered) {
                (true, _) => "locked",
                (false, true) => "registered",
                (false, false) => "none",
            };
            json!({
                "id": row.id.as_str(),
                "name": row.name,
                "authority": authority(row.authority),
                "serial": row.serial.map(|m| m.to_string()),
                "status": status,
                "registered": row.registered,
                "locked": row.locked,
            })
        })
        .collect();
    json!({
        "operator": operator.as_str(),
        "page": page,
        "per_page": USERS_PER_PAGE,
        "pages": pages,
        "next_page": (page < pages).then(|| page.saturating_add(1)),
        "first": list.first,
        "last": list.last,
        "total": list.total,
        "users": rows,
    })
}

/// `otp bank users --json`.
pub(crate) fn users<S: Store>(
    bank: &Bank<S>,
    operator: &UserId,
    page: usize,
    lang: Lang,
) -> Result<()> {
    let page = page.max(1);
    let list = bank
        .user_list(operator, page.saturating_sub(1), USERS_PER_PAGE)
        .map_err(|r| refused(&r, lang))?;
    print(&users_value(&list, operator, page));
    Ok(())
}

/// One record of the usage history.
fn record_value(r: &AuditRecord) -> Value {
    let e = &r.entry;
    json!({
        "seq": r.seq,
        "at": e.at,
        "at_utc": rfc3339(e.at),
        "operator": e.operator,
        "target": e.target.as_ref().map(UserId::as_str),
        "action": action(e.action),
        "old_serial": e.old_serial,
        "new_serial": e.new_serial,
        "result": match e.result {
            AuditResult::Ok => "ok",
            AuditResult::Refused => "refused",
        },
        "reason": e.reason,
    })
}

/// The chain verified, with `records` records in all.
fn chain_verified(records: u64) -> Value {
    json!({ "verified": true, "records": records, "error": null })
}

/// The chain does not verify: where, and the sentence.
fn chain_broken(e: &AuditError) -> Value {
    let (kind, seq, head, last) = match *e {
        AuditError::Altered { seq } => ("altered", Some(seq), None, None),
        AuditError::Broken { seq } => ("broken", Some(seq), None, None),
        AuditError::Downgraded { seq } => ("downgraded", Some(seq), None, None),
        AuditError::Truncated { head, last } => ("truncated", None, Some(head), Some(last)),
        _ => ("other", None, None, None),
    };
    json!({
        "verified": false,
        "records": null,
        "error": {
            "kind": kind,
            "seq": seq,
            "head": head,
            "last": last,
            "message": e.to_string(),
        },
    })
}

/// The error (exit 1) after a chain that does not verify was reported:
/// the sentence of the text screens.
fn chain_error(e: &AuditError, lang: Lang) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code: 1,
        message: format!(
            "{}: {e}",
            tr(
                lang,
                "the audit trail does not verify (tampered with, or the key file is not this bank's)",
                "利用履歴の検証に失敗しました（改ざん、または鍵ファイルがこの銀行のものではありません）"
            )
        ),
    })
}

/// The whole chain's check as JSON, and the error to exit with when it
/// does not verify.
fn check_chain<S: Store>(bank: &Bank<S>, lang: Lang) -> Result<(Value, Option<anyhow::Error>)> {
    match bank.verify_audit() {
        Ok(head) => Ok((chain_verified(head), None)),
        Err(AuditCheckError::Chain(e)) => Ok((chain_broken(&e), Some(chain_error(&e, lang)))),
        Err(e) => anyhow::bail!("the audit trail could not be checked: {e}"),
    }
}

/// `otp bank audit --verify --json`: the chain object alone.
pub(crate) fn verify_chain<S: Store>(bank: &Bank<S>, lang: Lang) -> Result<()> {
    let (chain, error) = check_chain(bank, lang)?;
    print(&chain);
    error.map_or(Ok(()), Err)
}

/// `otp bank audit USER --json`: the records and the whole chain's check.
/// A chain that does not verify shows no record (`records` is `null`),
/// says where it breaks, and exits 1.
pub(crate) fn audit<S: Store>(
    bank: &Bank<S>,
    operator: &UserId,
    user: &UserId,
    since: Option<&str>,
    lang: Lang,
) -> Result<()> {
    let from = since
        .map(|t| parse_time(t, crate::time::system_now()))
        .transpose()?
        .unwrap_or(0);
    let head = json!({
        "user": user.as_str(),
        "operator": operator.as_str(),
        "since": from,
        "since_utc": rfc3339(from),
    });
    let (records, (chain, error)) = match bank.audit_trail(operator, user, from, u64::MAX) {
        Ok(records) => (
            Some(records.iter().map(record_value).collect::<Vec<_>>()),
            check_chain(bank, lang)?,
        ),
        Err(Refusal::Internal(InternalError::Audit(e))) => {
            (None, (chain_broken(&e), Some(chain_error(&e, lang))))
        }
        Err(r) => return Err(refused(&r, lang)),
    };
    let mut out = head;
    if let Some(map) = out.as_object_mut() {
        map.insert("count".into(), json!(records.as_ref().map(Vec::len)));
        map.insert("records".into(), json!(records));
        map.insert("chain".into(), chain);
    }
    print(&out);
    error.map_or(Ok(()), Err)
}

/// `otp bank verify USER CODE --json`: accepted (exit 0) or refused (exit
/// 2, or 1 when the system failed), one object either way.
pub(crate) fn verify<S: Store>(
    bank: &Bank<S>,
    user: &UserId,
    code: &str,
    lang: Lang,
) -> Result<()> {
    let at = bank.now();
    match bank.login(user, code) {
        Ok(done) => {
            print(&json!({
                "user": user.as_str(),
                "accepted": true,
                "at": at,
                "at_utc": rfc3339(at),
                "serial": done.serial().masked().to_string(),
                "position": done.position(),
                "reason": null,
                "message": null,
            }));
            Ok(())
        }
        Err(r) => {
            print(&json!({
                "user": user.as_str(),
                "accepted": false,
                "at": at,
                "at_utc": rfc3339(at),
                "serial": null,
                "position": null,
                "reason": r.reason_code(),
                "message": r.message(lang),
            }));
            Err(refused(&r, lang))
        }
    }
}

/// `otp bank sign`: the challenge of a transfer (no `response`), or the
/// verdict on the keypad token's response; one JSON object with `--json`.
pub(crate) fn sign<S: Store>(
    bank: &Bank<S>,
    user: &UserId,
    tx: &otp_exchange::Transaction,
    response: Option<&str>,
    as_json: bool,
    lang: Lang,
) -> Result<()> {
    let Some(response) = response else {
        let challenge = bank
            .transaction_challenge(user, tx)
            .map_err(|r| refused(&r, lang))?;
        if as_json {
            print(&json!({
                "user": user.as_str(),
                "amount": tx.amount(),
                "destination": tx.destination(),
                "challenge": challenge,
            }));
        } else {
            println!("{challenge}");
        }
        return Ok(());
    };
    let at = bank.now();
    let outcome = bank.sign_transaction(user, tx, response);
    if as_json {
        let (signed, r) = match &outcome {
            Ok(s) => (Some(s), None),
            Err(r) => (None, Some(r)),
        };
        print(&json!({
            "user": user.as_str(),
            "accepted": signed.is_some(),
            "at": at,
            "at_utc": rfc3339(at),
            "serial": signed.map(|s| s.serial().masked().to_string()),
            "counter": signed.and_then(otp_exchange::TransactionSigned::counter),
            "time_step": signed.and_then(otp_exchange::TransactionSigned::time_step),
            "reference": signed.map(otp_exchange::TransactionSigned::reference),
            "reason": r.map(Refusal::reason_code),
            "message": r.map(|r| r.message(lang)),
        }));
    }
    match outcome {
        Ok(signed) => {
            if !as_json {
                println!("{}", signed.reference());
                match lang {
                    Lang::Ja => eprintln!("取引を承認しました"),
                    _ => eprintln!("the transfer is signed"),
                }
            }
            Ok(())
        }
        Err(r) => Err(refused(&r, lang)),
    }
}

/// What `otp token press --json` prints.
#[derive(Debug)]
pub(crate) struct Press<'a> {
    /// The token's own serial (its label: printed on the device).
    pub(crate) serial: &'a str,
    /// `totp` or `hotp`.
    pub(crate) kind: &'static str,
    /// The digits shown.
    pub(crate) code: &'a str,
    /// The true time of the press.
    pub(crate) at: u64,
    /// TOTP: what the token's own clock read.
    pub(crate) token_time: Option<u64>,
    /// The time step (TOTP) or event counter (HOTP) of the code.
    pub(crate) counter: u64,
    /// The `bAtt` warning.
    pub(crate) battery_low: bool,
    /// TOTP: when the next code appears.
    pub(crate) next_code_at: Option<u64>,
    /// HOTP: the counter of the next press.
    pub(crate) next_counter: Option<u64>,
}

/// Prints `otp token press --json`'s object.
pub(crate) fn press(p: &Press<'_>) {
    print(&json!({
        "serial": p.serial,
        "kind": p.kind,
        "code": p.code,
        "display": crate::token::spaced(p.code),
        "digits": p.code.len(),
        "at": p.at,
        "at_utc": rfc3339(p.at),
        "token_time": p.token_time,
        "token_time_utc": p.token_time.map(rfc3339),
        "counter": p.counter,
        "battery_low": p.battery_low,
        "next_code_at": p.next_code_at,
        "next_code_at_utc": p.next_code_at.map(rfc3339),
        "next_counter": p.next_counter,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case() {
        assert_eq!(snake_case("NoCurrentToken"), "no_current_token");
        assert_eq!(snake_case("Login"), "login");
        assert_eq!(action(Action::CurrentCode), "current_code");
        assert_eq!(authority(Authority::General), "general");
    }

    #[test]
    fn times_are_rfc3339_utc_or_null() {
        assert_eq!(rfc3339(0), json!("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(1_601_517_600), json!("2020-10-01T02:00:00Z"));
        assert_eq!(rfc3339(u64::MAX), Value::Null);
    }
}
