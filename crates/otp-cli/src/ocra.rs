//! `otp ocra`: an RFC 6287 (OCRA) response over a challenge, or its
//! verification, with the key read from a private file (never from the
//! command line: a key there would be in the shell history and in every
//! other user's `ps`).
//!
//! The response is printed on the first line of standard output. With
//! `--verify RESPONSE` the response is compared in constant time by
//! `otp_core::verify_ocra`; exit status 0 accepted, 2 refused, 1 error.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use otp_core::{
    Key, OcraInput, OcraParams, OcraResponse, OcraSuite, TokenState, Window, ocra, verify_ocra,
};
use zeroize::Zeroizing;

use crate::Exit;
use crate::safefs::{self, FileError};
use crate::time::system_now;

/// The exit status of a refused response (as `otp oath`'s "password not
/// found").
const REFUSED: u8 = 2;

/// `otp ocra` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct OcraArgs {
    /// The OCRA suite, such as OCRA-1:HOTP-SHA1-6:QN08 (RFC 6287 §6).
    #[arg(long, value_name = "SUITE")]
    suite: String,
    /// A private file (mode 0600, yours, not a link) holding the key in hex.
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// The challenge as typed on the keypad (digits for QN, hex for QH,
    /// text for QA); twice for a mutual challenge, the other party's first.
    #[arg(long, value_name = "Q", required = true, num_args = 1, action = clap::ArgAction::Append)]
    question: Vec<String>,
    /// The counter C, in decimal (suites with C). With --verify: the first
    /// counter to try (the replay floor).
    #[arg(long, value_name = "C", allow_hyphen_values = true)]
    counter: Option<String>,
    /// A private file (mode 0600, yours, not a link) holding the hash of
    /// the PIN or password in hex, as the suite's PSHA1, PSHA256 or PSHA512
    /// names it. Never on the command line: the hash of a short PIN gives
    /// the PIN away to anyone who reads the process list or the shell's
    /// history.
    #[arg(long, value_name = "FILE")]
    password_hash_file: Option<PathBuf>,
    /// Refused with the reason and the way to do it (hidden): the hash on
    /// the command line, as other OCRA tools take it.
    #[arg(long, value_name = "HEX", hide = true, allow_hyphen_values = true)]
    password_hash: Option<Zeroizing<String>>,
    /// The session information S in hex; a shorter value is padded with
    /// zero bytes on the left to the suite's length, as RFC 6287 Appendix A does.
    #[arg(long, value_name = "HEX")]
    session: Option<String>,
    /// The time-step count T in hex as RFC 6287 writes it (132d0b6;
    /// `0x` allowed), for suites with T; without it, the system clock.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    time: Option<String>,
    /// Verify RESPONSE instead of printing one: exit 0 accepted, 2 refused.
    #[arg(long, value_name = "RESPONSE")]
    verify: Option<String>,
    /// With --verify: also try this many counters after --counter.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "verify")]
    counter_window: u16,
    /// With --verify: also try this many time steps before and after T.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "verify")]
    time_window: u16,
}

