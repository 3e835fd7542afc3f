//! The office operators' pages: the people of their territory and registering a person
//! (every query scoped to the operator's territory).

use askama::Template;
use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use crate::{
    people::{
        persons::{self, Person, PersonInput, unique_error},
        territory::{self, DepartmentGroup},
    },
    person_insert,
    web::{
        auth::Operator,
        error::AppResult,
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        state::AppState,
    },
    with_db,
};

const PER_PAGE: i64 = 20;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
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
