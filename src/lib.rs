//! Aula: the virtual classroom of Tucumán's employment secretariat.
//!
//! One module per capability; `web` and `db` are the shared kernel.

pub mod accounts;
pub mod assessment;
pub mod catalog;
pub mod certification;
pub mod cli;
pub mod db;
pub mod enrolment;
pub mod learning;
pub mod live;
pub mod media;
pub mod people;
pub mod web;

pub use web::app::{Application, build_router};
pub use web::config::Config;
pub use web::state::AppState;
