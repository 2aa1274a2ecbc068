//! The screens and procedures: who operates, the selection list, the
//! exchange and registration prompts in the manual's order, enrolment,
//! and how refusals are shown.

use std::io::IsTerminal as _;

use anyhow::{Result, anyhow, bail};
use otp_exchange::{
    Authority, Bank, BranchAuthorization, Lang, PasswordKind, Refusal, Store, UserId,
};

use crate::Exit;
use crate::lang::{pad, tr};

use super::{KindArg, Operator, Prompter};

/// Who operates: `--operator` or `OTP_OPERATOR` if given; else the only
/// administrator whose ID is not locked (a locked one cannot operate);
/// else, on a terminal, asked among them; else a usage error naming them.
pub(super) fn operator<S: Store>(bank: &Bank<S>, op: &Operator) -> Result<UserId> {
    if let Some(id) = &op.id {
        return user_id(id);
    }
    let mut admins = Vec::new();
    let mut offset = 0;
    loop {
        let page = bank.records().users(offset, 1_000)?;
        let read = page.users.len();
        admins.extend(
            page.users
                .into_iter()
                .filter(|u| u.authority == Authority::Administrator && !u.lock.locked)
                .map(|u| u.id),
        );
        offset += read;
        if read == 0 || offset >= page.total {
            break;
        }
    }
    match admins.as_slice() {
        [one] => return Ok(one.clone()),
        [] => bail!(
            "the bank has no administrator who can operate (none, or every one locked): the branch enrolls or unlocks one (`otp bank branch-enroll`, `otp bank branch-unlock`)"
        ),
        _ => {}
    }
    let names = admins
        .iter()
        .map(UserId::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let typed = Prompter::new().ask(&format!("Operator (administrator ID: {names}): "))?;
        let typed = typed.trim();
        if let Some(id) = admins.iter().find(|id| id.as_str() == typed) {
            return Ok(id.clone());
        }
        return Err(Exit {
            code: 2,
            message: format!(
                "`{typed}` is not one of the administrators who can operate ({names})"
            ),
        }
        .into());
    }
    Err(Exit {
        code: 2,
        message: format!(
            "the bank has several administrators ({names}): say which operates with --operator ID, or sign in for the session with OTP_OPERATOR=ID"
        ),
    }
    .into())
}

pub(super) fn split_user(spec: &str) -> Result<(UserId, String)> {
    let (id, name) = spec.split_once(':').unwrap_or((spec, ""));
    Ok((user_id(id)?, name.to_owned()))
}

/// `init`: a new bank only. Adding an administrator to a bank that has
/// users is the branch's act (`branch-enroll`), never a command anyone
/// with the files can run unaudited.
pub(super) fn init<S: Store>(
    bank: &Bank<S>,
    admins: &[String],
    users: &[String],
    lang: Lang,
) -> Result<()> {
    let existing = bank.records().users(0, 1)?.total;
    if existing > 0 {
        bail!(
            "this bank exists already ({existing} users): `otp bank init` only creates a new bank; \
             the branch adds users with `otp bank branch-enroll --user ID:NAME --officer STAFF-ID --request REFERENCE`"
        );
    }
    let installer = BranchAuthorization::new("installer", "otp bank init");
    enroll(bank, &installer, admins, users, lang)
}

/// Creates (or renames) users as `auth`'s act, asking each new
/// administrator's approval password before anything is written for them.
pub(super) fn enroll<S: Store>(
    bank: &Bank<S>,
    auth: &BranchAuthorization,
    admins: &[String],
    users: &[String],
    lang: Lang,
) -> Result<()> {
    if admins.is_empty() && users.is_empty() {
        bail!("give at least one --admin ID[:NAME] or --user ID[:NAME]");
    }
    let mut prompter = Prompter::new();
    for (spec, authority) in admins
        .iter()
        .map(|s| (s, Authority::Administrator))
        .chain(users.iter().map(|s| (s, Authority::General)))
    {
        let (id, name) = split_user(spec)?;
        let existing = bank.records().user(&id)?;
        let name = match (&existing, name.is_empty()) {
            (Some(user), true) => user.name.clone(),
            _ => name,
        };
        // A new administrator (or a user made one) gets an approval
        // password, asked before anything is written.
        let new_admin = authority == Authority::Administrator
            && existing
                .as_ref()
                .is_none_or(|u| u.authority != Authority::Administrator);
        let password = if new_admin {
            let prompt = match lang {
                Lang::Ja => format!("{} の承認用パスワード：", id.as_str()),
                Lang::En => format!("Approval password for {}: ", id.as_str()),
            };
            Some(prompter.new_password(&prompt, lang)?)
        } else {
            None
        };
        bank.enroll_user(auth, &id, &name, authority)
            .map_err(|r| refused(&r, lang))?;
        if let Some(password) = &password {
            bank.set_password(auth, &id, PasswordKind::Approval, password)
                .map_err(|r| refused(&r, lang))?;
        }
        println!(
            "{} {} ({})",
            if existing.is_some() {
                tr(lang, "Updated", "更新")
            } else {
                tr(lang, "Created", "作成")
            },
            id.as_str(),
            authority.label(lang)
        );
    }
    Ok(())
}

