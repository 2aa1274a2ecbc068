//! IDロック解除: the users, their lock state, lock and unlock.

use maud::{Markup, html};
use otp_exchange::Lang;

use super::{layout, refusal, t};
use crate::session::SignedIn;

/// One row of the ID lock screen.
#[derive(Debug)]
pub(crate) struct LockRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) authority: &'static str,
    /// Why the ID is locked; `None` when it is not.
    pub(crate) locked: Option<&'static str>,
}

/// What the ID lock screen shows. `Debug` leaves out the form's one-time
/// ticket (a bearer secret while it is live).
pub(crate) struct Locks<'a> {
    pub(crate) rows: &'a [LockRow],
    pub(crate) count: String,
    pub(crate) page: usize,
    pub(crate) pages: usize,
    /// A refusal, in the manual's words.
    pub(crate) message: Option<&'a str>,
    /// What was done.
    pub(crate) notice: Option<&'a str>,
    /// The one-time form ticket of this screen's form.
    pub(crate) form: &'a str,
}

impl core::fmt::Debug for Locks<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Locks")
            .field("rows", &self.rows)
            .field("page", &self.page)
            .field("pages", &self.pages)
            .finish_non_exhaustive()
    }
}

/// IDロック解除: every user with their lock state; lock or unlock the one
/// chosen (unlocking takes the operator's approval password).
pub(crate) fn locks(lang: Lang, user: &SignedIn, csrf: &str, view: &Locks<'_>) -> Markup {
    let nav = html! {
        nav.pages {
            @if view.page > 0 { a href={ "/admin/locks?page=" (view.page.min(view.pages) - 1) } { (t(lang, "<Previous", "<前へ")) } " " }
            @if view.page < view.pages.saturating_sub(1) { a href={ "/admin/locks?page=" (view.page + 1) } { (t(lang, "Next>", "次へ>")) } }
        }
    };
    layout(
        lang,
        t(lang, "ID lock/unlock", "IDロック解除"),
        Some(user),
        csrf,
        html! {
            (refusal(view.message))
            @if let Some(n) = view.notice { p.done { (n) } }
            p.count { (view.count) }
            (nav)
            form method="post" action={ "/admin/locks?page=" (view.page) } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="ticket" value=(view.form);
                table {
                    thead { tr {
                        th {} th { (t(lang, "Customer ID", "お客様ID")) } th { (t(lang, "User name", "利用者名")) }
                        th { (t(lang, "Authority", "権限")) } th { (t(lang, "Lock state", "ロック状態")) }
                    } }
                    tbody {
                        @for (i, row) in view.rows.iter().enumerate() {
                            tr {
                                td { input type="radio" name="id" value=(row.id) checked[i == 0]; }
                                td { (row.id) }
                                td { (row.name) }
                                td { (row.authority) }
                                td.lock {
                                    @match row.locked {
                                        Some(why) => { strong { (t(lang, "Locked", "ロック中")) } "（" (why) "）" },
                                        None => { (t(lang, "Not locked", "ロックなし")) },
                                    }
                                }
                            }
                        }
                    }
                }
                p { (t(lang, "Lock the selected ID, or unlock it with your approval password. An administrator's ID is unlocked only at the branch.",
                       "選択したIDをロックします。ロック解除には承認用パスワードを入力してください。管理者のIDロック解除はお取引店舗へのお届けが必要です。")) }
                label { (t(lang, "Approval password (required to unlock)", "承認用パスワード（ロック解除時は必須）")) " "
                    input type="password" name="password" autocomplete="off"; }
                button type="submit" name="action" value="lock" { (t(lang, "Lock", "ロック")) }
                " "
                button type="submit" name="action" value="unlock" { (t(lang, "Unlock", "ロック解除")) }
            }
            (nav)
            p { a href="/admin" { (t(lang, "Back to the administration menu", "管理機能へ戻る")) } }
        },
    )
}
