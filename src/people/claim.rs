//! Claim codes: how a person registered by an employment office (a Persona without account)
//! creates their own account. Knowing a DNI, CUIL and birth date is not enough (all three are
//! easy to find out); the office hands the person a one-time code, on a printed slip or by
//! email to the address on file, and `/registro` asks for it.
//!
//! The code is 12 random digits (10^12 values; typed on a phone's number pad, dictated without
//! ambiguity). Only its SHA-256, salted with the person's id, is stored; one live code per
//! person (issuing another replaces it), valid for `claim_code_days`, spent by the claim in the
//! same transaction that creates the account.

use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    db::Db,
    people::domain::Dni,
    web::{
        client::{PeerAddr, client_ip},
        error::AppResult,
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        ratelimit::{self, HOUR},
        state::AppState,
        time::now,
    },
    with_db,
};

/// How many digits a code has.
const DIGITS: usize = 12;

/// A well-formed claim code: 12 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimCode(String);

impl std::fmt::Debug for ClaimCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClaimCode(***)")
    }
}

impl ClaimCode {
    /// A fresh random code from the operating system's generator.
    pub fn generate() -> ClaimCode {
        use argon2::password_hash::rand_core::{OsRng, RngCore};
        let mut code = String::with_capacity(DIGITS);
        while code.len() < DIGITS {
            let mut byte = [0u8; 1];
            OsRng.fill_bytes(&mut byte);
            // 250 = 25 × 10: rejecting the rest keeps every digit equally likely.
            if byte[0] < 250 {
                code.push(char::from(b'0' + byte[0] % 10));
            }
        }
        ClaimCode(code)
    }

