//! The home page.

use askama::Template;
use axum::{extract::State, response::Response};

use crate::{
    catalog::queries::{self, CourseCard, Filters},
    web::{
        error::AppResult,
        layout::{Ctx, Page, render},
        state::AppState,
    },
};

#[derive(Template)]
#[template(path = "pages/home.html")]
pub struct HomePage {
    page: Page,
    courses: Vec<CourseCard>,
}

/// `GET /`
pub async fn home(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let courses = queries::search(&state.db, &Filters::default()).await?;
    render(&HomePage {
        page: ctx.page("Aula — Tucumán Capacita"),
        courses,
    })
}
