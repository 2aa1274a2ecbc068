//! `otp bench`: verification throughput and latency. Each visit to a token
//! verifies a wrong code, then the right one (so half the codes are wrong
//! and no token ever locks), on T threads for D seconds or N codes.
//!
//! `--store memory` (the default) measures otp-core's verifier on token
//! states held in memory (each thread owns its share of the tokens);
//! `--store memory-bank`, `--store sqlite` and `--store postgres` measure
//! a whole login through `otp_exchange::Bank` (verification,
//! compare-and-set of the token state, ID lock, audit record) on the
//! in-memory store, a SQLite file or PostgreSQL (the URL from
//! `$OTP_POSTGRES_URL`, as `otp bank --postgres` reads it; a schema of the
//! run's own, dropped at the end).
//!
//! `--http` measures the same logins through the JSON API: the bench sets
//! up its bank as above, serves `otp_server::router` in this process on
//! 127.0.0.1 (an ephemeral port, loopback only), creates a validate-scope
//! API key, raises the per-key and per-user rate limits so that they never
//! throttle the run, and drives `--connections N` keep-alive HTTP/1.1
//! connections, each posting `POST /api/v1/validate` one request at a
//! time. In-process because the codes come from the simulated clock the
//! bank reads: the client sets it before each visit, as the direct bench
//! does. Client and server share the machine's cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use otp_core::{Code, Digits, Key, Params, TimeStep, TokenState, hotp, verify};
use otp_exchange::{
    ApiScope, Authority, Bank, BranchAuthorization, MemoryStore, Refusal, Store, UserId,
};
use otp_provision::{Inventory, PskcLimits};
use otp_server::api::ApiConfig;
use otp_token::{Factory, SimClock};
use zeroize::Zeroizing;

/// `otp bench` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// How many tokens (each with its own secret and state): 1 to 1000000
    /// (their seed file is made and read back in memory first, about 660
    /// bytes a token).
    #[arg(long, default_value_t = 1_000, allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
    tokens: usize,
    /// Worker threads (default: all cores). Not with --http (the server
    /// runs as `otp serve` does: a runtime thread per core).
    #[arg(long, conflicts_with = "http", allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
    threads: Option<usize>,
    /// Run for this many seconds (default 5).
    #[arg(long, conflicts_with = "codes", allow_negative_numbers = true)]
    seconds: Option<f64>,
    /// Verify this many codes in all, then stop.
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::whole::<u64>)]
    codes: Option<u64>,
    /// memory: otp-core alone; memory-bank, sqlite or postgres (URL in
    /// $OTP_POSTGRES_URL): a whole bank login.
    #[arg(long, value_enum, default_value = "memory")]
    store: BenchStore,
    /// Through the JSON API: `POST /api/v1/validate` to a server in this
    /// process on 127.0.0.1 (needs a bank store: memory-bank, sqlite or
    /// postgres).
    #[arg(long)]
    http: bool,
    /// With --http: keep-alive HTTP/1.1 connections, each sending one
    /// request at a time (default 1).
    #[arg(long, requires = "http", allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
    connections: Option<usize>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BenchStore {
    /// otp-core's verifier on token states in memory.
    Memory,
    /// Bank::login on otp_exchange::MemoryStore.
    MemoryBank,
    /// Bank::login on otp_store::SqliteStore (a temporary file).
    Sqlite,
    /// Bank::login on otp_store::PgStore ($OTP_POSTGRES_URL, a schema of
    /// the run's own).
    Postgres,
}

impl BenchStore {
    const fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::MemoryBank => "memory-bank",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Latencies in a log-linear histogram: 16 buckets per power of two
/// (at most 6 % error), no allocation per sample.
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
}

impl Histogram {
    const BUCKETS: usize = 16 + 60 * 16;

    fn new() -> Self {
        Self {
            counts: vec![0; Self::BUCKETS],
        }
    }

    fn bucket(ns: u64) -> usize {
        if ns < 16 {
            return usize::try_from(ns).unwrap_or(0);
        }
        let e = u64::from(63 - ns.leading_zeros()); // >= 4
        let m = (ns >> (e - 4)) & 0xF;
        usize::try_from(16 + (e - 4) * 16 + m)
            .unwrap_or(Self::BUCKETS - 1)
            .min(Self::BUCKETS - 1)
    }

