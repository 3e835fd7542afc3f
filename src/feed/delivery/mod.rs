//! Delivery of the outbox to SIPE as Standard Webhooks.

use axum::Router;

use crate::web::state::AppState;

/// Pages of this part (session, CSRF).
pub fn routes() -> Router<AppState> {
    Router::new()
}
