//! Asking the operator: answers one per line, passwords without echo on
//! a terminal, new passwords twice.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, Result, bail};
use otp_exchange::{Lang, Password};
use zeroize::Zeroizing;

use crate::lang::tr;

/// Lines typed by a person (or piped by a script): passwords without echo
/// on a terminal.
pub(super) struct Prompter {
    tty: bool,
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl Prompter {
    pub(super) fn new() -> Self {
        Self {
            tty: std::io::stdin().is_terminal(),
            lines: std::io::stdin().lock().lines(),
        }
    }

    pub(super) fn ask(&mut self, prompt: &str) -> Result<String> {
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

    pub(super) fn password(&mut self, prompt: &str) -> Result<Password> {
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

    /// A new password: 8 characters or more; on a terminal typed twice
    /// (without echo) and refused unless both agree.
    pub(super) fn new_password(&mut self, prompt: &str, lang: Lang) -> Result<Password> {
        let password = self.password(prompt)?;
        if password.expose_secret().len() < 8 {
            bail!(
                "{}",
                tr(
                    lang,
                    "the password must have at least 8 characters: nothing was changed",
                    "パスワードは8文字以上にしてください（変更していません）"
                )
            );
        }
        if self.tty {
            let again = self.password(tr(lang, "Again: ", "もう一度："))?;
            if again.expose_secret() != password.expose_secret() {
                bail!(
                    "{}",
                    tr(
                        lang,
                        "the two passwords differ: nothing was changed",
                        "2回の入力が一致しません（変更していません）"
                    )
                );
            }
        }
        Ok(password)
    }

    pub(super) fn approval_password(&mut self, lang: Lang) -> Result<Password> {
        self.password(tr(lang, "Approval password: ", "承認用パスワード："))
    }

    pub(super) fn current_code(&mut self, lang: Lang) -> Result<String> {
        self.ask(tr(
            lang,
            "One-time password of the token in use now (press \"1\"): ",
            "現在ご利用中のトークンのワンタイムパスワード（「1」ボタンを押して表示）：",
        ))
    }

    pub(super) fn new_serial(&mut self, lang: Lang) -> Result<String> {
        self.ask(tr(
            lang,
            "New token serial (12 half-width alphanumerics): ",
            "新しいトークンのシリアル番号（半角英数字12桁）：",
        ))
    }

    pub(super) fn new_code(&mut self, lang: Lang) -> Result<String> {
        self.ask(tr(
            lang,
            "One-time password of the new token: ",
            "新しいトークンのワンタイムパスワード：",
        ))
    }
}