/// Users on a page of the selection screen.
pub(crate) const USERS_PER_PAGE: usize = 20;

pub(super) fn users<S: Store>(bank: &Bank<S>, op: &UserId, page: usize, lang: Lang) -> Result<()> {
    let list = bank
        .user_list(op, page.saturating_sub(1), USERS_PER_PAGE)
        .map_err(|r| refused(&r, lang))?;
    println!(
        "{}{}{}{}{}",
        pad(tr(lang, "Customer ID", "お客様ID"), 13),
        pad(tr(lang, "Token serial", "シリアル番号"), 15),
        pad(tr(lang, "Status", "登録状況"), 12),
        pad(tr(lang, "Authority", "権限"), 15),
        tr(lang, "User name", "利用者名")
    );
    for row in &list.rows {
        let serial = row.serial.map_or_else(|| "-".to_owned(), |m| m.to_string());
        let status = match (row.locked, row.registered) {
            (true, _) => tr(lang, "locked", "ロック中"),
            (false, true) => tr(lang, "registered", "登録完了"),
            (false, false) => "-",
        };
        println!(
            "{}{}{}{}{}",
            pad(row.id.as_str(), 13),
            pad(&serial, 15),
            pad(status, 12),
            pad(row.authority.label(lang), 15),
            row.name
        );
    }
    match lang {
        Lang::Ja => println!("全{}件中 {}～{}件を表示", list.total, list.first, list.last),
        Lang::En => println!("{} to {} of {}", list.first, list.last, list.total),
    }
    Ok(())
}

pub(super) fn exchange<S: Store>(
    bank: &Bank<S>,
    op: &UserId,
    target: &UserId,
    lang: Lang,
) -> Result<()> {
    let mut step4 = bank
        .begin_exchange(op, target)
        .map_err(|r| refused(&r, lang))?;
    let mut prompter = Prompter::new();
    let step5 = loop {
        let code = prompter.current_code(lang)?;
        match step4.submit_code(bank, &code) {
            Ok(next) => break next,
            Err(retry) => {
                eprintln!("{}", retry.refusal.message(lang));
                step4 = retry.resume.ok_or_else(|| refused(&retry.refusal, lang))?;
            }
        }
    };
    new_token(bank, step5, &mut prompter, lang)
}

pub(super) fn registered(lang: Lang) {
    say(
        lang,
        "The usage mode and token have been registered. The registered token is valid from now.",
        "利用形態・トークンを登録しました。登録したトークンは今から有効となります。",
    );
}

pub(super) fn new_token<S: Store>(
    bank: &Bank<S>,
    mut step5: otp_exchange::ExpectNewToken,
    prompter: &mut Prompter,
    lang: Lang,
) -> Result<()> {
    loop {
        let serial = prompter.new_serial(lang)?;
        let code = prompter.new_code(lang)?;
        let password = prompter.approval_password(lang)?;
        match step5.confirm(bank, &serial, &code, &password) {
            Ok(done) => {
                registered(lang);
                println!("{} {}", done.user.as_str(), done.new_serial.masked());
                return Ok(());
            }
            Err(retry) => {
                eprintln!("{}", retry.refusal.message(lang));
                step5 = retry.resume.ok_or_else(|| refused(&retry.refusal, lang))?;
            }
        }
    }
}

/// The branch registers a token for a user with none: the new serial and a
/// code from it, asked again after a refusal the user can correct.
pub(super) fn branch_register<S: Store>(
    bank: &Bank<S>,
    auth: &BranchAuthorization,
    target: &UserId,
    lang: Lang,
) -> Result<()> {
    let mut prompter = Prompter::new();
    loop {
        let serial = prompter.new_serial(lang)?;
        let code = prompter.new_code(lang)?;
        match bank.branch_register(auth, target, &serial, &code) {
            Ok(serial) => {
                registered(lang);
                println!("{} {}", target.as_str(), serial.masked());
                return Ok(());
            }
            Err(
                r @ (Refusal::Code(..)
                | Refusal::WrongCode(_)
                | Refusal::Replayed(_)
                | Refusal::Serial(_)
                | Refusal::UnknownSerial
                | Refusal::SerialAssigned
                | Refusal::SerialRevoked),
            ) => eprintln!("{}", r.message(lang)),
            Err(r) => return Err(refused(&r, lang)),
        }
    }
}

pub(super) const fn password_kind(kind: KindArg) -> PasswordKind {
    match kind {
        KindArg::Approval => PasswordKind::Approval,
        KindArg::PerTransfer => PasswordKind::PerTransfer,
        KindArg::Login => PasswordKind::Login,
    }
}

pub(super) fn user_id(text: &str) -> Result<UserId> {
    UserId::parse(text).map_err(|e| anyhow!("customer ID `{text}`: {e}"))
}

/// A refusal as an error: its sentence in the chosen language, exit 2.
pub(crate) fn refused(r: &Refusal, lang: Lang) -> anyhow::Error {
    match r {
        Refusal::Internal(e) => anyhow!("{} ({e})", r.message(lang)),
        _ => anyhow::Error::new(Exit {
            code: 2,
            message: r.message(lang),
        }),
    }
}

pub(super) fn say(lang: Lang, en: &str, ja: &str) {
    println!("{}", tr(lang, en, ja));
}
