//! Lessons, progress and the instructor's roster.

pub mod handlers;
pub mod queries;

use axum::{
    Router,
    routing::{get, post},
};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cursos/{slug}/lecciones/{key}", get(handlers::lesson))
        .route(
            "/cursos/{slug}/lecciones/{key}/completar",
            post(handlers::complete),
        )
        .route("/comisiones/{id}/participantes", get(handlers::roster))
        .route(
            "/comisiones/{id}/participantes.csv",
            get(handlers::roster_csv),
        )
}
