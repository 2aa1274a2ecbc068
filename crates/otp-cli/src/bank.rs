//! `otp bank`: the bank side on the embedded SQLite store (`otp_store`),
//! or with `--postgres` on PostgreSQL (the key files then named by
//! `--key-file` and `--kek-file`, shared by every server):
//! users, the vendor's seed files, sign-in, and the manual's flows
//! (exchange, registration, unregistration, unlock, usage history), the
//! branch's procedures, with the manual's messages in English or Japanese.
//!
//! The bank's audit key and session key live in a key file beside the
//! database (`FILE.keys`, 64 random bytes, mode 0600), made with a new
//! database and read back on every later run: the audit chain verifies
//! only under the key it was written with.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use otp_exchange::{BranchAuthorization, Lang};
use otp_provision::{Inventory, PskcError};
use zeroize::Zeroizing;

use crate::factory::{KEY_ENV, psk_from, psk_from_terminal};
use crate::lang::{LangArg, resolve, tr};

mod api_key;
mod files;
mod history;
mod prompt;
mod screens;

pub(crate) use files::{BankStore, Location, POSTGRES_URL_ENV, PgArgs, default_db, open_location};
use files::{open, read_bounded, rekey};
use history::{audit, verify_chain};
use prompt::Prompter;
pub(crate) use screens::{USERS_PER_PAGE, refused};
use screens::{
    branch_register, enroll, exchange, init, new_token, operator, password_kind, say, user_id,
    users,
};

/// `otp bank` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BankArgs {
    /// The bank's SQLite file (default: $OTP_DB, else otp/bank.sqlite under your data directory); its keys are in FILE.keys and FILE.kek beside it. Only `init` creates it.
    #[arg(long, value_name = "FILE", global = true, env = "OTP_DB")]
    db: Option<PathBuf>,
    /// Language of prompts and messages (default: from the locale).
    #[arg(long, value_enum, global = true)]
    lang: Option<LangArg>,
    /// The bank in PostgreSQL (given before the subcommand:
    /// `otp bank --postgres --key-file K --kek-file X users`).
    #[command(flatten)]
    pg: PgArgs,
    #[command(subcommand)]
    command: BankCommand,
}

impl BankArgs {
    /// Where the bank is: PostgreSQL with `--postgres`, else the SQLite
    /// file (`--db`, `OTP_DB`, or the default).
    fn location(&self) -> Result<Location> {
        if let Some(pg) = self.pg.location()? {
            return Ok(pg);
        }
        Ok(Location::Sqlite(match &self.db {
            Some(p) => p.clone(),
            None => default_db()?,
        }))
    }
}

