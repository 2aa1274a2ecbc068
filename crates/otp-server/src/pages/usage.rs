//! 利用形態設定: a user's one-time password usage mode (hardware token,
//! software token, not used); a software token's QR code, shown once, and
//! its first code.

use maud::{Markup, PreEscaped, html};
use otp_exchange::{Lang, UsageMode};

use super::{TokenInfo, approval_label, layout, refusal, t};
use crate::session::SignedIn;

/// What the usage mode screen shows. `Debug` leaves out the form's
/// one-time ticket (a bearer secret while it is live).
pub(crate) struct Usage<'a> {
    /// The user, their token and their mode now.
    pub(crate) info: &'a TokenInfo,
    /// Whether the bank's policy offers 利用しない to this user (never to
    /// an administrator).
    pub(crate) not_used_offered: bool,
    /// The one-time form ticket of the mode form.
    pub(crate) form: &'a str,
    /// A refusal, in the manual's words.
    pub(crate) message: Option<&'a str>,
    /// What was done.
    pub(crate) notice: Option<&'a str>,
}

impl core::fmt::Debug for Usage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Usage")
            .field("info", &self.info)
            .field("not_used_offered", &self.not_used_offered)
            .finish_non_exhaustive()
    }
}

/// 利用形態設定: the user, the mode now, the choice of modes and the
/// operator's approval password.
pub(crate) fn usage(lang: Lang, user: &SignedIn, csrf: &str, view: &Usage<'_>) -> Markup {
    layout(
        lang,
        t(lang, "OTP usage mode setting", "利用形態設定"),
        Some(user),
        csrf,
        html! {
            (refusal(view.message))
            @if let Some(n) = view.notice { p.done { (n) } }
            section {
                h2 { (t(lang, "Customer information", "お客様情報")) }
                dl {
                    dt { (t(lang, "Customer ID", "お客様ID")) } dd { (view.info.id.as_str()) }
                    dt { (t(lang, "User name", "利用者名")) } dd { (view.info.name) }
                    dt { (t(lang, "Authority", "権限")) } dd { (view.info.authority) }
                    dt { (t(lang, "Token serial", "トークンシリアル番号")) } dd.serial { (view.info.serial.as_deref().unwrap_or("-")) }
                    dt { (t(lang, "Usage mode", "利用形態")) } dd.mode { (view.info.mode.label(lang)) }
                }
            }
            form method="post" action="/admin/usage" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="ticket" value=(view.form);
                input type="hidden" name="id" value=(view.info.id.as_str());
                fieldset {
                    legend { (t(lang, "New usage mode", "変更後の利用形態")) }
                    label.choice {
                        input type="radio" name="action" value=(UsageMode::HardwareToken.as_str()) checked[view.info.mode != UsageMode::SoftwareToken];
                        " " (UsageMode::HardwareToken.label(lang))
                        span.hint { (t(lang, " (register the token with 登録・登録解除)", "（トークンは「登録・登録解除」で登録します）")) }
                    }
                    label.choice {
                        input type="radio" name="action" value=(UsageMode::SoftwareToken.as_str()) checked[view.info.mode == UsageMode::SoftwareToken];
                        " " (UsageMode::SoftwareToken.label(lang))
                        span.hint { (t(lang, " (an authenticator app scans a QR code, then types its first code)", "（認証アプリでQRコードを読み取り、最初のワンタイムパスワードを入力します）")) }
                    }
                    @if view.not_used_offered {
                        label.choice {
                            input type="radio" name="action" value=(UsageMode::NotUsed.as_str());
                            " " (UsageMode::NotUsed.label(lang))
                            span.hint { (t(lang, " (the current token is revoked at once)", "（ご利用中のトークンはただちに無効となります）")) }
                        }
                    }
                }
                label { (approval_label(lang, user)) " "
                    input type="password" name="password" required autocomplete="off"; }
                button type="submit" { (t(lang, "Set", "設定")) }
            }
            p { a href="/admin/select" { (t(lang, "Back to the list", "一覧へ戻る")) } }
        },
    )
}

/// The software token's enrolment: the QR code (only on the page that
/// minted the token; never again), the masked serial, the first code.
pub(crate) fn software(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    (id, serial): (&str, &str),
    ticket: Option<&str>,
    qr: Option<&str>,
    message: Option<&str>,
) -> Markup {
    layout(
        lang,
        t(
            lang,
            "Software token registration",
            "ソフトウェアトークン登録",
        ),
        Some(user),
        csrf,
        html! {
            (refusal(message))
            dl {
                dt { (t(lang, "Customer ID", "お客様ID")) } dd { (id) }
                dt { (t(lang, "Token serial", "トークンシリアル番号")) } dd.serial { (serial) }
            }
            @if let Some(svg) = qr {
                p { (t(lang, "Have the customer scan this code with their authenticator app. It is shown only this once: do not photograph or print it.",
                       "お客様の認証アプリでこのQRコードを読み取ってください。表示はこの一度だけです。撮影・印刷はしないでください。")) }
                div.qr { (PreEscaped(svg)) }
            }
            @if let Some(ticket) = ticket {
                form method="post" action="/admin/usage/software" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="ticket" value=(ticket);
                    label { (t(lang, "One-time password shown by the app (required, half-width digits)", "認証アプリに表示されたワンタイムパスワード（必須・半角数字）")) " "
                        input type="text" name="code" inputmode="numeric" required autocomplete="off"; }
                    button type="submit" { (t(lang, "Confirm", "確定")) }
                }
            } @else {
                p { a href="/admin/select" { (t(lang, "Start again from the list", "一覧から最初からやり直す")) } }
            }
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_form_ticket() {
        let info = TokenInfo {
            id: otp_exchange::UserId::parse("W0002").unwrap(),
            name: "しんきん太郎".to_owned(),
            authority: "一般者",
            administrator: false,
            serial: None,
            mode: UsageMode::HardwareToken,
        };
        let ticket = "one-time-form-ticket-text";
        let usage = Usage {
            info: &info,
            not_used_offered: false,
            form: ticket,
            message: None,
            notice: None,
        };
        let locks = super::super::Locks {
            rows: &[],
            count: String::new(),
            page: 0,
            pages: 1,
            message: None,
            notice: None,
            form: ticket,
        };
        let shown = format!("{usage:?} {locks:?}");
        assert!(!shown.contains(ticket), "{shown}");
        assert!(shown.contains("W0002"), "{shown}");
    }
}
