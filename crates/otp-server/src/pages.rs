//! The screens, as maud templates (checked at compile time; no script).
//! Every form carries the session's CSRF token; no password or code field
//! is ever filled in by the server.

use maud::{DOCTYPE, Markup, html};
use otp_exchange::{Exchanged, Lang, UserList};

use crate::session::SignedIn;

mod history;
mod locks;
mod unregister;
mod usage;

pub(crate) use history::{History, HistoryRow, history};
pub(crate) use locks::{LockRow, Locks, locks};
pub(crate) use unregister::{unregister, unregistered};
pub(crate) use usage::{Usage, software, usage};

/// `en` or `ja` text.
pub(crate) const fn t(lang: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

/// The page frame: header with the signed-in user, language switch, sign-out.
pub(crate) fn layout(
    lang: Lang,
    title: &str,
    user: Option<&SignedIn>,
    csrf: &str,
    body: Markup,
) -> Markup {
    let code = match lang {
        Lang::En => "en",
        Lang::Ja => "ja",
    };
    html! {
        (DOCTYPE)
        html lang=(code) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                header {
                    nav.lang {
                        a href="?lang=ja" { "日本語" } " | " a href="?lang=en" { "English" }
                    }
                    @if let Some(u) = user {
                        div.who { p.welcome {
                            @match lang {
                                Lang::Ja => { "ようこそ " (u.name) " 様（" (u.id.as_str()) "）" },
                                Lang::En => { "Welcome " (u.name) " (" (u.id.as_str()) ")" },
                            }
                        }
                        p.last-login {
                            @match (lang, &u.previous_login) {
                                (Lang::Ja, Some(p)) => { (u.login_at) " ログイン（前回 " (p) "）" },
                                (Lang::Ja, None) => { (u.login_at) " ログイン（初回）" },
                                (Lang::En, Some(p)) => { (u.login_at) " login (previous " (p) ")" },
                                (Lang::En, None) => { (u.login_at) " login (first)" },
                            }
                        } }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { (t(lang, "Sign out", "ログアウト")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A refusal shown on the screen it happened on.
pub(crate) fn refusal(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p.refusal role="alert" { (m) }
        }
    }
}

/// Sign-in: customer ID and a code from the user's own token.
pub(crate) fn login(lang: Lang, csrf: &str, id: &str, message: Option<&str>) -> Markup {
    let title = t(lang, "Sign in", "ログイン");
    layout(
        lang,
        title,
        None,
        csrf,
        html! {
            (refusal(message))
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label { (t(lang, "Customer ID", "お客様ID")) " "
                    input type="text" name="id" value=(id) required autocomplete="username"; }
                label { (t(lang, "Login password", "ログインパスワード")) " "
                    input type="password" name="password" required autocomplete="current-password"; }
                label { (t(lang, "One-time password (press \"1\" on your token; empty if your bank set you to use none)", "ワンタイムパスワード（トークンの「1」ボタンを押して表示された6桁。利用しない設定の方は空欄）")) " "
                    input type="text" name="code" inputmode="numeric" autocomplete="one-time-code"; }
                button type="submit" { (t(lang, "Sign in", "ログイン")) }
            }
        },
    )
}

/// A general user's own page after signing in: who they are, their
/// token, their own recent usage.
pub(crate) fn home(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    info: &TokenInfo,
    rows: &[HistoryRow],
) -> Markup {
    layout(
        lang,
        t(lang, "Your page", "お客様ページ"),
        Some(user),
        csrf,
        html! {
            p { (t(lang, "You are signed in with your token.", "トークンでログインしました。")) }
            section {
                h2 { (t(lang, "Customer information", "お客様情報")) }
                dl {
                    dt { (t(lang, "Customer ID", "お客様ID")) } dd { (info.id.as_str()) }
                    dt { (t(lang, "User name", "利用者名")) } dd { (info.name) }
                    dt { (t(lang, "Authority", "権限")) } dd { (info.authority) }
                    dt { (t(lang, "Token serial", "トークンシリアル番号")) }
                    dd.serial { @match &info.serial { Some(s) => (s), None => "-" } }
                    dt { (t(lang, "Registration status", "登録状況")) }
                    dd { @if info.serial.is_some() { (t(lang, "Registered", "登録完了")) } @else { (t(lang, "Not registered", "未登録")) } }
                }
            }
            section {
                h2 { (t(lang, "Your recent usage", "最近のご利用履歴")) }
                (history::table(lang, rows, "", &html! {}))
            }
        },
    )
}

/// Screen 1: 管理機能.
pub(crate) fn admin_menu(lang: Lang, user: &SignedIn, csrf: &str) -> Markup {
    layout(
        lang,
        t(lang, "Administration", "管理機能"),
        Some(user),
        csrf,
        html! {
            ul.menu {
                li { a href="/admin/select" { (t(lang, "OTP authentication info management", "ワンタイムパスワード認証情報管理")) } }
                li.disabled { (t(lang, "ID maintenance", "ID管理")) }
                li { a href="/admin/locks" { (t(lang, "ID lock/unlock", "IDロック解除")) } }
                li.disabled { (t(lang, "Calendar", "カレンダー")) }
                li { a href="/admin/history" { (t(lang, "Usage history", "利用履歴照会")) } }
                li.disabled { (t(lang, "Transaction stop", "取引停止")) }
            }
        },
    )
}

/// Screen 2: 1 選択, one page of the customer list.
pub(crate) fn select(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    list: &UserList,
    page: usize,
    pages: usize,
) -> Markup {
    let count = match lang {
        Lang::Ja => format!("{}から{}件/{}件", list.first, list.last, list.total),
        Lang::En => format!("{} to {} of {}", list.first, list.last, list.total),
    };
    let nav = html! {
        nav.pages {
            // A page typed past the end links back to the last one.
            @if page > 0 { a href={ "/admin/select?page=" (page.min(pages) - 1) } { (t(lang, "<Previous", "<前へ")) } " " }
            @if page < pages.saturating_sub(1) { a href={ "/admin/select?page=" (page + 1) } { (t(lang, "Next>", "次へ>")) } }
        }
    };
    layout(
        lang,
        t(lang, "1 Select", "1 選択"),
        Some(user),
        csrf,
        html! {
            p.count { (count) }
            (nav)
            form method="get" action="/admin/user" {
                table {
                    thead { tr {
                        th {} th { (t(lang, "Customer ID", "お客様ID")) } th { (t(lang, "User name", "利用者名")) }
                        th { (t(lang, "Token serial", "トークンシリアル番号")) } th { (t(lang, "Authority", "権限")) }
                        th { (t(lang, "Usage mode", "利用形態")) }
                    } }
                    tbody {
                        @for (i, row) in list.rows.iter().enumerate() {
                            tr {
                                td { input type="radio" name="id" value=(row.id.as_str()) checked[i == 0]; }
                                td { (row.id.as_str()) }
                                td { (row.name) }
                                td.serial { @match &row.serial { Some(s) => (s.to_string()), None => "-" } }
                                td { (row.authority.label(lang)) }
                                td.mode { (row.usage_mode.label(lang)) }
                            }
                        }
                    }
                }
                p { (t(lang, "New registration, exchange or unregistration of the selected user's token.", "選択した利用者へトークンの新規登録・交換・登録解除をします。")) }
                button type="submit" { (t(lang, "Register/Unregister >", "登録・登録解除 >")) }
                p { (t(lang, "Sets how the selected user authenticates with one-time passwords.", "ワンタイムパスワード認証の利用形態の設定を行います。")) }
                button type="submit" formaction="/admin/usage" { (t(lang, "Usage mode setting >", "利用形態設定 >")) }
            }
            (nav)
        },
    )
}

/// What screen 3 shows about the selected user.
#[derive(Debug)]
pub(crate) struct TokenInfo {
    pub(crate) id: otp_exchange::UserId,
    pub(crate) name: String,
    pub(crate) authority: &'static str,
    /// Whether the user is an administrator (who is never offered 利用しない).
    pub(crate) administrator: bool,
    pub(crate) serial: Option<String>,
    /// The user's usage mode (利用形態).
    pub(crate) mode: otp_exchange::UsageMode,
}

/// Screen 3: 2 登録, the token info.
pub(crate) fn token_info(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    info: &TokenInfo,
    message: Option<&str>,
) -> Markup {
    layout(
        lang,
        t(
            lang,
            "OTP information change",
            "ワンタイムパスワード 情報変更",
        ),
        Some(user),
        csrf,
        html! {
            (refusal(message))
            section {
                h2 { (t(lang, "Customer information", "お客様情報")) }
                dl {
                    dt { (t(lang, "Customer ID", "お客様ID")) } dd { (info.id.as_str()) }
                    dt { (t(lang, "User name", "利用者名")) } dd { (info.name) }
                    dt { (t(lang, "Authority", "権限")) } dd { (info.authority) }
                }
            }
            section {
                h2 { (t(lang, "Token information", "トークン情報")) }
                dl {
                    dt { (t(lang, "Token serial", "トークンシリアル番号")) }
                    dd.serial { @match &info.serial { Some(s) => (s), None => "-" } }
                    dt { (t(lang, "Registration status", "登録状況")) }
                    dd { @if info.serial.is_some() { (t(lang, "Registered", "登録完了")) } @else { (t(lang, "Not registered", "未登録")) } }
                }
            }
            @if info.serial.is_some() {
                form method="post" action="/admin/exchange" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(info.id.as_str());
                    button type="submit" { (t(lang, "New registration / exchange", "新規登録・交換")) }
                }
                form method="post" action="/admin/unregister" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(info.id.as_str());
                    button type="submit" { (t(lang, "Unregister the token", "トークンの登録解除")) }
                }
            } @else {
                form method="post" action="/admin/register" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(info.id.as_str());
                    button type="submit" { (t(lang, "New registration", "新規登録")) }
                }
            }
            p { a href="/admin/select" { (t(lang, "Back to the list", "一覧へ戻る")) } }
        },
    )
}

/// Screen 4: a code from the token in use now (and the 4′ way out).
pub(crate) fn current_code(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    ticket: Option<&str>,
    message: Option<&str>,
) -> Markup {
    layout(
        lang,
        t(
            lang,
            "One-time password of the token in use now",
            "現在ご利用中のトークンのワンタイムパスワード",
        ),
        Some(user),
        csrf,
        html! {
            (refusal(message))
            @if let Some(ticket) = ticket {
                p { (t(lang, "Press \"1\" on the token in use now and type the 6 digits shown. The same password cannot be used twice in a row; a new one takes 15–30 seconds to appear.",
                       "現在ご利用中のトークンの「1」ボタンを押し、表示された6桁の数字を入力してください。同じパスワードは連続して使用できません。新しいパスワードの表示まで15～30秒かかります。")) }
                form method="post" action="/admin/exchange/current" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="ticket" value=(ticket);
                    label { (t(lang, "One-time password (required, half-width digits)", "ワンタイムパスワード（必須・半角数字）")) " "
                        input type="text" name="code" inputmode="numeric" required autocomplete="off"; }
                    button type="submit" { (t(lang, "Next >", "次へ >")) }
                }
                form method="post" action="/admin/exchange/no-token" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="ticket" value=(ticket);
                    button type="submit" { (t(lang, "The token in use now is not at hand", "現在ご利用中のトークンがない場合")) }
                }
            } @else {
                p { a href="/admin/select" { (t(lang, "Start again from the list", "一覧から最初からやり直す")) } }
            }
        },
    )
}

