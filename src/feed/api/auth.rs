//! Bearer authentication for `/api/v1`: the extractors find the token by the SHA-256 of the
//! secret, refuse a missing, unknown or revoked one (401), check the scope (403), count the
//! request against the token's per-minute limit (429) and note the last use, all before the
//! handler runs.

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Duration;

use crate::{
    feed::api::{
        error::ApiError,
        tokens::{Scope, hash_secret},
    },
    web::{ratelimit, state::AppState, time::now},
    with_db,
};

/// The token that authenticated the request.
#[derive(Clone, Debug)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
}

/// Finds the live token of the request, checks `scope` and the rate limit.
async fn authenticate(parts: &Parts, state: &AppState, scope: Scope) -> Result<ApiToken, ApiError> {
    let secret = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or(ApiError::Unauthorized)?;
    // Last use is written with the lookup itself (one statement), at most once a minute so a
    // busy token does not turn every read into a write.
    let t = now();
    let found: Option<(i64, String, String)> = with_db!(&state.db, |p| sqlx::query_as(
        "UPDATE api_tokens SET last_used_at = CASE
            WHEN last_used_at IS NULL OR last_used_at < $2 THEN $3 ELSE last_used_at END
         WHERE token_hash = $1 AND revoked_at IS NULL
         RETURNING id, name, scopes"
    )
    .bind(hash_secret(secret))
    .bind(t - Duration::minutes(1))
    .bind(t)
    .fetch_optional(p)
    .await)?;
    let (id, name, scopes) = found.ok_or(ApiError::Unauthorized)?;
    // Every request of a known token counts, refused by scope or not.
    let key = format!("api:token:{id}");
    if let Err(wait) = ratelimit::check(
        &state.db,
        &key,
        state.limits.api_per_token_minute,
        Duration::minutes(1),
    )
    .await?
    {
        return Err(ApiError::TooMany(wait.num_seconds().max(1)));
    }
    if !scopes.split(' ').any(|s| s == scope.as_str()) {
        return Err(ApiError::Forbidden(scope.as_str()));
    }
    Ok(ApiToken { id, name })
}

/// A token with the `lectura` scope.
pub struct ReadToken(pub ApiToken);

/// A token with the `personas:escritura` scope.
pub struct WriteToken(pub ApiToken);

impl FromRequestParts<AppState> for ReadToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Scope::Read).await.map(ReadToken)
    }
}

impl FromRequestParts<AppState> for WriteToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Scope::WritePersons)
            .await
            .map(WriteToken)
    }
}
