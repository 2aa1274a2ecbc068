//! `otp serve`: the manual's screens in a browser, served by
//! `otp_server::serve`. `--demo`: the demo bank (W0001 administrator,
//! W0002 and W0005 general users, stock tokens) on a temporary SQLite
//! database, with the demo-only page `/demo/tokens` showing each virtual
//! token's display, and two throwaway API keys (validate and admin scope)
//! printed in its banner for scripts that drive the JSON API. `--db FILE` (or `OTP_DB`): the bank's own database,
//! opened exactly as `otp bank` opens it, on the system clock, never
//! created. `--postgres`: the bank in PostgreSQL with named key files
//! (`--key-file`, `--kek-file`), so that several servers share it.
//! Plain HTTP only on loopback (unless `--allow-non-loopback`),
//! or TLS on any address with `--tls-cert` and `--tls-key` (the key file
//! must be private). Ctrl-C or SIGTERM stops accepting, lets requests in
//! flight finish, then (demo) removes the database.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Result, anyhow, bail};
use otp_exchange::HashCost;
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, LOGIN_PASSWORD, Scenario};
use otp_provision::{Clock as _, SerialNumber, SystemClock};
use otp_server::TlsConfig;
use otp_token::{SimClock, Token};
use zeroize::Zeroizing;

use crate::Exit;
use crate::safefs::{self, FileError};

/// `otp serve` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve the manual's demo bank on a temporary SQLite database, with
    /// the virtual tokens' page `/demo/tokens`.
    #[arg(long, conflicts_with_all = ["db", "postgres"])]
    demo: bool,
    /// Serve the bank's own SQLite file, opened as `otp bank` opens it
    /// (default: $OTP_DB, else otp/bank.sqlite under your data directory;
    /// its key files FILE.keys and FILE.kek beside it). Never created:
    /// `otp bank init` makes a bank.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// The bank in PostgreSQL, shared by several `otp serve` processes
    /// with the same key files.
    #[command(flatten)]
    pg: crate::bank::PgArgs,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Allow plain HTTP on a `--listen` address other than loopback: only
    /// behind a TLS proxy. Not needed with --tls-cert.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Serve TLS (1.2 and 1.3, on any address) with this PEM certificate
    /// chain, the server's certificate first; needs --tls-key. Cookies
    /// are then `Secure` and responses carry HSTS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key: a file of the server's user, not
    /// a symbolic link, readable by no one else (chmod 600).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The JSON API's rate per API key: requests a second (bursts of
    /// twice that), per server process.
    #[arg(long, value_name = "N", default_value_t = otp_server::api::ApiConfig::DEFAULT_KEY_RATE, value_parser = clap::value_parser!(u32).range(1..))]
    api_key_rate: u32,
    /// The JSON API's rate per target user ID: validations per 10 seconds
    /// across all keys, per server process (the policy's ID lock still
    /// counts every wrong code).
    #[arg(long, value_name = "N", default_value_t = otp_server::api::ApiConfig::DEFAULT_USER_RATE, value_parser = clap::value_parser!(u32).range(1..))]
    api_user_rate: u32,
}

impl ServeArgs {
    /// The JSON API's settings from the flags.
    fn api_config(&self) -> otp_server::api::ApiConfig {
        otp_server::api::ApiConfig::new()
            .with_key_rate(self.api_key_rate)
            .with_user_rate(self.api_user_rate)
    }
}

/// The exit status of a refused key file, certificate or database.
const REFUSED: u8 = 2;

/// The largest certificate or key file read.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

pub(crate) fn run(args: &ServeArgs) -> Result<()> {
    let tls_files = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
    if tls_files.is_none() && !args.listen.ip().is_loopback() && !args.allow_non_loopback {
        bail!(
            "refusing to serve plain HTTP on {} (not loopback): serve TLS with --tls-cert and --tls-key, or add --allow-non-loopback only behind a TLS proxy",
            args.listen
        );
    }
    let tls = match tls_files {
        Some((cert, key)) => Some(tls_config(cert, key).map_err(|e| Exit {
            code: REFUSED,
            message: e.to_string(),
        })?),
        None => None,
    };
    if args.demo {
        demo(args, tls)
    } else {
        own_bank(args, tls)
    }
}

