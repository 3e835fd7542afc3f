//! Assessment: question banks, quizzes, attempts, grading and the gradebook.
//!
//! The pure core has no I/O: the question model and its validation ([`question`]), automatic
//! grading ([`grading`]), Moodle GIFT import ([`gift`]), and drawing an attempt's questions
//! ([`draw`]). Around it: quizzes and banks as course files ([`files`], stored by [`store`]),
//! the attempt lifecycle settled in the database ([`attempts`]), the background closer of
//! overdue attempts ([`closer`]), results for instructors ([`results`]) and the pages.
//!
//! Grading works with *fractions* in `0.0..=1.0` of a question's value; turning a fraction into
//! points is [`grading::score`]'s job, so the same question can be worth different points in
//! different quizzes.

pub mod attempts;
pub mod closer;
pub mod draw;
pub mod files;
pub mod frozen;
pub mod gift;
pub mod grading;
pub mod handlers;
pub mod instructor;
pub mod question;
pub mod results;
pub mod store;
pub mod view;

use std::ops::Deref;

use axum::{
    Router,
    extract::FromRef,
    routing::{get, post},
};

use crate::web::state::AppState;

/// Deployment settings of quizzes.
#[derive(Clone, Copy, Debug)]
pub struct QuizSettings {
    /// Slack after a deadline for answers already on their way (slow phone networks).
    pub grace: chrono::Duration,
    /// How often overdue attempts are looked for, closed and graded.
    pub sweep: std::time::Duration,
}

/// What the learner's quiz handlers need: the kernel's state and the quiz settings. Derefs to
/// [`AppState`].
#[derive(Clone)]
pub struct QuizState {
    pub app: AppState,
    pub quiz: QuizSettings,
    /// Attempts' question shapes, read once (autosave).
    pub frozen: frozen::Frozen,
    /// Courses' question banks, parsed once per content version (starting attempts).
    pub banks: attempts::Banks,
}

impl Deref for QuizState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl FromRef<QuizState> for AppState {
    fn from_ref(s: &QuizState) -> AppState {
        s.app.clone()
    }
}

/// The autosave of an attempt: the hot path of an exam day, which checks the session in its
/// own write (so it goes in the router's group without the session middleware).
pub fn autosave_routes(state: QuizState) -> Router<AppState> {
    Router::new()
        .route("/intentos/{id}/guardar", post(handlers::autosave))
        .with_state(state)
}

/// Routes of this module.
pub fn routes(state: QuizState) -> Router<AppState> {
    Router::new()
        .route("/cursos/{slug}/evaluaciones/{key}", get(handlers::quiz))
        .route(
            "/cursos/{slug}/evaluaciones/{key}/comenzar",
            post(handlers::start),
        )
        .route(
            "/intentos/{id}",
            get(handlers::attempt).post(handlers::answer),
        )
        .route("/intentos/{id}/resumen", get(handlers::summary))
        .route("/intentos/{id}/entregar", post(handlers::submit))
        .route("/intentos/{id}/resultado", get(handlers::result))
        .route(
            "/comisiones/{id}/calificaciones",
            get(instructor::gradebook),
        )
        .route(
            "/comisiones/{id}/calificaciones.csv",
            get(instructor::gradebook_csv),
        )
        .route("/comisiones/{id}/corregir", get(instructor::queue))
        .route(
            "/comisiones/{id}/corregir/{attempt}/{slot}",
            post(instructor::grade),
        )
        .route(
            "/comisiones/{id}/evaluaciones/{quiz}/estadisticas",
            get(instructor::statistics),
        )
        .route(
            "/comisiones/{id}/evaluaciones/{quiz}/intentos",
            get(instructor::class_attempts),
        )
        .route(
            "/comisiones/{id}/intentos/{attempt}",
            get(instructor::attempt_review),
        )
        .route(
            "/comisiones/{id}/evaluaciones/{quiz}/fechas",
            get(instructor::window_form).post(instructor::window_save),
        )
        .with_state(state)
}
