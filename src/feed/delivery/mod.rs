//! Delivery of the outbox to SIPE as Standard Webhooks: `[feed]` endpoints, a queue row per
//! (event, endpoint) with leases, retries with backoff and jitter, dead letters, and the
//! administrators' page `/admin/sipe`.

pub mod admin;
pub mod config;
pub mod queue;
pub mod worker;

use axum::{
    Router,
    routing::{get, post},
};

use crate::web::state::AppState;

/// Pages of this part (session, CSRF).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sipe", get(admin::page))
        .route("/admin/sipe/{id}/reintentar", post(admin::retry))
        .route(
            "/admin/sipe/reintentar-descartados",
            post(admin::retry_dead),
        )
}
