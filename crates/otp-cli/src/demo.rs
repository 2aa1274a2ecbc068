//! `otp demo`: the manual's token exchange for W0002, screen by screen, on a
//! simulated clock, with the refusals a person meets on the way. The walk
//! is the library's ([`otp_exchange::scenario::script`]); this module sets
//! up the store and the scenario, and [`page`] prints the walk step by
//! step. The command exits 0 only if every step behaved as the manual says.

mod page;

use anyhow::{Result, anyhow};
use otp_exchange::scenario::{Scenario, script};
use otp_exchange::{HashCost, Lang, MemoryStore, Store};

use crate::lang::{LangArg, resolve, tr};
use page::Page;

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
        .map_err(|e| anyhow!("the demo could not set up the manual's bank: {e}"))?;
    let mut page = Page::new(lang, s.admin.clone(), s.without_token.clone());
    page.intro(store_name);
    let walk = script::walk(&mut s).map_err(|e| anyhow!("the demo's walk failed: {e}"))?;
    page.walk(&walk)
}
