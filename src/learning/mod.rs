//! Lessons, progress and the instructor's roster.

pub mod handlers;
pub mod queries;

use axum::{
    Router,
    routing::{get, post},
};

use crate::{catalog::content::Contents, media::view::Videos, web::state::AppState};

/// What the lesson page needs besides the kernel's state: the courses' contents and the
/// videos' views kept in process. Derefs to [`AppState`].
#[derive(Clone)]
pub struct LearningState {
    pub app: AppState,
    pub contents: Contents,
    pub videos: Videos,
}

impl std::ops::Deref for LearningState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.app
    }
}

/// The lesson page, which resolves the session inside its own query (one round trip): for
/// the router's group without the session middleware.
pub fn self_resolving_routes(state: LearningState) -> Router<AppState> {
    Router::new()
        .route("/cursos/{slug}/lecciones/{key}", get(handlers::lesson))
        .with_state(state)
}

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
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
