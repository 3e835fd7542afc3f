//! Enrolment: seats, waitlists, enrolment windows, withdrawals, assisted enrolment.
//!
//! A seat is taken by one conditional UPDATE (`seats_taken < seats`), never read-then-write;
//! the database's CHECK (`seats_taken <= seats`) is the last line of defence.

pub mod handlers;
pub mod queries;

use axum::{Router, routing::post};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/comisiones/{id}/inscribirme", post(handlers::enrol))
        .route("/comisiones/{id}/baja", post(handlers::withdraw))
}
