//! The admin's page of one institution: its competency standards (normas de competencia) and
//! their mapping to the competencies that courses declare.

use askama::Template;
use axum::{
    Form,
    extract::{Multipart, Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;

use super::{CertState, store};
use crate::{
    db::is_unique_violation,
    web::{
        auth::Admin,
        cookies::cookie,
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        text::has_control,
        time::now,
    },
    with_db,
};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StandardForm {
    code: String,
    title: String,
    description: String,
    units: String,
    hours: String,
}

/// (standard id, code, title, hours, mapped course competencies as "course: code").
type StandardRow = (i64, String, String, Option<i64>, Vec<String>);

#[derive(Template)]
#[template(path = "certification/admin_institution.html")]
struct AdminInstitutionPage {
    page: Page,
    institution: store::InstitutionInfo,
    standards: Vec<StandardRow>,
    /// (value "course_id:code", label) of every course competency.
    competencies: Vec<(String, String)>,
    errors: FieldErrors,
    input: StandardForm,
}

async fn page(
    st: &CertState,
    ctx: &Ctx,
    id: i64,
    errors: FieldErrors,
    input: StandardForm,
) -> AppResult<AdminInstitutionPage> {
    let db = &st.app.db;
    let institution = store::institution(db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let rows: Vec<(i64, String, String, Option<i64>)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT id, code, title, hours FROM competency_standards WHERE institution_id = $1 ORDER BY code"
    )
    .bind(id)
    .fetch_all(p)
    .await
    })?;
    let links: Vec<(i64, String, String)> = with_db!(db, |p| sqlx::query_as(
        "SELECT l.standard_id, c.title, l.competency_code FROM competency_standard_links l
         JOIN courses c ON c.id = l.course_id JOIN competency_standards s ON s.id = l.standard_id
         WHERE s.institution_id = $1 ORDER BY c.title, l.competency_code"
    )
    .bind(id)
    .fetch_all(p)
    .await)?;
    let standards = rows
        .into_iter()
        .map(|(sid, code, title, hours)| {
            let mapped = links
                .iter()
                .filter(|(s, _, _)| *s == sid)
                .map(|(_, course, code)| format!("{course}: {code}"))
                .collect();
            (sid, code, title, hours, mapped)
        })
        .collect();
    let competencies: Vec<(i64, String, String, String)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT c.id, c.title, cp.code, cp.name FROM competencies cp JOIN courses c ON c.id = cp.course_id
         ORDER BY c.title, cp.position"
    )
    .fetch_all(p)
    .await
    })?;
    Ok(AdminInstitutionPage {
        page: ctx.page(institution.name.clone()),
        institution,
        standards,
        competencies: competencies
            .into_iter()
            .map(|(cid, course, code, name)| {
                (
                    format!("{cid}:{code}"),
                    format!("{course} — {code}: {name}"),
                )
            })
            .collect(),
        errors,
        input,
    })
}