    /// The lower bound of a bucket, in ns.
    fn value(bucket: usize) -> u64 {
        let b = u64::try_from(bucket).unwrap_or(0);
        if b < 16 {
            return b;
        }
        let e = (b - 16) / 16 + 4;
        let m = (b - 16) % 16;
        (16 + m) << (e - 4)
    }

    fn record(&mut self, ns: u64) {
        if let Some(c) = self.counts.get_mut(Self::bucket(ns)) {
            *c += 1;
        }
    }

    fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The latency at quantile `q` (0..1), in ns.
    fn quantile(&self, q: f64) -> u64 {
        let total = self.total();
        if total == 0 {
            return 0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a rank among at most 2^53 samples"
        )]
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i);
            }
        }
        Self::value(Self::BUCKETS - 1)
    }
}

/// What one worker did.
struct Tally {
    histogram: Histogram,
    accepted: u64,
    refused: u64,
}

/// When to stop: a deadline, or a shared budget of codes.
struct Stop {
    flag: AtomicBool,
    budget: Option<AtomicU64>,
    done: AtomicU64,
}

impl Stop {
    /// Claims up to `want` codes; 0 when it is time to stop.
    fn claim(&self, want: u64) -> u64 {
        if self.flag.load(Ordering::Relaxed) {
            return 0;
        }
        match &self.budget {
            None => want,
            Some(b) => {
                let mut left = b.load(Ordering::Relaxed);
                loop {
                    if left == 0 {
                        return 0;
                    }
                    let take = left.min(want);
                    match b.compare_exchange(
                        left,
                        left - take,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return take,
                        Err(actual) => left = actual,
                    }
                }
            }
        }
    }
}

const BASE: u64 = 1_790_000_000;
const CHUNK: u64 = 256;

/// The most tokens of a run: their seed file is held in memory (about 660
/// bytes a token, so about 0.7 GB at the cap) and read back.
pub(crate) const MAX_TOKENS: usize = 1_000_000;

fn secrets(count: usize) -> Result<Inventory> {
    let mut batch = Factory::deterministic_for_tests([0xbe; 32])
        .crystals(0, 0)
        .map_err(|e| anyhow!("{e}"))?
        .manufacture(count, 0)
        .map_err(|e| anyhow!("{e}"))?;
    let xml = batch.seed_file(None).map_err(|e| anyhow!("{e}"))?;
    // Made here: the import caps are its own size.
    let own = PskcLimits::default()
        .with_max_bytes(xml.len())
        .with_max_key_packages(count);
    Inventory::from_pskc_with_limits(&xml, None, &own).map_err(|e| anyhow!("{e}"))
}

/// A code that is not the right one at this step.
fn wrong(right: &Code) -> Result<Code> {
    Code::from_value((right.value() + 1) % 1_000_000, Digits::Six)
        .ok_or_else(|| anyhow!("code out of range"))
}

fn core_worker(keys: &[(Key, TokenState)], params: &Params, stop: &Stop) -> Result<Tally> {
    let mut mine: Vec<(&Key, TokenState, u64)> = keys.iter().map(|(k, s)| (k, *s, 0u64)).collect();
    let mut tally = Tally {
        histogram: Histogram::new(),
        accepted: 0,
        refused: 0,
    };
    let step = TimeStep::default();
    let mut i = 0usize;
    loop {
        let n = stop.claim(CHUNK);
        if n == 0 || mine.is_empty() {
            break;
        }
        let mut k = 0;
        while k < n {
            let slot = i % mine.len();
            i = i.wrapping_add(1);
            let Some((key, state, round)) = mine.get_mut(slot) else {
                break;
            };
            let now = BASE + *round * 30 + 5;
            *round += 1;
            let right = hotp(
                key,
                step.step_at(now).map_err(|e| anyhow!("{e}"))?,
                Digits::Six,
            );
            for code in [wrong(&right)?, right] {
                let t = Instant::now();
                let v = verify(key, params, state, &code, now);
                let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
                tally.histogram.record(ns);
                *state = v.state;
                if v.is_accepted() {
                    tally.accepted += 1;
                } else {
                    tally.refused += 1;
                }
            }
            k += 2;
        }
        stop.done.fetch_add(k, Ordering::Relaxed);
    }
    Ok(tally)
}