/// Why `otp ocra`'s input cannot be used.
#[derive(Debug)]
enum OcraArgError {
    /// The suite is malformed.
    Suite {
        /// What the user gave.
        text: String,
        /// Why the core refused it.
        source: otp_core::SuiteError,
    },
    /// The key file is missing.
    KeyFileMissing(PathBuf),
    /// The key file could not be read safely.
    KeyFile(FileError),
    /// The key file is not hex.
    KeyNotHex(PathBuf),
    /// The password hash file is missing.
    PasswordFileMissing(PathBuf),
    /// The password hash file could not be read safely.
    PasswordFile(FileError),
    /// The key does not fit the suite's hash.
    Key(otp_core::KeyError),
    /// More than two questions.
    TooManyQuestions(usize),
    /// `--counter` is not a decimal number.
    Counter(String),
    /// `--time` is not a hex number.
    Time(String),
    /// The password hash file or `--session` is not hex.
    NotHex(&'static str),
    /// `--session` is longer than the suite's S.
    SessionTooLong {
        /// The suite's length in bytes.
        max: usize,
        /// The given length in bytes.
        found: usize,
    },
    /// The data inputs do not fit the suite.
    Input(otp_core::OcraInputError),
    /// The response to verify is malformed.
    Response(otp_core::CodeError),
    /// The clock cannot be placed in the suite's time steps.
    TimeOverflow,
}

impl fmt::Display for OcraArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Suite { text, source } => write!(
                f,
                "--suite `{text}` is not an OCRA suite: {source} (example: OCRA-1:HOTP-SHA1-6:QN08)"
            ),
            Self::KeyFileMissing(path) => write!(
                f,
                "cannot read the key file `{}`: there is no such file",
                path.display()
            ),
            Self::KeyFile(e) => write!(f, "{e}"),
            Self::KeyNotHex(path) => write!(
                f,
                "the key file `{}` does not hold a key in hex (an even number of hex digits)",
                path.display()
            ),
            Self::Key(e) => write!(f, "the key cannot be used: {e}"),
            Self::PasswordFileMissing(path) => write!(
                f,
                "cannot read the password hash file `{}`: there is no such file",
                path.display()
            ),
            Self::PasswordFile(e) => write!(f, "{e}"),
            Self::TooManyQuestions(n) => write!(
                f,
                "--question given {n} times: give one challenge, or two for a mutual challenge"
            ),
            Self::Counter(text) => write!(
                f,
                "--counter `{text}` is not a whole number: give the counter in decimal, 0 or more"
            ),
            Self::Time(text) => write!(
                f,
                "--time `{text}` is not a time-step count: give it in hex as RFC 6287 does (132d0b6)"
            ),
            Self::NotHex(option) => {
                write!(f, "{option} is not hex: give an even number of hex digits")
            }
            Self::SessionTooLong { max, found } => write!(
                f,
                "--session is {found} bytes; the suite's S takes at most {max}"
            ),
            Self::Input(e) => write!(f, "the input does not fit the suite: {e}"),
            Self::Response(e) => write!(f, "--verify: {e}"),
            Self::TimeOverflow => f.write_str("--time is too large for the suite's time step"),
        }
    }
}

impl std::error::Error for OcraArgError {}

/// Reads the key file safely and decodes its hex.
fn read_key(path: &Path, suite: &OcraSuite) -> Result<Key, OcraArgError> {
    let text = safefs::read_private(path).map_err(|e| match e {
        FileError::NotFound { .. } => OcraArgError::KeyFileMissing(path.to_owned()),
        e => OcraArgError::KeyFile(e),
    })?;
    let secret = Zeroizing::new(
        hex::decode(text.trim()).map_err(|_| OcraArgError::KeyNotHex(path.to_owned()))?,
    );
    Key::new(suite.algorithm(), &secret).map_err(OcraArgError::Key)
}

/// Reads the password hash file safely (as the key file) and decodes its
/// hex.
fn read_password_hash(path: &Path) -> Result<Zeroizing<Vec<u8>>, OcraArgError> {
    let text = safefs::read_private(path).map_err(|e| match e {
        FileError::NotFound { .. } => OcraArgError::PasswordFileMissing(path.to_owned()),
        e => OcraArgError::PasswordFile(e),
    })?;
    decode_hex("the password hash file", &text)
}

fn decode_hex(option: &'static str, text: &str) -> Result<Zeroizing<Vec<u8>>, OcraArgError> {
    hex::decode(text.trim())
        .map(Zeroizing::new)
        .map_err(|_| OcraArgError::NotHex(option))
}

fn parse_time(text: &str) -> Result<u64, OcraArgError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(OcraArgError::Time(text.to_owned()));
    }
    u64::from_str_radix(digits, 16).map_err(|_| OcraArgError::Time(text.to_owned()))
}

