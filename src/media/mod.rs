//! Media: where files live (a local folder or an S3-compatible bucket, chosen by
//! configuration), course media published under content addresses, downloads with range
//! requests and access checks, streaming uploads checked by content, and light renditions of
//! videos made in the background with ffmpeg.

pub mod admin;
pub mod check;
pub mod config;
pub mod download;
pub mod ingest;
pub mod objects;
pub mod renditions;
pub mod s3;
pub mod storage;
pub mod upload;
pub mod view;

use std::{ops::Deref, path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRef},
    routing::{get, post},
};

pub use ingest::{MediaRef, publish_file};
pub use objects::Visibility;

use crate::web::state::AppState;
use config::MediaConfig;
use storage::{LocalStorage, Storage};

/// The media store and its settings, shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct Media {
    pub storage: Arc<dyn Storage>,
    pub config: Arc<MediaConfig>,
    /// ffmpeg and ffprobe, when installed and renditions are not turned off.
    pub tools: Option<Arc<renditions::Tools>>,
    /// Scratch space for renditions.
    pub work_dir: PathBuf,
}

impl Media {
    /// The store the configuration names: S3 when a bucket is set, else a local folder
    /// (`store_dir`, default `<data_dir>/media`).
    pub fn new(config: &MediaConfig, data_dir: &std::path::Path) -> anyhow::Result<Media> {
        let storage: Arc<dyn Storage> = if config.s3.bucket.is_some() {
            Arc::new(s3::S3Storage::new(config)?)
        } else {
            let dir = config
                .store_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("media"));
            Arc::new(LocalStorage::new(dir))
        };
        let tools = if config.renditions == Some(false) {
            None
        } else {
            renditions::Tools::detect(config.ffmpeg.as_deref(), config.ffprobe.as_deref())
                .map(Arc::new)
        };
        Ok(Media {
            storage,
            config: Arc::new(config.clone()),
            tools,
            work_dir: data_dir.join("tmp"),
        })
    }

    /// Whether videos get light renditions (ffmpeg found and not turned off).
    pub fn renditions_enabled(&self) -> bool {
        self.tools.is_some()
    }
}

/// What media handlers need: the kernel's state and the media store. Derefs to [`AppState`].
#[derive(Clone)]
pub struct MediaState {
    pub app: AppState,
    pub media: Media,
}

impl Deref for MediaState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl FromRef<MediaState> for AppState {
    fn from_ref(s: &MediaState) -> AppState {
        s.app.clone()
    }
}

/// Routes of this module that answer like any page.
pub fn routes(state: MediaState) -> Router<AppState> {
    Router::new()
        .route("/media/{*key}", get(download::serve))
        .route("/admin/medios", get(admin::page))
        .with_state(state)
}

/// Upload routes: their bodies stream for as long as the upload takes, so they sit outside
/// the page timeout and the site-wide form check, and check CSRF themselves
/// ([`upload::check_csrf`]) before reading the file.
pub fn upload_routes(state: MediaState) -> Router<AppState> {
    Router::new()
        .route(
            "/admin/medios/subir",
            post(admin::upload).layer(DefaultBodyLimit::disable()),
        )
        .with_state(state)
}