#[derive(Debug, clap::Subcommand)]
enum BankCommand {
    /// Create a new bank with its first users (`--admin ID:NAME`, `--user ID:NAME`, repeatable); asks each administrator's approval password. An existing bank is refused: the branch adds users (`branch-enroll`).
    Init {
        /// An administrator (管理者), such as W0001:しんきん太郎.
        #[arg(long = "admin", value_name = "ID[:NAME]")]
        admins: Vec<String>,
        /// A general user (一般者), such as W0002:しんきん太郎.
        #[arg(long = "user", value_name = "ID[:NAME]")]
        users: Vec<String>,
    },
    /// The branch adds users or administrators to an existing bank on a written request (audited as the branch's act); asks each new administrator's approval password.
    BranchEnroll {
        /// An administrator (管理者), such as W0009:しんきん次郎.
        #[arg(long = "admin", value_name = "ID[:NAME]")]
        admins: Vec<String>,
        /// A general user (一般者).
        #[arg(long = "user", value_name = "ID[:NAME]")]
        users: Vec<String>,
        #[command(flatten)]
        branch: Branch,
    },
    /// The branch sets USER's approval, per-transfer or login password on a written request: for a user who forgot it or is locked out; asked twice on a terminal.
    BranchPassword {
        /// The customer ID.
        user: String,
        /// Which password: the approval password (default), the per-transfer confirmation password, or the login password.
        #[arg(long, value_enum, default_value = "approval")]
        kind: KindArg,
        #[command(flatten)]
        branch: Branch,
    },
    /// Change your own approval, per-transfer or login password: asks the current one (a wrong one counts toward the lock, as anywhere), then the new one, twice on a terminal.
    Password {
        /// Your customer ID.
        user: String,
        /// Which password: the approval password (default), the per-transfer confirmation password, or the login password.
        #[arg(long, value_enum, default_value = "approval")]
        kind: KindArg,
    },
    /// Add every token of a vendor's PSKC seed file to the stock (all or nothing); a file that is not encrypted is refused unless `--allow-plain`.
    Import {
        /// The PSKC file.
        file: PathBuf,
        /// The pre-shared AES key of an encrypted file (32 hex digits), read
        /// from this file. Without it: the key in OTP_PSKC_KEY if set, else
        /// typed on the terminal when the file is encrypted.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// The largest seed file read, in MiB: a larger one is refused
        /// before it is read.
        #[arg(long, value_name = "MIB", default_value_t = 64, allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
        max_size_mib: usize,
        /// Import a seed file that is not encrypted (its secrets were
        /// readable by anyone who handled it): refused without this, and
        /// recorded as such in the audit trail.
        #[arg(long)]
        allow_plain: bool,
    },
    /// The selection screen: customer IDs, masked serials, authority.
    Users {
        /// Page (from 1), 20 users a page.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
        page: usize,
        #[command(flatten)]
        operator: Operator,
        /// Print one JSON object (the page, its paging, masked serials) instead of the screen.
        #[arg(long)]
        json: bool,
    },
    /// Sign-in check: verify a code from USER's token (exit 0 accepted, 2 refused).
    Verify {
        /// The customer ID.
        user: String,
        /// The code shown on the token (`123456`, or as displayed: `123 456`).
        #[arg(allow_negative_numbers = true)]
        code: String,
        /// Print one JSON object, accepted or refused (with the refusal's reason code).
        #[arg(long)]
        json: bool,
    },
    /// Sign a transfer on USER's keypad token (RFC 6287 OCRA): without `--response`, print the challenge to type on the token (first line); with it, verify the token's response (exit 0 accepted, 2 refused), counted toward USER's lock as a wrong code is and accepted once.
    Sign {
        /// The customer ID.
        user: String,
        /// The amount, in the account's smallest unit (yen).
        #[arg(long)]
        amount: u64,
        /// The destination account (1 to 34 letters, digits or `-`).
        #[arg(long)]
        destination: String,
        /// The digits the token showed for the challenge.
        #[arg(long)]
        response: Option<String>,
        /// Print one JSON object instead of the sentence.
        #[arg(long)]
        json: bool,
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
    /// Unregister USER's token (it is revoked at once); asks a code from that token and the approval password.
    Unregister {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// Unlock a general user's ID after too many wrong entries; asks the operator's approval password.
    Unlock {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// The branch unlocks USER's ID on a written request (the only way for an administrator's ID).
    BranchUnlock {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        branch: Branch,
    },
    /// The branch revokes USER's lost, broken or dead token on a written request.
    BranchRevoke {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        branch: Branch,
    },
    /// The branch registers a token for USER, who has none, on a written request (how an administrator gets their own): new serial, new code.
    BranchRegister {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        branch: Branch,
    },
    /// The JSON API's keys (`otp serve`'s /api/v1): create (printed once), list, revoke.
    #[command(subcommand)]
    ApiKey(api_key::ApiKeyCommand),
    /// Rotate the key that seals the token secrets: a new key in FILE.kek, every secret re-sealed in batches while servers keep running, then the old key removed from the file.
    Rekey,
    /// The usage history (利用履歴照会) of USER, and the check of the whole audit chain (exit 1 if it does not verify).
    Audit {
        /// The customer ID (not with --verify).
        #[arg(required_unless_present = "verify", conflicts_with = "verify")]
        user: Option<String>,
        /// Only check the whole chain and its stored head under the bank's audit key (exit 0 if it verifies, 1 saying where it does not); no records shown, no operator needed.
        #[arg(long)]
        verify: bool,
        /// Only records at or after this time (TIME as for `otp oath -N`).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[command(flatten)]
        operator: Operator,
        /// Print one JSON object (the records, masked serials, and whether the chain verifies) instead of the lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct Operator {
    /// The administrator performing the operation (default: $OTP_OPERATOR, the administrator signed in for this session; else the only administrator whose ID is not locked; else asked on a terminal).
    #[arg(long = "operator", value_name = "ID", env = "OTP_OPERATOR")]
    id: Option<String>,
}

/// Which password `branch-password` sets.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KindArg {
    /// 承認用パスワード.
    Approval,
    /// 都度振込送信確認用パスワード.
    PerTransfer,
    /// ログインパスワード: the web sign-in's password (any user).
    Login,
}

/// A branch officer's authority on a written request (お取引店舗への届出).
#[derive(Debug, clap::Args)]
struct Branch {
    /// The branch officer's staff ID.
    #[arg(long, value_name = "STAFF-ID")]
    officer: String,
    /// The written request's reference number.
    #[arg(long, value_name = "REFERENCE")]
    request: String,
}

impl Branch {
    /// The authorization, if both names are usable in the audit trail
    /// (`branch:OFFICER:REQUEST`): not empty, no control characters, no
    /// `:` in the officer's ID.
    fn authorization(&self) -> Result<BranchAuthorization> {
        let bad = |t: &str| t.trim().is_empty() || t.chars().any(char::is_control);
        if bad(&self.officer) || self.officer.contains(':') {
            bail!("--officer must be a staff ID: not empty, without `:` or control characters");
        }
        if bad(&self.request) {
            bail!(
                "--request must be the written request's reference: not empty, without control characters"
            );
        }
        Ok(BranchAuthorization::new(
            self.officer.trim(),
            self.request.trim(),
        ))
    }
}

#[allow(clippy::too_many_lines, reason = "one arm per subcommand")]
pub(crate) fn run(args: &BankArgs) -> Result<()> {
    let lang = resolve(args.lang);
    if matches!(args.command, BankCommand::Rekey) {
        return rekey(args, lang);
    }
    let bank = open(args)?;
    match &args.command {
        BankCommand::Rekey => Ok(()),
        BankCommand::ApiKey(command) => api_key::run(&bank, command, lang),
        BankCommand::Init { admins, users } => init(&bank, admins, users, lang),
        BankCommand::BranchPassword { user, kind, branch } => {
            let auth = branch.authorization()?;
            let id = user_id(user)?;
            let kind = password_kind(*kind);
            let prompt = match lang {
                Lang::Ja => format!("{} の新しいパスワード：", id.as_str()),
                Lang::En => format!("New password for {}: ", id.as_str()),
            };
            let password = Prompter::new().new_password(&prompt, lang)?;
            bank.set_password(&auth, &id, kind, &password)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                &format!("The password of {} was set.", id.as_str()),
                &format!("{} のパスワードを設定しました。", id.as_str()),
            );
            Ok(())
        }
        BankCommand::Password { user, kind } => {
            let id = user_id(user)?;
            let kind = password_kind(*kind);
            let mut prompter = Prompter::new();
            let current =
                prompter.password(tr(lang, "Current password: ", "現在のパスワード："))?;
            let new =
                prompter.new_password(tr(lang, "New password: ", "新しいパスワード："), lang)?;
            bank.change_password(&id, kind, &current, &new)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                &format!("The password of {} was changed.", id.as_str()),
                &format!("{} のパスワードを変更しました。", id.as_str()),
            );
            Ok(())
        }
        BankCommand::BranchEnroll {
            admins,
            users,
            branch,
        } => enroll(&bank, &branch.authorization()?, admins, users, lang),
        BankCommand::Import {
            file,
            key_file,
            max_size_mib,
            allow_plain,
        } => {
            let max = max_size_mib.saturating_mul(1024 * 1024);
            let limits = otp_provision::PskcLimits::new().with_max_bytes(max);
            let xml = Zeroizing::new(read_bounded(file, max)?);
            let not_imported =
                |e: PskcError| anyhow!("the seed file `{}` was not imported: {e}", file.display());
            // Read first without a key: a file that needs none is plain.
            let (inventory, plain) = match Inventory::from_pskc_with_limits(&xml, None, &limits) {
                Ok(inventory) => (inventory, true),
                Err(PskcError::KeyRequired) => {
                    let psk = match psk_from(key_file.as_deref())? {
                        Some(psk) => Some(psk),
                        None => {
                            psk_from_terminal("Pre-shared key of the seed file (32 hex digits): ")?
                        }
                    };
                    let Some(psk) = psk else {
                        bail!(
                            "the seed file `{}` was not imported: {} (--key-file FILE, or {KEY_ENV} in the environment, or type it on a terminal)",
                            file.display(),
                            PskcError::KeyRequired
                        );
                    };
                    let read = Inventory::from_pskc_with_limits(&xml, Some(&psk), &limits)
                        .map_err(not_imported)?;
                    (read, false)
                }
                Err(e) => return Err(not_imported(e)),
            };
            if plain && !allow_plain {
                bail!(
                    "the seed file `{}` was not imported: it is not encrypted, so its secrets were readable by anyone who handled it on the way; ask the vendor for a file encrypted under a pre-shared key, or import it anyway with --allow-plain (recorded in the audit trail)",
                    file.display()
                );
            }
            let operator = if plain {
                "otp bank import --allow-plain"
            } else {
                "otp bank import"
            };
            let count = bank
                .import_inventory(operator, &inventory)
                .map_err(|e| anyhow!("the seed file was not imported: {e}"))?;
            if plain {
                eprintln!(
                    "otp: warning: the seed file `{}` is not encrypted: treat every secret in it as exposed to whoever handled the file",
                    file.display()
                );
            }
            say(
                lang,
                &format!("Imported {count} tokens into the stock."),
                &format!("{count} 件のトークンを在庫に登録しました。"),
            );
            Ok(())
        }
        BankCommand::Users {
            page,
            operator: op,
            json,
        } => {
            let op = operator(&bank, op)?;
            if *json {
                crate::json::users(&bank, &op, *page, lang)
            } else {
                users(&bank, &op, *page, lang)
            }
        }
        BankCommand::Verify { user, code, json } => {
            let user = user_id(user)?;
            if *json {
                return crate::json::verify(&bank, &user, code, lang);
            }
            bank.login(&user, code).map_err(|r| refused(&r, lang))?;
            say(lang, "accepted", "認証しました");
            Ok(())
        }
        BankCommand::Sign {
            user,
            amount,
            destination,
            response,
            json,
        } => {
            let user = user_id(user)?;
            let tx = otp_exchange::Transaction::new(*amount, destination)
                .map_err(|e| refused(&otp_exchange::Refusal::Transaction(e), lang))?;
            crate::json::sign(&bank, &user, &tx, response.as_deref(), *json, lang)
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
            let code = prompter.current_code(lang)?;
            let password = prompter.approval_password(lang)?;
            bank.unregister(&op, &target, &code, &password)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The token has been unregistered; it is no longer valid.",
                "トークンの登録を解除しました。このトークンは使用できません。",
            );
            Ok(())
        }
        BankCommand::Unlock { user, operator: op } => {
            let op = operator(&bank, op)?;
            let target = user_id(user)?;
            let password = Prompter::new().approval_password(lang)?;
            bank.unlock(&op, &target, &password)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The ID has been unlocked.",
                "IDロックを解除しました。",
            );
            Ok(())
        }
        BankCommand::BranchUnlock { user, branch } => {
            let auth = branch.authorization()?;
            bank.branch_unlock(&auth, &user_id(user)?)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The ID has been unlocked at the branch.",
                "お取引店舗へのお届けによりIDロックを解除しました。",
            );
            Ok(())
        }
        BankCommand::BranchRevoke { user, branch } => {
            let auth = branch.authorization()?;
            bank.branch_revoke(&auth, &user_id(user)?)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The token has been revoked at the branch; it is no longer valid. Register a new one.",
                "お取引店舗へのお届けによりトークンを無効にしました。新しいトークンを登録してください。",
            );
            Ok(())
        }
        BankCommand::BranchRegister { user, branch } => {
            let auth = branch.authorization()?;
            branch_register(&bank, &auth, &user_id(user)?, lang)
        }
        BankCommand::Audit {
            verify: true,
            json: true,
            ..
        } => crate::json::verify_chain(&bank, lang),
        BankCommand::Audit { verify: true, .. } => verify_chain(&bank, lang),
        BankCommand::Audit {
            user,
            since,
            operator: op,
            json,
            ..
        } => {
            let user = user.as_deref().ok_or_else(|| {
                anyhow!("give the customer ID whose history to show, or --verify")
            })?;
            let (op, user) = (operator(&bank, op)?, user_id(user)?);
            if *json {
                crate::json::audit(&bank, &op, &user, since.as_deref(), lang)
            } else {
                audit(&bank, &op, &user, since.as_deref(), lang)
            }
        }
    }
}
