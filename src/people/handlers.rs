//! The learner's own page and the office operators' pages (scoped to their territory).

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use crate::{
    accounts::auth::{Operator, User},
    catalog::queries::{self as catalog, ClassInfo},
    enrolment::{
        handlers::message,
        queries::{self as enrol, EnrolmentSummary, Outcome},
    },
    people::{
        persons::{self, Person, PersonInput, unique_error},
        territory::{self, DepartmentGroup},
    },
    person_insert,
    web::{
        csrf::redirect_with_notice,
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        state::AppState,
    },
    with_db,
};

#[derive(Template)]
#[template(path = "people/my_page.html")]
pub struct MyPage {
    page: Page,
    person: Person,
    enrolments: Vec<EnrolmentSummary>,
    quizzes: Vec<crate::assessment::results::LearnerQuiz>,
    teaching: Vec<ClassInfo>,
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
    render(&MyPage {
        page: ctx.page("Mi aula"),
        person,
        enrolments,
        quizzes: crate::assessment::results::learner_quizzes(&state.db, user.person_id).await?,
        teaching,
    })
}

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
#[template(path = "people/office_people.html")]
pub struct OfficePeoplePage {
    page: Page,
    q: String,
    people: Vec<Person>,
    total: i64,
    current: i64,
    pages: i64,
    q_encoded: String,
}

/// `GET /oficina?q=&pagina=`: people of the operator's territory.
pub async fn office_people(
    State(state): State<AppState>,
    ctx: Ctx,
    Operator(op): Operator,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    let current = q.pagina.max(1);
    let (people, total) =
        persons::search_in_territory(&state.db, op.user_id, &q.q, current, PER_PAGE).await?;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    render(&OfficePeoplePage {
        page: ctx.page("Personas de mi territorio"),
        q_encoded: crate::web::text::url_encode(&q.q),
        q: q.q,
        people,
        total,
        current,
        pages,
    })
}

#[derive(Template)]
#[template(path = "people/new_person.html")]
pub struct NewPersonPage {
    page: Page,
    input: PersonInput,
    errors: FieldErrors,
    groups: Vec<DepartmentGroup>,
}

/// Only the departments of the operator's offices.
async fn operator_groups(state: &AppState, user_id: i64) -> AppResult<Vec<DepartmentGroup>> {
    let allowed: Vec<i64> = with_db!(&state.db, |p| {
        sqlx::query_scalar(
        "SELECT od.department_id FROM office_departments od JOIN role_grants g ON g.office_id = od.office_id
         WHERE g.user_id = $1 AND g.role = 'operator'"
    )
    .bind(user_id)
    .fetch_all(p)
    .await
    })?;
    Ok(territory::grouped(&state.db)
        .await?
        .into_iter()
        .filter(|g| allowed.contains(&g.department.id))
        .collect())
}

/// `GET /oficina/personas/nueva`
pub async fn new_person_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Operator(op): Operator,
) -> AppResult<Response> {
    render(&NewPersonPage {
        page: ctx.page("Registrar una persona"),
        input: PersonInput::default(),
        errors: FieldErrors::default(),
        groups: operator_groups(&state, op.user_id).await?,
    })
}

/// `POST /oficina/personas/nueva`: a Persona without account, in the operator's territory.
pub async fn create_person(
    State(state): State<AppState>,
    ctx: Ctx,
    Operator(op): Operator,
    Form(input): Form<PersonInput>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let groups = operator_groups(&state, op.user_id).await?;
    let parsed = input.parse(&state.db, &mut errors).await?;
    if let Some(np) = &parsed
        && !groups.iter().any(|g| g.department.id == np.department_id)
    {
        errors.add(
            "department_id",
            "Solo podés registrar personas de los departamentos que atiende tu oficina.",
        );
    }
    if let (Some(np), true) = (&parsed, errors.is_empty()) {
        let res = with_db!(&state.db, |p| person_insert!(np, Some(op.user_id))
            .fetch_one(p)
            .await);
        match res {
            Ok(id) => {
                return Ok(redirect_with_notice(
                    &format!("/oficina/personas/{id}"),
                    "Persona registrada. Ya podés inscribirla en un curso.",
                ));
            }
            Err(e) if unique_error(&e, &mut errors) => {}
            Err(e) => return Err(e.into()),
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &NewPersonPage {
            page: ctx.page("Registrar una persona"),
            input,
            errors,
            groups,
        },
    )
}

#[derive(Template)]
#[template(path = "people/office_person.html")]
pub struct OfficePersonPage {
    page: Page,
    person: Person,
    enrolments: Vec<EnrolmentSummary>,
    classes: Vec<ClassInfo>,
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
    render(&OfficePersonPage {
        page: ctx.page(format!("{} {}", person.first_name, person.last_name)),
        person,
        enrolments,
        classes,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AssistedForm {
    class_id: i64,
}

/// `POST /oficina/personas/{id}/inscribir`: assisted enrolment; the record keeps who did it.
pub async fn assisted_enrol(
    State(state): State<AppState>,
    Operator(op): Operator,
    Path(id): Path<i64>,
    Form(form): Form<AssistedForm>,
) -> AppResult<Response> {
    let person = persons::get_in_territory(&state.db, op.user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let outcome = enrol::enrol(&state.db, form.class_id, person.id, Some(op.user_id)).await?;
    if matches!(outcome, Ok(Outcome::Confirmed | Outcome::Waitlisted)) {
        tracing::info!(
            operator = op.user_id,
            person = person.id,
            class = form.class_id,
            "inscripción asistida"
        );
    }
    Ok(redirect_with_notice(
        &format!("/oficina/personas/{id}"),
        &message(&outcome),
    ))
}
