//! The demo's page: prints each step of the library's walk in English or
//! Japanese and counts the outcomes shown with a ✓. It judges nothing
//! itself: a step either behaved as the manual says ([`Step::behaved`]) or
//! stops the demo.

use anyhow::{Result, anyhow};
use otp_exchange::scenario::script::{Accepted, Act, Approval, Screen, Step, Walk};
use otp_exchange::{Lang, Refusal, UserId, UserList};
use otp_provision::SerialNumber;

use crate::lang::{pad, tr};
use crate::time::{jst_minutes, jst_seconds, jst_stamp};

/// What the page remembers from the steps so far.
pub(super) struct Page {
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
    /// A page for the scenario's administrator and its user without a token.
    pub(super) fn new(lang: Lang, admin: UserId, w0005: UserId) -> Self {
        Self {
            lang,
            admin,
            w0005,
            checks: 0,
            admin_login: None,
            admin_token: None,
            old_token: None,
            exchanged: false,
        }
    }

    fn t<'a>(&self, en: &'a str, ja: &'a str) -> &'a str {
        tr(self.lang, en, ja)
    }

    /// Prints `prefix` and the text in the page's language.
    fn say(&self, prefix: &str, en: &str, ja: &str) {
        println!("{prefix}{}", self.t(en, ja));
    }

    /// The English or the Japanese text.
    fn pick(&self, en: String, ja: String) -> String {
        if self.lang == Lang::Ja { ja } else { en }
    }