/// The bench's users with their tokens' keys.
type Users = Vec<(UserId, Key)>;

/// Users `B000000..` with one bound token each, enrolled and given their
/// token by the branch (through the bank's audited procedures) one step
/// before the first login, so that the first login's code is fresh.
fn bank_setup<S: Store>(
    store: S,
    inventory: &Inventory,
    clock: &SimClock,
) -> Result<(Bank<S>, Users)> {
    let failed = |what: &str, r: Refusal| match r {
        Refusal::Internal(e) => anyhow!("{what} failed: {e}"),
        other => anyhow!("{what} was refused: {other}"),
    };
    let bank = Bank::new(store, Arc::new(clock.clone()))?;
    bank.import_inventory("bench", inventory)?;
    let branch = BranchAuthorization::new("bench", "otp bench");
    let at = BASE - 30;
    clock.set(at);
    let step = TimeStep::default();
    let mut users = Vec::with_capacity(inventory.len());
    for (i, record) in inventory.iter().enumerate() {
        let id = UserId::parse(&format!("B{i:06}")).map_err(|e| anyhow!("{e}"))?;
        let key = record.key();
        bank.enroll_user(&branch, &id, "bench", Authority::General)
            .map_err(|r| failed("enrolling the bench users", r))?;
        let code = hotp(
            &key,
            step.step_at(at).map_err(|e| anyhow!("{e}"))?,
            Digits::Six,
        );
        bank.branch_register(&branch, &id, &record.serial, &code.to_string())
            .map_err(|r| failed("registering the bench tokens", r))?;
        users.push((id, key));
    }
    clock.set(BASE);
    Ok((bank, users))
}

fn bank_worker<S: Store>(
    bank: &Bank<S>,
    users: &[(UserId, Key)],
    clock: &SimClock,
    next: &AtomicU64,
    stop: &Stop,
) -> Result<Tally> {
    let mut tally = Tally {
        histogram: Histogram::new(),
        accepted: 0,
        refused: 0,
    };
    let n_users = u64::try_from(users.len()).unwrap_or(1).max(1);
    let step = TimeStep::default();
    loop {
        let n = stop.claim(2);
        if n == 0 {
            break;
        }
        let idx = next.fetch_add(1, Ordering::Relaxed);
        let Some((user, key)) = usize::try_from(idx % n_users)
            .ok()
            .and_then(|i| users.get(i))
        else {
            break;
        };
        let now = BASE + (idx / n_users) * 30 + 5;
        clock.set(now);
        let right = hotp(
            key,
            step.step_at(now).map_err(|e| anyhow!("{e}"))?,
            Digits::Six,
        );
        for code in [wrong(&right)?, right] {
            let typed = code.to_string();
            let t = Instant::now();
            let outcome = bank.login(user, &typed);
            let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
            tally.histogram.record(ns);
            match outcome {
                Ok(_) => tally.accepted += 1,
                Err(otp_exchange::Refusal::Internal(e)) => {
                    bail!("the store failed during the benchmark: {e}")
                }
                Err(_) => tally.refused += 1,
            }
        }
        stop.done.fetch_add(2, Ordering::Relaxed);
    }
    Ok(tally)
}

