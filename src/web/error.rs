//! One error type for every handler. Internal errors are logged and never shown.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};

use crate::web::layout::ErrorPage;

/// What can go wrong in a handler, and how each case reaches the user.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing does not exist, or the user may not know it exists.
    #[error("no encontrado")]
    NotFound,
    /// The user must log in first; they are sent to the login page and back.
    #[error("hace falta ingresar")]
    LoginRequired(String),
    /// A state change that cannot happen now (shown as a 409 page with the message).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the message says when to retry.
    #[error("{0}")]
    TooManyRequests(String),
    /// The request body is larger than we accept (413).
    #[error("cuerpo demasiado grande")]
    PayloadTooLarge,
    /// The form lacked a valid anti-forgery token.
    #[error("token CSRF inválido")]
    Csrf,
    /// Anything unexpected: logged with the request span, shown as a generic 500 page.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut request_id = None;
        let (status, title, message) = match self {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Página no encontrada",
                "No encontramos lo que buscás. Revisá la dirección o volvé al inicio.".to_string(),
            ),
            AppError::LoginRequired(next) => {
                let to = format!(
                    "/ingresar?siguiente={}",
                    crate::web::text::url_encode(&next)
                );
                return Redirect::to(&to).into_response();
            }
            AppError::Conflict(msg) => (StatusCode::CONFLICT, "No se pudo completar", msg),
            AppError::TooManyRequests(msg) => {
                (StatusCode::TOO_MANY_REQUESTS, "Demasiados intentos", msg)
            }
            AppError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Demasiado grande",
                "Lo que enviaste es más grande de lo que podemos recibir. Volvé a la página \
                 anterior y acortá el texto, o mandá un archivo más chico."
                    .to_string(),
            ),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                "El formulario venció",
                "Por seguridad no pudimos aceptar el formulario. Volvé a la página anterior, \
                 recargala e intentá de nuevo."
                    .to_string(),
            ),
            AppError::Internal(err) => {
                // Logged inside the request's span, which carries the same id as the page.
                request_id = crate::web::request_id::RequestId::current();
                tracing::error!(error = ?err, request_id = request_id.as_deref().unwrap_or("-"), "error interno");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Algo salió mal",
                    "Tuvimos un problema y no se completó la operación. Intentá de nuevo en unos \
                     minutos; si sigue pasando, avisale a tu oficina de empleo."
                        .to_string(),
                )
            }
        };
        let mut page = ErrorPage::new(title, &message);
        page.request_id = request_id;
        let mut resp = (status, crate::web::layout::Html(page.render_string())).into_response();
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        resp
    }
}

/// Middleware: a request whose path has a control character (`%00`, `%0a`...) is for nothing
/// that exists: 404, before any handler hands such text to the file system or the database
/// (PostgreSQL refuses NUL in text with an error).
pub async fn refuse_control_characters(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let decoded = percent_encoding::percent_decode_str(req.uri().path());
    if decoded.into_iter().any(|b| b.is_ascii_control()) {
        return AppError::NotFound.into_response();
    }
    next.run(req).await
}
