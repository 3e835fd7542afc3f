//! Partner institutions (IFP). The certification workflow builds on this later.

pub mod code;
pub mod credential;
pub mod keys;
pub mod pdf;
pub mod status_list;

use askama::Template;
use axum::{Form, Router, extract::State, http::StatusCode, response::Response, routing::get};
use serde::Deserialize;

use crate::{
    db::is_unique_violation,
    web::auth::Admin,
    web::{
        error::AppResult,
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        state::AppState,
        time::now,
    },
    with_db,
};

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/instituciones", get(list).post(create))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Institution {
    pub id: i64,
    pub name: String,
    pub cuit: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/institutions.html")]
pub struct InstitutionsPage {
    page: Page,
    institutions: Vec<Institution>,
    errors: FieldErrors,
    input: InstitutionForm,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct InstitutionForm {
    name: String,
    cuit: String,
}

/// All institutions by name.
pub async fn all(state: &AppState) -> Result<Vec<Institution>, sqlx::Error> {
    with_db!(&state.db, |p| sqlx::query_as(
        "SELECT id, name, cuit FROM institutions ORDER BY name"
    )
    .fetch_all(p)
    .await)
}

/// `GET /admin/instituciones`
pub async fn list(State(state): State<AppState>, ctx: Ctx, _a: Admin) -> AppResult<Response> {
    render(&InstitutionsPage {
        page: ctx.page("Instituciones"),
        institutions: all(&state).await?,
        errors: FieldErrors::default(),
        input: InstitutionForm::default(),
    })
}

/// `POST /admin/instituciones`
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    _a: Admin,
    Form(form): Form<InstitutionForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let name = form.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 200 || crate::web::text::has_control(&name) {
        errors.add(
            "name",
            "Escribí el nombre de la institución (hasta 200 caracteres).",
        );
    }
    let cuit: String = form.cuit.chars().filter(char::is_ascii_digit).collect();
    if !form.cuit.trim().is_empty() && crate::people::domain::Cuil::parse(&cuit).is_err() {
        errors.add(
            "cuit",
            "El CUIT no es válido: son 11 números con dígito verificador.",
        );
    }
    if errors.is_empty() {
        let res = with_db!(&state.db, |p| sqlx::query(
            "INSERT INTO institutions (name, cuit, created_at) VALUES ($1, $2, $3)"
        )
        .bind(&name)
        .bind(if cuit.is_empty() {
            None
        } else {
            Some(cuit.clone())
        })
        .bind(now())
        .execute(p)
        .await
        .map(|_| ()));
        match res {
            Ok(()) => {
                return Ok(redirect_with_notice(
                    "/admin/instituciones",
                    "Institución creada.",
                ));
            }
            Err(e) if is_unique_violation(&e) => {
                errors.add("name", "Ya existe una institución con ese nombre.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &InstitutionsPage {
            page: ctx.page("Instituciones"),
            institutions: all(&state).await?,
            errors,
            input: form,
        },
    )
}
