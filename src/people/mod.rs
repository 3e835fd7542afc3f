//! People (the Persona, keyed by DNI), territory (departments and localities), employment
//! offices, and the operators' pages for the people of their territory.

pub mod claim;
pub mod domain;
pub mod handlers;
pub mod offices;
pub mod persons;
pub mod territory;
pub mod upsert;

use axum::{
    Router,
    routing::{get, post},
};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/mi-aula/datos",
            get(handlers::contact_form).post(handlers::update_contact),
        )
        .route(
            "/registro/codigo",
            get(claim::request_form).post(claim::request),
        )
        .route("/oficina", get(handlers::office_people))
        .route(
            "/oficina/personas/nueva",
            get(handlers::new_person_form).post(handlers::create_person),
        )
        .route(
            "/oficina/personas/{id}/codigo",
            post(handlers::new_claim_code),
        )
        .route(
            "/oficina/personas/{id}/codigo/email",
            post(handlers::email_claim_code),
        )
        .route("/admin/oficinas", get(offices::list).post(offices::create))
        .route(
            "/admin/oficinas/{id}",
            get(offices::edit_form).post(offices::update),
        )
}