/// Screen 4′: no token at hand, the branch instructions.
pub(crate) fn branch_required(lang: Lang, user: &SignedIn, csrf: &str, message: &str) -> Markup {
    layout(
        lang,
        t(
            lang,
            "No token in use now",
            "現在ご利用中のトークンがない場合",
        ),
        Some(user),
        csrf,
        html! {
            (refusal(Some(message)))
            p { (t(lang, "The exchange cannot be done online. Please submit a written request at the branch where you hold your account.",
                   "オンラインでの交換はできません。お取引店舗へ書面でお届けください。")) }
            p { a href="/admin" { (t(lang, "Back to the administration menu", "管理機能へ戻る")) } }
        },
    )
}

/// The password field's label on screen 5 and the unregistration form: the
/// approval password (承認用パスワード), or for an administrator who has
/// not registered one, the per-transfer confirmation password
/// (都度振込送信確認用パスワード), as the manual says.
pub(crate) fn approval_label(lang: Lang, user: &SignedIn) -> &'static str {
    if user.approval {
        t(
            lang,
            "Approval password (required)",
            "承認用パスワード（必須）",
        )
    } else {
        t(
            lang,
            "Per-transfer confirmation password (required; you have no approval password)",
            "都度振込送信確認用パスワード（必須。承認用パスワード未登録のため）",
        )
    }
}