/// Runs the workers with a progress bar; returns their tallies and the wall time.
fn drive<F>(
    threads: usize,
    args: &BenchArgs,
    stop: &Stop,
    work: F,
) -> Result<(Vec<Tally>, Duration)>
where
    F: Fn(usize) -> Result<Tally> + Sync,
{
    let seconds = args.seconds.unwrap_or(5.0);
    let bar = match args.codes {
        Some(n) => indicatif::ProgressBar::new(n),
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "milliseconds of a short run"
        )]
        None => indicatif::ProgressBar::new((seconds * 1000.0) as u64),
    };
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("verifying {wide_bar} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let deadline = args
        .codes
        .is_none()
        .then(|| Duration::from_secs_f64(seconds));
    let tallies = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let work = &work;
                scope.spawn(move || work(t))
            })
            .collect();
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            let elapsed = started.elapsed();
            let done = stop.done.load(Ordering::Relaxed);
            match deadline {
                Some(d) => {
                    bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(0));
                    if elapsed >= d {
                        stop.flag.store(true, Ordering::Relaxed);
                    }
                }
                None => bar.set_position(done),
            }
            bar.set_message(format!("{done} codes"));
        }
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a benchmark thread failed"))?)
            .collect::<Result<Vec<_>>>()
    })?;
    let wall = started.elapsed();
    bar.finish_and_clear();
    Ok((tallies, wall))
}

pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    if args.tokens == 0 {
        bail!("--tokens must be at least 1");
    }
    if args.tokens > MAX_TOKENS {
        bail!("--tokens {}: at most {MAX_TOKENS} tokens", args.tokens);
    }
    if let Some(s) = args.seconds
        && !(s.is_finite() && s > 0.0)
    {
        bail!("--seconds must be a positive number");
    }
    if args.codes == Some(0) {
        bail!("--codes must be at least 1");
    }
    if args.http && args.store == BenchStore::Memory {
        bail!("--http needs a bank: --store memory-bank, sqlite or postgres");
    }
    let connections = args.connections.unwrap_or(1);
    if connections == 0 {
        bail!("--connections must be at least 1");
    }
    if connections > MAX_CONNECTIONS {
        bail!("--connections {connections}: at most {MAX_CONNECTIONS}");
    }
    let inventory = secrets(args.tokens)?;
    let stop = Arc::new(Stop {
        flag: AtomicBool::new(false),
        budget: args.codes.map(AtomicU64::new),
        done: AtomicU64::new(0),
    });
    let (tallies, wall, transport) = match args.store {
        BenchStore::Memory => {
            let params = Params {
                max_failures: 0,
                ..Params::default()
            };
            // Each thread owns every T-th token: no locks on the hot path.
            let shares: Vec<Vec<(Key, TokenState)>> = (0..threads)
                .map(|t| {
                    inventory
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|r| (r.key(), TokenState::new()))
                        .collect()
                })
                .collect();
            let (tallies, wall) = drive(threads, args, &stop, |t| {
                core_worker(shares.get(t).map_or(&[][..], Vec::as_slice), &params, &stop)
            })?;
            (tallies, wall, Transport::Direct)
        }
        BenchStore::MemoryBank => bank_run(args, threads, MemoryStore::new(), &inventory, &stop)?,
        BenchStore::Sqlite => {
            let dir = crate::scratch::ScratchDir::new("otp-bench-")?;
            let store = otp_store::SqliteStore::open(
                dir.path().join("bench.sqlite"),
                crate::scratch::sealer()?,
            )
            .map_err(|e| anyhow!("{e}"))?;
            let result = bank_run(args, threads, store, &inventory, &stop);
            drop(dir);
            result?
        }
        BenchStore::Postgres => {
            let pg = BenchSchema::create()?;
            let result = pg
                .store()
                .and_then(|store| bank_run(args, threads, store, &inventory, &stop));
            pg.drop_schema();
            result?
        }
    };
    report(args, &transport, threads, &tallies, wall)
}

/// The most connections of `otp bench --http`.
const MAX_CONNECTIONS: usize = 1_024;

/// How the logins were sent.
enum Transport {
    /// Calls to `Bank::login` on `--threads` threads.
    Direct,
    /// `POST /api/v1/validate` on `connections` connections to a server
    /// with `server_threads` runtime workers.
    Http {
        connections: usize,
        server_threads: usize,
    },
}

/// The rate limits of the bench's server: far above any rate it reaches,
/// so that they never throttle it (a 429 would stop the run).
const UNTHROTTLED: u32 = 1_000_000_000;

