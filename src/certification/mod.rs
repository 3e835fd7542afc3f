//! Certification by partner institutions (IFP): institutions and their signing keys, the
//! certifier's workflow (eligibility from `completion`, certify / reject / revoke, audit log,
//! outbox events), Open Badges 3.0 credentials (VC-JWT, ES256) with a Bitstring Status List,
//! the public verification and the holder's PDF.

pub mod certifier;
pub mod code;
pub mod credential;
pub mod keys;
pub mod pdf;
pub mod public;
pub mod standards;
pub mod status_list;
pub mod store;

use std::sync::Arc;

use askama::Template;
use axum::{
    Form, Router,
    extract::{FromRef, Path, State},
    http::StatusCode,
    response::Response,
    routing::{get, post},
};
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

/// What the certification handlers need: the app, and the master key that unseals the
/// institutions' signing keys.
#[derive(Clone)]
pub struct CertState {
    pub app: AppState,
    pub master: Arc<keys::MasterKey>,
}

impl FromRef<CertState> for AppState {
    fn from_ref(s: &CertState) -> AppState {
        s.app.clone()
    }
}

/// Routes of this module that answer like any page.
pub fn routes(state: CertState) -> Router<AppState> {
    Router::new()
        .route("/admin/instituciones", get(list).post(create))
        .route("/admin/instituciones/{id}", get(standards::show))
        .route(
            "/admin/instituciones/{id}/normas",
            post(standards::create_standard),
        )
        .route("/admin/instituciones/{id}/vinculos", post(standards::link))
        .route("/admin/instituciones/{id}/rotar-clave", post(rotate))
        .route("/certificacion", get(certifier::classes))
        .route("/certificacion/comisiones/{id}", get(certifier::class))
        .route(
            "/certificacion/comisiones/{id}/certificar",
            post(certifier::certify),
        )
        .route(
            "/certificacion/comisiones/{id}/rechazar",
            post(certifier::reject),
        )
        .route(
            "/certificacion/certificados/{code}/revocar",
            post(certifier::revoke),
        )
        .route("/.well-known/jwks.json", get(public::jwks))
        .route("/claves/{kid}", get(public::key))
        .route("/instituciones/{id}", get(public::institution))
        .route("/instituciones/{id}/perfil.json", get(public::profile))
        .route("/instituciones/{id}/logo", get(public::logo))
        .route("/instituciones/{id}/estados", get(public::status_list))
        .route("/verificar", get(public::verify_form))
        .route("/verificar/{code}", get(public::certificate))
        .route("/mi-aula/certificados/{code}", get(public::print_view))
        .route(
            "/mi-aula/certificados/{code}/credencial.jwt",
            get(public::download_jwt),
        )
        .route(
            "/mi-aula/certificados/{code}/certificado.pdf",
            get(public::download_pdf),
        )
        .with_state(state)
}

/// `POST /admin/instituciones/{id}/logo`: a multipart form, which checks its own CSRF token
/// (the page group's check reads only urlencoded forms); mounted with the uploads.
pub fn upload_routes(state: CertState) -> Router<AppState> {
    Router::new()
        .route(
            "/admin/instituciones/{id}/logo",
            post(standards::upload_logo).layer(axum::extract::DefaultBodyLimit::max(
                standards::LOGO_MAX_BYTES + 64 * 1024,
            )),
        )
        .with_state(state)
}

/// `POST /verificar/credencial`: a credential file or text to check. It changes nothing (but
/// the rate-limit counter), so it sits outside the CSRF check, which would refuse a multipart
/// form without a script.
pub fn verify_routes(state: CertState) -> Router<AppState> {
    Router::new()
        .route("/verificar/credencial", post(public::verify_credential))
        .with_state(state)
}

/// `POST /admin/instituciones/{id}/rotar-clave`: a new signing key for the institution; the
/// old one stays published so what it signed keeps verifying.
pub async fn rotate(
    State(st): State<CertState>,
    _a: Admin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    store::institution(&st.app.db, id)
        .await?
        .ok_or(crate::web::error::AppError::NotFound)?;
    store::rotate_key(&st.app.db, &st.master, id).await?;
    Ok(redirect_with_notice(
        "/admin/instituciones",
        "Clave de firma renovada. Los certificados firmados con la anterior siguen siendo verificables.",
    ))
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
    address: String,
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
    let address = form
        .address
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if address.chars().count() > 300 || crate::web::text::has_control(&address) {
        errors.add("address", "El domicilio puede tener hasta 300 caracteres.");
    }
    if errors.is_empty() {
        let res = with_db!(&state.db, |p| sqlx::query(
            "INSERT INTO institutions (name, cuit, created_at, address) VALUES ($1, $2, $3, $4)"
        )
        .bind(&name)
        .bind(if cuit.is_empty() {
            None
        } else {
            Some(cuit.clone())
        })
        .bind(now())
        .bind((!address.is_empty()).then_some(address.clone()))
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
