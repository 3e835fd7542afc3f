//! The office operators' pages: the people of their territory, registering a person and the
//! claim code that lets them create their own account (every query scoped to the operator's
//! territory); and a person's own contact data («Mis datos»).

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use crate::{
    people::{
        claim,
        domain::{Email, Phone},
        persons::{self, ContactChange, Person, PersonInput, unique_error},
        territory::{self, DepartmentGroup},
    },
    web::{
        auth::{Operator, User},
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
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
#[template(path = "people/office_people.html")]
pub struct OfficePeoplePage {
    page: Page,
    q: String,
    people: Vec<Person>,
    total: i64,
    /// More matched than were counted: ask for a narrower search.
    more: bool,
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
    let found =
        persons::search_in_territory(&state.db, op.user_id, &q.q, current, PER_PAGE).await?;
    let pages = found.pages(PER_PAGE);
    render(&OfficePeoplePage {
        page: ctx.page("Personas de mi territorio"),
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
#[template(path = "people/new_person.html")]
pub struct NewPersonPage {
    page: Page,
    input: PersonInput,
    errors: FieldErrors,
    groups: Vec<DepartmentGroup>,
}

impl NewPersonPage {
    /// Someone else's DNI: nothing for the operator's browser to fill in or save.
    pub fn dni_autocomplete(&self) -> &'static str {
        "off"
    }
}

/// Only the departments of the operator's offices.
async fn operator_groups(state: &AppState, user_id: i64) -> AppResult<Vec<DepartmentGroup>> {
    let allowed = persons::operator_departments(&state.db, user_id).await?;
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
        let res = async {
            let mut tx = state.db.begin().await?;
            let id = persons::insert(&mut tx, np, Some(op.user_id)).await?;
            tx.commit().await?;
            Ok::<i64, sqlx::Error>(id)
        }
        .await;
        match res {
            Ok(id) => {
                tracing::info!(
                    operator = op.user_id,
                    person = id,
                    "persona registrada por la oficina"
                );
                let person = persons::get_in_territory(&state.db, op.user_id, id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                return issue_slip(&state, &ctx, op.user_id, person, true).await;
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
#[template(path = "people/claim_slip.html")]
pub struct ClaimSlipPage {
    page: Page,
    person: Person,
    code: String,
    until: String,
    registro_url: String,
    pedir_url: String,
    /// Just registered (the page also confirms that), or a new code for someone registered.
    new_person: bool,
}

/// Issues a claim code for a person of the operator's territory without account and shows it
/// once, on a printable slip (never cached: the code is not stored anywhere readable).
async fn issue_slip(
    state: &AppState,
    ctx: &Ctx,
    operator_user_id: i64,
    person: Person,
    new_person: bool,
) -> AppResult<Response> {
    let (code, expires) = claim::issue(
        &state.db,
        person.id,
        Some(operator_user_id),
        state.limits.claim_code_days,
    )
    .await?;
    tracing::info!(
        operator = operator_user_id,
        person = person.id,
        "código de la oficina emitido"
    );
    let base = &state.settings.base_url;
    let mut resp = render(&ClaimSlipPage {
        page: ctx.page(format!(
            "Código para crear la cuenta de {} {}",
            person.first_name, person.last_name
        )),
        person,
        code: code.formatted(),
        until: crate::web::time::local(&expires),
        registro_url: format!("{base}/registro"),
        pedir_url: format!("{base}/registro/codigo"),
        new_person,
    })?;
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

/// The person of the operator's territory, only while they have no account (else 409: a
/// person with an account needs no code).
async fn unclaimed_in_territory(
    state: &AppState,
    operator_user_id: i64,
    id: i64,
) -> AppResult<Person> {
    let person = persons::get_in_territory(&state.db, operator_user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if person.has_account {
        return Err(AppError::Conflict(
            "Esta persona ya creó su cuenta: no necesita código. Si olvidó la contraseña, puede recuperarla en «Ingresar»."
                .into(),
        ));
    }
    Ok(person)
}

/// `POST /oficina/personas/{id}/codigo`: a new code on a printable slip (the old one stops
/// working).
pub async fn new_claim_code(
    State(state): State<AppState>,
    ctx: Ctx,
    Operator(op): Operator,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let person = unclaimed_in_territory(&state, op.user_id, id).await?;
    issue_slip(&state, &ctx, op.user_id, person, false).await
}

/// `POST /oficina/personas/{id}/codigo/email`: a new code sent to the email on file.
pub async fn email_claim_code(
    State(state): State<AppState>,
    Operator(op): Operator,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let person = unclaimed_in_territory(&state, op.user_id, id).await?;
    let Some(email) = person.email.clone() else {
        return Err(AppError::Conflict(
            "Esta persona no tiene email registrado: generá un código para imprimir y dáselo en mano."
                .into(),
        ));
    };
    let (code, expires) = claim::issue(
        &state.db,
        person.id,
        Some(op.user_id),
        state.limits.claim_code_days,
    )
    .await?;
    tracing::info!(
        operator = op.user_id,
        person = person.id,
        "código de la oficina enviado por email"
    );
    claim::send_by_email(&state, email.clone(), &person.first_name, &code, expires);
    Ok(redirect_with_notice(
        &format!("/oficina/personas/{id}"),
        &format!(
            "Enviamos un código nuevo a {email}. Vale hasta el {}; el anterior ya no sirve.",
            crate::web::time::local(&expires)
        ),
    ))
}

#[derive(Template)]
#[template(path = "people/contact_form.html")]
pub struct ContactPage {
    page: Page,
    email: String,
    phone: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ContactForm {
    email: String,
    phone: String,
}

/// `GET /mi-aula/datos`: the person's own email and phone, to change them.
pub async fn contact_form(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
) -> AppResult<Response> {
    let person = persons::get(&state.db, user.person_id)
        .await?
        .ok_or(AppError::NotFound)?;
    render(&ContactPage {
        page: ctx.page("Cambiar mi email o celular"),
        email: person.email.unwrap_or_default(),
        phone: person.phone.unwrap_or_default(),
        errors: FieldErrors::default(),
    })
}

/// `POST /mi-aula/datos`: changes the person's own email (also the one to log in with) and
/// phone; at least one of them stays, as at registration.
pub async fn update_contact(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
    Form(form): Form<ContactForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let email = match form.email.trim() {
        "" => None,
        e => errors.check("email", Email::parse(e)),
    };
    let phone = match form.phone.trim() {
        "" => None,
        p => errors.check("phone", Phone::parse(p)),
    };
    if form.email.trim().is_empty() && form.phone.trim().is_empty() {
        errors.add(
            "email",
            "Dejá un email o un celular para poder contactarte.",
        );
    }
    if errors.is_empty() {
        match persons::set_contact(&state.db, user.person_id, email.as_ref(), phone.as_ref())
            .await?
        {
            ContactChange::Saved => {
                return Ok(redirect_with_notice(
                    "/mi-aula#mis-datos",
                    "Tus datos de contacto se guardaron.",
                ));
            }
            ContactChange::EmailTaken => {
                errors.add("email", "Ese email ya lo usa otra cuenta. Escribí otro.")
            }
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &ContactPage {
            page: ctx.page("Cambiar mi email o celular"),
            email: form.email,
            phone: form.phone,
            errors,
        },
    )
}
