//! Application state shared by every handler.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::{db::Db, media::Media, web::config::Config, web::mail::Mailer};

/// Cheap to clone: everything inside is reference-counted.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// Bounds concurrent password hashing (each takes ~19 MiB and a core for a moment).
    pub hashing: Arc<Semaphore>,
    pub mailer: Mailer,
    /// The media store (local or S3) and its settings.
    pub media: Media,
    /// Live rooms running in this process.
    pub live: crate::live::Rooms,
}
