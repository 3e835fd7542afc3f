//! The API for SIPE (bearer tokens) and the person's training record.

use axum::Router;

use crate::web::state::AppState;

/// Pages of this part (session, CSRF).
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// `/api/v1/...` (bearer tokens).
pub fn api_routes() -> Router<AppState> {
    Router::new()
}
