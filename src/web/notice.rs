//! One-time notices: a redirect leaves a short message in a cookie, the next page shows it
//! once (the CSRF middleware's sibling, [`clear_shown`], removes it after it was shown).

use axum::{
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};

use crate::web::{
    cookies::{cookie, set_cookie},
    text::url_encode,
};

const NOTICE_COOKIE: &str = "aula_aviso";

/// A redirect that shows `message` once on the next page.
pub fn redirect_with_notice(to: &str, message: &str) -> Response {
    let mut resp = Redirect::to(to).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(NOTICE_COOKIE, &url_encode(message), Some(60), false),
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

/// Middleware: once a page (not a redirect) answered a request that carried a notice, the
/// notice has been shown and its cookie is removed.
pub async fn clear_shown(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let had_notice = cookie(req.headers(), NOTICE_COOKIE).is_some();
    let mut resp = next.run(req).await;
    if had_notice && !resp.status().is_redirection() {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(NOTICE_COOKIE, "", Some(0), false),
        );
    }
    resp
}