    /// The page's first lines.
    pub(super) fn intro(&self, store_name: &str) {
        self.say(
            "",
            "otp demo: how to exchange your token (トークンの交換方法), the manual's screens step by step",
            "otp demo：トークンの交換方法（マニュアルの画面を順に）",
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

    /// Prints the walk, step by step, then the summary.
    ///
    /// # Errors
    ///
    /// When a step did not behave as the manual says, or the walk stopped
    /// before its end.
    pub(super) fn walk(&mut self, walk: &Walk) -> Result<()> {
        let mut previous = None;
        for step in &walk.steps {
            self.step(step, previous)?;
            previous = Some(step);
        }
        if !walk.finished {
            let last = previous.map_or_else(
                || "before its first step".to_owned(),
                |p| format!("after the step {:?} on {:?}", p.act, p.screen),
            );
            return Err(anyhow!(
                "the demo stopped {last}: the bank did not let the person go on as the manual says"
            ));
        }
        self.summary();
        Ok(())
    }

    /// The last line, once every step behaved.
    fn summary(&self) {
        let checks = self.checks;
        let summary = self.pick(
            format!("Every step behaved as the manual says ({checks} checks)."),
            format!("すべての手順がマニュアルどおりに動作しました（確認 {checks} 件）。"),
        );
        println!("\n{summary}");
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

    /// Prints `step` (after `previous`, if any).
    ///
    /// # Errors
    ///
    /// When the step did not behave as the manual says.
    fn step(&mut self, step: &Step, previous: Option<&Step>) -> Result<()> {
        if !step.behaved() {
            return Err(self.misbehaved(step));
        }
        let new_screen = previous.is_none_or(|p| p.screen != step.screen);
        if let Some(title) = self.title(step.screen).filter(|_| new_screen) {
            println!("\n{title}");
        }
        let after = previous.map(|p| &p.act);
        match (&step.act, &step.outcome) {
            (Act::SignIn { user, token, .. }, _) if *user == self.admin => {
                self.admin_signs_in(step.at, *token);
            }
            (Act::SignIn { user, token, code }, _) => {
                let again = matches!(after, Some(Act::SignIn { user: u, .. }) if u == user);
                self.signs_in(step, user, *token, code, again);
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
                    authority.label(self.lang)
                );
                let serial = token.map_or_else(|| "-".to_owned(), |t| t.masked().to_string());
                println!(
                    "    {}{serial} / {}{}",
                    self.t("Token serial: ", "トークンシリアル番号："),
                    self.t("Registration status: ", "登録状況："),
                    self.t("registered (登録完了)", "登録完了")
                );
                let register = ("Register (new registration / exchange)", "新規登録・交換");
                self.say("    ▶ ", register.0, register.1);
            }
            (Act::Open, _) => self.open(step.screen),
            (Act::ListUsers, Ok(Accepted::Listed(list))) => self.user_list(list),
            (Act::SelectForExchange { user }, _) => {
                self.select(user);
                self.outcome(step, None);
            }
            (Act::TypeCurrentCode { code, .. }, _) => {
                let waited = matches!(after, Some(Act::WaitForNextCode { .. }));
                self.current_code(step, code, waited);
            }
            (Act::WaitForNextCode { waited, .. }, _) => {
                let at = jst_seconds(step.at);
                let wait = self.pick(
                    format!("waits {waited} s for the next password (simulated clock, {at})"),
                    format!(
                        "次のパスワードの表示まで {waited} 秒待つ（シミュレーション時計、{at}）"
                    ),
                );
                println!("    … {wait}");
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
                self.confirm(step, *serial, code, *approval, new_screen);
            }
            (Act::ReadHistory { user }, Ok(Accepted::History { records, refused })) => {
                let history = self.pick(
                    format!(
                        "Usage history of {user}: {records} records ({refused} refused); the audit chain verifies"
                    ),
                    format!(
                        "利用履歴照会（{user}）：{records} 件（うち受付不可 {refused} 件）、改ざん検知チェーン検証済み"
                    ),
                );
                println!("    {history}");
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

    /// The administrator's sign-in: the page header shows it with the
    /// previous one (the first one only is remembered).
    fn admin_signs_in(&mut self, at: u64, token: SerialNumber) {
        self.admin_token = Some(token);
        if let Some(previous) = self.admin_login {
            let (at, before) = (jst_minutes(at), jst_minutes(previous));
            let header = self.pick(
                format!("═══ Welcome しんきん太郎 (W0001), {at} login (previous {before}) ═══"),
                format!("═══ しんきん太郎 様（W0001）  {at} ログイン（前回 {before}） ═══"),
            );
            println!("\n{header}");
        }
        self.admin_login = Some(at);
    }

    /// W0002's sign-in, before or after the exchange.
    fn signs_in(
        &mut self,
        step: &Step,
        user: &UserId,
        token: SerialNumber,
        code: &str,
        again: bool,
    ) {
        if !again {
            let (en, ja) = match self.exchanged {
                true => (" after the exchange", "（交換後）"),
                false => ("", ""),
            };
            let header = self.pick(
                format!("■ {}: {user} signs in{en}", jst_stamp(step.at)),
                format!("■ {} {user} がログイン{ja}", jst_seconds(step.at)),
            );
            println!("\n{header}");
        }
        let masked = token.masked();
        let shows = match self.lang {
            Lang::Ja if !self.exchanged => format!("{masked} の「1」ボタンを押す：表示"),
            Lang::Ja => format!("{masked}：表示"),
            Lang::En => format!("{masked}: the display shows"),
        };
        let which = if !self.exchanged {
            self.old_token = Some(token);
            self.t("Presses \"1\" on token", "トークン")
        } else if self.old_token == Some(token) {
            self.t("Old token", "旧トークン")
        } else {
            self.t("New token", "新トークン")
        };
        println!("    {which} {shows} {code}");
        let note = match self.exchanged {
            true => self.t(
                "signed in with the new token",
                "新しいトークンでログインしました",
            ),
            false => self.t("signed in", "ログインしました"),
        };
        self.outcome(step, Some(note));
    }

    /// A screen shown without input: screen 1's menu or screen 6.
    fn open(&self, screen: Screen) {
        if screen == Screen::AdminFunctions {
            self.say(
                "    ▶ ",
                "OTP authentication info management: start using OTP, register and unregister tokens",
                "ワンタイムパスワード認証情報管理（ワンタイムパスワード利用開始・トークン登録・登録解除）",
            );
            self.say(
                "      ",
                "ID maintenance · ID lock/unlock · calendar · usage history · transaction stop",
                "ID管理 ・ IDロック解除 ・ カレンダー ・ 利用履歴照会 ・ 取引停止",
            );
        } else {
            self.say(
                "    ",
                "The usage mode and token have been registered. The registered token is valid from now.",
                "利用形態・トークンを登録しました。登録したトークンは今から有効となります。",
            );
        }
    }

    /// Screen 2's list.
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
        let (first, last, total) = (list.first, list.last, list.total);
        let range = self.pick(
            format!("{first} to {last} of {total}"),
            format!("全{total}件中 {first}～{last}件を表示"),
        );
        println!("    {range}");
        if !self.exchanged {
            let selected = (
                "W0002 selected; Register/Unregister",
                "W0002 を選択し「登録・登録解除」",
            );
            self.say("    ▶ ", selected.0, selected.1);
        }
    }

    /// Screen 2: why W0005 and W0001 itself cannot be selected.
    fn select(&self, user: &UserId) {
        if *user == self.w0005 {
            self.say(
                "    ",
                "(W0005 has no token (-): exchange is not offered for it)",
                "（W0005 はトークン未登録（-）のため交換できません）",
            );
        } else if *user == self.admin {
            self.say(
                "    ",
                "(W0001 cannot select its own ID: another administrator or the branch exchanges an administrator's token)",
                "（W0001 は自分自身のIDを選択できません：管理者のトークンは他の管理者またはお取引店舗が交換します）",
            );
        }
    }

    /// Screen 4: the current token's code, first or after the wait.
    fn current_code(&mut self, step: &Step, code: &str, waited: bool) {
        let next = self.t("Next", "次へ");
        if waited {
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

    /// Screen 5: the serial, the code and the approval password (shown
    /// as asterisks: the step holds only whether it was mistyped).
    fn confirm(
        &mut self,
        step: &Step,
        serial: SerialNumber,
        code: &str,
        approval: Approval,
        first: bool,
    ) {
        if !first {
            println!();
        }
        let mistake = match self.admin_token == Some(serial) {
            true => self.t(
                " (the serial of W0001's token, typed by mistake)",
                " （誤って W0001 のトークンのシリアル番号を入力）",
            ),
            false => "",
        };
        let label = self.t(
            "New token serial (12 half-width alphanumerics): ",
            "新しいトークンのシリアル番号（半角英数字12桁）：",
        );
        println!("    {label}{}{mistake}", serial.as_str());
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

    /// Why the demo stops: a step did not behave as the manual says.
    fn misbehaved(&self, step: &Step) -> anyhow::Error {
        let said = |answer: &Result<Accepted, Refusal>| match answer {
            Ok(accepted) => format!("{accepted:?}"),
            Err(r) => format!("a refusal ({}: {})", r.reason_code(), r.message(self.lang)),
        };
        anyhow!(
            "demo step {:?} on {:?} did not behave as the manual says: the bank answered {}, the manual says {}",
            step.act,
            step.screen,
            said(&step.outcome),
            said(&step.expected)
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use otp_exchange::scenario::script::{Accepted, Act, Screen, Step, Walk};
    use otp_exchange::{Lang, Refusal, UserId, Which};

    use super::Page;

    /// A step the bank answered otherwise than the manual says stops the
    /// demo (so `otp demo` exits non-zero), with both answers named.
    #[test]
    fn a_step_that_did_not_behave_stops_the_demo() {
        let id = |s| UserId::parse(s).unwrap();
        let mut page = Page::new(Lang::En, id("W0001"), id("W0005"));
        let step = Step {
            screen: Screen::Select,
            at: 0,
            act: Act::SelectForExchange { user: id("W0005") },
            outcome: Ok(Accepted::Selected),
            expected: Err(Refusal::NoTokenRegistered),
        };
        let error = page.step(&step, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "demo step SelectForExchange { user: UserId(W0005) } on Select did not behave as the \
             manual says: the bank answered Selected, the manual says a refusal \
             (no_token_registered: This user has no registered token. Use new registration.)"
        );
        assert_eq!(page.checks, 0);
        let behaved = Step {
            outcome: Err(Refusal::NoTokenRegistered),
            ..step
        };
        page.step(&behaved, None).unwrap();
        assert_eq!(page.checks, 1);
    }

    /// A walk the bank ended early (a refusal the manual lets the person
    /// try again from, where the flow was over) fails the demo too, though
    /// every step it has behaved.
    #[test]
    fn a_walk_that_stopped_early_fails_the_demo() {
        let id = |s| UserId::parse(s).unwrap();
        let mut page = Page::new(Lang::En, id("W0001"), id("W0005"));
        let step = Step {
            screen: Screen::CurrentCode,
            at: 0,
            act: Act::TypeCurrentCode {
                token: otp_provision::SerialNumber::parse("VT0020200002").unwrap(),
                code: "785747".to_owned(),
            },
            outcome: Err(Refusal::Replayed(Which::Current)),
            expected: Err(Refusal::Replayed(Which::Current)),
        };
        let mut walk = Walk {
            steps: vec![step],
            finished: false,
        };
        let error = page.walk(&walk).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the demo stopped after the step TypeCurrentCode { token: SerialNumber(\"VT0020200002\"), \
             code: \"785747\" } on CurrentCode: the bank did not let the person go on as the \
             manual says"
        );
        walk.finished = true;
        page.walk(&walk).unwrap();
    }
}