/// `otp ocra`.
pub(crate) fn run(args: &OcraArgs) -> Result<()> {
    if args.password_hash.is_some() {
        return Err(Exit {
            code: crate::USAGE,
            message: "--password-hash is not taken: the hash of a PIN on the command line gives \
                      the PIN away to the process list and the shell's history. Write the hex \
                      digest to a private file (mode 0600) and pass --password-hash-file FILE"
                .to_owned(),
        }
        .into());
    }
    match run_typed(args)? {
        None => Ok(()),
        Some(why) => Err(Exit {
            code: REFUSED,
            message: format!("the response is refused: {why}"),
        }
        .into()),
    }
}

/// Prints the response or the verification; `Some(reason)` when refused.
fn run_typed(args: &OcraArgs) -> Result<Option<String>, OcraArgError> {
    let suite = OcraSuite::parse(&args.suite).map_err(|source| OcraArgError::Suite {
        text: args.suite.clone(),
        source,
    })?;
    let key = read_key(&args.key_file, &suite)?;
    let mut input = match args.question.as_slice() {
        [q] => OcraInput::new(q),
        [a, b] => OcraInput::mutual(a, b),
        more => return Err(OcraArgError::TooManyQuestions(more.len())),
    };
    let counter = args
        .counter
        .as_deref()
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| OcraArgError::Counter(c.to_owned()))
        })
        .transpose()?;
    let time = args.time.as_deref().map(parse_time).transpose()?;
    let password = args
        .password_hash_file
        .as_deref()
        .map(read_password_hash)
        .transpose()?;
    if let Some(p) = &password {
        input = input.with_password_hash(p);
    }
    let session = match (&args.session, suite.session_len()) {
        (Some(s), Some(len)) => {
            let given = decode_hex("--session", s)?;
            let pad = len
                .checked_sub(given.len())
                .ok_or(OcraArgError::SessionTooLong {
                    max: len,
                    found: given.len(),
                })?;
            let mut padded = Zeroizing::new(vec![0u8; pad]);
            padded.extend_from_slice(&given);
            Some(padded)
        }
        (Some(s), None) => Some(decode_hex("--session", s)?),
        (None, _) => None,
    };
    if let Some(s) = &session {
        input = input.with_session(s);
    }
    match &args.verify {
        None => {
            if let Some(c) = counter {
                input = input.with_counter(c);
            }
            let step = match (time, suite.time_step()) {
                (Some(t), _) => Some(t),
                (None, Some(_)) => suite.time_step_at(system_now()),
                (None, None) => None,
            };
            if let Some(t) = step {
                input = input.with_time_step(t);
            }
            let response = ocra(&key, &suite, &input).map_err(OcraArgError::Input)?;
            println!("{response}");
            Ok(None)
        }
        Some(typed) => {
            let response = OcraResponse::parse(typed, &suite).map_err(OcraArgError::Response)?;
            let now = match (time, suite.time_step()) {
                (Some(t), Some(seconds)) => {
                    t.checked_mul(seconds).ok_or(OcraArgError::TimeOverflow)?
                }
                (Some(_), None) => {
                    return Err(OcraArgError::Input(otp_core::OcraInputError::Unexpected(
                        otp_core::OcraField::Time,
                    )));
                }
                (None, _) => system_now(),
            };
            let state = match (counter, suite.counter()) {
                (Some(c), true) => TokenState::starting_at(c),
                (Some(_), false) => {
                    return Err(OcraArgError::Input(otp_core::OcraInputError::Unexpected(
                        otp_core::OcraField::Counter,
                    )));
                }
                (None, _) => TokenState::new(),
            };
            let params = OcraParams {
                counter_window: Window::new(0, args.counter_window),
                time_window: Window::new(args.time_window, args.time_window),
                max_failures: 0,
            };
            let v = verify_ocra(&key, &suite, &params, &state, &input, &response, now)
                .map_err(OcraArgError::Input)?;
            Ok(match v.outcome {
                Ok(accepted) => {
                    let mut line = String::from("accepted");
                    if let Some(c) = accepted.counter() {
                        line.push_str(&format!(" at counter {c}"));
                    }
                    if let Some(t) = accepted.time_step() {
                        line.push_str(&format!(" at time step {t:x}"));
                    }
                    println!("{line}");
                    None
                }
                Err(why) => Some(why.to_string()),
            })
        }
    }
}
