//! Live classes: scheduled sessions of a class, rooms with a built-in SFU (webrtc-rs),
//! signalling over a WebSocket, chat, moderation and attendance from real presence.

pub mod attendance;
pub mod bitrates;
pub mod config;
pub mod handlers;
pub mod limits;
pub mod nodes;
pub mod peer;
pub mod protocol;
pub mod room;
pub mod sessions;
pub mod sfu;
pub mod signal;

use axum::{
    Router,
    routing::{get, post},
};

pub use room::Rooms;

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/comisiones/{id}/en-vivo",
            get(handlers::class_sessions).post(handlers::schedule),
        )
        .route("/en-vivo/{id}", get(handlers::room))
        .route("/en-vivo/{id}/abrir", post(handlers::open))
        .route("/en-vivo/{id}/terminar", post(handlers::end))
        .route("/en-vivo/{id}/ws", get(signal::socket))
        .route(
            "/en-vivo/{id}/asistencia",
            get(handlers::attendance_sheet).post(handlers::correct_attendance),
        )
}
