//! Protection against cross-site request forgery.
//!
//! Every visitor gets a random `aula_csrf` cookie (HttpOnly, SameSite=Lax); every form carries
//! the same value in a hidden `csrf` field (or the `x-csrf-token` header). A state-changing
//! request passes only when both match and the browser does not flag it as cross-site. The
//! check is a middleware over the whole router, so no handler can forget it.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use crate::web::{
    cookies::{cookie, random_token, set_cookie},
    error::AppError,
    state::AppState,
};

const CSRF_COOKIE: &str = "aula_csrf";
/// Largest form body we buffer to read the token (uploads use the header instead).
const MAX_FORM: usize = 1024 * 1024;

/// The CSRF token of this request, for templates.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

fn valid_token(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The middleware: issues the token and checks it on unsafe methods.
pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let existing = cookie(req.headers(), CSRF_COOKIE)
        .filter(|t| valid_token(t))
        .map(str::to_owned);
    let token = existing.clone().unwrap_or_else(random_token);

    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        match check(req, existing.as_deref()).await {
            Ok(r) => req = r,
            Err(e) => return e.into_response(),
        }
    }
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut resp = next.run(req).await;
    if existing.is_none() {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, &token, None, state.settings.secure_cookies),
        );
    }
    resp
}

async fn check(req: Request, cookie_token: Option<&str>) -> Result<Request, AppError> {
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site") | Some("same-site")) {
        return Err(AppError::Csrf);
    }
    let Some(expected) = cookie_token else {
        return Err(AppError::Csrf);
    };
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return if constant_eq(h, expected) {
            Ok(req)
        } else {
            Err(AppError::Csrf)
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::Csrf);
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let sent = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    match sent {
        Some(s) if constant_eq(&s, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(AppError::Csrf),
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