/// Why `--tls-cert` or `--tls-key` was refused. Never any of the key's
/// bytes.
#[derive(Debug)]
enum TlsFileError {
    /// The key file is a link, not a regular file, another user's,
    /// missing or unreadable.
    Key(FileError),
    /// Group or others may read or write the key file.
    KeyOpenToOthers { path: PathBuf, mode: u32 },
    /// The certificate or key file is larger than [`MAX_PEM_BYTES`].
    TooLarge { what: &'static str, path: PathBuf },
    /// The certificate file cannot be read.
    Cert {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The PEM does not hold a usable chain and key.
    Tls(otp_server::TlsError),
}

impl std::fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key(e) => write!(f, "the TLS key file (--tls-key): {e}"),
            Self::KeyOpenToOthers { path, mode } => write!(
                f,
                "the TLS key file `{p}` is open to group or others (mode {mode:04o}): refusing it; \
                 make it private to the server's user (chmod 600 {p}), and consider the key exposed",
                p = path.display()
            ),
            Self::TooLarge { what, path } => write!(
                f,
                "the TLS {what} file `{}` is larger than {MAX_PEM_BYTES} bytes: not a PEM file",
                path.display()
            ),
            Self::Cert { path, source } => write!(
                f,
                "cannot read the TLS certificate file `{}`: {source}",
                path.display()
            ),
            Self::Tls(e) => write!(f, "--tls-cert and --tls-key: {e}"),
        }
    }
}

impl std::error::Error for TlsFileError {}

/// Reads the key as a private file (never through a link, the caller's
/// own, open to no one else), then the certificate chain, into the
/// server's TLS configuration.
fn tls_config(cert: &Path, key: &Path) -> Result<TlsConfig, TlsFileError> {
    // The key first: a key file open to others is the graver news.
    let (file, meta) = safefs::open_private(key).map_err(TlsFileError::Key)?;
    {
        use std::os::unix::fs::MetadataExt as _;
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(TlsFileError::KeyOpenToOthers {
                path: key.to_owned(),
                mode,
            });
        }
    }
    if meta.len() > MAX_PEM_BYTES {
        return Err(TlsFileError::TooLarge {
            what: "key",
            path: key.to_owned(),
        });
    }
    // Room for the whole file at once: no reallocation leaves a copy of
    // the key behind.
    let mut key_pem = Zeroizing::new(Vec::with_capacity(
        usize::try_from(meta.len()).unwrap_or(0).saturating_add(1),
    ));
    file.take(MAX_PEM_BYTES)
        .read_to_end(&mut key_pem)
        .map_err(|source| {
            TlsFileError::Key(FileError::Io {
                what: "read",
                path: key.to_owned(),
                source,
            })
        })?;
    let cert_pem = {
        let io = |source| TlsFileError::Cert {
            path: cert.to_owned(),
            source,
        };
        let file = std::fs::File::open(cert).map_err(io)?;
        let mut pem = Vec::new();
        file.take(MAX_PEM_BYTES + 1)
            .read_to_end(&mut pem)
            .map_err(io)?;
        if pem.len() as u64 > MAX_PEM_BYTES {
            return Err(TlsFileError::TooLarge {
                what: "certificate",
                path: cert.to_owned(),
            });
        }
        pem
    };
    TlsConfig::from_pem(&cert_pem, &key_pem).map_err(TlsFileError::Tls)
}

/// `otp serve --db FILE`: the bank's own database, opened by `otp bank`'s
/// opener (its key files, its sealer, the system clock); no demo page.
fn own_bank(args: &ServeArgs, tls: Option<TlsConfig>) -> Result<()> {
    if let Some(location) = args.pg.location()? {
        let bank = Arc::new(crate::bank::open_location(&location, false)?);
        return serve_bank(args, tls, bank, "in PostgreSQL (--postgres)");
    }
    let path = match &args.db {
        Some(path) => path.clone(),
        None => match std::env::var_os("OTP_DB").filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => crate::bank::default_db()?,
        },
    };
    if !path.exists() {
        return Err(Exit {
            code: REFUSED,
            message: format!(
                "there is no bank database at `{}`: check --db (or OTP_DB); `otp bank init` creates a new bank (otp serve never does), and `otp serve --demo` serves the manual's demo bank",
                path.display()
            ),
        }
        .into());
    }
    let bank = Arc::new(crate::bank::open_location(
        &crate::bank::Location::Sqlite(path.clone()),
        false,
    )?);
    serve_bank(args, tls, bank, &format!("`{}`", path.display()))
}

