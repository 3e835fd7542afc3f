//! The catalogue: courses imported from files, Markdown, classes (comisiones), the public
//! catalogue page.

pub mod classes;
pub mod content;
pub mod handlers;
pub mod import;
pub mod markdown;
pub mod queries;

use axum::{Router, routing::get};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/cursos", get(handlers::catalogue))
}
