//! The catalogue: courses imported from files, Markdown, classes (comisiones), public pages.

pub mod classes;
pub mod handlers;
pub mod import;
pub mod markdown;
pub mod queries;

use axum::{
    Router,
    routing::{get, post},
};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(handlers::home))
        .route("/cursos", get(handlers::catalogue))
        .route("/cursos/{slug}", get(handlers::course))
        .route("/admin/comisiones", get(classes::list))
        .route(
            "/admin/comisiones/nueva",
            get(classes::new_form).post(classes::create),
        )
        .route(
            "/admin/comisiones/{id}",
            get(classes::edit_form).post(classes::update),
        )
        .route("/admin/cursos/importar", post(classes::import_courses))
}