/// Serves the bank's own store (SQLite or PostgreSQL), described as
/// `shown` in the banner (never a PostgreSQL URL: it may hold a password).
fn serve_bank(
    args: &ServeArgs,
    tls: Option<TlsConfig>,
    bank: Arc<otp_exchange::Bank<crate::bank::BankStore>>,
    shown: &str,
) -> Result<()> {
    let state = otp_server::AppState::new(bank)
        .with_secure_cookies(tls.is_some())
        .with_api_config(args.api_config());
    let app = otp_server::router(state);
    let _ = tracing_subscriber::fmt().with_target(false).try_init();
    serve_until_stopped(args.listen, app, tls, None, |base| {
        println!("otp serve: the bank {shown}");
        println!("  open             {base}/login   (English: {base}/login?lang=en)");
        println!("Ctrl-C stops the server.");
    })?;
    println!("stopped");
    Ok(())
}

/// `otp serve --demo`.
fn demo(args: &ServeArgs, tls: Option<TlsConfig>) -> Result<()> {
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
    // Two throwaway API keys, so that a script can drive the JSON API
    // against the demo (scripts/api-check.sh): they live and die with the
    // demo's temporary database.
    let api_key = |name, scope| {
        bank.create_api_key(admin.as_str(), name, scope)
            .map_err(|e| anyhow!("the demo could not create its API keys: {e}"))
    };
    let validate_key = api_key("demo-validate", otp_exchange::ApiScope::Validate)?;
    let admin_key = api_key("demo-admin", otp_exchange::ApiScope::Admin)?;
    let bank = Arc::new(bank);
    let tokens = Arc::new(Mutex::new(tokens));
    let state = otp_server::AppState::new(Arc::clone(&bank))
        .with_secure_cookies(tls.is_some())
        .with_api_config(args.api_config())
        .with_demo_tokens(demo_page(Arc::clone(&tokens), clock.clone()));
    let app = otp_server::router(state);

    serve_until_stopped(args.listen, app, tls, Some(clock), |base| {
        let show =
            |s: Option<SerialNumber>| s.map_or_else(|| "-".to_owned(), |s| s.as_str().to_owned());
        println!("otp serve --demo: the manual's bank on a temporary SQLite database");
        println!("  open             {base}/login   (English: {base}/login?lang=en)");
        println!(
            "  virtual tokens   {base}/demo/tokens   (press \"1\" on a token to show its code)"
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
        println!("  API keys (throwaway: this demo's only, gone when it stops):");
        println!("    validate scope   {}", validate_key.plaintext());
        println!("    admin scope      {}", admin_key.plaintext());
        println!("Ctrl-C stops the server.");
    })?;
    drop(bank);
    drop(dir);
    println!("stopped; the demo's database was removed");
    Ok(())
}

/// Listens on `listen`, prints the banner with the base address
/// (`http://` or `https://`), serves `app` until Ctrl-C or SIGTERM, and
/// lets the requests in flight finish. With `clock`, the demo bank's
/// clock follows the system's meanwhile.
fn serve_until_stopped(
    listen: SocketAddr,
    app: axum::Router,
    tls: Option<TlsConfig>,
    clock: Option<SimClock>,
    banner: impl FnOnce(&str),
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the server's runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| anyhow!("cannot read the listening address: {e}"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        banner(&format!("{scheme}://{addr}"));
        if let Some(clock) = clock {
            tokio::spawn(follow_system_clock(clock));
        }
        otp_server::serve(listener, app, tls, shutdown())
            .await
            .map_err(|e| anyhow!("the server stopped: {e}"))
    })
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
