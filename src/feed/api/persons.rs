//! SIPE creates or updates people: one (`PUT /api/v1/personas/{dni}`) or thousands per
//! request (`POST /api/v1/personas/lote`, NDJSON or a JSON array), each validated on its own
//! with the people module's domain types. The precedence rule is `people::upsert`'s.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    feed::api::{
        auth::WriteToken,
        error::{ApiError, ApiResult, FieldError},
    },
    people::upsert::{self, Outcome, RawPerson, Territory},
    web::state::AppState,
};

/// The most people one batch request may carry.
pub const BULK_MAX_LINES: usize = 5000;
/// The largest batch body (about 5,000 people with room to spare).
pub const BULK_MAX_BYTES: usize = 8 * 1024 * 1024;

/// A person's data as SIPE sends it.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PersonData {
    /// 11 digits with a valid check digit; its middle 8 are the DNI.
    pub cuil: String,
    pub nombre: String,
    pub apellido: String,
    /// `AAAA-MM-DD`; the person must be 14 to 100 years old.
    pub fecha_nacimiento: String,
    pub email: Option<String>,
    /// Mobile with area code, 10 to 13 digits.
    pub telefono: Option<String>,
    /// One of Tucumán's 17 departments, by name (accents and case aside), e.g. `Capital`.
    pub departamento: String,
    /// A locality of that department, by name.
    pub localidad: Option<String>,
    /// When the data changed at SIPE (RFC 3339); default: the time of the request. Contact
    /// details the person changed themselves after this time are kept.
    pub actualizado_en: Option<DateTime<Utc>>,
}

/// One line of a batch: the DNI and the data.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct BulkPerson {
    pub dni: String,
    #[serde(flatten)]
    pub datos: PersonData,
}

/// What happened to one person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonResult {
    /// `creada`, `actualizada`, `sin_cambios` or `rechazada`.
    pub resultado: &'static str,
    /// Fields that changed (`actualizada`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campos: Vec<&'static str>,
    /// Why it was refused (`rechazada`), in Spanish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motivo: Option<String>,
}

/// One line of the batch report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkLine {
    /// Line of the NDJSON body (or position in the array), from 1.
    pub linea: usize,
    /// The DNI as sent, when it could be read.
    pub dni: Option<String>,
    #[serde(flatten)]
    pub resultado: PersonResult,
}

/// The batch report: totals and one line per person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkReport {
    pub creadas: usize,
    pub actualizadas: usize,
    pub sin_cambios: usize,
    pub rechazadas: usize,
    pub lineas: Vec<BulkLine>,
}

fn raw<'a>(dni: &'a str, d: &'a PersonData) -> RawPerson<'a> {
    RawPerson {
        dni,
        cuil: &d.cuil,
        first_name: &d.nombre,
        last_name: &d.apellido,
        birth_date: &d.fecha_nacimiento,
        email: d.email.as_deref(),
        phone: d.telefono.as_deref(),
        department: &d.departamento,
        locality: d.localidad.as_deref(),
        changed_at: d.actualizado_en,
    }
}

fn result_of(o: Outcome) -> PersonResult {
    match o {
        Outcome::Created(_) => PersonResult {
            resultado: "creada",
            campos: vec![],
            motivo: None,
        },
        Outcome::Updated(_, campos) => PersonResult {
            resultado: "actualizada",
            campos,
            motivo: None,
        },
        Outcome::Unchanged(_) => PersonResult {
            resultado: "sin_cambios",
            campos: vec![],
            motivo: None,
        },
        Outcome::Refused(m) => PersonResult {
            resultado: "rechazada",
            campos: vec![],
            motivo: Some(m),
        },
    }
}

