//! `otp demo`: the seed's token exchange for W0002, screen by screen, on a
//! simulated clock, with the refusals a person meets on the way. Every
//! outcome is checked against what the manual says; the command exits 0
//! only if all of them behaved.

use anyhow::{Result, anyhow, bail};
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{HashCost, Lang, MemoryStore, Password, Refusal, Store, UserId, Which};
use otp_provision::{Clock as _, SerialNumber};

use crate::lang::{LangArg, pad, resolve, tr};
use crate::time::{jst_minutes, jst_seconds, jst_stamp};

/// `otp demo` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Language of the screens and messages (default: from the locale, LANG=ja… for Japanese).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Argon2id cost of the demo's passwords: `recommended` (OWASP: 19 MiB,
    /// 2 passes; the default) or `moderate` (4 MiB, 1 pass).
    #[arg(long, value_enum, default_value = "recommended")]
    hash_cost: DemoCost,
    /// Where the demo's bank keeps its records: a temporary SQLite file (the default) or memory.
    #[arg(long, value_enum, default_value = "sqlite")]
    store: DemoStore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DemoStore {
    Sqlite,
    Memory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DemoCost {
    Recommended,
    Moderate,
}

/// 2020-09-30 11:00:00 JST: the previous login in the page header.
const PREVIOUS_LOGIN: u64 = 1_601_431_200;
/// 2020-10-01 11:00:00 JST: the day of the exchange.
const EXCHANGE_DAY: u64 = 1_601_517_600;

/// The scenario, the language and the checks so far.
struct Demo<S: Store> {
    s: Scenario<S>,
    lang: Lang,
    checks: usize,
}

pub(crate) fn run(args: &DemoArgs) -> Result<()> {
    let lang = resolve(args.lang);
    let cost = match args.hash_cost {
        DemoCost::Recommended => HashCost::RECOMMENDED,
        DemoCost::Moderate => HashCost {
            memory_kib: 4 * 1024,
            iterations: 1,
            parallelism: 1,
        },
    };
    match args.store {
        DemoStore::Memory => {
            let name = tr(
                lang,
                "in-memory store (otp_exchange::MemoryStore)",
                "インメモリストア（otp_exchange::MemoryStore）",
            );
            play(MemoryStore::new(), cost, lang, name)
        }
        DemoStore::Sqlite => {
            let dir = crate::scratch::ScratchDir::new("otp-demo-")?;
            let store = otp_store::SqliteStore::open(
                dir.path().join("demo.sqlite"),
                crate::scratch::sealer()?,
            )
            .map_err(|e| anyhow!("cannot create the demo's SQLite database: {e}"))?;
            let name = tr(
                lang,
                "a temporary SQLite database (otp_store::SqliteStore)",
                "一時 SQLite データベース（otp_store::SqliteStore）",
            );
            // `dir` is dropped (and removed) after the store.
            play(store, cost, lang, name)
        }
    }
}

fn play<S: Store>(store: S, cost: HashCost, lang: Lang, store_name: &str) -> Result<()> {
    // Scenario::setup takes 60 simulated seconds (it registers W0001's and
    // W0002's tokens 30 s apart), so it ends at 11:00:00 JST.
    let s = Scenario::setup(store, PREVIOUS_LOGIN - 60, cost)
        .map_err(|e| anyhow!("the demo could not set up the seed's bank: {e}"))?;
    let mut demo = Demo { s, lang, checks: 0 };
    demo.play(store_name)
}

impl<S: Store> Demo<S> {
    fn t<'a>(&self, en: &'a str, ja: &'a str) -> &'a str {
        tr(self.lang, en, ja)
    }

    /// Records one outcome that behaved as the manual says.
    fn ok(&mut self, what: &str) {
        self.checks += 1;
        println!("    ✓ {what}");
    }

    /// A step whose outcome must be a refusal matching `want`.
    fn expect_refusal<T>(
        &mut self,
        step: &str,
        got: Result<T, Refusal>,
        want: impl Fn(&Refusal) -> bool,
    ) -> Result<()> {
        match got {
            Err(r) if want(&r) => {
                println!(
                    "    ✗ {}{}",
                    self.t("refused: ", "エラー："),
                    r.message(self.lang)
                );
                let note = self.t(
                    "refused, as the manual says",
                    "マニュアルのとおり受け付けられません",
                );
                self.ok(note);
                Ok(())
            }
            Err(r) => bail!(
                "demo step `{step}` was refused for the wrong reason ({})",
                r.reason_code()
            ),
            Ok(_) => {
                bail!("demo step `{step}` was accepted, but the manual says it must be refused")
            }
        }
    }

    fn press(&mut self, serial: &SerialNumber) -> Result<String> {
        self.s
            .press(serial)
            .map_err(|e| anyhow!("the virtual token could not show a code: {e}"))
    }

    fn next_code_at(&self, serial: &SerialNumber) -> Result<u64> {
        let now = self.s.clock.now();
        self.s
            .tokens
            .get(serial)
            .and_then(|t| t.next_code_at(now))
            .ok_or_else(|| {
                anyhow!(
                    "the virtual token {} shows no further code",
                    serial.masked()
                )
            })
    }

    fn token_of(&self, user: &UserId) -> Result<SerialNumber> {
        self.s.token_of(user)?.ok_or_else(|| {
            anyhow!(
                "{} has no registered token in the demo's bank",
                user.as_str()
            )
        })
    }

    fn header(&self, title: &str) {
        println!();
        println!("{title}");
    }

    fn user_list(&self) -> Result<()> {
        let list = self.s.bank.user_list(&self.s.admin, 0, 5)?;
        let (id, serial, authority, name) = (
            self.t("Customer ID", "お客様ID"),
            self.t("Token serial", "シリアル番号"),
            self.t("Authority", "権限"),
            self.t("User name", "利用者名"),
        );
        println!(
            "    {}{}{}{name}",
            pad(id, 13),
            pad(serial, 15),
            pad(authority, 15)
        );
        for row in &list.rows {
            let serial = row.serial.map_or_else(|| "-".to_owned(), |m| m.to_string());
            println!(
                "    {}{}{}{}",
                pad(row.id.as_str(), 13),
                pad(&serial, 15),
                pad(row.authority.label(self.lang), 15),
                row.name
            );
        }
        let range = match self.lang {
            Lang::Ja => format!("全{}件中 {}～{}件を表示", list.total, list.first, list.last),
            Lang::En => format!("{} to {} of {}", list.first, list.last, list.total),
        };
        println!("    {range}");
        if (list.first, list.last, list.total) != (1, 3, 3) {
            bail!("the selection list should show \"1 to 3 of 3\", it shows {range}");
        }
        Ok(())
    }

    #[allow(
        clippy::too_many_lines,
        reason = "the demo reads top to bottom like the manual's page"
    )]
    fn play(&mut self, store_name: &str) -> Result<()> {
        let lang = self.lang;
        let admin = self.s.admin.clone();
        let user = self.s.general.clone();
        let w0005 = self.s.without_token.clone();
        println!(
            "{}",
            self.t(
                "otp demo: how to exchange your token (トークンの交換方法), the seed's screens step by step",
                "otp demo：トークンの交換方法（マニュアルの画面を順に）"
            )
        );
        println!(
            "    {}{store_name}{}",
            self.t("Bank: ", "銀行："),
            self.t(
                "; users W0001 (administrator, whose token the branch registered), W0002 and W0005 (general users); virtual tokens on a simulated clock.",
                "、利用者 W0001（管理者、トークンはお取引店舗で登録）・W0002・W0005（一般者）、シミュレーション時計上の仮想トークン。"
            )
        );

        // The previous day's login, so the header can show it.
        let admin_token = self.token_of(&admin)?;
        self.s.clock.set(PREVIOUS_LOGIN + 5);
        let code = self.press(&admin_token)?;
        self.s.bank.login(&admin, &code).map_err(|r| {
            anyhow!(
                "the administrator's login of the previous day was refused: {}",
                r.message(lang)
            )
        })?;

        // The exchange day: W0002 signs in with the token in use now.
        let old = self.token_of(&user)?;
        self.s.clock.set(EXCHANGE_DAY + 5);
        self.header(&match lang {
            Lang::Ja => format!("■ {} W0002 がログイン", jst_seconds(self.s.clock.now())),
            Lang::En => format!("■ {}: W0002 signs in", jst_stamp(self.s.clock.now())),
        });
        let login_code = self.press(&old)?;
        println!(
            "    {} {} {login_code}",
            self.t("Presses \"1\" on token", "トークン"),
            match lang {
                Lang::Ja => format!("{} の「1」ボタンを押す：表示", old.masked()),
                Lang::En => format!("{}: the display shows", old.masked()),
            }
        );
        match self.s.bank.login(&user, &login_code) {
            Ok(_) => {
                let note = self.t("signed in", "ログインしました");
                self.ok(note);
            }
            Err(r) => bail!(
                "W0002's sign-in with its token was refused: {}",
                r.message(lang)
            ),
        }

        // The administrator signs in; every page header shows it.
        self.s.clock.advance(1);
        let code = self.press(&admin_token)?;
        self.s
            .bank
            .login(&admin, &code)
            .map_err(|r| anyhow!("the administrator's login was refused: {}", r.message(lang)))?;
        self.header(&match lang {
            Lang::Ja => format!(
                "═══ しんきん太郎 様（W0001）  {} ログイン（前回 {}） ═══",
                jst_minutes(self.s.clock.now()),
                jst_minutes(PREVIOUS_LOGIN + 5)
            ),
            Lang::En => format!(
                "═══ Welcome しんきん太郎 (W0001), {} login (previous {}) ═══",
                jst_minutes(self.s.clock.now()),
                jst_minutes(PREVIOUS_LOGIN + 5)
            ),
        });

        // Screen 1.
        self.s.clock.advance(1);
        self.header(self.t("[Screen 1] Admin functions (管理機能)", "【画面1】管理機能"));
        println!(
            "    ▶ {}",
            self.t(
                "OTP authentication info management: start using OTP, register and unregister tokens",
                "ワンタイムパスワード認証情報管理（ワンタイムパスワード利用開始・トークン登録・登録解除）"
            )
        );
        println!(
            "      {}",
            self.t(
                "ID maintenance · ID lock/unlock · calendar · usage history · transaction stop",
                "ID管理 ・ IDロック解除 ・ カレンダー ・ 利用履歴照会 ・ 取引停止"
            )
        );

        // Screen 2.
        self.s.clock.advance(1);
        self.header(self.t(
            "[Screen 2] Step 1 Select: customer IDs",
            "【画面2】1 選択：お客様ID一覧",
        ));
        self.user_list()?;
        println!(
            "    ▶ {}",
            self.t(
                "W0002 selected; Register/Unregister",
                "W0002 を選択し「登録・登録解除」"
            )
        );
        let w5 = self.s.bank.begin_exchange(&admin, &w0005);
        println!(
            "    {}",
            self.t(
                "(W0005 has no token (-): exchange is not offered for it)",
                "（W0005 はトークン未登録（-）のため交換できません）"
            )
        );
        self.expect_refusal("W0005 exchange", w5, |r| {
            matches!(r, Refusal::NoTokenRegistered)
        })?;
        let own = self.s.bank.begin_exchange(&admin, &admin);
        println!(
            "    {}",
            self.t(
                "(W0001 cannot select its own ID: another administrator or the branch exchanges an administrator's token)",
                "（W0001 は自分自身のIDを選択できません：管理者のトークンは他の管理者またはお取引店舗が交換します）"
            )
        );
        self.expect_refusal("W0001 selecting itself", own, |r| {
            matches!(r, Refusal::OwnId)
        })?;

        // Screen 3.
        self.s.clock.advance(1);
        let step4 = self.s.bank.begin_exchange(&admin, &user).map_err(|r| {
            anyhow!(
                "selecting W0002 for exchange was refused: {}",
                r.message(lang)
            )
        })?;
        self.header(self.t(
            "[Screen 3] Step 2 Register: token information",
            "【画面3】2 登録：トークン情報",
        ));
        let record = self
            .s
            .bank
            .records()
            .user(&user)?
            .ok_or_else(|| anyhow!("W0002 is missing from the store"))?;
        println!(
            "    {}{} / {}{} / {}{}",
            self.t("Customer ID: ", "お客様ID："),
            record.id.as_str(),
            self.t("Name: ", "利用者名："),
            record.name,
            self.t("Authority: ", "権限："),
            record.authority.label(lang)
        );
        println!(
            "    {}{} / {}{}",
            self.t("Token serial: ", "トークンシリアル番号："),
            old.masked(),
            self.t("Registration status: ", "登録状況："),
            self.t("registered (登録完了)", "登録完了")
        );
        println!(
            "    ▶ {}",
            self.t("Register (new registration / exchange)", "新規登録・交換")
        );

        // Screen 4: the login code, still on the display, is refused.
        self.s.clock.advance(1);
        self.header(self.t(
            "[Screen 4] One-time password of the token in use now",
            "【画面4】現在ご利用中のトークンのワンタイムパスワード",
        ));
        let again = self.press(&old)?;
        println!(
            "    {} {again} ({})",
            self.t(
                "Presses \"1\": the display shows",
                "「1」ボタンを押す：表示"
            ),
            jst_seconds(self.s.clock.now())
        );
        if again != login_code {
            bail!("the token should still show the login code within the same 30-second step");
        }
        println!(
            "    {} {again} ▶ {}",
            self.t("Types", "入力"),
            self.t("Next", "次へ")
        );
        let step4 = match step4.submit_code(&self.s.bank, &again) {
            Ok(_) => bail!(
                "the login code typed again at screen 4 was accepted; the manual says the same password cannot be used twice in a row"
            ),
            Err(retry) => {
                let resume = retry.resume;
                self.expect_refusal::<()>(
                    "screen 4, login code replayed",
                    Err(retry.refusal),
                    |r| matches!(r, Refusal::Replayed(Which::Current)),
                )?;
                resume.ok_or_else(|| {
                    anyhow!("after a replayed code the exchange should let the user try again")
                })?
            }
        };
        // Wait for the next code on the simulated clock.
        let before = self.s.clock.now();
        let next = self.next_code_at(&old)?;
        let waited = next.saturating_sub(before);
        self.s.clock.set(next);
        println!(
            "    … {}",
            match lang {
                Lang::Ja => format!(
                    "次のパスワードの表示まで {waited} 秒待つ（シミュレーション時計、{}）",
                    jst_seconds(next)
                ),
                Lang::En => format!(
                    "waits {waited} s for the next password (simulated clock, {})",
                    jst_seconds(next)
                ),
            }
        );
        if !(15..=30).contains(&waited) {
            bail!("the next code appeared after {waited} s; the manual says 15-30 s");
        }
        let note = self.t(
            "a new password appears within 15-30 s",
            "新しいパスワードは15～30秒で表示されます",
        );
        self.ok(note);
        let fresh = self.press(&old)?;
        println!(
            "    {} {fresh}; {} {fresh} ▶ {}",
            self.t(
                "Presses \"1\" again: the display shows",
                "もう一度「1」ボタンを押す：表示"
            ),
            self.t("types", "入力"),
            self.t("Next", "次へ")
        );
        let step5 = match step4.submit_code(&self.s.bank, &fresh) {
            Ok(step5) => {
                let note = self.t(
                    "accepted: the token in use now is verified",
                    "受付：現在ご利用中のトークンを確認しました",
                );
                self.ok(note);
                step5
            }
            Err(retry) => bail!(
                "the fresh code of the token in use now was refused: {}",
                retry.refusal.message(lang)
            ),
        };

        // Screen 5.
        self.s.clock.advance(5);
        self.header(self.t(
            "[Screen 5] New token information",
            "【画面5】新しいトークン情報",
        ));
        let new = *self
            .s
            .stock()
            .first()
            .ok_or_else(|| anyhow!("the bank has no token in stock"))?;
        let new_code = self.press(&new)?;
        let label_serial = self.t(
            "New token serial (12 half-width alphanumerics): ",
            "新しいトークンのシリアル番号（半角英数字12桁）：",
        );
        let label_code = self.t(
            "One-time password of the new token: ",
            "新しいトークンのワンタイムパスワード：",
        );
        let label_pw = self.t("Approval password: ", "承認用パスワード：");
        println!("    {label_serial}{}", new.as_str());
        println!("    {label_code}{new_code}");
        println!(
            "    {label_pw}******** {} ▶ {}",
            self.t("(mistyped)", "（入力誤り）"),
            self.t("Confirm", "確定")
        );
        let step5 = match step5.confirm(
            &self.s.bank,
            new.as_str(),
            &new_code,
            &Password::new("approve-2002"),
        ) {
            Ok(_) => bail!("the exchange was confirmed with a wrong approval password"),
            Err(retry) => {
                let resume = retry.resume;
                self.expect_refusal::<()>(
                    "screen 5, wrong approval password",
                    Err(retry.refusal),
                    |r| matches!(r, Refusal::WrongPassword),
                )?;
                resume.ok_or_else(|| {
                    anyhow!(
                        "after a wrong approval password the exchange should let the user try again"
                    )
                })?
            }
        };
        // A serial already assigned to someone else: W0001's token.
        let taken = admin_token;
        let taken_code = self.press(&taken)?;
        println!();
        println!(
            "    {label_serial}{} {}",
            taken.as_str(),
            self.t(
                "(the serial of W0001's token, typed by mistake)",
                "（誤って W0001 のトークンのシリアル番号を入力）"
            )
        );
        println!("    {label_code}{taken_code}");
        println!("    {label_pw}******** ▶ {}", self.t("Confirm", "確定"));
        let step5 = match step5.confirm(
            &self.s.bank,
            taken.as_str(),
            &taken_code,
            &Password::new(ADMIN_APPROVAL_PASSWORD),
        ) {
            Ok(_) => bail!("a token registered to W0001 was accepted as W0002's new token"),
            Err(retry) => {
                let resume = retry.resume;
                self.expect_refusal::<()>(
                    "screen 5, serial assigned to another user",
                    Err(retry.refusal),
                    |r| matches!(r, Refusal::SerialAssigned),
                )?;
                resume.ok_or_else(|| {
                    anyhow!(
                        "after a serial already in use the exchange should let the user try again"
                    )
                })?
            }
        };
        println!();
        println!("    {label_serial}{}", new.as_str());
        println!("    {label_code}{new_code}");
        println!("    {label_pw}******** ▶ {}", self.t("Confirm", "確定"));
        let done = match step5.confirm(
            &self.s.bank,
            new.as_str(),
            &new_code,
            &Password::new(ADMIN_APPROVAL_PASSWORD),
        ) {
            Ok(done) => {
                let note = self.t(
                    "confirmed: old token revoked and new token bound in one atomic switch",
                    "確定：旧トークンの無効化と新トークンの登録を一度に実行しました",
                );
                self.ok(note);
                done
            }
            Err(retry) => bail!(
                "the exchange with the right serial, code and approval password was refused: {}",
                retry.refusal.message(lang)
            ),
        };
        if done.old_serial != Some(old) || done.new_serial != new {
            bail!("the exchange switched the wrong tokens");
        }

        // Screen 6.
        self.header(self.t("[Screen 6] Step 3 Done", "【画面6】3 完了"));
        println!(
            "    {}",
            self.t(
                "The usage mode and token have been registered. The registered token is valid from now.",
                "利用形態・トークンを登録しました。登録したトークンは今から有効となります。"
            )
        );

        // "Valid from now": the old token no longer works, the new one does.
        self.s.clock.advance(30);
        self.header(&match lang {
            Lang::Ja => format!(
                "■ {} W0002 がログイン（交換後）",
                jst_seconds(self.s.clock.now())
            ),
            Lang::En => format!(
                "■ {}: W0002 signs in after the exchange",
                jst_stamp(self.s.clock.now())
            ),
        });
        let old_code = self.press(&old)?;
        println!(
            "    {} {} {old_code}",
            self.t("Old token", "旧トークン"),
            match lang {
                Lang::Ja => format!("{}：表示", old.masked()),
                Lang::En => format!("{}: the display shows", old.masked()),
            }
        );
        let old_login = self.s.bank.login(&user, &old_code);
        self.expect_refusal("old token after the exchange", old_login, |r| {
            matches!(r, Refusal::LoginFailed)
        })?;
        let new_login_code = self.press(&new)?;
        println!(
            "    {} {} {new_login_code}",
            self.t("New token", "新トークン"),
            match lang {
                Lang::Ja => format!("{}：表示", new.masked()),
                Lang::En => format!("{}: the display shows", new.masked()),
            }
        );
        match self.s.bank.login(&user, &new_login_code) {
            Ok(_) => {
                let note = self.t(
                    "signed in with the new token",
                    "新しいトークンでログインしました",
                );
                self.ok(note);
            }
            Err(r) => bail!(
                "the new token's code was refused after the exchange: {}",
                r.message(lang)
            ),
        }

        // The selection list and the usage history after the exchange.
        self.header(self.t(
            "[Screen 2] Step 1 Select, after the exchange",
            "【画面2】1 選択（交換後）",
        ));
        self.user_list()?;
        let row_serial = self.token_of(&user)?;
        if row_serial != new {
            bail!("W0002's registered token is not the new one");
        }
        let trail = self.s.bank.audit_trail(&admin, &user, 0, u64::MAX)?;
        self.s
            .bank
            .verify_audit()
            .map_err(|e| anyhow!("the audit chain does not verify: {e}"))?;
        let refused = trail
            .iter()
            .filter(|r| r.entry.result == otp_exchange::AuditResult::Refused)
            .count();
        println!(
            "    {}",
            match lang {
                Lang::Ja => format!(
                    "利用履歴照会（W0002）：{} 件（うち受付不可 {refused} 件）、改ざん検知チェーン検証済み",
                    trail.len()
                ),
                Lang::En => format!(
                    "Usage history of W0002: {} records ({refused} refused); the audit chain verifies",
                    trail.len()
                ),
            }
        );
        let note = self.t(
            "usage history recorded every attempt",
            "すべての操作が利用履歴に記録されました",
        );
        self.ok(note);

        println!();
        println!(
            "{}",
            match lang {
                Lang::Ja => format!(
                    "すべての手順がマニュアルどおりに動作しました（確認 {} 件）。",
                    self.checks
                ),
                Lang::En => format!(
                    "Every step behaved as the manual says ({} checks).",
                    self.checks
                ),
            }
        );
        Ok(())
    }
}
