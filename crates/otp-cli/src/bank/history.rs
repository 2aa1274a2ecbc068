//! The usage history (利用履歴照会): its lines in English and Japanese, and
//! the check of the whole audit chain.

use anyhow::{Result, bail};
use otp_exchange::{AuditCheckError, AuditRecord, AuditResult, Bank, Lang, Refusal, Store, UserId};

use crate::lang::tr;
use crate::time::{jst_stamp, parse_time, system_now, utc};

use super::{refused, say};

pub(super) fn audit<S: Store>(
    bank: &Bank<S>,
    op: &UserId,
    user: &UserId,
    since: Option<&str>,
    lang: Lang,
) -> Result<()> {
    let from = since
        .map(|t| parse_time(t, system_now()))
        .transpose()?
        .unwrap_or(0);
    let records = bank
        .audit_trail(op, user, from, u64::MAX)
        .map_err(|r| refused(&r, lang))?;
    for r in &records {
        println!("{}", audit_line(r, lang));
    }
    say(
        lang,
        &format!("{} records.", records.len()),
        &format!("{} 件", records.len()),
    );
    // The whole chain, not only this user's records: an edit, removal or
    // reordering anywhere, or a key that is not this bank's, shows here.
    verify_chain(bank, lang)
}

/// One record of the usage history: number, time, operator, action,
/// masked serials, result. In English the time in UTC (RFC 3339), the
/// action's stable name and the reason code; in Japanese the time in JST
/// as the bank's screens print it, and the bank's words.
pub(super) fn audit_line(r: &AuditRecord, lang: Lang) -> String {
    let e = &r.entry;
    let serials = match (&e.old_serial, &e.new_serial) {
        (Some(o), Some(n)) => format!(" {o} -> {n}"),
        (Some(o), None) => format!(" {o}"),
        (None, Some(n)) => format!(" -> {n}"),
        (None, None) => String::new(),
    };
    let reason = e.reason.as_deref().unwrap_or("-");
    let reason = Refusal::reason_label(reason, lang).unwrap_or(reason);
    let (time, result) = match (lang, e.result) {
        (Lang::En, AuditResult::Ok) => (utc(e.at), "ok".to_owned()),
        (Lang::En, AuditResult::Refused) => (utc(e.at), format!("refused ({reason})")),
        (Lang::Ja, AuditResult::Ok) => (jst_stamp(e.at), "正常".to_owned()),
        (Lang::Ja, AuditResult::Refused) => (jst_stamp(e.at), format!("拒否（{reason}）")),
    };
    format!(
        "{:>5}  {time}  {:<10} {}{serials}  {result}",
        r.seq,
        e.operator,
        e.action.label(lang)
    )
}

/// Checks the whole audit chain and its stored head: exit 0 and the count,
/// or an error saying which record breaks it.
pub(super) fn verify_chain<S: Store>(bank: &Bank<S>, lang: Lang) -> Result<()> {
    match bank.verify_audit() {
        Ok(head) => {
            say(
                lang,
                &format!("The audit chain verifies ({head} records in all)."),
                &format!("利用履歴の改ざん検知チェーンを検証しました（全 {head} 件）。"),
            );
            Ok(())
        }
        Err(AuditCheckError::Chain(e)) => bail!(
            "{}: {e}",
            tr(
                lang,
                "the audit trail does not verify (tampered with, or the key file is not this bank's)",
                "利用履歴の検証に失敗しました（改ざん、または鍵ファイルがこの銀行のものではありません）"
            )
        ),
        Err(e) => bail!("the audit trail could not be checked: {e}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use otp_exchange::{Action, AuditEntry, AuditKey, Lang, UserId};
    use otp_provision::SerialNumber;

    use super::audit_line;

    /// Regression: under `--lang ja` the usage history kept English
    /// action names, reason codes and UTC times.
    #[test]
    fn usage_history_lines_in_english_and_in_japanese() {
        let key = AuditKey::new([7; 32]);
        let user = UserId::parse("W0002").unwrap();
        let old = SerialNumber::parse("VT0000000001").unwrap();
        let new = SerialNumber::parse("VT0000000002").unwrap();
        // 2020-10-01 02:00:05 UTC, 11:00:05 JST.
        let exchanged = AuditEntry::new(1_601_517_605, "W0001", Some(&user), Action::Exchange)
            .with_old(Some(&old))
            .with_new(Some(&new))
            .seal(12, [0; 32], &key);
        let refused = AuditEntry::new(1_601_517_575, "W0001", Some(&user), Action::NewToken)
            .with_new(Some(&new))
            .refused("wrong_password")
            .seal(11, [0; 32], &key);
        let unlocked = AuditEntry::new(1_601_517_700, "W0001", Some(&user), Action::Unlock)
            .refused("from_a_later_version")
            .seal(13, [0; 32], &key);
        assert_eq!(
            audit_line(&exchanged, Lang::En),
            "   12  2020-10-01T02:00:05Z  W0001      Exchange ●●●●●●●●0001 -> ●●●●●●●●0002  ok"
        );
        assert_eq!(
            audit_line(&exchanged, Lang::Ja),
            "   12  2020/10/01 11:00:05 JST  W0001      トークン交換 ●●●●●●●●0001 -> ●●●●●●●●0002  正常"
        );
        assert_eq!(
            audit_line(&refused, Lang::En),
            "   11  2020-10-01T01:59:35Z  W0001      NewToken -> ●●●●●●●●0002  refused (wrong_password)"
        );
        assert_eq!(
            audit_line(&refused, Lang::Ja),
            "   11  2020/10/01 10:59:35 JST  W0001      新しいトークン確定 -> ●●●●●●●●0002  拒否（承認用パスワード誤り）"
        );
        assert_eq!(
            audit_line(&unlocked, Lang::Ja),
            "   13  2020/10/01 11:01:40 JST  W0001      IDロック解除  拒否（from_a_later_version）"
        );
    }
}
