//! The feed to SIPE: the person's training record ("Historia formativa"), the API that SIPE
//! calls (bearer tokens), and the delivery of the kernel's outbox as signed webhooks.
//!
//! Every change SIPE must know is recorded by its own module in the change's transaction
//! (`web::outbox::record`); this module only reads the outbox, it never writes a change.

pub mod api;
pub mod delivery;

use axum::Router;

use crate::web::state::AppState;

/// Pages and forms (session, CSRF): the record page, the admin's tokens and delivery queue.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(api::routes())
        .merge(delivery::routes())
}

/// The machine API under `/api/v1` (bearer tokens; no session, no CSRF cookie).
pub fn api_routes() -> Router<AppState> {
    api::api_routes()
}
