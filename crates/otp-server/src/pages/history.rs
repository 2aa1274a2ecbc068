//! 利用履歴照会: one user ID's audit records in a date range, newest first.

use maud::{Markup, html};
use otp_exchange::Lang;

use super::{layout, refusal, t};
use crate::session::SignedIn;

/// One record as the usage history shows it (no code or password: the
/// audit holds none).
#[derive(Debug)]
pub(crate) struct HistoryRow {
    /// When, in the bank's time zone (JST).
    pub(crate) at: String,
    /// What was attempted, in the bank's words.
    pub(crate) action: &'static str,
    /// Who did it.
    pub(crate) operator: String,
    /// Whose ID or token it was about.
    pub(crate) target: String,
    /// The outcome (and why when refused).
    pub(crate) outcome: String,
    /// The masked serials: old → new.
    pub(crate) serials: String,
}

/// What the usage history screen shows.
#[derive(Debug)]
pub(crate) struct History<'a> {
    /// The form as typed (ID, start, end; never a secret).
    pub(crate) id: &'a str,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    /// The records of this page, `None` before a search.
    pub(crate) rows: Option<&'a [HistoryRow]>,
    pub(crate) count: String,
    /// Links to the previous and next pages (the same search).
    pub(crate) previous: Option<String>,
    pub(crate) next: Option<String>,
    /// A typed error or a refusal.
    pub(crate) message: Option<&'a str>,
}

/// 利用履歴照会.
pub(crate) fn history(
    lang: Lang,
    user: Option<&SignedIn>,
    csrf: &str,
    view: &History<'_>,
) -> Markup {
    let nav = html! {
        nav.pages {
            @if let Some(p) = &view.previous { a href=(p) { (t(lang, "<Previous", "<前へ")) } " " }
            @if let Some(n) = &view.next { a href=(n) { (t(lang, "Next>", "次へ>")) } }
        }
    };
    layout(
        lang,
        t(lang, "Usage history", "利用履歴照会"),
        user,
        csrf,
        html! {
            (refusal(view.message))
            form method="get" action="/admin/history" {
                label { (t(lang, "Customer ID (required)", "お客様ID（必須）")) " "
                    input type="text" name="id" value=(view.id) required autocomplete="off"; }
                label { (t(lang, "From (YYYY-MM-DD, Japan time)", "開始日（YYYY-MM-DD・日本時間）")) " "
                    input type="text" name="from" value=(view.from) placeholder="YYYY-MM-DD" autocomplete="off"; }
                label { (t(lang, "To (YYYY-MM-DD, Japan time)", "終了日（YYYY-MM-DD・日本時間）")) " "
                    input type="text" name="to" value=(view.to) placeholder="YYYY-MM-DD" autocomplete="off"; }
                button type="submit" { (t(lang, "Search", "照会")) }
            }
            @if let Some(rows) = view.rows {
                (table(lang, rows, &view.count, &nav))
            }
            p { a href="/admin" { (t(lang, "Back to the administration menu", "管理機能へ戻る")) } }
        },
    )
}

/// The records' table (also on the general user's page).
pub(crate) fn table(lang: Lang, rows: &[HistoryRow], count: &str, nav: &Markup) -> Markup {
    html! {
        @if rows.is_empty() {
            p.count { (t(lang, "No records in this period.", "該当する履歴はありません。")) }
        } @else {
            @if !count.is_empty() { p.count { (count) } }
            (nav)
            table.history {
                thead { tr {
                    th { (t(lang, "Date and time (JST)", "日時（日本時間）")) }
                    th { (t(lang, "Operation", "操作")) }
                    th { (t(lang, "Operator", "操作者")) }
                    th { (t(lang, "Customer ID", "お客様ID")) }
                    th { (t(lang, "Token serial", "トークンシリアル番号")) }
                    th { (t(lang, "Result", "結果")) }
                } }
                tbody {
                    @for r in rows {
                        tr { td { (r.at) } td { (r.action) } td { (r.operator) } td { (r.target) } td.serial { (r.serials) } td { (r.outcome) } }
                    }
                }
            }
            (nav)
        }
    }
}
