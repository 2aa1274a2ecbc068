//! `otp`: the command line of the workspace. An oathtool drop-in
//! (`otp oath`), OCRA challenge-response (`otp ocra`), virtual hardware tokens (`otp token`), the factory
//! (`otp factory`), the bank on its embedded store (`otp bank`), the
//! seed's token exchange step by step (`otp demo`), its screens in a
//! browser (`otp serve --demo`), a verification
//! benchmark (`otp bench`) and shell completions (`otp completions`).
//! See `docs/cli.md`.
//!
//! Errors are one sentence on stderr and a non-zero exit status; no
//! command prints a secret unless asked with `--show-secret`.

#![forbid(unsafe_code)]

mod args;
mod bank;
mod bench;
mod demo;
mod factory;
mod json;
mod lang;
mod oath;
mod ocra;
mod safefs;
mod scratch;
mod serve;
mod time;
mod token;
mod tokenfile;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// An error with its own exit status (oathtool's 2 for "password not
/// found"); every other error exits with 1.
#[derive(Debug)]
pub(crate) struct Exit {
    /// The exit status.
    pub(crate) code: u8,
    /// The sentence for stderr.
    pub(crate) message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// OTP tokens for banks: generate and validate codes, simulate hardware
/// tokens, manufacture batches, run the bank's token exchange.
#[derive(Debug, Parser)]
#[command(name = "otp", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate and validate HOTP/TOTP codes, like oathtool (OATH Toolkit 2.6).
    ///
    /// KEY and OTP are '-' to read from standard input, '@FILE' to read from
    /// a file, or the value itself (hex, or base32 with -b). Keys under 128
    /// bits are refused (RFC 4226 R6). Exit status: 0 generated or found,
    /// 1 error, 2 password not found in the window.
    Oath(oath::OathArgs),
    /// An RFC 6287 (OCRA) challenge-response or signature, or its verification (--verify).
    ///
    /// The key is read from a private file in hex, never from the command
    /// line. The response is printed on the first line. Exit status:
    /// 0 generated or accepted, 1 error, 2 refused.
    Ocra(ocra::OcraArgs),
    /// A virtual hardware token in a file: create, press, watch.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manufacture N tokens: a PSKC seed file and one token file per token.
    Factory(factory::FactoryArgs),
    /// The bank on its SQLite file: users, seed files, sign-in, exchange, registration, history.
    Bank(bank::BankArgs),
    /// The manual's token exchange for W0002, step by step, on a simulated clock.
    Demo(demo::DemoArgs),
    /// The manual's screens in a browser: `otp serve --demo`, or `--db FILE` (the bank's own), on loopback or over TLS.
    Serve(serve::ServeArgs),
    /// Verification throughput and latency.
    Bench(bench::BenchArgs),
    /// Print the shell completion script for SHELL on standard output (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `otp completions SHELL`: the script clap_complete writes from the
/// command line's own description, so it never lags behind it.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory as _;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "otp", &mut script);
    print!("{}", String::from_utf8_lossy(&script));
    Ok(())
}

/// The exit status of a usage error (clap's convention).
const USAGE: u8 = 2;

/// The exit status when standard output was closed before everything was
/// written (as a shell reports a process killed by SIGPIPE: 128 + 13).
const CLOSED_OUTPUT: u8 = 141;

/// A panic is a bug, but the user still gets one sentence and no
/// backtrace; a closed pipe (`otp demo | head`) ends the program quietly.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown error");
        if message.contains("Broken pipe") {
            // The output could not be written: not a success (`otp demo |
            // head -1` must not claim every step was shown). `exit` runs
            // no destructors: remove the scratch folder here.
            scratch::remove_current();
            std::process::exit(i32::from(CLOSED_OUTPUT));
        }
        eprintln!("otp: internal error (please report it): {message}");
    }));
}

fn main() -> ExitCode {
    quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                // Asked for: help and version go to stdout with status 0.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // `otp` alone (or `otp token`): a usage error, so the help
                // goes to stderr with clap's usage status 2.
                eprint!("{}", e.render());
                return ExitCode::from(USAGE);
            }
            // A stray word clap does not expect is not repeated: it may be
            // a secret typed where it does not belong (a PIN hash, a key),
            // and stderr ends up in logs. An unknown option's name is.
            if e.kind() == ErrorKind::UnknownArgument {
                let stray = e
                    .get(clap::error::ContextKind::InvalidArg)
                    .is_some_and(|arg| !arg.to_string().starts_with('-'));
                if stray {
                    eprintln!(
                        "otp: an argument was not expected here (not repeated: it may be a \
                         secret) (see `otp --help`)"
                    );
                    return ExitCode::from(USAGE);
                }
            }
            // One line: clap's first line ("error: ..."), and where to look.
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error: invalid arguments");
            eprintln!(
                "otp: {} (see `otp --help`)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(USAGE);
        }
    };
    let result = match cli.command {
        Command::Oath(args) => oath::run(&args),
        Command::Ocra(args) => ocra::run(&args),
        Command::Token(cmd) => token::run(cmd),
        Command::Factory(args) => factory::run(&args),
        Command::Bank(args) => bank::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Completions { shell } => completions(shell),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<Exit>() {
                eprintln!("otp: {}", exit.message);
                ExitCode::from(exit.code)
            } else {
                eprintln!("otp: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
}
