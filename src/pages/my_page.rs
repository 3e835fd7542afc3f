//! `/mi-aula`: the person's own page — their data, classes with progress, quizzes, and the
//! classes they teach.

use askama::Template;
use axum::{extract::State, response::Response};

use crate::{
    assessment::results::{LearnerQuiz, learner_quizzes},
    catalog::queries::{self as catalog, ClassInfo},
    certification::store::{self as certs, CertificateSummary},
    completion::{self, Checklist},
    enrolment::queries::{self as enrol, EnrolmentSummary},
    people::persons::{self, Person},
    web::{
        auth::User,
        error::{AppError, AppResult},
        layout::{Ctx, Page, render},
        state::AppState,
    },
};

#[derive(Template)]
#[template(path = "pages/my_page.html")]
pub struct MyPage {
    page: Page,
    person: Person,
    enrolments: Vec<EnrolmentSummary>,
    quizzes: Vec<LearnerQuiz>,
    teaching: Vec<ClassInfo>,
    certificates: Vec<CertificateSummary>,
    /// For each class that an institution certifies: the course and the learner's checklist.
    checklists: Vec<(String, Checklist)>,
}

/// `GET /mi-aula`: own data, enrolments and progress.
pub async fn my_page(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
) -> AppResult<Response> {
    let person = persons::get(&state.db, user.person_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrolments = enrol::summaries(&state.db, user.person_id).await?;
    let teaching = catalog::taught_by(&state.db, user.user_id).await?;
    let mut checklists = Vec::new();
    for e in &enrolments {
        let certified = certs::class(&state.db, e.class_id)
            .await?
            .is_some_and(|c| c.institution_id.is_some());
        let list = completion::checklist(&state.db, e.class_id, user.person_id).await?;
        if certified
            && list
                .enrolment
                .as_deref()
                .is_some_and(|s| s == "confirmed" || s == "completed")
        {
            checklists.push((e.course_title.clone(), list));
        }
    }
    render(&MyPage {
        certificates: certs::of_person(&state.db, user.person_id).await?,
        checklists,
        page: ctx.page("Mi aula"),
        person,
        enrolments,
        quizzes: learner_quizzes(&state.db, user.person_id).await?,
        teaching,
    })
}