/// Screen 5: the new token's serial, a code from it, the approval password.
pub(crate) fn new_token(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    ticket: Option<&str>,
    serial: &str,
    message: Option<&str>,
) -> Markup {
    layout(
        lang,
        t(lang, "New token information", "新しいトークン情報"),
        Some(user),
        csrf,
        html! {
            (refusal(message))
            @if let Some(ticket) = ticket {
                form method="post" action="/admin/exchange/new" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="ticket" value=(ticket);
                    label { (t(lang, "New token's serial number (required, 12 half-width alphanumerics)", "新しいトークンのシリアル番号（必須・半角英数字12桁）")) " "
                        input type="text" name="serial" value=(serial) required maxlength="64" autocomplete="off"; }
                    label { (t(lang, "One-time password of the new token (required)", "新しいトークンのワンタイムパスワード（必須）")) " "
                        input type="text" name="code" inputmode="numeric" required autocomplete="off"; }
                    label { (approval_label(lang, user)) " "
                        input type="password" name="password" required autocomplete="off"; }
                    button type="submit" { (t(lang, "Confirm", "確定")) }
                }
            } @else {
                p { a href="/admin/select" { (t(lang, "Start again from the list", "一覧から最初からやり直す")) } }
            }
        },
    )
}

/// Screen 6: 3 完了.
pub(crate) fn done(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    exchanged: &Exchanged,
    again: bool,
) -> Markup {
    layout(
        lang,
        t(lang, "3 Done", "3 完了"),
        Some(user),
        csrf,
        html! {
            @if again {
                p.note { (t(lang, "This form was already submitted; the exchange was done once.", "この操作は既に完了しています（登録は一度だけ行われました）。")) }
            }
            p.done { (t(lang, "The usage mode and token have been registered. The registered token is valid from now.",
                        "利用形態とトークンを登録しました。登録したトークンは、ただいまから有効となります。")) }
            dl {
                dt { (t(lang, "Customer ID", "お客様ID")) } dd { (exchanged.user.as_str()) }
                dt { (t(lang, "Token serial", "トークンシリアル番号")) } dd.serial { (exchanged.new_serial.masked().to_string()) }
            }
            p { a href="/admin" { (t(lang, "Back to the administration menu", "管理機能へ戻る")) } }
        },
    )
}