    /// The code as typed: spaces, dashes and dots are ignored.
    pub fn parse(input: &str) -> Result<ClaimCode, String> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.'))
            .collect();
        if digits.len() != DIGITS || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(
                "El código tiene 12 números, como está en la constancia de tu oficina (por ejemplo 4821-7730-9156)."
                    .into(),
            );
        }
        Ok(ClaimCode(digits))
    }

    /// "4821-7730-9156": how slips and emails show it.
    pub fn formatted(&self) -> String {
        format!("{}-{}-{}", &self.0[..4], &self.0[4..8], &self.0[8..])
    }

    /// What is stored: SHA-256 of the person's id and the code (a random code needs no slow
    /// hash; the id keeps one table of precomputed hashes from serving every person).
    fn hash(&self, person_id: i64) -> String {
        Sha256::digest(format!("{person_id}:{}", self.0).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Issues a new code for a person (voiding any previous one); returns it with its expiry.
pub async fn issue(
    db: &Db,
    person_id: i64,
    by: Option<i64>,
    days: i64,
) -> Result<(ClaimCode, DateTime<Utc>), sqlx::Error> {
    let code = ClaimCode::generate();
    let now = now();
    let expires = now + Duration::days(days);
    with_db!(db, |p| sqlx::query(
        "INSERT INTO claim_codes (person_id, code_hash, expires_at, issued_by, issued_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (person_id) DO UPDATE SET code_hash = excluded.code_hash,
            expires_at = excluded.expires_at, issued_by = excluded.issued_by,
            issued_at = excluded.issued_at"
    )
    .bind(person_id)
    .bind(code.hash(person_id))
    .bind(expires)
    .bind(by)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok((code, expires))
}

/// Until when the person's live code is valid, if they have one.
pub async fn live_until(db: &Db, person_id: i64) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_scalar(
        "SELECT expires_at FROM claim_codes WHERE person_id = $1 AND expires_at > $2"
    )
    .bind(person_id)
    .bind(now())
    .fetch_optional(p)
    .await)
}

/// Whether `code` is the person's live code (a cheap check before hashing a password; the
/// claim itself spends the code with [`SPEND_SQL`]).
pub async fn is_live(db: &Db, person_id: i64, code: &ClaimCode) -> Result<bool, sqlx::Error> {
    let n: i64 = with_db!(db, |p| {
        sqlx::query_scalar(
        "SELECT COUNT(*) FROM claim_codes WHERE person_id = $1 AND code_hash = $2 AND expires_at > $3"
    )
    .bind(person_id)
    .bind(code.hash(person_id))
    .bind(now())
    .fetch_one(p)
    .await
    })?;
    Ok(n > 0)
}

/// The statement that spends a live code (binds: person id, [`spend_hash`], now); it returns
/// the person's id only when the code was live, and deletes it.
pub const SPEND_SQL: &str = "DELETE FROM claim_codes WHERE person_id = $1 AND code_hash = $2 AND expires_at > $3 RETURNING person_id";

/// The stored form of `code` for [`SPEND_SQL`].
pub fn spend_hash(code: &ClaimCode, person_id: i64) -> String {
    code.hash(person_id)
}

/// Emails a code to a person in the background (so the answer takes the same time whether or
/// not anything is sent).
pub fn send_by_email(
    state: &AppState,
    email: String,
    first_name: &str,
    code: &ClaimCode,
    expires: DateTime<Utc>,
) {
    let body = format!(
        "Hola, {first_name}:\n\nTu oficina de empleo te registró en Aula, el aula virtual de Tucumán Capacita. \
         Para crear tu cuenta entrá a\n\n{base}/registro\n\ncompletá tus datos (DNI, CUIL y fecha de nacimiento \
         como los tiene la oficina) y escribí este código en «Código de tu oficina de empleo»:\n\n    {code}\n\n\
         Sirve una sola vez y vence el {until}. Si se vence, pedí otro en {base}/registro/codigo o en tu oficina.\n\n\
         Si no pediste este código, ignorá este mensaje.\n\nAula — Tucumán Capacita",
        base = state.settings.base_url,
        code = code.formatted(),
        until = crate::web::time::local(&expires),
    );
    let mailer = state.mailer.clone();
    tokio::spawn(async move {
        if let Err(e) = mailer
            .send(&email, "Tu código para crear tu cuenta en Aula", body)
            .await
        {
            tracing::error!(error = %e, "no se pudo enviar el código de la oficina");
        }
    });
}

#[derive(Template)]
#[template(path = "people/claim_request.html")]
pub struct RequestPage {
    page: Page,
    dni: String,
    errors: FieldErrors,
    sent: bool,
    limited: Option<String>,
    days: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RequestForm {
    dni: String,
}

/// `GET /registro/codigo`: «¿Tu oficina te registró? Pedí tu código».
pub async fn request_form(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    render(&RequestPage {
        page: ctx.page("Pedí el código de tu oficina"),
        dni: String::new(),
        errors: FieldErrors::default(),
        sent: false,
        limited: None,
        days: state.limits.claim_code_days,
    })
}

#[derive(sqlx::FromRow)]
struct Unclaimed {
    id: i64,
    first_name: String,
    email: Option<String>,
}

/// `POST /registro/codigo`: emails a fresh code when the DNI belongs to a person registered by
/// an office, without account, with an email on file. The page says the same in every case.
pub async fn request(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    Form(form): Form<RequestForm>,
) -> AppResult<Response> {
    let limits = &state.limits;
    let page = |errors, sent, limited| RequestPage {
        page: ctx.page("Pedí el código de tu oficina"),
        dni: form.dni.clone(),
        errors,
        sent,
        limited,
        days: limits.claim_code_days,
    };
    let dni = match Dni::parse(&form.dni) {
        Ok(d) => d,
        Err(m) => {
            let mut errors = FieldErrors::default();
            errors.add("dni", m);
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(errors, false, None));
        }
    };
    let ip = client_ip(&state, &headers, peer);
    // Counted for every DNI, known or not, so a refusal says nothing about the DNI.
    let checks = [
        (format!("code:ip:{ip}"), limits.code_request_per_address),
        (
            format!("code:dni:{}", dni.as_str()),
            limits.code_request_per_dni,
        ),
    ];
    for (key, max) in checks {
        if let Err(wait) = ratelimit::check(&state.db, &key, max, HOUR).await? {
            tracing::warn!(%ip, "pedidos de código bloqueados por demasiados intentos");
            let msg = format!(
                "Pediste demasiados códigos. Probá de nuevo {}, o acercate a tu oficina de empleo.",
                ratelimit::retry_in(wait)
            );
            let resp = render_status(
                StatusCode::TOO_MANY_REQUESTS,
                &page(FieldErrors::default(), false, Some(msg)),
            )?;
            return Ok(ratelimit::with_retry_after(resp, wait));
        }
    }
    let person: Option<Unclaimed> = with_db!(&state.db, |p| sqlx::query_as(
        "SELECT p.id, p.first_name, p.email FROM persons p
         WHERE p.dni = $1 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.person_id = p.id)"
    )
    .bind(dni.as_str())
    .fetch_optional(p)
    .await)?;
    if let Some(Unclaimed {
        id,
        first_name,
        email: Some(email),
    }) = person
    {
        let (code, expires) = issue(&state.db, id, None, limits.claim_code_days).await?;
        tracing::info!(person = id, "código de la oficina pedido por la persona");
        send_by_email(&state, email, &first_name, &code, expires);
    }
    render(&page(FieldErrors::default(), true, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_twelve_digits_parsed_as_typed_and_hashed_per_person() {
        let c = ClaimCode::generate();
        assert_eq!(c.0.len(), 12);
        assert!(c.0.chars().all(|d| d.is_ascii_digit()));
        assert_ne!(ClaimCode::generate(), c, "random");
        let shown = c.formatted();
        assert_eq!(shown.len(), 14);
        assert_eq!(ClaimCode::parse(&shown).unwrap(), c);
        assert_eq!(
            ClaimCode::parse(&format!(" {} ", shown.replace('-', " "))).unwrap(),
            c
        );
        assert!(ClaimCode::parse("1234-5678-901").is_err());
        assert!(ClaimCode::parse("1234-5678-901A").is_err());
        assert_ne!(c.hash(1), c.hash(2));
        assert_eq!(c.hash(1).len(), 64);
    }
}