/// The bank on `store` set up, then driven directly or through HTTP.
fn bank_run<S: Store + 'static>(
    args: &BenchArgs,
    threads: usize,
    store: S,
    inventory: &Inventory,
    stop: &Arc<Stop>,
) -> Result<(Vec<Tally>, Duration, Transport)> {
    let clock = SimClock::new(BASE);
    let (bank, users) = bank_setup(store, inventory, &clock)?;
    if !args.http {
        let next = AtomicU64::new(0);
        let (tallies, wall) = drive(threads, args, stop, |_| {
            bank_worker(&bank, &users, &clock, &next, stop)
        })?;
        return Ok((tallies, wall, Transport::Direct));
    }
    http_run(args, Arc::new(bank), Arc::new(users), clock, stop)
}

/// Serves the bank's API on 127.0.0.1 in this process and drives
/// `--connections` keep-alive connections at it.
fn http_run<S: Store + 'static>(
    args: &BenchArgs,
    bank: Arc<Bank<S>>,
    users: Arc<Users>,
    clock: SimClock,
    stop: &Arc<Stop>,
) -> Result<(Vec<Tally>, Duration, Transport)> {
    let connections = args.connections.unwrap_or(1);
    let key = bank
        .create_api_key("bench", "otp bench", ApiScope::Validate)
        .map_err(|e| anyhow!("cannot create the bench's API key: {e}"))?;
    let authorization = Zeroizing::new(format!("Bearer {}", key.plaintext()));
    drop(key);
    // As `otp serve`: a multi-threaded runtime, one worker per core; the
    // bank's calls on its blocking pool.
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the server's runtime: {e}"))?;
    let server_threads = server.metrics().num_workers();
    let state = otp_server::AppState::new(Arc::clone(&bank)).with_api_config(
        ApiConfig::new()
            .with_key_rate(UNTHROTTLED)
            .with_user_rate(UNTHROTTLED),
    );
    let listener = server
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| anyhow!("cannot read the bench server's address: {e}"))?;
    let (quit, quitting) = tokio::sync::oneshot::channel::<()>();
    let served = server.spawn(otp_server::serve(
        listener,
        otp_server::router(state),
        None,
        async move {
            let _ = quitting.await;
        },
    ));
    // The client: one thread, its own runtime, every connection a task.
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the bench client's runtime: {e}"))?;
    let next = Arc::new(AtomicU64::new(0));
    let result = drive(1, args, stop, |_| {
        client.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..connections {
                tasks.spawn(http_connection(
                    addr,
                    Zeroizing::clone(&authorization),
                    Arc::clone(&users),
                    clock.clone(),
                    Arc::clone(&next),
                    Arc::clone(stop),
                ));
            }
            let mut tally = Tally {
                histogram: Histogram::new(),
                accepted: 0,
                refused: 0,
            };
            let mut failure = None;
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok(Ok(t)) => {
                        tally.histogram.merge(&t.histogram);
                        tally.accepted += t.accepted;
                        tally.refused += t.refused;
                    }
                    Ok(Err(e)) => {
                        // One connection failed: stop the others too.
                        stop.flag.store(true, Ordering::Relaxed);
                        failure.get_or_insert(e);
                    }
                    Err(e) => {
                        stop.flag.store(true, Ordering::Relaxed);
                        failure.get_or_insert(anyhow!("a bench connection failed: {e}"));
                    }
                }
            }
            failure.map_or(Ok(tally), Err)
        })
    });
    drop(client);
    let _ = quit.send(());
    let stopped =
        server.block_on(async { tokio::time::timeout(Duration::from_secs(10), served).await });
    server.shutdown_timeout(Duration::from_secs(1));
    let (tallies, wall) = result?;
    match stopped {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => bail!("the bench server failed: {e}"),
        Ok(Err(e)) => bail!("the bench server failed: {e}"),
        Err(_) => bail!("the bench server did not stop"),
    }
    Ok((
        tallies,
        wall,
        Transport::Http {
            connections,
            server_threads,
        },
    ))
}

