//! `otp serve --demo`: the manual's screens in a browser. The demo bank
//! (W0001 administrator, W0002 and W0005 general users, stock tokens) on a
//! temporary SQLite database, served by `otp_server::router` on loopback,
//! with the demo-only page `/demo/tokens` showing each virtual token's
//! display. Ctrl-C or SIGTERM stops accepting, lets requests in flight
//! finish, then removes the database.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Result, anyhow, bail};
use otp_exchange::HashCost;
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, LOGIN_PASSWORD, Scenario};
use otp_provision::{Clock as _, SerialNumber, SystemClock};
use otp_token::{SimClock, Token};

/// `otp serve` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve the manual's demo bank on a temporary SQLite database (the
    /// only mode so far: serving a bank's own database is not built yet).
    #[arg(long)]
    demo: bool,
    /// The address to listen on (plain HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Allow a `--listen` address other than loopback. The server speaks
    /// plain HTTP: only behind a TLS proxy.
    #[arg(long)]
    allow_non_loopback: bool,
}

pub(crate) fn run(args: &ServeArgs) -> Result<()> {
    if !args.demo {
        bail!(
            "only `otp serve --demo` is built so far (serving a bank's own database is not); see docs/web.md"
        );
    }
    if !args.listen.ip().is_loopback() && !args.allow_non_loopback {
        bail!(
            "refusing to serve plain HTTP on {} (not loopback): add --allow-non-loopback only behind a TLS proxy",
            args.listen
        );
    }
    let _ = tracing_subscriber::fmt().with_target(false).try_init();
    // Not `ScratchDir`: its Ctrl-C handler exits at once, and this command
    // shuts down gracefully (the folder is removed when `dir` drops).
    let dir = {
        use std::os::unix::fs::PermissionsExt as _;
        tempfile::Builder::new()
            .prefix("otp-serve-")
            .rand_bytes(16)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| anyhow!("cannot create a temporary folder: {e}"))?
    };
    let store =
        otp_store::SqliteStore::open(dir.path().join("demo.sqlite"), crate::scratch::sealer()?)
            .map_err(|e| anyhow!("cannot create the demo's SQLite database: {e}"))?;
    // The set-up takes two half-minute steps on its own clock: start it a
    // minute ago so it ends now, then follow the system clock.
    let now = SystemClock.now();
    let scenario = Scenario::setup(store, now.saturating_sub(60), HashCost::RECOMMENDED)
        .map_err(|e| anyhow!("the demo could not set up the manual's bank: {e}"))?;
    let Scenario {
        bank,
        clock,
        tokens,
        admin,
        general,
        without_token,
    } = scenario;
    let held = |user| -> Result<Option<SerialNumber>> {
        Ok(bank
            .records()
            .user(user)
            .map_err(|e| anyhow!("the demo's store: {e}"))?
            .and_then(|u| u.token))
    };
    let admin_serial = held(&admin)?;
    let general_serial = held(&general)?;
    let bank = Arc::new(bank);
    let tokens = Arc::new(Mutex::new(tokens));
    let state = otp_server::AppState::new(Arc::clone(&bank))
        .with_demo_tokens(demo_page(Arc::clone(&tokens), clock.clone()));
    let app = otp_server::router(state);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the server's runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| anyhow!("cannot read the listening address: {e}"))?;
        let show =
            |s: Option<SerialNumber>| s.map_or_else(|| "-".to_owned(), |s| s.as_str().to_owned());
        println!("otp serve --demo: the manual's bank on a temporary SQLite database");
        println!("  open             http://{addr}/login   (English: http://{addr}/login?lang=en)");
        println!(
            "  virtual tokens   http://{addr}/demo/tokens   (press \"1\" on a token to show its code)"
        );
        println!(
            "  sign in as       {} (administrator), token {}",
            admin.as_str(),
            show(admin_serial)
        );
        println!(
            "  exchange for     {} (general user), token {}",
            general.as_str(),
            show(general_serial)
        );
        println!("  without a token  {}", without_token.as_str());
        println!("  login password (demo fixture, every user): {LOGIN_PASSWORD}");
        println!("  approval password (demo fixture): {ADMIN_APPROVAL_PASSWORD}");
        println!("  new tokens: any serial on the tokens page that is neither of the above");
        println!("Ctrl-C stops the server.");
        tokio::spawn(follow_system_clock(clock));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| anyhow!("the server stopped: {e}"))
    })?;
    drop(bank);
    drop(dir);
    println!("stopped; the demo's database was removed");
    Ok(())
}

/// The demo bank's clock follows the system's (never backwards).
async fn follow_system_clock(clock: SimClock) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = SystemClock.now();
        if now > clock.now() {
            clock.set(now);
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

/// The demo's virtual tokens for `/demo/tokens`: "1" pressed on one at
/// the bank's clock (which follows the system clock).
struct DemoPage {
    tokens: Arc<Mutex<BTreeMap<SerialNumber, Token>>>,
    clock: SimClock,
}

impl otp_server::DemoTokens for DemoPage {
    fn serials(&self) -> Vec<String> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.keys().map(|s| s.as_str().to_owned()).collect()
    }

    fn press(&self, serial: &str) -> Option<String> {
        let serial = SerialNumber::parse(serial).ok()?;
        let now = self.clock.now();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let screen = tokens.get_mut(&serial)?.press(now).ok()?;
        screen.code().map(|c| c.to_string())
    }
}

fn demo_page(
    tokens: Arc<Mutex<BTreeMap<SerialNumber, Token>>>,
    clock: SimClock,
) -> Arc<dyn otp_server::DemoTokens> {
    Arc::new(DemoPage { tokens, clock })
}
