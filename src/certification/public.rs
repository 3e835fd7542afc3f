//! The public side: published keys (`/.well-known/jwks.json`, `/claves/{kid}`), issuer
//! profiles, status lists, `/verificar` (a code, or a credential file) and each certificate's
//! verification page; and the holder's downloads (PDF, VC-JWT, print view).

use askama::Template;
use axum::{
    Json,
    extract::{Multipart, Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::NaiveDate;
use chrono_tz::America::Argentina::Tucuman;
use serde::Deserialize;
use serde_json::Value;

use super::{
    CertState,
    code::CertCode,
    credential::verify_vc_jwt,
    pdf::{self, CertificatePdf, mask_dni},
    store::{self, CertificateRow, urls},
};
use crate::{
    web::{
        auth::User,
        client::{PeerAddr, client_ip},
        error::{AppError, AppResult},
        layout::{Ctx, Page, render, render_status},
        ratelimit,
        time::{local, now},
    },
    with_db,
};

fn json_with(value: &impl serde::Serialize, content_type: &'static str) -> Response {
    let mut resp = Json(value).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `GET /.well-known/jwks.json`: every institution's public keys, current and retired.
pub async fn jwks(State(st): State<CertState>) -> AppResult<Response> {
    let set = store::jwks(&st.app.db, &st.app.settings.base_url).await?;
    Ok(json_with(&set, "application/jwk-set+json"))
}

/// `GET /claves/{kid}`: one public key (the JWTs' `kid` is this URL).
pub async fn key(State(st): State<CertState>, Path(kid): Path<String>) -> AppResult<Response> {
    let jwk = store::jwk(&st.app.db, &st.app.settings.base_url, &kid)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(json_with(&jwk, "application/jwk+json"))
}

/// `GET /instituciones/{id}/estados`: the institution's Bitstring Status List credential, a
/// VC-JWT signed by its current key, computed at each request (a revocation shows at once).
pub async fn status_list(State(st): State<CertState>, Path(id): Path<i64>) -> AppResult<Response> {
    store::institution(&st.app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let jwt = store::status_list(&st.app.db, &st.master, &st.app.settings.base_url, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vc+jwt"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        jwt,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "certification/institution.html")]
struct InstitutionPage {
    page: Page,
    institution: store::InstitutionInfo,
    standards: Vec<(String, String, String, String, Option<i64>)>,
    profile_url: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            (a.contains("application/json") || a.contains("application/ld+json"))
                && !a.contains("text/html")
        })
}

/// `GET /instituciones/{id}`: the issuer `Profile` (JSON, for `Accept: application/json` or
/// `application/ld+json`) or its HTML page with the competency standards.
pub async fn institution(
    State(st): State<CertState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let institution = store::institution(&st.app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let base = &st.app.settings.base_url;
    if wants_json(&headers) {
        return Ok(json_with(
            &institution.profile(base).document(),
            "application/ld+json",
        ));
    }
    let standards = with_db!(&st.app.db, |p| {
        sqlx::query_as(
        "SELECT code, title, description, units, hours FROM competency_standards WHERE institution_id = $1 ORDER BY code"
    )
    .bind(id)
    .fetch_all(p)
    .await
    })?;
    render(&InstitutionPage {
        page: ctx.page(institution.name.clone()),
        profile_url: format!("{}/perfil.json", urls::issuer(base, id)),
        institution,
        standards,
    })
}

/// `GET /instituciones/{id}/perfil.json`: the issuer `Profile`, always JSON.
pub async fn profile(State(st): State<CertState>, Path(id): Path<i64>) -> AppResult<Response> {
    let institution = store::institution(&st.app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(json_with(
        &institution.profile(&st.app.settings.base_url).document(),
        "application/ld+json",
    ))
}

/// Counts one verification for the client's address: `Some(429 answer)` beyond the limit.
async fn limited(
    st: &CertState,
    headers: &HeaderMap,
    addr: PeerAddr,
) -> AppResult<Option<Response>> {
    let ip = client_ip(&st.app, headers, addr.0);
    match ratelimit::check(
        &st.app.db,
        &format!("verify:{ip}"),
        st.app.limits.verify_per_address,
        ratelimit::HOUR,
    )
    .await?
    {
        Ok(()) => Ok(None),
        Err(wait) => Ok(Some(ratelimit::with_retry_after(
            AppError::TooManyRequests(format!(
                "Hiciste demasiadas verificaciones seguidas. Probá de nuevo {}.",
                ratelimit::retry_in(wait)
            ))
            .into_response(),
            wait,
        ))),
    }
}

#[derive(Template)]
#[template(path = "certification/verify.html")]
struct VerifyPage {
    page: Page,
    code: String,
    code_error: Option<String>,
    credential: String,
    credential_error: Option<String>,
    /// A pasted credential that checked out: what it says.
    result: Option<CredentialResult>,
}

struct CredentialResult {
    valid: bool,
    message: String,
    link: Option<String>,
}

impl VerifyPage {
    fn new(page: Page) -> VerifyPage {
        VerifyPage {
            page,
            code: String::new(),
            code_error: None,
            credential: String::new(),
            credential_error: None,
            result: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeQuery {
    codigo: Option<String>,
}

/// `GET /verificar` (and `?codigo=…`: a typed code goes to its page, or the form says why not).
pub async fn verify_form(
    State(st): State<CertState>,
    ctx: Ctx,
    headers: HeaderMap,
    addr: PeerAddr,
    Query(q): Query<CodeQuery>,
) -> AppResult<Response> {
    let mut page = VerifyPage::new(ctx.page("Verificar un certificado"));
    let Some(typed) = q.codigo else {
        return render(&page);
    };
    if let Some(refused) = limited(&st, &headers, addr).await? {
        return Ok(refused);
    }
    page.code = typed.chars().take(40).collect();
    match CertCode::parse(&typed) {
        Err(e) => page.code_error = Some(e.to_string()),
        Ok(code) => {
            if store::by_code(&st.app.db, code.as_str()).await?.is_some() {
                return Ok(Redirect::to(&format!("/verificar/{}", code.as_str())).into_response());
            }
            page.code_error = Some(
                "No hay ningún certificado con ese código. Revisá que esté bien copiado.".into(),
            );
        }
    }
    render_status(StatusCode::NOT_FOUND, &page)
}

/// `POST /verificar/credencial` (multipart: `credencial` pasted, or `archivo` uploaded). Outside
/// the CSRF check: it changes nothing but the rate-limit counter.
pub async fn verify_credential(
    State(st): State<CertState>,
    ctx: Ctx,
    headers: HeaderMap,
    addr: PeerAddr,
    mut multipart: Multipart,
) -> AppResult<Response> {
    if let Some(refused) = limited(&st, &headers, addr).await? {
        return Ok(refused);
    }
    let mut text = String::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let Ok(bytes) = field.bytes().await else {
            break;
        };
        if bytes.len() > 64 * 1024 {
            continue;
        }
        let value = String::from_utf8_lossy(&bytes).trim().to_string();
        if (name == "archivo" || name == "credencial") && !value.is_empty() {
            text = value;
        }
    }
    let mut page = VerifyPage::new(ctx.page("Verificar un certificado"));
    page.credential = text.chars().take(20_000).collect();
    if text.is_empty() {
        page.credential_error =
            Some("Pegá el texto de la credencial o elegí el archivo que descargaste.".into());
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    // A JSON wrapper (some wallets save {"credential": "eyJ…"}) is unwrapped.
    let jwt = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v["credential"].as_str().map(str::to_string))
        })
        .unwrap_or(text);
    let keys = store::key_set(&st.app.db, &st.app.settings.base_url).await?;
    let result = match verify_vc_jwt(&jwt, &keys, now()) {
        Err(e) => CredentialResult {
            valid: false,
            message: e.to_string(),
            link: None,
        },
        Ok(verified) => {
            let code = verified.credential["id"]
                .as_str()
                .and_then(|id| id.rsplit('/').next())
                .and_then(|c| CertCode::parse(c).ok());
            let row = match &code {
                Some(c) => store::by_code(&st.app.db, c.as_str()).await?,
                None => None,
            };
            match row {
                None => CredentialResult {
                    valid: false,
                    message: "La firma es válida, pero la credencial no figura entre los certificados emitidos por Aula.".into(),
                    link: None,
                },
                Some(r) if r.vc_jwt.trim() != jwt.trim() => CredentialResult {
                    valid: false,
                    message: "La credencial no coincide con el certificado emitido con ese código.".into(),
                    link: Some(format!("/verificar/{}", r.code)),
                },
                Some(r) => match r.revoked_at {
                    Some(at) => CredentialResult {
                        valid: false,
                        message: format!(
                            "La firma es válida, pero el certificado fue REVOCADO el {}{}.",
                            local(&at),
                            r.revoke_reason.as_deref().map(|m| format!(" (motivo: {m})")).unwrap_or_default()
                        ),
                        link: Some(format!("/verificar/{}", r.code)),
                    },
                    None => CredentialResult {
                        valid: true,
                        message: "Credencial válida: la firmó la institución emisora, no fue modificada y está vigente.".into(),
                        link: Some(format!("/verificar/{}", r.code)),
                    },
                },
            }
        }
    };
    let status = if result.valid {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page.result = Some(result);
    render_status(status, &page)
}

/// What the verification page and the holder's views show about a certificate.
struct CertificateView {
    code: String,
    holder: String,
    dni: String,
    course: String,
    hours: i64,
    institution: String,
    institution_id: i64,
    competencies: Vec<(String, String, Option<u32>)>,
    issued: String,
    issued_on: NaiveDate,
    revoked: Option<String>,
    revoke_reason: Option<String>,
    signature: Result<(), String>,
    verify_url: String,
}

impl CertificateView {
    fn signature_ok(&self) -> bool {
        self.signature.is_ok()
    }
    fn signature_error(&self) -> String {
        self.signature.clone().err().unwrap_or_default()
    }
    fn hours_of(h: &Option<u32>) -> String {
        h.map(|h| format!(" · {h} h")).unwrap_or_default()
    }
}

async fn view(st: &CertState, row: &CertificateRow) -> AppResult<CertificateView> {
    let db = &st.app.db;
    let base = &st.app.settings.base_url;
    let holder = store::holder(db, row.person_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let class = store::class(db, row.class_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let institution = store::institution(db, row.institution_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let vc: Value = serde_json::from_str(&row.credential).unwrap_or(Value::Null);
    let competencies = vc["credentialSubject"]["achievement"]["alignment"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let hours = x["targetDescription"]
                        .as_str()
                        .and_then(|d| d.split_whitespace().find_map(|w| w.parse().ok()));
                    (
                        x["targetCode"].as_str().unwrap_or_default().to_string(),
                        x["targetName"].as_str().unwrap_or_default().to_string(),
                        hours,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let keys = store::key_set(db, base).await?;
    // The stored credential is checked like any other: its signature against the published keys.
    let signature = verify_vc_jwt(&row.vc_jwt, &keys, now())
        .map(|_| ())
        .map_err(|e| e.to_string());
    let issued_on = row.issued_at.with_timezone(&Tucuman).date_naive();
    Ok(CertificateView {
        code: row.code.clone(),
        holder: holder.full_name(),
        dni: mask_dni(&holder.dni),
        course: class.course,
        hours: class.hours,
        institution: institution.name,
        institution_id: institution.id,
        competencies,
        issued: pdf::long_date(issued_on),
        issued_on,
        revoked: row.revoked_at.as_ref().map(local),
        revoke_reason: row.revoke_reason.clone(),
        signature,
        verify_url: urls::verify(base, &row.code),
    })
}

#[derive(Template)]
#[template(path = "certification/certificate.html")]
struct CertificatePage {
    page: Page,
    c: CertificateView,
    /// The holder's own view: download links.
    own: bool,
    print: bool,
}

/// `GET /verificar/{code}`: the public page of a certificate.
pub async fn certificate(
    State(st): State<CertState>,
    ctx: Ctx,
    headers: HeaderMap,
    addr: PeerAddr,
    Path(code): Path<String>,
) -> AppResult<Response> {
    if let Some(refused) = limited(&st, &headers, addr).await? {
        return Ok(refused);
    }
    let Ok(parsed) = CertCode::parse(&code) else {
        return Err(AppError::NotFound);
    };
    if parsed.as_str() != code {
        return Ok(Redirect::permanent(&format!("/verificar/{}", parsed.as_str())).into_response());
    }
    let row = store::by_code(&st.app.db, parsed.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    let c = view(&st, &row).await?;
    render(&CertificatePage {
        page: ctx.page(format!("Certificado {}", c.code)),
        c,
        own: false,
        print: false,
    })
}

/// The certificate with this code if `user` holds it; otherwise 404.
async fn own(st: &CertState, person_id: i64, code: &str) -> AppResult<CertificateRow> {
    store::by_code(&st.app.db, code)
        .await?
        .filter(|r| r.person_id == person_id)
        .ok_or(AppError::NotFound)
}

/// `GET /mi-aula/certificados/{code}`: the holder's print view (with the downloads).
pub async fn print_view(
    State(st): State<CertState>,
    ctx: Ctx,
    User(user): User,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let row = own(&st, user.person_id, &code).await?;
    let c = view(&st, &row).await?;
    render(&CertificatePage {
        page: ctx.page(format!("Tu certificado: {}", c.course)),
        c,
        own: true,
        print: true,
    })
}

/// `GET /mi-aula/certificados/{code}/credencial.jwt`: the holder's VC-JWT file.
pub async fn download_jwt(
    State(st): State<CertState>,
    User(user): User,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let row = own(&st, user.person_id, &code).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vc+jwt".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"certificado-{}.jwt\"", row.code),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        row.vc_jwt,
    )
        .into_response())
}

/// `GET /mi-aula/certificados/{code}/certificado.pdf`: the printable certificate (A4, QR
/// code to the verification page).
pub async fn download_pdf(
    State(st): State<CertState>,
    User(user): User,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let row = own(&st, user.person_id, &code).await?;
    let c = view(&st, &row).await?;
    let holder = store::holder(&st.app.db, row.person_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let doc = CertificatePdf {
        institution: c.institution.clone(),
        logo: store::logo(&st.app.db, c.institution_id).await?,
        holder: c.holder.clone(),
        dni: holder.dni,
        course: c.course.clone(),
        competencies: c.competencies.clone(),
        hours: u32::try_from(c.hours).unwrap_or(0),
        issued_on: c.issued_on,
        code: CertCode::parse(&row.code).map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?,
        verify_url: c.verify_url.clone(),
    };
    let bytes = tokio::task::spawn_blocking(move || pdf::render(&doc))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"certificado-{}.pdf\"", row.code),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /instituciones/{id}/logo`: the institution's logo (public: it is on every certificate).
pub async fn logo(State(st): State<CertState>, Path(id): Path<i64>) -> AppResult<Response> {
    let bytes = store::logo(&st.app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mime = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime),
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes,
    )
        .into_response())
}