/// One keep-alive connection: visits users as `bank_worker` does (a
/// wrong code, then the right one), each a `POST /api/v1/validate`
/// answered before the next is sent.
async fn http_connection(
    addr: std::net::SocketAddr,
    authorization: Zeroizing<String>,
    users: Arc<Users>,
    clock: SimClock,
    next: Arc<AtomicU64>,
    stop: Arc<Stop>,
) -> Result<Tally> {
    use http_body_util::BodyExt as _;
    use hyper::header;

    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| anyhow!("cannot connect to the bench server: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| anyhow!("cannot set TCP_NODELAY: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| anyhow!("cannot open an HTTP connection to the bench server: {e}"))?;
    let connection = tokio::spawn(connection);
    let mut auth = header::HeaderValue::from_str(&authorization)
        .map_err(|_| anyhow!("the bench's API key is not a header value"))?;
    auth.set_sensitive(true);
    let mut tally = Tally {
        histogram: Histogram::new(),
        accepted: 0,
        refused: 0,
    };
    let n_users = u64::try_from(users.len()).unwrap_or(1).max(1);
    let step = TimeStep::default();
    loop {
        if stop.claim(2) == 0 {
            break;
        }
        let idx = next.fetch_add(1, Ordering::Relaxed);
        let Some((user, key)) = usize::try_from(idx % n_users)
            .ok()
            .and_then(|i| users.get(i))
        else {
            break;
        };
        let now = BASE + (idx / n_users) * 30 + 5;
        clock.set(now);
        let right = hotp(
            key,
            step.step_at(now).map_err(|e| anyhow!("{e}"))?,
            Digits::Six,
        );
        for code in [wrong(&right)?, right] {
            let body = serde_json::json!({"user": user.as_str(), "code": code.to_string()});
            let request = hyper::Request::post("/api/v1/validate")
                .header(header::HOST, "127.0.0.1")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, auth.clone())
                .body(http_body_util::Full::new(hyper::body::Bytes::from(
                    body.to_string(),
                )))
                .map_err(|e| anyhow!("cannot build the request: {e}"))?;
            let t = Instant::now();
            sender
                .ready()
                .await
                .map_err(|e| anyhow!("the bench server closed the connection: {e}"))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| anyhow!("the bench server did not answer: {e}"))?;
            let status = response.status();
            let answer = response
                .into_body()
                .collect()
                .await
                .map_err(|e| anyhow!("the bench server's answer was cut: {e}"))?
                .to_bytes();
            let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
            tally.histogram.record(ns);
            if status != hyper::StatusCode::OK {
                bail!(
                    "the server answered {status} during the benchmark: {}",
                    String::from_utf8_lossy(&answer)
                );
            }
            let result = serde_json::from_slice::<serde_json::Value>(&answer)
                .ok()
                .and_then(|v| v.get("result").and_then(|r| r.as_str()).map(str::to_owned));
            match result.as_deref() {
                Some("accepted") => tally.accepted += 1,
                Some("rejected") => tally.refused += 1,
                _ => bail!(
                    "the server's answer is not a validation result: {}",
                    String::from_utf8_lossy(&answer)
                ),
            }
        }
        stop.done.fetch_add(2, Ordering::Relaxed);
    }
    drop(sender);
    let _ = connection.await;
    Ok(tally)
}

/// `--store postgres`: a schema of the run's own in the database at
/// `$OTP_POSTGRES_URL`, dropped at the end.
struct BenchSchema {
    url: Zeroizing<String>,
    options: otp_store::PgOptions,
    schema: String,
}

impl BenchSchema {
    fn create() -> Result<Self> {
        use rand::TryRng as _;
        let env = crate::bank::POSTGRES_URL_ENV;
        let url = match std::env::var(env) {
            Ok(url) if !url.trim().is_empty() => Zeroizing::new(url.trim().to_owned()),
            _ => bail!(
                "--store postgres: give the database's URL in {env} (never on the command line: it may hold a password)"
            ),
        };
        let mut tag = [0u8; 6];
        rand::rngs::SysRng
            .try_fill_bytes(&mut tag)
            .map_err(|_| anyhow!("the operating system's random number generator failed"))?;
        let schema = format!("otp_bench_{}", hex::encode(tag));
        let options = otp_store::PgOptions::default()
            .with_connect_timeout(Duration::from_secs(10))
            .with_schema(&schema);
        Ok(Self {
            url,
            options,
            schema,
        })
    }

