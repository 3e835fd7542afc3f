//! Media: a storage interface (local folder now; S3-compatible later) and range requests.

pub mod handlers;
pub mod storage;

use axum::{Router, routing::get};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{*path}", get(handlers::serve))
}
