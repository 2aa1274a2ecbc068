//! `otp bank api-key`: the JSON API's keys. `create` prints the key once,
//! alone on standard output (everything else goes to standard error), so
//! `otp bank api-key create ... > key.txt` keeps nothing but the key;
//! `list` shows every key without its secret; `revoke` ends one.

use anyhow::{Result, anyhow, bail};
use otp_exchange::{ApiKeyRevocation, ApiScope, Bank, Lang, Store};
use serde_json::json;

use crate::json::rfc3339;
use crate::lang::tr;

/// `--scope`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ScopeArg {
    /// Validate login codes only (`POST /api/v1/validate`).
    Validate,
    /// Validate, and the admin operations (each also needs an
    /// administrator's own sign-in and approval password).
    Admin,
}

impl ScopeArg {
    const fn scope(self) -> ApiScope {
        match self {
            Self::Validate => ApiScope::Validate,
            Self::Admin => ApiScope::Admin,
        }
    }
}

/// `otp bank api-key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Create an API key and print it once on standard output (it cannot be shown again: only its SHA-256 is stored).
    Create {
        /// What the key may do.
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// A label: which system holds the key (1 to 64 characters).
        #[arg(long, value_name = "LABEL")]
        name: String,
        /// Who creates it, for the audit trail (a staff ID).
        #[arg(long, value_name = "STAFF-ID", default_value = "otp bank api-key")]
        by: String,
    },
    /// List every API key: id, name, scope, created, last use, revoked. Never a secret.
    List {
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the API key ID (servers refuse it within 5 seconds).
    Revoke {
        /// The key's id (16 hex digits, as `list` shows it).
        id: String,
        /// Who revokes it, for the audit trail (a staff ID).
        #[arg(long, value_name = "STAFF-ID", default_value = "otp bank api-key")]
        by: String,
    },
}

fn staff(by: &str) -> Result<&str> {
    let by = by.trim();
    if by.is_empty() || by.chars().any(char::is_control) {
        bail!("--by must be a staff ID: not empty, without control characters");
    }
    Ok(by)
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC`, or `-`.
fn when(at: Option<u64>) -> String {
    at.and_then(|t| i64::try_from(t).ok())
        .map_or_else(|| "-".to_owned(), crate::time::oath_utc)
}

pub(crate) fn run<S: Store>(bank: &Bank<S>, command: &ApiKeyCommand, lang: Lang) -> Result<()> {
    match command {
        ApiKeyCommand::Create { scope, name, by } => {
            let key = bank
                .create_api_key(staff(by)?, name, scope.scope())
                .map_err(|e| anyhow!("the API key was not created: {e}"))?;
            println!("{}", key.plaintext());
            eprintln!(
                "{}",
                match lang {
                    Lang::Ja => format!(
                        "APIキー {} ({}) を発行しました。このキーは二度と表示できません。",
                        key.record().id,
                        key.record().scope
                    ),
                    Lang::En => format!(
                        "created API key {} ({}); it cannot be shown again",
                        key.record().id,
                        key.record().scope
                    ),
                }
            );
            Ok(())
        }
        ApiKeyCommand::List { json } => {
            let keys = bank
                .api_keys()
                .map_err(|e| anyhow!("the API keys could not be read: {e}"))?;
            if *json {
                let keys: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "id": k.id,
                            "name": k.name,
                            "scope": k.scope.as_str(),
                            "created_at": k.created_at,
                            "created_at_utc": rfc3339(k.created_at),
                            "created_by": k.created_by,
                            "last_used_at": k.last_used_at,
                            "last_used_at_utc": k.last_used_at.map(rfc3339),
                            "revoked_at": k.revoked_at,
                            "revoked_at_utc": k.revoked_at.map(rfc3339),
                        })
                    })
                    .collect();
                println!("{}", json!({ "api_keys": keys }));
                return Ok(());
            }
            if keys.is_empty() {
                println!("{}", tr(lang, "No API keys.", "APIキーはありません。"));
                return Ok(());
            }
            println!(
                "{:<16}  {:<8}  {:<23}  {:<23}  {:<23}  {}",
                "ID",
                tr(lang, "SCOPE", "権限"),
                tr(lang, "CREATED", "発行"),
                tr(lang, "LAST USE", "最終利用"),
                tr(lang, "REVOKED", "失効"),
                tr(lang, "NAME", "名前"),
            );
            for k in &keys {
                println!(
                    "{:<16}  {:<8}  {:<23}  {:<23}  {:<23}  {}",
                    k.id,
                    k.scope.as_str(),
                    when(Some(k.created_at)),
                    when(k.last_used_at),
                    when(k.revoked_at),
                    k.name,
                );
            }
            Ok(())
        }
        ApiKeyCommand::Revoke { id, by } => {
            match bank
                .revoke_api_key(staff(by)?, id)
                .map_err(|e| anyhow!("the API key was not revoked: {e}"))?
            {
                ApiKeyRevocation::Revoked => {
                    eprintln!(
                        "{}",
                        match lang {
                            Lang::Ja => format!("APIキー {id} を失効させました。"),
                            Lang::En => format!("revoked API key {id}"),
                        }
                    );
                    Ok(())
                }
                ApiKeyRevocation::AlreadyRevoked => {
                    eprintln!(
                        "{}",
                        match lang {
                            Lang::Ja => format!("APIキー {id} は既に失効しています。"),
                            Lang::En => format!("API key {id} was revoked already"),
                        }
                    );
                    Ok(())
                }
                ApiKeyRevocation::Unknown => bail!("there is no API key {id}"),
            }
        }
    }
}
