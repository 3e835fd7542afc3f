//! The public catalogue: search and filters.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};

use crate::{
    catalog::queries::{self, CourseCard, Filters},
    people::territory::{self, Department},
    web::{
        error::AppResult,
        layout::{Ctx, Page, render},
        state::AppState,
    },
};

#[derive(Template)]
#[template(path = "catalog/catalogue.html")]
pub struct CataloguePage {
    page: Page,
    courses: Vec<CourseCard>,
    filters: Filters,
    categories: Vec<String>,
    departments: Vec<Department>,
}

/// `GET /cursos?q=&categoria=&modalidad=&departamento=`
pub async fn catalogue(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(filters): Query<Filters>,
) -> AppResult<Response> {
    let courses = queries::search(&state.db, &filters).await?;
    render(&CataloguePage {
        page: ctx.page("Cursos"),
        courses,
        categories: queries::categories(&state.db).await?,
        departments: territory::departments(&state.db).await?,
        filters,
    })
}