/// A page for a refused request that has no screen of its own (403, 404, 500).
pub(crate) fn error(lang: Lang, title: &str, message: &str) -> Markup {
    layout(
        lang,
        title,
        None,
        "",
        html! {
            (refusal(Some(message)))
            p { a href="/" { (t(lang, "Top", "トップへ")) } }
        },
    )
}

/// The demo's virtual tokens, each drawn as a small device: its serial,
/// its 6-digit display (blank until "1" is pressed) and the "1" button, a
/// POST form with the CSRF token. No script, no inline style.
pub(crate) fn demo_tokens(
    lang: Lang,
    csrf: &str,
    devices: &[(String, Option<String>)],
    message: Option<&str>,
) -> Markup {
    layout(
        lang,
        t(lang, "Demo: virtual tokens", "デモ：仮想トークン"),
        None,
        "",
        html! {
            (refusal(message))
            p { (t(lang, "Demo only: press \"1\" on a token to show its one-time password at the server's clock. The same password cannot be used twice in a row: press again after 30 seconds.",
                   "デモ専用：トークンの「1」ボタンを押すと、サーバーの時刻でのワンタイムパスワードを表示します。同じパスワードは連続して使用できません。30秒後に再度押してください。")) }
            div.devices {
                @for (serial, shown) in devices {
                    div.device {
                        p.serial { (serial) }
                        p.display { @if let Some(code) = shown { (code) } }
                        form method="post" action="/demo/tokens" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="serial" value=(serial);
                            button.one type="submit" aria-label={ (t(lang, "Press 1 on ", "「1」を押す: ")) (serial) } { "1" }
                        }
                    }
                }
            }
        },
    )
}
