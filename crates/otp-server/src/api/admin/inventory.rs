//! The seed file import: a vendor's PSKC (RFC 6030) file, encrypted under
//! the pre-shared key agreed with the vendor, added to the stock as
//! unassigned tokens, all or nothing, confirmed by the administrator's
//! approval password (`Bank::import_inventory_approved`). A plain
//! (unencrypted) file is refused: its secrets were readable by whoever
//! handled it (`otp bank import --allow-plain` is the deliberate way in).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use otp_exchange::{Password, Refusal, Store};
use otp_provision::{Inventory, PreSharedKey, PskcError, PskcLimits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::super::{ApiState, Messages, Problem, ProblemBody};
use super::{Admin, PSKC_BODY_LIMIT, messages};

/// A seed file and what unlocks it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportRequest {
    /// The PSKC document (XML).
    pskc: String,
    /// The pre-shared key, 32 hex digits (AES-128).
    #[schema(example = "000102030405060708090a0b0c0d0e0f")]
    key: String,
    /// The administrator's approval password.
    approval_password: String,
}

super::users::secret_fields!(ImportRequest, pskc, key, approval_password);

/// Tokens imported.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Imported {
    /// How many tokens were added to the stock.
    #[schema(example = 100)]
    imported: usize,
    /// What was done, in Japanese and English.
    messages: Messages,
}

fn seed_problem(reason: &'static str, en: &str) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        reason,
        "シードファイルを登録できませんでした（何も登録されていません）。",
        en,
    )
}

fn read_problem(e: &PskcError) -> Problem {
    match e {
        PskcError::KeyRequired | PskcError::WrongKey | PskcError::MacMismatch { .. } => {
            seed_problem(
                "seed_key_wrong",
                "The seed file does not open under this key (or it was altered); nothing was imported.",
            )
        }
        // Their words may name a serial or a secret's fault: not repeated.
        PskcError::DuplicateSerial { .. } | PskcError::Secret { .. } => seed_problem(
            "seed_file_invalid",
            "The seed file is not a valid PSKC seed file; nothing was imported.",
        ),
        other => seed_problem(
            "seed_file_invalid",
            &format!("The seed file could not be imported: {other}."),
        ),
    }
}

fn parse_key(hex: &str) -> Option<PreSharedKey> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 32 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 16]);
    for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        let (Some(hi), Some(lo)) = (
            pair.first().copied().and_then(digit),
            pair.get(1).copied().and_then(digit),
        ) else {
            return None;
        };
        *byte = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(PreSharedKey::new(*key))
}

/// Imports a vendor's encrypted PSKC seed file into the stock.
#[utoipa::path(
    post,
    path = "/api/v1/inventory/pskc",
    tag = "admin",
    operation_id = "import_pskc",
    security(("api_key" = [])),
    params(("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = ImportRequest,
    responses(
        (status = 200, description = "Imported, all of the file.", body = Imported),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`: the administrator is gone.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`serial_exists`: a token of the file is in the stock already (nothing imported).", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`: larger than 4 MiB.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`seed_key_malformed`, `seed_key_wrong`, `seed_file_plain`, `seed_file_invalid`, `malformed_serial`, `wrong_password`, `no_password_registered`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn import<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    super::super::ApiJson(body): super::super::ApiJson<ImportRequest>,
) -> Result<Json<Imported>, Problem> {
    let Some(key) = parse_key(&body.key) else {
        return Err(seed_problem(
            "seed_key_malformed",
            "The key must be 32 hex digits (AES-128); nothing was imported.",
        ));
    };
    let password = Password::new(&body.approval_password);
    let xml = Zeroizing::new(body.pskc.clone());
    drop(body);
    let count = state
        .blocking(move |bank| {
            let limits = PskcLimits::new().with_max_bytes(PSKC_BODY_LIMIT);
            // A file that opens without a key is plain: refused.
            match Inventory::from_pskc_with_limits(&xml, None, &limits) {
                Ok(_) => {
                    return Err(seed_problem(
                        "seed_file_plain",
                        "The seed file is not encrypted, so its secrets were readable by anyone who handled it; ask the vendor for a file encrypted under a pre-shared key. Nothing was imported.",
                    ));
                }
                Err(PskcError::KeyRequired) => {}
                Err(e) => return Err(read_problem(&e)),
            }
            let inventory = Inventory::from_pskc_with_limits(&xml, Some(&key), &limits)
                .map_err(|e| read_problem(&e))?;
            bank.import_inventory_approved(&admin.operator, &password, &inventory)
                .map_err(|r| match r {
                    Refusal::Conflict => Problem::new(
                        StatusCode::CONFLICT,
                        "serial_exists",
                        "このシードファイルのトークンは既に在庫にあります（何も登録されていません）。",
                        "A token of this seed file is in the stock already; nothing was imported.",
                    ),
                    other => Problem::from_refusal(&other),
                })
        })
        .await??;
    Ok(Json(Imported {
        imported: count,
        messages: messages(
            &format!("{count} 件のトークンを在庫に登録しました。"),
            &format!("Imported {count} tokens into the stock."),
        ),
    }))
}
