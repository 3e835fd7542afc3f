//! Static assets embedded in the binary, served under a content-hashed name so browsers
//! may cache them forever and still see every change.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../static/app.css");
const QUIZ_JS: &str = include_str!("../../static/quiz.js");
const LIVE_JS: &str = include_str!("../../static/live.js");
const MEDIA_JS: &str = include_str!("../../static/media.js");
const ICON: &str = include_str!("../../static/icon.svg");
const LOCALITIES_JS: &str = include_str!("../../static/localities.js");

struct Asset {
    stem: &'static str,
    href: String,
    body: &'static [u8],
    content_type: &'static str,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        hashed("app", "css", CSS.as_bytes(), "text/css; charset=utf-8"),
        hashed(
            "quiz",
            "js",
            QUIZ_JS.as_bytes(),
            "text/javascript; charset=utf-8",
        ),
        hashed(
            "live",
            "js",
            LIVE_JS.as_bytes(),
            "text/javascript; charset=utf-8",
        ),
        hashed(
            "media",
            "js",
            MEDIA_JS.as_bytes(),
            "text/javascript; charset=utf-8",
        ),
        hashed("icon", "svg", ICON.as_bytes(), "image/svg+xml"),
        hashed(
            "localities",
            "js",
            LOCALITIES_JS.as_bytes(),
            "text/javascript; charset=utf-8",
        ),
    ]
});

fn hashed(stem: &'static str, ext: &str, body: &'static [u8], content_type: &'static str) -> Asset {
    let digest = Sha256::digest(body);
    let short = hex::encode(&digest[..5]);
    Asset {
        stem,
        href: format!("/static/{stem}.{short}.{ext}"),
        body,
        content_type,
    }
}

/// The cache-busted address of the embedded asset named `stem`.
fn href(stem: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.stem == stem)
        .map_or("", |a| a.href.as_str())
}

/// The cache-busted address of the stylesheet.
pub fn css_href() -> &'static str {
    href("app")
}

/// The cache-busted address of the site's icon (the tab and the home screen).
pub fn icon_href() -> &'static str {
    href("icon")
}

/// The cache-busted address of the quiz page's script (autosave and countdown).
pub fn quiz_js_href() -> &'static str {
    href("quiz")
}

/// The cache-busted address of the lesson player's script (quality choice, data saver).
pub fn media_js_href() -> &'static str {
    href("media")
}

/// The cache-busted address of the live room's script.
pub fn live_js_href() -> &'static str {
    href("live")
}

/// The cache-busted address of the script that narrows «Localidad» to the chosen department.
pub fn localities_js_href() -> &'static str {
    href("localities")
}

/// `GET /static/{file}`: an embedded asset, cacheable for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/static/{file}");
    match ASSETS.iter().find(|a| a.href == wanted) {
        Some(a) => respond(a, "public, max-age=31536000, immutable"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /favicon.ico`: the icon, for browsers and tools that ask for it by that name without
/// reading the page's `<link rel="icon">`. Its address never changes, so it is cached a day.
pub async fn favicon() -> Response {
    match ASSETS.iter().find(|a| a.stem == "icon") {
        Some(a) => respond(a, "public, max-age=86400"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn respond(a: &Asset, cache: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        a.body,
    )
        .into_response()
}
