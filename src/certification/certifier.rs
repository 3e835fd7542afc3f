//! The certifier's pages: the classes their institution certifies, each learner's evidence,
//! certifying one or many, rejecting and revoking with a reason. Only certifiers of the
//! class's institution reach them; for anyone else they do not exist (404).

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{
    CertState,
    store::{self, CertificateRow, Certified, ClassInfo, InstitutionInfo},
};
use crate::{
    completion::{self, Checklist},
    web::{
        auth::{Certifier, CurrentUser},
        error::{AppError, AppResult},
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        time::local,
    },
    with_db,
};

#[derive(Template)]
#[template(path = "certification/classes.html")]
struct ClassesPage {
    page: Page,
    classes: Vec<(ClassInfo, String)>,
}

/// `GET /certificacion`: the classes of the certifier's institutions.
pub async fn classes(
    State(st): State<CertState>,
    ctx: Ctx,
    Certifier(user): Certifier,
) -> AppResult<Response> {
    let mut classes = Vec::new();
    for class in store::classes_of(&st.app.db, &store::institutions_of(&user)).await? {
        let name = match class.institution_id {
            Some(i) => store::institution(&st.app.db, i)
                .await?
                .map(|i| i.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        classes.push((class, name));
    }
    render(&ClassesPage {
        page: ctx.page("Certificación"),
        classes,
    })
}

/// The class and its institution, if `user` certifies for that institution; otherwise 404.
async fn certified_class(
    st: &CertState,
    user: &CurrentUser,
    class_id: i64,
) -> AppResult<(ClassInfo, InstitutionInfo)> {
    let class = store::class(&st.app.db, class_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let institution_id = class
        .institution_id
        .filter(|i| store::institutions_of(user).contains(i))
        .ok_or(AppError::NotFound)?;
    let institution = store::institution(&st.app.db, institution_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((class, institution))
}

/// One learner's row on the class page.
struct LearnerRow {
    person_id: i64,
    name: String,
    dni: String,
    checklist: Checklist,
    certificate: Option<CertificateRow>,
    rejection: Option<String>,
}

impl LearnerRow {
    fn eligible(&self) -> bool {
        self.checklist.eligible()
    }
    fn can_certify(&self) -> bool {
        self.certificate.is_none() && self.eligible()
    }
    fn revoked_on(&self) -> String {
        self.certificate
            .as_ref()
            .and_then(|c| c.revoked_at.as_ref())
            .map(local)
            .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "certification/class.html")]
struct ClassPage {
    page: Page,
    class: ClassInfo,
    institution: InstitutionInfo,
    learners: Vec<LearnerRow>,
    /// Per-person messages from the last action (not eligible, etc.).
    messages: Vec<String>,
}

/// The class page again, 422, with `message` saying what to fix; nothing was written.
async fn refuse(
    st: &CertState,
    ctx: &Ctx,
    class: ClassInfo,
    institution: InstitutionInfo,
    message: &str,
) -> AppResult<Response> {
    let page = class_page(st, ctx, class, institution, vec![message.to_string()]).await?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

async fn class_page(
    st: &CertState,
    ctx: &Ctx,
    class: ClassInfo,
    institution: InstitutionInfo,
    messages: Vec<String>,
) -> AppResult<ClassPage> {
    let db = &st.app.db;
    let people: Vec<(i64, String, String, String)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT p.id, p.first_name, p.last_name, p.dni FROM enrolments e JOIN persons p ON p.id = e.person_id
         WHERE e.class_id = $1 AND e.status IN ('confirmed', 'completed')
         ORDER BY p.last_name, p.first_name, p.id"
    )
    .bind(class.id)
    .fetch_all(p)
    .await
    })?;
    let certificates = store::of_class(db, class.id).await?;
    let rejections: Vec<(i64, String)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT person_id, reason FROM certification_audit WHERE class_id = $1 AND decision = 'rechazado' ORDER BY id"
    )
    .bind(class.id)
    .fetch_all(p)
    .await
    })?;
    let mut learners = Vec::with_capacity(people.len());
    for (person_id, first, last, dni) in people {
        learners.push(LearnerRow {
            person_id,
            name: format!("{last}, {first}"),
            dni: super::pdf::mask_dni(&dni),
            checklist: completion::checklist(db, class.id, person_id).await?,
            certificate: certificates
                .iter()
                .rev()
                .find(|c| c.person_id == person_id)
                .cloned(),
            rejection: rejections
                .iter()
                .rev()
                .find(|(p, _)| *p == person_id)
                .map(|(_, r)| r.clone()),
        });
    }
    Ok(ClassPage {
        page: ctx.page(format!("Certificar: {}", class.course)),
        class,
        institution,
        learners,
        messages,
    })
}

