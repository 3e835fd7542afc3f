//! Admin pages for classes (comisiones): a run of a course with dates, window, seats,
//! instructors (granted as roles) and certifying institution.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::{
    catalog::{
        classes::{self, ValidClass},
        queries::{self, ClassInfo},
    },
    certification::{self, Institution},
    db::is_constraint,
    enrolment::queries::fill_from_waitlist,
    people::territory::{self, Department},
    web::{
        auth::Admin,
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        state::AppState,
        time::{local_input, now, parse_date, parse_local_input},
    },
    with_db,
};

#[derive(Template)]
#[template(path = "admin/classes.html")]
pub struct ClassesPage {
    page: Page,
    classes: Vec<ClassInfo>,
}

/// `GET /admin/comisiones`
pub async fn list(State(state): State<AppState>, ctx: Ctx, _a: Admin) -> AppResult<Response> {
    render(&ClassesPage {
        page: ctx.page("Comisiones"),
        classes: queries::all_classes(&state.db).await?,
    })
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClassForm {
    pub course_id: String,
    pub name: String,
    pub starts_on: String,
    pub ends_on: String,
    pub enrol_opens_at: String,
    pub enrol_closes_at: String,
    pub seats: String,
    pub department_id: String,
    pub institution_id: String,
}

#[derive(sqlx::FromRow)]
pub struct CourseOption {
    id: i64,
    title: String,
}

#[derive(Template)]
#[template(path = "admin/class_form.html")]
pub struct ClassFormPage {
    page: Page,
    class_id: Option<i64>,
    input: ClassForm,
    errors: FieldErrors,
    courses: Vec<CourseOption>,
    departments: Vec<Department>,
    institutions: Vec<Institution>,
}

async fn form_page(
    state: &AppState,
    ctx: &Ctx,
    class_id: Option<i64>,
    input: ClassForm,
    errors: FieldErrors,
) -> AppResult<ClassFormPage> {
    let courses = with_db!(&state.db, |p| sqlx::query_as(
        "SELECT id, title FROM courses ORDER BY title"
    )
    .fetch_all(p)
    .await)?;
    Ok(ClassFormPage {
        page: ctx.page(if class_id.is_some() {
            "Editar comisión"
        } else {
            "Nueva comisión"
        }),
        class_id,
        input,
        errors,
        courses,
        departments: territory::departments(&state.db).await?,
        institutions: certification::all(state).await?,
    })
}

/// `GET /admin/comisiones/nueva`
pub async fn new_form(State(state): State<AppState>, ctx: Ctx, _a: Admin) -> AppResult<Response> {
    let n = now();
    let input = ClassForm {
        enrol_opens_at: local_input(&n),
        enrol_closes_at: local_input(&(n + chrono::Duration::days(14))),
        starts_on: (n + chrono::Duration::days(15)).date_naive().to_string(),
        ends_on: (n + chrono::Duration::days(75)).date_naive().to_string(),
        seats: "30".into(),
        ..Default::default()
    };
    render(&form_page(&state, &ctx, None, input, FieldErrors::default()).await?)
}

/// `GET /admin/comisiones/{id}`
pub async fn edit_form(
    State(state): State<AppState>,
    ctx: Ctx,
    _a: Admin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    #[derive(sqlx::FromRow)]
    struct Row {
        course_id: i64,
        name: String,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        enrol_opens_at: DateTime<Utc>,
        enrol_closes_at: DateTime<Utc>,
        seats: i64,
        department_id: Option<i64>,
        institution_id: Option<i64>,
    }
    let row: Row = with_db!(&state.db, |p| sqlx::query_as(
        "SELECT course_id, name, starts_on, ends_on, enrol_opens_at, enrol_closes_at, seats, department_id, institution_id
         FROM classes WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?
    .ok_or(AppError::NotFound)?;
    let input = ClassForm {
        course_id: row.course_id.to_string(),
        name: row.name,
        starts_on: row.starts_on.to_string(),
        ends_on: row.ends_on.to_string(),
        enrol_opens_at: local_input(&row.enrol_opens_at),
        enrol_closes_at: local_input(&row.enrol_closes_at),
        seats: row.seats.to_string(),
        department_id: row.department_id.map(|d| d.to_string()).unwrap_or_default(),
        institution_id: row
            .institution_id
            .map(|d| d.to_string())
            .unwrap_or_default(),
    };
    render(&form_page(&state, &ctx, Some(id), input, FieldErrors::default()).await?)
}

fn validate(f: &ClassForm, errors: &mut FieldErrors) -> Option<ValidClass> {
    let course_id = f.course_id.parse::<i64>().ok();
    if course_id.is_none() {
        errors.add("course_id", "Elegí el curso.");
    }
    let name = f.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 120 || crate::web::text::has_control(&name) {
        errors.add(
            "name",
            "Poné un nombre a la comisión (por ejemplo «Comisión 1 — Monteros»).",
        );
    }
    let starts_on = parse_date(&f.starts_on);
    if starts_on.is_none() {
        errors.add("starts_on", "Indicá la fecha de inicio.");
    }
    let ends_on = parse_date(&f.ends_on);
    match (starts_on, ends_on) {
        (_, None) => errors.add("ends_on", "Indicá la fecha de fin."),
        (Some(s), Some(e)) if e < s => errors.add(
            "ends_on",
            "La fecha de fin no puede ser anterior al inicio.",
        ),
        _ => {}
    }
    let opens = parse_local_input(&f.enrol_opens_at);
    if opens.is_none() {
        errors.add(
            "enrol_opens_at",
            "Indicá cuándo abre la inscripción (fecha y hora).",
        );
    }
    let closes = parse_local_input(&f.enrol_closes_at);
    match (opens, closes) {
        (_, None) => errors.add(
            "enrol_closes_at",
            "Indicá cuándo cierra la inscripción (fecha y hora).",
        ),
        (Some(o), Some(c)) if c <= o => errors.add(
            "enrol_closes_at",
            "La inscripción tiene que cerrar después de abrir.",
        ),
        _ => {}
    }
    let seats = f
        .seats
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| (1..=10_000).contains(s));
    if seats.is_none() {
        errors.add("seats", "Los cupos son un número entre 1 y 10000.");
    }
    let opt = |s: &str| s.parse::<i64>().ok();
    if !errors.is_empty() {
        return None;
    }
    Some(ValidClass {
        course_id: course_id?,
        name,
        starts_on: starts_on?,
        ends_on: ends_on?,
        enrol_opens_at: opens?,
        enrol_closes_at: closes?,
        seats: seats?,
        department_id: opt(&f.department_id),
        institution_id: opt(&f.institution_id),
    })
}

/// `POST /admin/comisiones/nueva`
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    _a: Admin,
    Form(form): Form<ClassForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    if let Some(c) = validate(&form, &mut errors) {
        match classes::insert(&state.db, &c).await {
            Ok(_) => {
                return Ok(redirect_with_notice(
                    "/admin/comisiones",
                    "Comisión creada.",
                ));
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => errors.add(
                "course_id",
                "El curso, departamento o institución elegidos no existen.",
            ),
            Err(e) => return Err(e.into()),
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &form_page(&state, &ctx, None, form, errors).await?,
    )
}

/// `POST /admin/comisiones/{id}`: seats cannot drop below the seats taken; added seats go
/// to the waitlist at once.
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    _a: Admin,
    Path(id): Path<i64>,
    Form(form): Form<ClassForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    if let Some(c) = validate(&form, &mut errors) {
        let res = classes::update(&state.db, id, &c).await;
        match res {
            Ok(0) => return Err(AppError::NotFound),
            Ok(_) => {
                let promoted = fill_from_waitlist(&state.db, id).await?;
                let msg = if promoted > 0 {
                    format!(
                        "Comisión guardada. {promoted} persona(s) pasaron de la lista de espera."
                    )
                } else {
                    "Comisión guardada.".into()
                };
                return Ok(redirect_with_notice("/admin/comisiones", &msg));
            }
            Err(e) if is_constraint(&e, "classes_seats_taken_check") => errors.add(
                "seats",
                "No podés bajar los cupos por debajo de las personas ya inscriptas.",
            ),
            Err(e) => return Err(e.into()),
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &form_page(&state, &ctx, Some(id), form, errors).await?,
    )
}
