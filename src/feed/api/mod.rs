//! The API for SIPE (bearer tokens, JSON under `/api/v1`) and the person's training record
//! ("Historia formativa") that both the API and the pages show.
//!
//! - `tokens`: the admin's tokens (created, listed, revoked) and how a secret is stored.
//! - `auth`: the bearer extractors (`ReadToken`, `WriteToken`) and the per-token rate limit.
//! - `error`: the API's JSON errors (`{"error": ..., "mensaje": ...}`).
//! - `record`: the training record, its page, CSV and JSON.
//! - `events`: the outbox paged by cursor for a system that prefers to pull.
//! - `persons`: SIPE creates or updates people, one (`PUT`) or thousands (`lote`).
//! - `openapi`: the OpenAPI 3.1 description generated from the handlers, and its page.

pub mod auth;
pub mod error;
pub mod events;
pub mod openapi;
pub mod persons;
pub mod record;
pub mod tokens;

use axum::{
    Router,
    routing::{get, post},
};

use crate::web::state::AppState;

/// Pages of this part (session, CSRF): the admin's tokens and the record pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/api/tokens/{id}/revocar", post(tokens::revoke))
        .route("/mi-aula/formacion", get(record::own_page))
        .route("/mi-aula/formacion.csv", get(record::own_csv))
        .route("/personas/{id}/formacion", get(record::person_page))
        .route("/personas/{id}/formacion.csv", get(record::person_csv))
        // The API's page for people is a page (layout, session), though under /api/v1.
        .route("/api/v1/docs", get(openapi::page))
}

/// `/api/v1/...` (bearer tokens).
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/personas/{dni}/formacion", get(record::api_record))
        .route("/api/v1/openapi.json", get(openapi::json))
        .route("/api/v1/eventos", get(events::list))
        .route("/api/v1/personas/{dni}", axum::routing::put(persons::put))
        .route(
            "/api/v1/personas/lote",
            post(persons::bulk).layer(axum::extract::DefaultBodyLimit::max(
                persons::BULK_MAX_BYTES,
            )),
        )
        // Anything else under the API answers in the API's language (JSON), not a page.
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async { error::ApiError::NotFound }),
        )
}
