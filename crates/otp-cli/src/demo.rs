//! `otp demo`: the seed's token exchange for W0002, screen by screen, on a
//! simulated clock, with the refusals a person meets on the way. The walk
//! is the library's ([`otp_exchange::scenario::script`]); this module only
//! prints it, step by step, and exits 0 only if every step behaved as the
//! manual says.

use anyhow::{Result, anyhow};
use otp_exchange::scenario::Scenario;
use otp_exchange::scenario::script::{self, Accepted, Act, Approval, Screen, Step};
use otp_exchange::{HashCost, Lang, MemoryStore, Store, UserId, UserList};
use otp_token::SerialNumber;

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
    let mut s = Scenario::setup(store, script::START, cost)
        .map_err(|e| anyhow!("the demo could not set up the seed's bank: {e}"))?;
    let mut page = Page {
        lang,
        admin: s.admin.clone(),
        w0005: s.without_token.clone(),
        checks: 0,
        admin_login: None,
        admin_token: None,
        old_token: None,
        exchanged: false,
    };
    page.intro(store_name);
    let steps = script::walk(&mut s).map_err(|e| anyhow!("the demo's walk failed: {e}"))?;
    let mut previous: Option<&Step> = None;
    for step in &steps {
        page.step(step, previous)?;
        previous = Some(step);
    }
    println!();
    println!(
        "{}",
        match lang {
            Lang::Ja => format!(
                "すべての手順がマニュアルどおりに動作しました（確認 {} 件）。",
                page.checks
            ),
            Lang::En => format!(
                "Every step behaved as the manual says ({} checks).",
                page.checks
            ),
        }
    );
    Ok(())
}

/// What the printed page remembers from the steps so far.
struct Page {
    lang: Lang,
    admin: UserId,
    w0005: UserId,
    /// The outcomes shown with a ✓.
    checks: usize,
    /// When the administrator last signed in (the page header shows it).
    admin_login: Option<u64>,
    /// W0001's token.
    admin_token: Option<SerialNumber>,
    /// W0002's token before the exchange.
    old_token: Option<SerialNumber>,
    exchanged: bool,
}

impl Page {
    fn t<'a>(&self, en: &'a str, ja: &'a str) -> &'a str {
        tr(self.lang, en, ja)
    }

    fn intro(&self, store_name: &str) {
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
    }

    /// One outcome that behaved as the manual says.
    fn ok(&mut self, what: &str) {
        self.checks += 1;
        println!("    ✓ {what}");
    }

    /// The bank's answer: a refusal with its message, or `accepted`.
    fn outcome(&mut self, step: &Step, accepted: Option<&str>) {
        match &step.outcome {
            Err(r) => {
                let refused = self.t("refused: ", "エラー：");
                println!("    ✗ {refused}{}", r.message(self.lang));
                self.ok(self.t(
                    "refused, as the manual says",
                    "マニュアルのとおり受け付けられません",
                ));
            }
            Ok(_) => {
                if let Some(note) = accepted {
                    self.ok(note);
                }
            }
        }
    }

