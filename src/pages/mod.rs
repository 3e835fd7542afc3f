//! Pages that gather several modules: the home page, the course page, `/mi-aula`, the
//! operator's view of a person, the administrator's people finder and person page, and the
//! administrator's class pages (course, seats and waitlist, institution).

pub mod classes;
pub mod course;
pub mod home;
pub mod my_page;
pub mod people;
pub mod person;

use axum::{Router, routing::get};

use crate::web::state::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/cursos/{slug}", get(course::course))
        .route("/mi-aula", get(my_page::my_page))
        .route("/oficina/personas/{id}", get(person::office_person))
        .route("/admin/personas", get(people::people))
        .route("/admin/personas/{id}", get(people::person))
        .route("/admin/comisiones", get(classes::list))
        .route(
            "/admin/comisiones/nueva",
            get(classes::new_form).post(classes::create),
        )
        .route(
            "/admin/comisiones/{id}",
            get(classes::edit_form).post(classes::update),
        )
}
