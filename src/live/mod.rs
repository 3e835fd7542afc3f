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

use std::ops::Deref;

use axum::{
    Router,
    extract::FromRef,
    routing::{get, post},
};

pub use room::Rooms;

use crate::web::state::AppState;

/// What live handlers need: the kernel's state and this process's rooms (with the live
/// settings). Derefs to [`AppState`], so `state.db` reads as everywhere else.
#[derive(Clone)]
pub struct LiveState {
    pub app: AppState,
    pub rooms: Rooms,
}

impl Deref for LiveState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl FromRef<LiveState> for AppState {
    fn from_ref(s: &LiveState) -> AppState {
        s.app.clone()
    }
}

/// Routes of this module, bound to the rooms of this process.
pub fn routes(state: LiveState) -> Router<AppState> {
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
        .with_state(state)
}
