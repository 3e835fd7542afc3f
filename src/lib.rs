//! Aula: the virtual classroom of Tucumán's employment secretariat.
//!
//! One module per capability, in floors that import only downwards (README, "Code map"):
//! `web` and `db` are the kernel; `app` on top composes everything.

pub mod accounts;
pub mod app;
pub mod assessment;
pub mod catalog;
pub mod certification;
pub mod completion;
pub mod courses;
pub mod db;
pub mod enrolment;
pub mod feed;
pub mod learning;
pub mod live;
pub mod media;
pub mod pages;
pub mod people;
pub mod web;

pub use app::{Application, Config, build_router};
pub use web::state::AppState;
