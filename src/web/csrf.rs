//! Protection against cross-site request forgery, and the one-time notice cookie.
//!
//! Every visitor gets a random `aula_csrf` cookie (HttpOnly, SameSite=Lax); every form carries
//! the same value in a hidden `csrf` field (or the `x-csrf-token` header). A state-changing
//! request passes only when both match and the browser does not flag it as cross-site. The
//! check is a middleware over the whole router, so no handler can forget it.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::web::{error::AppError, state::AppState};

const CSRF_COOKIE: &str = "aula_csrf";
const NOTICE_COOKIE: &str = "aula_aviso";
/// Largest form body we buffer to read the token (uploads use the header instead).
const MAX_FORM: usize = 1024 * 1024;

/// The CSRF token of this request, for templates.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Reads one cookie from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A fresh random token (32 bytes, URL-safe base64).
pub fn random_token() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A `Set-Cookie` value with our fixed attributes.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// A redirect that shows `message` once on the next page.
pub fn redirect_with_notice(to: &str, message: &str) -> Response {
    let value = crate::web::text::url_encode(message);
    let mut resp = axum::response::Redirect::to(to).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(NOTICE_COOKIE, &value, Some(60), false),
    );
    resp
}

/// The pending notice, if the previous response left one.
pub fn read_notice(headers: &HeaderMap) -> Option<String> {
    let raw = cookie(headers, NOTICE_COOKIE)?;
    let decoded: String = form_urlencoded::parse(format!("m={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    (!decoded.is_empty()).then_some(decoded)
}

fn valid_token(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The middleware: issues the token, checks it on unsafe methods, clears shown notices.
pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let existing = cookie(req.headers(), CSRF_COOKIE)
        .filter(|t| valid_token(t))
        .map(str::to_owned);
    let had_notice = cookie(req.headers(), NOTICE_COOKIE).is_some();
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
            set_cookie(CSRF_COOKIE, &token, None, state.config.secure_cookies),
        );
    }
    if had_notice && !resp.status().is_redirection() {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(NOTICE_COOKIE, "", Some(0), false),
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
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
