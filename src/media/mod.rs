//! Media: a storage interface (local folder now; S3-compatible later) and range requests.

pub mod handlers;
pub mod storage;

use std::sync::Arc;

use axum::{Router, routing::get};

use crate::{media::storage::Storage, web::state::AppState};

/// Routes of this module, serving from `storage`.
pub fn routes(storage: Arc<dyn Storage>) -> Router<AppState> {
    Router::new()
        .route("/media/{*path}", get(handlers::serve))
        .with_state(storage)
}
