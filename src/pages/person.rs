//! The operator's view of one person of their territory: data, classes, and enrolling them.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};

use crate::{
    catalog::queries::{self as catalog, ClassInfo},
    certification::store::{self as certs, CertificateSummary},
    enrolment::queries::{self as enrol, EnrolmentSummary},
    people::{
        claim,
        persons::{self, Person},
    },
    web::{
        auth::Operator,
        error::{AppError, AppResult},
        layout::{Ctx, Page, render},
        state::AppState,
    },
};

#[derive(Template)]
#[template(path = "pages/office_person.html")]
pub struct OfficePersonPage {
    page: Page,
    person: Person,
    enrolments: Vec<EnrolmentSummary>,
    classes: Vec<ClassInfo>,
    /// Until when the person's claim code is valid, when they have a live one.
    code_until: Option<String>,
    certificates: Vec<CertificateSummary>,
}

/// `GET /oficina/personas/{id}`: 404 outside the operator's territory.
pub async fn office_person(
    State(state): State<AppState>,
    ctx: Ctx,
    Operator(op): Operator,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let person = persons::get_in_territory(&state.db, op.user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrolments = enrol::summaries(&state.db, person.id).await?;
    let classes = catalog::open_classes(&state.db).await?;
    let code_until = if person.has_account {
        None
    } else {
        claim::live_until(&state.db, person.id)
            .await?
            .map(|t| crate::web::time::local(&t))
    };
    render(&OfficePersonPage {
        certificates: certs::of_person(&state.db, person.id).await?,
        page: ctx.page(format!("{} {}", person.first_name, person.last_name)),
        person,
        enrolments,
        classes,
        code_until,
    })
}