/// `GET /certificacion/comisiones/{id}`
pub async fn class(
    State(st): State<CertState>,
    ctx: Ctx,
    Certifier(user): Certifier,
    Path(class_id): Path<i64>,
) -> AppResult<Response> {
    let (class, institution) = certified_class(&st, &user, class_id).await?;
    render(&class_page(&st, &ctx, class, institution, vec![]).await?)
}

/// `POST /certificacion/comisiones/{id}/certificar`: the checked learners (`persona`, repeated).
pub async fn certify(
    State(st): State<CertState>,
    ctx: Ctx,
    Certifier(user): Certifier,
    Path(class_id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (class, institution) = certified_class(&st, &user, class_id).await?;
    let mut people: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "persona")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    people.sort_unstable();
    people.dedup();
    if people.is_empty() {
        return refuse(
            &st,
            &ctx,
            class,
            institution,
            "Marcá al menos una persona para certificar.",
        )
        .await;
    }
    let base = &st.app.settings.base_url;
    let mut issued = 0;
    let mut already = 0;
    let mut messages = Vec::new();
    for person_id in people {
        let name = store::holder(&st.app.db, person_id)
            .await?
            .map(|h| h.full_name())
            .unwrap_or_default();
        match store::certify(
            &st.app.db,
            &st.master,
            base,
            user.user_id,
            &class,
            &institution,
            person_id,
        )
        .await?
        {
            Certified::Issued(_) => issued += 1,
            Certified::Already(code) => {
                already += 1;
                messages.push(format!("{name} ya tenía su certificado ({code})."))
            }
            Certified::NotEligible(reason) => {
                messages.push(format!("{name} no se certificó: {reason}"))
            }
        }
    }
    if messages.is_empty() {
        let text = if issued == 1 {
            "Certificado emitido.".to_string()
        } else {
            format!("{issued} certificados emitidos.")
        };
        return Ok(redirect_with_notice(
            &format!("/certificacion/comisiones/{class_id}"),
            &text,
        ));
    }
    if issued > 0 {
        messages.insert(0, format!("Certificados emitidos: {issued}."));
    }
    // Only a request that certified nobody because nobody was eligible is refused; a double
    // click (already certified) is answered as done.
    let status = if issued + already > 0 {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &class_page(&st, &ctx, class, institution, messages).await?,
    )
}

fn reason_of(fields: &[(String, String)]) -> Option<String> {
    let reason = fields
        .iter()
        .find(|(k, _)| k == "motivo")
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    (!reason.is_empty() && reason.chars().count() <= 500 && !crate::web::text::has_control(&reason))
        .then_some(reason)
}

/// `POST /certificacion/comisiones/{id}/rechazar`: `persona`, `motivo`.
pub async fn reject(
    State(st): State<CertState>,
    ctx: Ctx,
    Certifier(user): Certifier,
    Path(class_id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (class, institution) = certified_class(&st, &user, class_id).await?;
    let person_id: Option<i64> = fields
        .iter()
        .find(|(k, _)| k == "persona")
        .and_then(|(_, v)| v.parse().ok());
    let enrolled = match person_id {
        Some(p) => completion::checklist(&st.app.db, class.id, p)
            .await?
            .enrolment
            .is_some(),
        None => false,
    };
    let (Some(person_id), true) = (person_id, enrolled) else {
        return Err(AppError::NotFound);
    };
    let Some(reason) = reason_of(&fields) else {
        return refuse(
            &st,
            &ctx,
            class,
            institution,
            "Para rechazar, escribí el motivo (hasta 500 caracteres).",
        )
        .await;
    };
    store::reject(
        &st.app.db,
        user.user_id,
        &class,
        institution.id,
        person_id,
        &reason,
    )
    .await?;
    Ok(redirect_with_notice(
        &format!("/certificacion/comisiones/{class_id}"),
        "Rechazo registrado.",
    ))
}

/// `POST /certificacion/certificados/{code}/revocar`: `motivo`.
pub async fn revoke(
    State(st): State<CertState>,
    ctx: Ctx,
    Certifier(user): Certifier,
    Path(code): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let cert = store::by_code(&st.app.db, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let (class, institution) = certified_class(&st, &user, cert.class_id).await?;
    if institution.id != cert.institution_id {
        return Err(AppError::NotFound);
    }
    let Some(reason) = reason_of(&fields) else {
        return refuse(
            &st,
            &ctx,
            class,
            institution,
            "Para revocar, escribí el motivo (hasta 500 caracteres).",
        )
        .await;
    };
    let done = store::revoke(
        &st.app.db,
        &st.app.settings.base_url,
        user.user_id,
        &cert,
        &reason,
    )
    .await?;
    Ok(redirect_with_notice(
        &format!("/certificacion/comisiones/{}", cert.class_id),
        if done {
            "Certificado revocado."
        } else {
            "El certificado ya estaba revocado."
        },
    ))
}
