//! API tokens: created by admins (the secret is shown once, only its SHA-256 is stored),
//! named, with scopes, last use shown, revocable.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::Response,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    db::Db,
    web::{
        auth::Admin,
        cookies::random_token,
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render},
        notice::redirect_with_notice,
        state::AppState,
        text::has_control,
        time::{local, now},
    },
    with_db,
};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Read the training records and the event log.
    Read,
    /// Create and update people.
    WritePersons,
}

impl Scope {
    /// The scope's name, as stored and documented.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "lectura",
            Scope::WritePersons => "personas:escritura",
        }
    }
}

/// The stored form of a secret: hex SHA-256. The secret is 256 random bits, so a fast hash
/// is enough (nothing to brute-force) and lets a request find its token by one indexed read.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A token as the admin's list shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub hint: String,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    pub created_by_name: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    pub fn created(&self) -> String {
        local(&self.created_at)
    }
    pub fn last_used(&self) -> String {
        self.last_used_at
            .as_ref()
            .map(local)
            .unwrap_or_else(|| "Nunca".into())
    }
    pub fn revoked(&self) -> Option<String> {
        self.revoked_at.as_ref().map(local)
    }
}

/// Every token, newest first.
pub async fn all(db: &Db) -> Result<Vec<TokenRow>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT t.id, t.name, t.hint, t.scopes, t.created_at, t.last_used_at, t.revoked_at,
            (SELECT pe.first_name || ' ' || pe.last_name FROM users u JOIN persons pe ON pe.id = u.person_id
              WHERE u.id = t.created_by) AS created_by_name
         FROM api_tokens t ORDER BY t.id DESC"
    )
    .fetch_all(p)
    .await
    })
}

/// Creates a token; returns the secret (the only time it exists outside the caller's hands).
pub async fn create_token(
    db: &Db,
    name: &str,
    scopes: &[Scope],
    by: Option<i64>,
) -> Result<String, sqlx::Error> {
    let secret = format!("aula_{}", random_token());
    let scopes = scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    with_db!(db, |p| sqlx::query(
        "INSERT INTO api_tokens (name, token_hash, hint, scopes, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(name)
    .bind(hash_secret(&secret))
    .bind(&secret[..9])
    .bind(&scopes)
    .bind(by)
    .bind(now())
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(secret)
}

#[derive(Template)]
#[template(path = "feed/tokens.html")]
pub struct TokensPage {
    page: Page,
    tokens: Vec<TokenRow>,
    errors: FieldErrors,
    token_name: String,
    read: bool,
    write: bool,
    /// The secret just created: shown this once.
    created: Option<String>,
}

/// The new-token form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    name: String,
    lectura: Option<String>,
    escritura: Option<String>,
}

/// `GET /admin/api/tokens`: the tokens and the form for a new one.
pub async fn list(State(state): State<AppState>, ctx: Ctx, _a: Admin) -> AppResult<Response> {
    render(&TokensPage {
        page: ctx.page("Tokens de la API para SIPE"),
        tokens: all(&state.db).await?,
        errors: FieldErrors::default(),
        token_name: String::new(),
        read: true,
        write: false,
        created: None,
    })
}

/// `POST /admin/api/tokens`: creates a token and shows its secret once (never cached).
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Admin(admin): Admin,
    Form(form): Form<TokenForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let name = form.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 80 || has_control(&name) {
        errors.add(
            "name",
            "Poné un nombre que diga quién usa el token (hasta 80 caracteres), por ejemplo «SIPE producción».",
        );
    }
    let mut scopes = vec![];
    if form.lectura.is_some() {
        scopes.push(Scope::Read);
    }
    if form.escritura.is_some() {
        scopes.push(Scope::WritePersons);
    }
    if scopes.is_empty() {
        errors.add("lectura", "Marcá al menos un permiso.");
    }
    let created = if errors.is_empty() {
        Some(create_token(&state.db, &name, &scopes, Some(admin.user_id)).await?)
    } else {
        None
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut resp = crate::web::layout::render_status(
        status,
        &TokensPage {
            page: ctx.page("Tokens de la API para SIPE"),
            tokens: all(&state.db).await?,
            token_name: if created.is_some() {
                String::new()
            } else {
                name
            },
            read: form.lectura.is_some(),
            write: form.escritura.is_some(),
            errors,
            created,
        },
    )?;
    // The page carries a secret: no browser or proxy may keep it.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

/// `POST /admin/api/tokens/{id}/revocar`: from now on the token gets 401.
pub async fn revoke(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let n = with_db!(&state.db, |p| sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
    )
    .bind(now())
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_notice("/admin/api/tokens", "Token revocado."))
}
