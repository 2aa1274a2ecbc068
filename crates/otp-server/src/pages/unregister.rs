//! 登録解除 from screen 3: a code from the user's token and the approval
//! password, then "unregistered".

use maud::{Markup, html};
use otp_exchange::Lang;

use super::{approval_label, layout, refusal, t};
use crate::session::SignedIn;

/// The unregistration form: `ticket` is the session's one-time form
/// ticket (`None` when the refusal leaves nothing to retry).
pub(crate) fn unregister(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    target: &str,
    ticket: Option<&str>,
    message: Option<&str>,
) -> Markup {
    layout(
        lang,
        t(lang, "Unregister the token", "トークンの登録解除"),
        Some(user),
        csrf,
        html! {
            (refusal(message))
            dl { dt { (t(lang, "Customer ID", "お客様ID")) } dd { (target) } }
            @if let Some(ticket) = ticket {
                p { (t(lang, "The token is revoked at once. Press \"1\" on the token being unregistered and type the 6 digits shown, with your approval password.",
                       "トークンはただちに無効となります。登録解除するトークンの「1」ボタンを押して表示された6桁の数字と、承認用パスワードを入力してください。")) }
                form method="post" action="/admin/unregister/confirm" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="ticket" value=(ticket);
                    label { (t(lang, "One-time password of the token (required, half-width digits)", "登録解除するトークンのワンタイムパスワード（必須・半角数字）")) " "
                        input type="text" name="code" inputmode="numeric" required autocomplete="off"; }
                    label { (approval_label(lang, user)) " "
                        input type="password" name="password" required autocomplete="off"; }
                    button type="submit" { (t(lang, "Unregister", "登録解除")) }
                }
            }
            p { a href={ "/admin/user?id=" (target) } { (t(lang, "Back to the token information", "トークン情報へ戻る")) } }
        },
    )
}

/// Unregistered: the token is no longer valid.
pub(crate) fn unregistered(
    lang: Lang,
    user: &SignedIn,
    csrf: &str,
    target: &str,
    again: bool,
) -> Markup {
    layout(
        lang,
        t(lang, "3 Done", "3 完了"),
        Some(user),
        csrf,
        html! {
            @if again {
                p.note { (t(lang, "This form was already submitted; the token was unregistered once.", "この操作は既に完了しています（登録解除は一度だけ行われました）。")) }
            }
            p.done { (t(lang, "The token has been unregistered. It is no longer valid.", "トークンの登録を解除しました。このトークンは無効となりました。")) }
            dl { dt { (t(lang, "Customer ID", "お客様ID")) } dd { (target) } }
            p { a href="/admin" { (t(lang, "Back to the administration menu", "管理機能へ戻る")) } }
        },
    )
}
