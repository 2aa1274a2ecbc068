//! `otp bank`: the bank side on the embedded SQLite store (`otp_store`):
//! users, the vendor's seed files, sign-in, and the seed's flows
//! (exchange, registration, unregistration, unlock, usage history), with
//! the seed's messages in English or Japanese.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_exchange::{
    Authority, Bank, HashCost, Lang, Password, PasswordHash, Refusal, Store, UserId, UserRecord,
};
use otp_store::SqliteStore;
use otp_token::{Inventory, SystemClock};
use zeroize::Zeroizing;

use crate::Exit;
use crate::factory::psk_from;
use crate::lang::{LangArg, pad, resolve, tr};
use crate::time::{parse_time, system_now, utc};

/// `otp bank` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BankArgs {
    /// The bank's SQLite file (default: otp/bank.sqlite under your data directory).
    #[arg(long, value_name = "FILE", global = true)]
    db: Option<PathBuf>,
    /// Language of prompts and messages (default: from the locale).
    #[arg(long, value_enum, global = true)]
    lang: Option<LangArg>,
    #[command(subcommand)]
    command: BankCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BankCommand {
    /// Create or update users (`--admin ID:NAME`, `--user ID:NAME`, repeatable); asks each new administrator's approval password.
    Init {
        /// An administrator (管理者), such as W0001:しんきん太郎.
        #[arg(long = "admin", value_name = "ID[:NAME]")]
        admins: Vec<String>,
        /// A general user (一般者), such as W0002:しんきん太郎.
        #[arg(long = "user", value_name = "ID[:NAME]")]
        users: Vec<String>,
    },
    /// Add every token of a vendor's PSKC seed file to the stock (all or nothing).
    Import {
        /// The PSKC file.
        file: PathBuf,
        /// The pre-shared AES key of an encrypted file, 32 hex digits.
        #[arg(long, value_name = "HEX", conflicts_with = "key_file")]
        key: Option<String>,
        /// The same, read from a file.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// The selection screen: customer IDs, masked serials, authority.
    Users {
        /// Page (from 1), 20 users a page.
        #[arg(long, default_value_t = 1)]
        page: usize,
        #[command(flatten)]
        operator: Operator,
    },
    /// Sign-in check: verify a code from USER's token (exit 0 accepted, 2 refused).
    Verify {
        /// The customer ID.
        user: String,
        /// The code shown on the token.
        code: String,
    },
    /// Exchange USER's token, prompting in the manual's order: current code, new serial, new code, approval password.
    Exchange {
        /// The customer ID whose token is exchanged.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// Register a first token for USER: new serial, new code, approval password.
    Register {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// Unregister USER's token (it is revoked at once); asks the approval password.
    Unregister {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// Unlock USER's ID after too many wrong entries.
    Unlock {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// The usage history (利用履歴照会) of USER.
    Audit {
        /// The customer ID.
        user: String,
        /// Only records at or after this time (TIME as for `otp oath -N`).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[command(flatten)]
        operator: Operator,
    },
}

#[derive(Debug, clap::Args)]
struct Operator {
    /// The administrator performing the operation (default: the only administrator).
    #[arg(long = "operator", value_name = "ID")]
    id: Option<String>,
}

/// Lines typed by a person (or piped by a script): passwords without echo
/// on a terminal.
struct Prompter {
    tty: bool,
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl Prompter {
    fn new() -> Self {
        Self {
            tty: std::io::stdin().is_terminal(),
            lines: std::io::stdin().lock().lines(),
        }
    }

    fn ask(&mut self, prompt: &str) -> Result<String> {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        match self.lines.next() {
            Some(line) => {
                let line = line.context("cannot read the answer")?;
                if !self.tty {
                    eprintln!();
                }
                Ok(line.trim_end_matches(['\r', '\n']).to_owned())
            }
            None => bail!("no more input: the operation was abandoned, nothing was changed"),
        }
    }

    fn password(&mut self, prompt: &str) -> Result<Password> {
        if self.tty {
            let typed = Zeroizing::new(
                rpassword::prompt_password(prompt).context("cannot read the password")?,
            );
            Ok(Password::new(&typed))
        } else {
            let typed = Zeroizing::new(self.ask(prompt)?);
            Ok(Password::new(&typed))
        }
    }
}

fn default_db() -> Result<PathBuf> {
    let base = dirs::data_dir()
        .ok_or_else(|| anyhow!("no data directory is known for this user: give --db FILE"))?;
    Ok(base.join("otp").join("bank.sqlite"))
}

fn open(args: &BankArgs) -> Result<Bank<SqliteStore>> {
    let path = match &args.db {
        Some(p) => p.clone(),
        None => default_db()?,
    };
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        eprintln!("otp: creating the bank database {}", path.display());
    }
    let store = SqliteStore::open(&path)
        .map_err(|e| anyhow!("cannot open the bank database `{}`: {e}", path.display()))?;
    Ok(Bank::new(store, Arc::new(SystemClock))?)
}

fn user_id(text: &str) -> Result<UserId> {
    UserId::parse(text).map_err(|e| anyhow!("customer ID `{text}`: {e}"))
}

/// A refusal as an error: its sentence in the chosen language, exit 2.
fn refused(r: &Refusal, lang: Lang) -> anyhow::Error {
    match r {
        Refusal::Internal(e) => anyhow!("{} ({e})", r.message(lang)),
        _ => anyhow::Error::new(Exit {
            code: 2,
            message: r.message(lang),
        }),
    }
}

fn operator<S: Store>(bank: &Bank<S>, op: &Operator) -> Result<UserId> {
    if let Some(id) = &op.id {
        return user_id(id);
    }
    let page = bank.store().users(0, 10_000)?;
    let admins: Vec<_> = page
        .users
        .into_iter()
        .filter(|u| u.authority == Authority::Administrator)
        .collect();
    match admins.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => bail!("the bank has no administrator: create one with `otp bank init --admin ID`"),
        _ => bail!("the bank has several administrators: say which with --operator ID"),
    }
}

pub(crate) fn run(args: &BankArgs) -> Result<()> {
    let lang = resolve(args.lang);
    let bank = open(args)?;
    match &args.command {
        BankCommand::Init { admins, users } => init(&bank, admins, users, lang),
        BankCommand::Import {
            file,
            key,
            key_file,
        } => {
            let psk = psk_from(key.as_deref(), key_file.as_deref())?;
            let xml = Zeroizing::new(
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read the seed file `{}`", file.display()))?,
            );
            let inventory = Inventory::from_pskc(&xml, psk.as_ref())
                .map_err(|e| anyhow!("the seed file `{}` was not imported: {e}", file.display()))?;
            let count = bank
                .import_inventory("otp bank import", &inventory)
                .map_err(|e| anyhow!("the seed file was not imported: {e}"))?;
            println!(
                "{}",
                tr(
                    lang,
                    &format!("Imported {count} tokens into the stock."),
                    &format!("{count} 件のトークンを在庫に登録しました。")
                )
            );
            Ok(())
        }
        BankCommand::Users { page, operator: op } => {
            users(&bank, &operator(&bank, op)?, *page, lang)
        }
        BankCommand::Verify { user, code } => {
            let user = user_id(user)?;
            bank.login(&user, code).map_err(|r| refused(&r, lang))?;
            println!("{}", tr(lang, "accepted", "認証しました"));
            Ok(())
        }
        BankCommand::Exchange { user, operator: op } => {
            exchange(&bank, &operator(&bank, op)?, &user_id(user)?, lang)
        }
        BankCommand::Register { user, operator: op } => {
            let op = operator(&bank, op)?;
            let target = user_id(user)?;
            let step5 = bank
                .begin_registration(&op, &target)
                .map_err(|r| refused(&r, lang))?;
            let mut prompter = Prompter::new();
            new_token(&bank, step5, &mut prompter, lang)
        }
        BankCommand::Unregister { user, operator: op } => {
            let op = operator(&bank, op)?;
            let target = user_id(user)?;
            let mut prompter = Prompter::new();
            let password =
                prompter.password(tr(lang, "Approval password: ", "承認用パスワード："))?;
            bank.unregister(&op, &target, &password)
                .map_err(|r| refused(&r, lang))?;
            println!(
                "{}",
                tr(
                    lang,
                    "The token has been unregistered; it is no longer valid.",
                    "トークンの登録を解除しました。このトークンは使用できません。"
                )
            );
            Ok(())
        }
        BankCommand::Unlock { user, operator: op } => {
            bank.unlock(&operator(&bank, op)?, &user_id(user)?)
                .map_err(|r| refused(&r, lang))?;
            println!(
                "{}",
                tr(
                    lang,
                    "The ID has been unlocked.",
                    "IDロックを解除しました。"
                )
            );
            Ok(())
        }
        BankCommand::Audit {
            user,
            since,
            operator: op,
        } => {
            let from = since
                .as_deref()
                .map(|t| parse_time(t, system_now()))
                .transpose()?
                .unwrap_or(0);
            let records = bank
                .audit_trail(&operator(&bank, op)?, &user_id(user)?, from, u64::MAX)
                .map_err(|r| refused(&r, lang))?;
            for r in &records {
                let e = &r.entry;
                let serials = match (&e.old_serial, &e.new_serial) {
                    (Some(o), Some(n)) => format!(" {o} -> {n}"),
                    (Some(o), None) => format!(" {o}"),
                    (None, Some(n)) => format!(" -> {n}"),
                    (None, None) => String::new(),
                };
                let result = match e.result {
                    otp_exchange::AuditResult::Ok => "ok".to_owned(),
                    otp_exchange::AuditResult::Refused => {
                        format!("refused ({})", e.reason.as_deref().unwrap_or("-"))
                    }
                };
                println!(
                    "{:>5}  {}  {:<10} {:?}{serials}  {result}",
                    r.seq,
                    utc(e.at),
                    e.operator,
                    e.action
                );
            }
            println!(
                "{}",
                tr(
                    lang,
                    &format!("{} records.", records.len()),
                    &format!("{} 件", records.len())
                )
            );
            Ok(())
        }
    }
}

fn split_user(spec: &str) -> Result<(UserId, String)> {
    let (id, name) = spec.split_once(':').unwrap_or((spec, ""));
    Ok((user_id(id)?, name.to_owned()))
}

fn init<S: Store>(bank: &Bank<S>, admins: &[String], users: &[String], lang: Lang) -> Result<()> {
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
        let existing = bank.store().user(&id)?;
        let mut record = existing
            .clone()
            .unwrap_or_else(|| UserRecord::new(id.clone(), &name, authority));
        record.authority = authority;
        if !name.is_empty() {
            record.name = name;
        }
        if authority == Authority::Administrator && record.approval_password.is_none() {
            let prompt = match lang {
                Lang::Ja => format!("{} の承認用パスワード：", id.as_str()),
                Lang::En => format!("Approval password for {}: ", id.as_str()),
            };
            let password = prompter.password(&prompt)?;
            if password.expose_secret().len() < 8 {
                bail!("the approval password must have at least 8 characters");
            }
            record.approval_password =
                Some(PasswordHash::create(&password, HashCost::RECOMMENDED)?);
        }
        bank.store().put_user(&record)?;
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

fn users<S: Store>(bank: &Bank<S>, op: &UserId, page: usize, lang: Lang) -> Result<()> {
    let list = bank
        .user_list(op, page.saturating_sub(1), 20)
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

fn exchange<S: Store>(bank: &Bank<S>, op: &UserId, target: &UserId, lang: Lang) -> Result<()> {
    let mut step4 = bank
        .begin_exchange(op, target)
        .map_err(|r| refused(&r, lang))?;
    let mut prompter = Prompter::new();
    let step5 = loop {
        let code = prompter.ask(tr(
            lang,
            "One-time password of the token in use now (press \"1\"): ",
            "現在ご利用中のトークンのワンタイムパスワード（「1」ボタンを押して表示）：",
        ))?;
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

fn new_token<S: Store>(
    bank: &Bank<S>,
    mut step5: otp_exchange::ExpectNewToken,
    prompter: &mut Prompter,
    lang: Lang,
) -> Result<()> {
    loop {
        let serial = prompter.ask(tr(
            lang,
            "New token serial (12 half-width alphanumerics): ",
            "新しいトークンのシリアル番号（半角英数字12桁）：",
        ))?;
        let code = prompter.ask(tr(
            lang,
            "One-time password of the new token: ",
            "新しいトークンのワンタイムパスワード：",
        ))?;
        let password = prompter.password(tr(lang, "Approval password: ", "承認用パスワード："))?;
        match step5.confirm(bank, &serial, &code, &password) {
            Ok(done) => {
                println!(
                    "{}",
                    tr(
                        lang,
                        "The usage mode and token have been registered. The registered token is valid from now.",
                        "利用形態・トークンを登録しました。登録したトークンは今から有効となります。"
                    )
                );
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