/// `GET /admin/instituciones/{id}`
pub async fn show(
    State(st): State<CertState>,
    ctx: Ctx,
    _a: Admin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    render(
        &page(
            &st,
            &ctx,
            id,
            FieldErrors::default(),
            StandardForm::default(),
        )
        .await?,
    )
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `POST /admin/instituciones/{id}/normas`: a new competency standard.
pub async fn create_standard(
    State(st): State<CertState>,
    ctx: Ctx,
    _a: Admin,
    Path(id): Path<i64>,
    Form(form): Form<StandardForm>,
) -> AppResult<Response> {
    store::institution(&st.app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::default();
    let code = clean(&form.code);
    let title = clean(&form.title);
    let description = clean(&form.description);
    let units = clean(&form.units);
    if code.is_empty() || code.chars().count() > 40 || has_control(&code) {
        errors.add(
            "code",
            "Escribí el código de la norma (hasta 40 caracteres).",
        );
    }
    if title.is_empty() || title.chars().count() > 300 || has_control(&title) {
        errors.add(
            "title",
            "Escribí el título de la norma (hasta 300 caracteres).",
        );
    }
    if description.chars().count() > 2000 || has_control(&description) {
        errors.add(
            "description",
            "La descripción puede tener hasta 2000 caracteres.",
        );
    }
    if units.chars().count() > 1000 || has_control(&units) {
        errors.add("units", "Las unidades pueden tener hasta 1000 caracteres.");
    }
    let hours = match form.hours.trim() {
        "" => None,
        h => match h.parse::<i64>() {
            Ok(n) if (1..=10_000).contains(&n) => Some(n),
            _ => {
                errors.add("hours", "Las horas son un número entero mayor que cero.");
                None
            }
        },
    };
    if errors.is_empty() {
        let res = with_db!(&st.app.db, |p| {
            sqlx::query(
            "INSERT INTO competency_standards (institution_id, code, title, description, units, hours, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(id)
        .bind(&code)
        .bind(&title)
        .bind(&description)
        .bind(&units)
        .bind(hours)
        .bind(now())
        .execute(p)
        .await
        .map(|_| ())
        });
        match res {
            Ok(()) => {
                return Ok(redirect_with_notice(
                    &format!("/admin/instituciones/{id}"),
                    "Norma de competencia creada.",
                ));
            }
            Err(e) if is_unique_violation(&e) => {
                errors.add("code", "La institución ya tiene una norma con ese código.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &page(&st, &ctx, id, errors, form).await?,
    )
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkForm {
    competencia: String,
    norma: String,
}

/// `POST /admin/instituciones/{id}/vinculos`: maps a course competency to one of the
/// institution's standards (idempotent).
pub async fn link(
    State(st): State<CertState>,
    _a: Admin,
    Path(id): Path<i64>,
    Form(form): Form<LinkForm>,
) -> AppResult<Response> {
    let db = &st.app.db;
    let (course, code) = form
        .competencia
        .split_once(':')
        .and_then(|(c, code)| c.parse::<i64>().ok().map(|c| (c, code.to_string())))
        .ok_or(AppError::NotFound)?;
    let standard: i64 = form.norma.parse().map_err(|_| AppError::NotFound)?;
    // Both must exist, and the standard must be this institution's.
    let ok: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM competencies cp, competency_standards s
         WHERE cp.course_id = $1 AND cp.code = $2 AND s.id = $3 AND s.institution_id = $4"
    )
    .bind(course)
    .bind(&code)
    .bind(standard)
    .bind(id)
    .fetch_one(p)
    .await)?;
    if ok == 0 {
        return Err(AppError::NotFound);
    }
    with_db!(db, |p| {
        sqlx::query(
        "INSERT INTO competency_standard_links (course_id, competency_code, standard_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING"
    )
    .bind(course)
    .bind(&code)
    .bind(standard)
    .execute(p)
    .await
    .map(|_| ())
    })?;
    Ok(redirect_with_notice(
        &format!("/admin/instituciones/{id}"),
        "Competencia vinculada a la norma.",
    ))
}

/// Largest logo accepted: it goes on every certificate PDF and the issuer profile.
pub const LOGO_MAX_BYTES: usize = 512 * 1024;

/// `POST /admin/instituciones/{id}/logo` (multipart: `csrf`, then `logo`): the institution's
/// logo, a PNG or JPEG that decodes (checked by its content, not its name), up to 512 KB. A
/// refused file changes nothing.
pub async fn upload_logo(
    State(st): State<CertState>,
    ctx: Ctx,
    _a: Admin,
    Path(id): Path<i64>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> AppResult<Response> {
    store::institution(&st.app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::media::upload::check_csrf(&headers, &mut multipart).await?;
    let mut bytes: Option<Vec<u8>> = None;
    let mut too_big = false;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        if field.name() != Some("logo") {
            continue;
        }
        let mut buf = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() + chunk.len() > LOGO_MAX_BYTES {
                        too_big = true;
                        break;
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => return Err(AppError::PayloadTooLarge),
            }
        }
        bytes = Some(buf);
        break;
    }
    let mut errors = FieldErrors::default();
    match bytes {
        _ if too_big => errors.add(
            "logo",
            "El logo pesa más de 512 KB. Achicalo (por ejemplo a 400 px de ancho) y volvé a subirlo.",
        ),
        None => errors.add("logo", "Elegí un archivo de imagen PNG o JPEG."),
        Some(b) if b.is_empty() => errors.add("logo", "Elegí un archivo de imagen PNG o JPEG."),
        Some(b) => match super::pdf::check_logo(&b) {
            Ok(()) => {
                store::set_logo(&st.app.db, id, &b).await?;
                return Ok(redirect_with_notice(
                    &format!("/admin/instituciones/{id}"),
                    "Logo guardado: sale en los certificados y en la página de la institución.",
                ));
            }
            Err(_) => errors.add(
                "logo",
                "El archivo no es una imagen PNG o JPEG que se pueda leer. Exportalo como PNG o JPEG y volvé a subirlo.",
            ),
        },
    }
    let mut page = page(&st, &ctx, id, errors, StandardForm::default()).await?;
    // Outside the site-wide CSRF layer the page has no token of its own: reuse the cookie's,
    // which was just checked.
    page.page.csrf = cookie(&headers, "aula_csrf")
        .unwrap_or_default()
        .to_string();
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}