    fn title(&self, screen: Screen) -> Option<&'static str> {
        let (en, ja) = match screen {
            Screen::AdminFunctions => {
                ("[Screen 1] Admin functions (管理機能)", "【画面1】管理機能")
            }
            Screen::Select if self.exchanged => (
                "[Screen 2] Step 1 Select, after the exchange",
                "【画面2】1 選択（交換後）",
            ),
            Screen::Select => (
                "[Screen 2] Step 1 Select: customer IDs",
                "【画面2】1 選択：お客様ID一覧",
            ),
            Screen::TokenInfo => (
                "[Screen 3] Step 2 Register: token information",
                "【画面3】2 登録：トークン情報",
            ),
            Screen::CurrentCode => (
                "[Screen 4] One-time password of the token in use now",
                "【画面4】現在ご利用中のトークンのワンタイムパスワード",
            ),
            Screen::NewToken => (
                "[Screen 5] New token information",
                "【画面5】新しいトークン情報",
            ),
            Screen::Done => ("[Screen 6] Step 3 Done", "【画面6】3 完了"),
            _ => return None,
        };
        Some(tr(self.lang, en, ja))
    }

    fn step(&mut self, step: &Step, previous: Option<&Step>) -> Result<()> {
        if !step.behaved() {
            return Err(self.misbehaved(step));
        }
        let lang = self.lang;
        let new_screen = previous.is_none_or(|p| p.screen != step.screen);
        if let Some(title) = self.title(step.screen).filter(|_| new_screen) {
            println!();
            println!("{title}");
        } else if matches!(step.act, Act::Confirm { .. }) {
            println!();
        }
        match (&step.act, &step.outcome) {
            (Act::SignIn { user, token, .. }, _) if *user == self.admin => {
                self.admin_token = Some(*token);
                if let Some(previous) = self.admin_login {
                    let (at, before) = (jst_minutes(step.at), jst_minutes(previous));
                    println!();
                    println!(
                        "{}",
                        match lang {
                            Lang::Ja => format!(
                                "═══ しんきん太郎 様（W0001）  {at} ログイン（前回 {before}） ═══"
                            ),
                            Lang::En => format!(
                                "═══ Welcome しんきん太郎 (W0001), {at} login (previous {before}) ═══"
                            ),
                        }
                    );
                }
                self.admin_login = Some(step.at);
            }
            (Act::SignIn { user, token, code }, _) => {
                let again = matches!(previous.map(|p| &p.act), Some(Act::SignIn { user: u, .. }) if u == user);
                if !again {
                    let (ja, en) = if self.exchanged {
                        ("（交換後）", " after the exchange")
                    } else {
                        ("", "")
                    };
                    println!();
                    println!(
                        "{}",
                        match lang {
                            Lang::Ja => format!("■ {} {user} がログイン{ja}", jst_seconds(step.at)),
                            Lang::En => format!("■ {}: {user} signs in{en}", jst_stamp(step.at)),
                        }
                    );
                }
                let masked = token.masked();
                let on = match lang {
                    Lang::Ja if !self.exchanged => format!("{masked} の「1」ボタンを押す：表示"),
                    Lang::Ja => format!("{masked}：表示"),
                    Lang::En => format!("{masked}: the display shows"),
                };
                let which = if !self.exchanged {
                    self.old_token = Some(*token);
                    self.t("Presses \"1\" on token", "トークン")
                } else if self.old_token == Some(*token) {
                    self.t("Old token", "旧トークン")
                } else {
                    self.t("New token", "新トークン")
                };
                println!("    {which} {on} {code}");
                let note = if self.exchanged {
                    self.t(
                        "signed in with the new token",
                        "新しいトークンでログインしました",
                    )
                } else {
                    self.t("signed in", "ログインしました")
                };
                self.outcome(step, Some(note));
            }
            (
                Act::Open,
                Ok(Accepted::TokenInfo {
                    user,
                    name,
                    authority,
                    token,
                }),
            ) => {
                println!(
                    "    {}{user} / {}{name} / {}{}",
                    self.t("Customer ID: ", "お客様ID："),
                    self.t("Name: ", "利用者名："),
                    self.t("Authority: ", "権限："),
                    authority.label(lang)
                );
                let serial = token.map_or_else(|| "-".to_owned(), |t| t.masked().to_string());
                println!(
                    "    {}{serial} / {}{}",
                    self.t("Token serial: ", "トークンシリアル番号："),
                    self.t("Registration status: ", "登録状況："),
                    self.t("registered (登録完了)", "登録完了")
                );
                let register = self.t("Register (new registration / exchange)", "新規登録・交換");
                println!("    ▶ {register}");
            }
            (Act::Open, _) if step.screen == Screen::AdminFunctions => {
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
            }
            (Act::Open, _) => {
                let done = self.t(
                    "The usage mode and token have been registered. The registered token is valid from now.",
                    "利用形態・トークンを登録しました。登録したトークンは今から有効となります。",
                );
                println!("    {done}");
            }
            (Act::ListUsers, Ok(Accepted::Listed(list))) => {
                self.user_list(list);
                if !self.exchanged {
                    let selected = self.t(
                        "W0002 selected; Register/Unregister",
                        "W0002 を選択し「登録・登録解除」",
                    );
                    println!("    ▶ {selected}");
                }
            }
            (Act::SelectForExchange { user }, _) => {
                let note = if *user == self.w0005 {
                    self.t(
                        "(W0005 has no token (-): exchange is not offered for it)",
                        "（W0005 はトークン未登録（-）のため交換できません）",
                    )
                } else if *user == self.admin {
                    self.t(
                        "(W0001 cannot select its own ID: another administrator or the branch exchanges an administrator's token)",
                        "（W0001 は自分自身のIDを選択できません：管理者のトークンは他の管理者またはお取引店舗が交換します）",
                    )
                } else {
                    ""
                };
                if !note.is_empty() {
                    println!("    {note}");
                }
                self.outcome(step, None);
            }
            (Act::TypeCurrentCode { code, .. }, _) => {
                let next = self.t("Next", "次へ");
                if matches!(previous.map(|p| &p.act), Some(Act::WaitForNextCode { .. })) {
                    println!(
                        "    {} {code}; {} {code} ▶ {next}",
                        self.t(
                            "Presses \"1\" again: the display shows",
                            "もう一度「1」ボタンを押す：表示"
                        ),
                        self.t("types", "入力"),
                    );
                } else {
                    println!(
                        "    {} {code} ({})",
                        self.t(
                            "Presses \"1\": the display shows",
                            "「1」ボタンを押す：表示"
                        ),
                        jst_seconds(step.at)
                    );
                    println!("    {} {code} ▶ {next}", self.t("Types", "入力"));
                }
                let note = self.t(
                    "accepted: the token in use now is verified",
                    "受付：現在ご利用中のトークンを確認しました",
                );
                self.outcome(step, Some(note));
            }
            (Act::WaitForNextCode { waited, .. }, _) => {
                let at = jst_seconds(step.at);
                println!(
                    "    … {}",
                    match lang {
                        Lang::Ja => format!(
                            "次のパスワードの表示まで {waited} 秒待つ（シミュレーション時計、{at}）"
                        ),
                        Lang::En => format!(
                            "waits {waited} s for the next password (simulated clock, {at})"
                        ),
                    }
                );
                let note = self.t(
                    "a new password appears within 15-30 s",
                    "新しいパスワードは15～30秒で表示されます",
                );
                self.outcome(step, Some(note));
            }
            (
                Act::Confirm {
                    serial,
                    code,
                    approval,
                },
                _,
            ) => {
                let mistake = if self.admin_token == Some(*serial) {
                    self.t(
                        " (the serial of W0001's token, typed by mistake)",
                        " （誤って W0001 のトークンのシリアル番号を入力）",
                    )
                } else {
                    ""
                };
                println!(
                    "    {}{}{mistake}",
                    self.t(
                        "New token serial (12 half-width alphanumerics): ",
                        "新しいトークンのシリアル番号（半角英数字12桁）："
                    ),
                    serial.as_str()
                );
                let label = self.t(
                    "One-time password of the new token: ",
                    "新しいトークンのワンタイムパスワード：",
                );
                println!("    {label}{code}");
                let mistyped = match approval {
                    Approval::Mistyped => self.t(" (mistyped)", " （入力誤り）"),
                    _ => "",
                };
                println!(
                    "    {}********{mistyped} ▶ {}",
                    self.t("Approval password: ", "承認用パスワード："),
                    self.t("Confirm", "確定")
                );
                self.exchanged = step.outcome.is_ok();
                let note = self.t(
                    "confirmed: old token revoked and new token bound in one atomic switch",
                    "確定：旧トークンの無効化と新トークンの登録を一度に実行しました",
                );
                self.outcome(step, Some(note));
            }
            (Act::ReadHistory { user }, Ok(Accepted::History { records, refused })) => {
                println!(
                    "    {}",
                    match lang {
                        Lang::Ja => format!(
                            "利用履歴照会（{user}）：{records} 件（うち受付不可 {refused} 件）、改ざん検知チェーン検証済み"
                        ),
                        Lang::En => format!(
                            "Usage history of {user}: {records} records ({refused} refused); the audit chain verifies"
                        ),
                    }
                );
                let note = self.t(
                    "usage history recorded every attempt",
                    "すべての操作が利用履歴に記録されました",
                );
                self.outcome(step, Some(note));
            }
            _ => return Err(anyhow!("the demo cannot show the step {:?}", step.act)),
        }
        Ok(())
    }

    fn user_list(&self, list: &UserList) {
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
        println!(
            "    {}",
            match self.lang {
                Lang::Ja => format!("全{}件中 {}～{}件を表示", list.total, list.first, list.last),
                Lang::En => format!("{} to {} of {}", list.first, list.last, list.total),
            }
        );
    }

    /// Why the demo stops: a step did not behave as the manual says.
    fn misbehaved(&self, step: &Step) -> anyhow::Error {
        let what = format!("{:?}, {:?}", step.screen, step.act);
        match (&step.outcome, &step.expected) {
            (Err(got), Err(want)) => anyhow!(
                "demo step `{what}` was refused for the wrong reason ({}; the manual says {})",
                got.reason_code(),
                want.reason_code()
            ),
            (Ok(_), Err(want)) => anyhow!(
                "demo step `{what}` was accepted, but the manual says it must be refused ({})",
                want.reason_code()
            ),
            (Err(got), Ok(_)) => {
                anyhow!("demo step `{what}` was refused: {}", got.message(self.lang))
            }
            (Ok(got), Ok(want)) => anyhow!(
                "demo step `{what}` did not behave as the manual says: {got:?}, where the manual says {want:?}"
            ),
        }
    }
}
