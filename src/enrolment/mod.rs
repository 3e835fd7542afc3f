//! Enrolment: seats, waitlists, enrolment windows, withdrawals, assisted enrolment.
//!
//! A seat is taken by one conditional UPDATE (`seats_taken < seats`), never read-then-write;
//! the database's CHECK (`seats_taken <= seats`) is the last line of defence.

/// The enrolment statuses that let a person study in a class, as SQL:
/// `AND e.status IN ` + `active_statuses!()`. Written once for every query that asks whether
/// someone may study a class (lessons, quizzes, live rooms, rosters).
#[macro_export]
macro_rules! active_statuses {
    () => {
        "('confirmed', 'completed')"
    };
}

pub mod events;
pub mod handlers;
pub mod queries;

use axum::{Router, routing::post};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/comisiones/{id}/inscribirme", post(handlers::enrol))
        .route("/comisiones/{id}/baja", post(handlers::withdraw))
        .route(
            "/oficina/personas/{id}/inscribir",
            post(handlers::assisted_enrol),
        )
}