    fn store(&self) -> Result<otp_store::PgStore> {
        // The URL is never part of the message: it may hold a password.
        otp_store::PgStore::connect(&self.url, self.options.clone(), crate::scratch::sealer()?)
            .map_err(|e| anyhow!("cannot open the PostgreSQL database: {e}"))
    }

    /// Drops the run's schema (a warning if it cannot).
    fn drop_schema(&self) {
        let dropped = otp_store::PgStore::connect_client(&self.url, &self.options)
            .map_err(|e| e.to_string())
            .and_then(|mut client| {
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = dropped {
            eprintln!(
                "otp bench: could not drop the bench's schema {}: {e}",
                self.schema
            );
        }
    }
}

#[allow(clippy::cast_precision_loss, reason = "rates for display")]
fn report(
    args: &BenchArgs,
    transport: &Transport,
    threads: usize,
    tallies: &[Tally],
    wall: Duration,
) -> Result<()> {
    let mut histogram = Histogram::new();
    let (mut accepted, mut refused) = (0u64, 0u64);
    for t in tallies {
        histogram.merge(&t.histogram);
        accepted += t.accepted;
        refused += t.refused;
    }
    let total = accepted + refused;
    let secs = wall.as_secs_f64().max(1e-9);
    let rate = total as f64 / secs;
    let (threads, connections) = match *transport {
        Transport::Direct => (threads, None),
        Transport::Http {
            connections,
            server_threads,
        } => (server_threads, Some(connections)),
    };
    let per_thread = rate / threads.max(1) as f64;
    let (p50, p99) = (histogram.quantile(0.50), histogram.quantile(0.99));
    let lockstep = otp_core::lockstep_available();
    if args.json {
        let mut json = serde_json::json!({
            "verifications_per_second": whole(rate),
            "threads": threads,
            "verifications_per_second_per_thread": whole(per_thread),
            "verifications": total,
            "accepted": accepted,
            "refused": refused,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "tokens": args.tokens,
            "store": args.store.name(),
            "p50_ns": p50,
            "p99_ns": p99,
            "sha1_lockstep": lockstep,
            "window": "±1 step, TOTP SHA-1, 6 digits",
            "transport": if connections.is_some() { "http" } else { "direct" },
        });
        if let (Some(connections), Some(fields)) = (connections, json.as_object_mut()) {
            fields.insert("connections".into(), connections.into());
            fields.insert("rate_limits_per_second".into(), UNTHROTTLED.into());
        }
        println!("{json}");
    } else {
        println!(
            "otp bench: {} store, {} tokens (TOTP SHA-1, 6 digits, ±1 step), {threads} thread{}, {:.2} s",
            args.store.name(),
            args.tokens,
            if threads == 1 { "" } else { "s" },
            secs
        );
        if let Some(connections) = connections {
            println!(
                "  through HTTP           POST /api/v1/validate on 127.0.0.1, {connections} keep-alive connection{}, server with {threads} runtime thread{}",
                if connections == 1 { "" } else { "s" },
                if threads == 1 { "" } else { "s" },
            );
            println!(
                "  rate limits            raised to {} per key a second and per user ID per 10 s: never throttled",
                group(f64::from(UNTHROTTLED))
            );
        }
        println!(
            "  verifications          {total} ({accepted} accepted, {refused} refused; half the codes typed were wrong)"
        );
        println!("  per second             {}", group(rate));
        println!("  per second per thread  {}", group(per_thread));
        println!("  latency p50            {}", duration(p50));
        println!("  latency p99            {}", duration(p99));
        println!(
            "  SHA-1 lockstep (SHA-NI) {}",
            if lockstep { "yes" } else { "no" }
        );
    }
    Ok(())
}

/// A non-negative rate rounded to a whole number.
fn whole(x: f64) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rate for display"
    )]
    let n = x.round().max(0.0) as u64;
    n
}

/// 1234567.8 as `1,234,568`.
fn group(x: f64) -> String {
    let n = whole(x);
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn duration(ns: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "display")]
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.2} µs", f / 1e3)
    } else {
        format!("{:.2} ms", f / 1e6)
    }
}
