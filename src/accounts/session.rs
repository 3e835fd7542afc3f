//! Sessions stored in the database (so every `aula` process shares them). The cookie holds a
//! random token; the database holds only its SHA-256, so a leaked table opens no session.

use axum::http::HeaderValue;
use chrono::Duration;
use sha2::{Digest, Sha256};

use crate::{
    db::Db,
    web::{
        cookies::{random_token, set_cookie},
        time::now,
    },
    with_db,
};

/// Name of the session cookie.
pub const COOKIE: &str = "aula_sesion";
/// Sessions last 30 days from login.
pub const LIFETIME_DAYS: i64 = 30;

/// SHA-256 of a token, hex-encoded.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a session for `user_id` and returns the cookie to set.
pub async fn create(db: &Db, user_id: i64, secure: bool) -> Result<HeaderValue, sqlx::Error> {
    let token = random_token();
    let now = now();
    with_db!(db, |p| {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(now)
            .bind(now + Duration::days(LIFETIME_DAYS))
            .execute(p)
            .await
            .map(|_| ())
    })?;
    Ok(set_cookie(
        COOKIE,
        &token,
        Some(LIFETIME_DAYS * 86400),
        secure,
    ))
}

/// Deletes the session with this token (logout).
pub async fn delete(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE token_hash = $1"
    )
    .bind(token_hash(token))
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes every session of a user except, optionally, one (after a password change/reset).
pub async fn delete_all_for(
    db: &Db,
    user_id: i64,
    keep_token: Option<&str>,
) -> Result<(), sqlx::Error> {
    let keep = keep_token.map(token_hash).unwrap_or_default();
    with_db!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2"
    )
    .bind(user_id)
    .bind(keep)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The cookie that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    set_cookie(COOKIE, "", Some(0), secure)
}
