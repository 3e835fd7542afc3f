//! Accounts: registration (and claiming a person an office registered), login, sessions,
//! passwords, password reset, roles.

pub mod admin;
pub mod auth;
pub mod handlers;
pub mod password;
pub mod reset;
pub mod session;

use axum::{
    Router,
    routing::{get, post},
};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/registro",
            get(handlers::register_form).post(handlers::register),
        )
        .route("/ingresar", get(handlers::login_form).post(handlers::login))
        .route("/salir", post(handlers::logout))
        .route(
            "/cuenta/clave",
            get(handlers::password_form).post(handlers::change_password),
        )
        .route("/recuperar", get(reset::request_form).post(reset::request))
        .route(
            "/recuperar/{token}",
            get(reset::reset_form).post(reset::reset),
        )
        .route("/admin", get(admin::dashboard))
        .route("/admin/roles", get(admin::roles).post(admin::grant))
        .route("/admin/roles/{id}/revocar", post(admin::revoke))
}
