//! The API's errors: JSON bodies `{"error": "<code>", "mensaje": "<Spanish>"}` with the
//! status that says what to do (401 with `WWW-Authenticate: Bearer`, 403, 404, 422, 429 with
//! `Retry-After`, 500 logged with the request id and never detailed).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// The JSON body of every API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code for programs: `no_autorizado`, `sin_permiso`, `no_encontrado`,
    /// `datos_invalidos`, `solicitud_invalida`, `conflicto`, `demasiadas_solicitudes`, `error_interno`.
    pub error: &'static str,
    /// What happened, in Spanish, for people.
    pub mensaje: String,
    /// Field errors (`datos_invalidos` only): field name → Spanish message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campos: Vec<FieldError>,
}

/// One refused field.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub campo: String,
    pub mensaje: String,
}

/// What can go wrong in an API handler.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, unknown or revoked token.
    #[error("no autorizado")]
    Unauthorized,
    /// A valid token without the scope the operation needs.
    #[error("sin permiso: {0}")]
    Forbidden(&'static str),
    #[error("no encontrado")]
    NotFound,
    /// The request's data was refused, field by field.
    #[error("datos inválidos")]
    Invalid(Vec<FieldError>),
    /// The change cannot be made (e.g. the CUIL belongs to another person).
    #[error("{0}")]
    Conflict(String),
    /// Malformed request (query or body that is not what the operation takes).
    #[error("{0}")]
    BadRequest(String),
    /// The token's requests per minute are spent; retry after this many seconds.
    #[error("demasiadas solicitudes")]
    TooMany(i64),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

/// Shorthand for API handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, mensaje, campos) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "no_autorizado",
                "Falta el token de acceso o no es válido (¿fue revocado?). Enviá el encabezado \
                 «Authorization: Bearer <token>»."
                    .to_string(),
                vec![],
            ),
            ApiError::Forbidden(scope) => (
                StatusCode::FORBIDDEN,
                "sin_permiso",
                format!("El token no tiene el permiso «{scope}» que necesita esta operación."),
                vec![],
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "no_encontrado",
                "No existe lo que se pidió.".to_string(),
                vec![],
            ),
            ApiError::Invalid(campos) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "datos_invalidos",
                "Hay datos que no son válidos; cada campo dice por qué.".to_string(),
                campos,
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflicto", m, vec![]),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "solicitud_invalida", m, vec![]),
            ApiError::TooMany(secs) => {
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(ErrorBody {
                        error: "demasiadas_solicitudes",
                        mensaje: format!(
                            "Este token hizo demasiadas solicitudes. Probá de nuevo en {secs} segundos."
                        ),
                        campos: vec![],
                    }),
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
                return resp;
            }
            ApiError::Internal(err) => {
                let id = crate::web::request_id::RequestId::current();
                tracing::error!(error = ?err, request_id = id.as_deref().unwrap_or("-"), "error interno en la API");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error_interno",
                    format!(
                        "Tuvimos un problema y no se completó la operación (solicitud {}). \
                         Intentá de nuevo en unos minutos.",
                        id.as_deref().unwrap_or("-")
                    ),
                    vec![],
                )
            }
        };
        let mut resp = (
            status,
            Json(ErrorBody {
                error,
                mensaje,
                campos,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"aula\""),
            );
        }
        resp
    }
}
