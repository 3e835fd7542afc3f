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
const LIVE_JS: &str = include_str!("../../static/live.js");

struct Asset {
    href: String,
    body: &'static [u8],
    content_type: &'static str,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        hashed("app", "css", CSS.as_bytes(), "text/css; charset=utf-8"),
        hashed(
            "live",
            "js",
            LIVE_JS.as_bytes(),
            "text/javascript; charset=utf-8",
        ),
    ]
});

fn hashed(stem: &str, ext: &str, body: &'static [u8], content_type: &'static str) -> Asset {
    let digest = Sha256::digest(body);
    let short: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    Asset {
        href: format!("/static/{stem}.{short}.{ext}"),
        body,
        content_type,
    }
}

/// The cache-busted address of the stylesheet.
pub fn css_href() -> &'static str {
    &ASSETS[0].href
}

/// The cache-busted address of the live room's script.
pub fn live_js_href() -> &'static str {
    &ASSETS[1].href
}

/// `GET /static/{file}`: an embedded asset, cacheable for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/static/{file}");
    match ASSETS.iter().find(|a| a.href == wanted) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            a.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
