//! The administrator's people finder: everyone, by DNI or name, paged, each linking to a page
//! with their data and classes.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use serde::Deserialize;

use crate::{
    enrolment::queries::{self as enrol, EnrolmentSummary},
    people::persons::{self, Person},
    web::{
        auth::Admin,
        error::{AppError, AppResult},
        layout::{Ctx, Page, render},
        state::AppState,
    },
};

const PER_PAGE: i64 = 20;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    /// Cut and cleaned as it arrives (see `web::text::search_input`).
    #[serde(deserialize_with = "crate::web::text::deserialize_search")]
    q: String,
    pagina: i64,
}

#[derive(Template)]
#[template(path = "admin/people.html")]
pub struct PeoplePage {
    page: Page,
    q: String,
    q_encoded: String,
    people: Vec<Person>,
    total: i64,
    /// More matched than were counted: ask for a narrower search.
    more: bool,
    current: i64,
    pages: i64,
}

/// `GET /admin/personas?q=&pagina=`: everyone matching a DNI prefix or a name.
pub async fn people(
    State(state): State<AppState>,
    ctx: Ctx,
    _admin: Admin,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    let current = q.pagina.max(1);
    let found = persons::search_all(&state.db, &q.q, current, PER_PAGE).await?;
    let pages = found.pages(PER_PAGE);
    render(&PeoplePage {
        page: ctx.page("Personas"),
        q_encoded: crate::web::text::url_encode(&q.q),
        q: q.q,
        people: found.people,
        total: found.total,
        more: found.more,
        current,
        pages,
    })
}

#[derive(Template)]
#[template(path = "admin/person.html")]
pub struct PersonPage {
    page: Page,
    person: Person,
    enrolments: Vec<EnrolmentSummary>,
}

/// `GET /admin/personas/{id}`: one person's data and classes.
pub async fn person(
    State(state): State<AppState>,
    ctx: Ctx,
    _admin: Admin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let person = persons::get(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrolments = enrol::summaries(&state.db, person.id).await?;
    render(&PersonPage {
        page: ctx.page(format!("{} {}", person.first_name, person.last_name)),
        person,
        enrolments,
    })
}
