//! The manual's exchange as a script (`scenario::script`): every step behaves
//! as the manual says, and what the script expects is the manual's.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use otp_exchange::scenario::script::{
    self, Accepted, Act, Approval, EXCHANGE_DAY, PREVIOUS_LOGIN, Screen, Step, Walk,
};
use otp_exchange::scenario::{Scenario, ScenarioError};
use otp_exchange::{HashCost, Lang, MemoryStore, Refusal, Which};

fn walk() -> Walk {
    let mut s = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING).unwrap();
    script::walk(&mut s).unwrap()
}

fn steps() -> Vec<Step> {
    walk().steps
}

#[test]
fn every_step_of_the_walk_behaves_as_the_manual_says() {
    let walk = walk();
    for step in &walk.steps {
        assert_eq!(step.outcome, step.expected, "{step:?}");
    }
    assert_eq!(walk.steps.len(), 20);
    assert!(walk.finished);
    assert!(walk.behaved());
}

/// The screens, the clock and what the manual expects, step by step: the
/// same walk `otp demo` shows.
#[test]
fn the_walk_goes_through_the_seeds_screens_on_the_simulated_clock() {
    use Screen::*;
    let steps = steps();
    let walk: Vec<(Screen, u64, Option<Refusal>)> = steps
        .iter()
        .map(|s| (s.screen, s.at, s.expected.clone().err()))
        .collect();
    let day = EXCHANGE_DAY;
    assert_eq!(
        walk,
        vec![
            (SignIn, PREVIOUS_LOGIN + 5, None),
            (SignIn, day + 5, None),
            (SignIn, day + 6, None),
            (AdminFunctions, day + 7, None),
            (Select, day + 8, None),
            (Select, day + 8, Some(Refusal::NoTokenRegistered)),
            (Select, day + 8, Some(Refusal::OwnId)),
            (Select, day + 9, None),
            (TokenInfo, day + 9, None),
            (
                CurrentCode,
                day + 10,
                Some(Refusal::Replayed(Which::Current))
            ),
            (CurrentCode, day + 31, None),
            (CurrentCode, day + 31, None),
            (NewToken, day + 36, Some(Refusal::WrongPassword)),
            (NewToken, day + 36, Some(Refusal::SerialAssigned)),
            (NewToken, day + 36, None),
            (Done, day + 36, None),
            (SignIn, day + 66, Some(Refusal::LoginFailed)),
            (SignIn, day + 66, None),
            (Select, day + 66, None),
            (UsageHistory, day + 66, None),
        ]
    );
}

/// The code of screen 4 is the sign-in code, still on the display; the
/// next one comes 21 s later; the serial typed by mistake is W0001's; the
/// exchange switches W0002's token to the first one in stock.
#[test]
fn the_walk_types_what_the_manual_describes() {
    let steps = steps();
    let Act::SignIn { code: login, .. } = &steps[1].act else {
        panic!("{:?}", steps[1].act)
    };
    let Act::SignIn { token: admin, .. } = &steps[0].act else {
        panic!("{:?}", steps[0].act)
    };
    assert!(matches!(&steps[9].act, Act::TypeCurrentCode { code, .. } if code == login));
    assert!(matches!(
        steps[10].act,
        Act::WaitForNextCode { waited: 21, .. }
    ));
    let approvals: Vec<(String, Approval)> = steps[12..15]
        .iter()
        .map(|s| match &s.act {
            Act::Confirm {
                serial, approval, ..
            } => (serial.as_str().to_owned(), *approval),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        approvals,
        vec![
            ("VT0020200003".to_owned(), Approval::Mistyped),
            (admin.as_str().to_owned(), Approval::Right),
            ("VT0020200003".to_owned(), Approval::Right),
        ]
    );
    assert_eq!(admin.as_str(), "VT0020200001");
    let Ok(Accepted::Exchanged { old, new }) = &steps[14].outcome else {
        panic!("{:?}", steps[14].outcome)
    };
    assert_eq!(
        (old.map(|s| s.as_str().to_owned()), new.as_str()),
        (Some("VT0020200002".to_owned()), "VT0020200003")
    );
    assert_eq!(
        steps[19].outcome,
        // W0002's records include the branch setting its login password.
        Ok(Accepted::History {
            records: 14,
            refused: 4
        })
    );
}

/// The refusals the walk expects say what the manual says.
#[test]
fn the_expected_refusals_are_the_seeds() {
    let refusals: Vec<Refusal> = steps()
        .into_iter()
        .filter_map(|s| s.expected.err())
        .collect();
    let ja: Vec<String> = refusals.iter().map(|r| r.message(Lang::Ja)).collect();
    assert_eq!(
        ja,
        vec![
            "このお客様にはトークンが登録されていません。新規登録を行ってください。",
            Refusal::OwnId.message(Lang::Ja).as_str(),
            "同じパスワードは連続して使用できません。しばらくしてから現在ご利用中のトークンの「1」ボタンを押してください（新しいパスワードの表示まで15～30秒かかります）。",
            "承認用パスワード（または都度振込送信確認用パスワード）が正しくありません。",
            "このトークンは既に登録されています。",
            Refusal::LoginFailed.message(Lang::Ja).as_str(),
        ]
    );
    // SEED.md, screen 4: "the same password cannot be used twice in a
    // row", "a new one takes 15–30 s to appear"; screen 5: the approval
    // password (承認用パスワード) or the per-transfer confirmation password
    // (都度振込送信確認用パスワード).
    assert!(
        refusals[2]
            .message(Lang::En)
            .starts_with("The same password cannot be used twice in a row.")
    );
    assert!(ja[2].contains("15～30秒"));
    assert!(ja[3].starts_with("承認用パスワード（または都度振込送信確認用パスワード）"));
}

/// The walk starts from a scenario set up at `script::START`: a later one
/// would take the clock back.
#[test]
fn the_walk_refuses_a_scenario_set_up_later() {
    let mut s = Scenario::setup(MemoryStore::new(), EXCHANGE_DAY, HashCost::TESTING).unwrap();
    assert!(matches!(
        script::walk(&mut s),
        Err(ScenarioError::StartedTooLate { now }) if now == EXCHANGE_DAY + 60
    ));
}