fn refusal_text(errors: &[(&'static str, String)]) -> String {
    errors
        .iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `PUT /api/v1/personas/{dni}` (scope `personas:escritura`).
#[utoipa::path(
    put,
    path = "/api/v1/personas/{dni}",
    tag = "personas",
    params(("dni" = String, Path, description = "DNI de la persona (7 u 8 números)")),
    request_body = PersonData,
    responses(
        (status = 201, description = "Persona creada", body = PersonResult),
        (status = 200, description = "Persona actualizada o sin cambios", body = PersonResult),
        (status = 409, description = "El CUIL es de otra persona", body = super::error::ErrorBody),
        (status = 422, description = "Datos inválidos, campo por campo", body = super::error::ErrorBody),
        (status = 401, description = "Falta el token o no es válido", body = super::error::ErrorBody),
        (status = 403, description = "El token no tiene el permiso `personas:escritura`", body = super::error::ErrorBody),
        (status = 429, description = "Demasiadas solicitudes de este token", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put(
    State(state): State<AppState>,
    _t: WriteToken,
    Path(dni): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let data: PersonData = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "El cuerpo no es el JSON esperado de una persona: {e}"
        ))
    })?;
    let territory = Territory::load(&state.db).await?;
    let person = upsert::validate(&raw(&dni, &data), &territory).map_err(|errs| {
        ApiError::Invalid(
            errs.into_iter()
                .map(|(campo, mensaje)| FieldError {
                    campo: campo.to_string(),
                    mensaje,
                })
                .collect(),
        )
    })?;
    let outcome = upsert::upsert_one(&state.db, &person).await?;
    let status = match outcome {
        Outcome::Created(_) => StatusCode::CREATED,
        Outcome::Refused(ref m) => return Err(ApiError::Conflict(m.clone())),
        _ => StatusCode::OK,
    };
    Ok((status, Json(result_of(outcome))).into_response())
}

/// `POST /api/v1/personas/lote` (scope `personas:escritura`): NDJSON (one person per line,
/// `Content-Type: application/x-ndjson`) or a JSON array; up to 5,000 people.
#[utoipa::path(
    post,
    path = "/api/v1/personas/lote",
    tag = "personas",
    request_body(content = Vec<BulkPerson>, description = "Un arreglo JSON, o NDJSON (`application/x-ndjson`): una persona por línea", content_type = "application/json"),
    responses(
        (status = 200, description = "Informe por línea", body = BulkReport),
        (status = 400, description = "El cuerpo no es NDJSON ni un arreglo JSON, o trae más de 5000 personas", body = super::error::ErrorBody),
        (status = 401, description = "Falta el token o no es válido", body = super::error::ErrorBody),
        (status = 403, description = "El token no tiene el permiso `personas:escritura`", body = super::error::ErrorBody),
        (status = 413, description = "Cuerpo de más de 8 MiB"),
        (status = 429, description = "Demasiadas solicitudes de este token", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn bulk(
    State(state): State<AppState>,
    _t: WriteToken,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<BulkReport>> {
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/x-ndjson") || v.starts_with("application/jsonl")
        });
    // Each element parsed on its own, so one bad line is refused alone.
    let items: Vec<(usize, Result<BulkPerson, String>)> = if ndjson {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::BadRequest("El cuerpo no es texto UTF-8.".into()))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                (
                    n + 1,
                    serde_json::from_str::<BulkPerson>(l)
                        .map_err(|e| format!("La línea no es el JSON de una persona: {e}")),
                )
            })
            .collect()
    } else {
        let values: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "El cuerpo no es un arreglo JSON (para NDJSON usá Content-Type: application/x-ndjson): {e}"
            ))
        })?;
        values
            .into_iter()
            .enumerate()
            .map(|(n, v)| {
                (
                    n + 1,
                    serde_json::from_value::<BulkPerson>(v)
                        .map_err(|e| format!("El elemento no es el JSON de una persona: {e}")),
                )
            })
            .collect()
    };
    if items.len() > BULK_MAX_LINES {
        return Err(ApiError::BadRequest(format!(
            "Un lote lleva hasta {BULK_MAX_LINES} personas (llegaron {}); dividilo en varios.",
            items.len()
        )));
    }
    let territory = Territory::load(&state.db).await?;
    let mut lines: Vec<BulkLine> = Vec::with_capacity(items.len());
    let mut valid = vec![];
    let mut valid_line = vec![];
    for (linea, item) in items {
        match item {
            Err(m) => lines.push(BulkLine {
                linea,
                dni: None,
                resultado: result_of(Outcome::Refused(m)),
            }),
            Ok(b) => match upsert::validate(&raw(&b.dni, &b.datos), &territory) {
                Ok(p) => {
                    valid_line.push((linea, b.dni));
                    valid.push(p);
                }
                Err(errs) => lines.push(BulkLine {
                    linea,
                    dni: Some(b.dni),
                    resultado: result_of(Outcome::Refused(refusal_text(&errs))),
                }),
            },
        }
    }
    let outcomes = upsert::upsert_batch(&state.db, &valid).await?;
    for ((linea, dni), o) in valid_line.into_iter().zip(outcomes) {
        lines.push(BulkLine {
            linea,
            dni: Some(dni),
            resultado: result_of(o),
        });
    }
    lines.sort_by_key(|l| l.linea);
    let count = |r: &str| lines.iter().filter(|l| l.resultado.resultado == r).count();
    Ok(Json(BulkReport {
        creadas: count("creada"),
        actualizadas: count("actualizada"),
        sin_cambios: count("sin_cambios"),
        rechazadas: count("rechazada"),
        lineas: lines,
    }))
}
