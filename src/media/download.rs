//! `GET /media/{key}`: objects with HTTP range requests (206, 416 when unsatisfiable),
//! validators (`ETag`, `Last-Modified`, `If-None-Match`, `If-Range`), streamed from either
//! store without buffering, or a 302 to a short-lived presigned URL when configured.
//!
//! Access is decided on every request: public objects are for anyone; a private one only for
//! whom the owning module allows (its check is passed in), and everyone else gets 404.

use std::future::Future;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};

use super::{
    objects::{self, MediaObject, Visibility},
    storage::valid_key,
};
use crate::{
    media::MediaState,
    web::auth::{CurrentUser, MaybeUser},
    web::error::{AppError, AppResult},
};

/// Content-addressed: the bytes behind an address never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Private objects: never in a shared cache; checked again on every request.
const PRIVATE: &str = "private, no-cache";

/// The default rule for private objects served at `/media/...`: the person who uploaded it and
/// administrators. Owning modules serve their private files through their own routes with
/// their own rule (class members, the essay's grader) via [`serve_checked`].
pub fn owner_or_admin(user: Option<&CurrentUser>, object: &MediaObject) -> bool {
    user.is_some_and(|u| u.is_admin() || object.owner_user_id == Some(u.user_id))
}

/// `GET /media/{*key}`
pub async fn serve(
    State(state): State<MediaState>,
    MaybeUser(user): MaybeUser,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    serve_checked(&state, &key, &headers, |o| {
        let allowed = owner_or_admin(user.as_ref(), o);
        async move { Ok(allowed) }
    })
    .await
}

/// Serves the object at `key` if it is public or `allowed` says yes; 404 otherwise (also for
/// keys without a row: temporary uploads are never reachable).
pub async fn serve_checked<F, Fut>(
    state: &MediaState,
    key: &str,
    headers: &HeaderMap,
    allowed: F,
) -> AppResult<Response>
where
    F: FnOnce(&MediaObject) -> Fut,
    Fut: Future<Output = AppResult<bool>>,
{
    if !valid_key(key) {
        return Err(AppError::NotFound);
    }
    let object = objects::by_key(&state.db, key)
        .await?
        .ok_or(AppError::NotFound)?;
    if object.visibility == Visibility::Private && !allowed(&object).await? {
        return Err(AppError::NotFound);
    }
    respond(state, &object, headers).await
}

fn http_date(t: &DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Whether an `If-None-Match` list names this entity tag (weak comparison, as RFC 9110 asks).
fn none_match(header: &str, etag: &str) -> bool {
    header.trim() == "*"
        || header
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag)
}

/// `Content-Disposition`: shown in the browser for what it can show, downloaded otherwise;
/// the original name (already sanitised) as an RFC 8187 UTF-8 name with an ASCII fallback.
pub fn disposition(object: &MediaObject) -> String {
    let inline = ["image/", "video/", "audio/"]
        .iter()
        .any(|p| object.mime.starts_with(p))
        || object.mime == "application/pdf";
    let ascii: String = object
        .original_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        rfc8187(&object.original_name)
    )
}

/// Percent-encodes a value for `filename*=UTF-8''…` (RFC 8187's attr-char kept as is).
fn rfc8187(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The response for an authorised request of `object`.
pub async fn respond(
    state: &MediaState,
    object: &MediaObject,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let etag = format!("\"{}\"", object.sha256);
    let last_modified = http_date(&object.created_at);
    let cache = if object.visibility == Visibility::Public {
        IMMUTABLE
    } else {
        PRIVATE
    };
    let len = object.size.max(0) as u64;
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let set_common = |resp: &mut Response| {
        let h = resp.headers_mut();
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&last_modified) {
            h.insert(header::LAST_MODIFIED, v);
        }
        // SVGs and documents are served as files only: no script may run even if opened
        // directly.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        );
    };
    if header_str(header::IF_NONE_MATCH).is_some_and(|v| none_match(v, &etag)) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        set_common(&mut resp);
        return Ok(resp);
    }
    let disposition = disposition(object);
    let presign = state.media.config.presign_seconds;
    if presign > 0
        && let Some(url) = state
            .media
            .storage
            .presign_get(&object.key, presign, &object.mime, &disposition)
            .await
            .map_err(|e| AppError::Internal(e.into()))?
    {
        // The address expires soon: the redirect itself must not be cached longer.
        let mut resp = StatusCode::FOUND.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::LOCATION,
            HeaderValue::from_str(&url).map_err(|e| AppError::Internal(e.into()))?,
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        return Ok(resp);
    }
    // If-Range with a stale validator means: send the whole (current) object.
    let if_range_ok = header_str(header::IF_RANGE)
        .is_none_or(|v| v.trim_start_matches("W/") == etag || v == last_modified);
    let mut range = None;
    if let (Some(spec), true) = (header_str(header::RANGE), if_range_ok) {
        match http_range_header::parse_range_header(spec).and_then(|r| r.validate(len)) {
            Ok(r) if r.len() == 1 => range = r.first().map(|r| (*r.start(), *r.end())),
            // Several ranges are legal but rare; they get the whole object.
            Ok(_) => {}
            Err(_) => {
                let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                set_common(&mut resp);
                resp.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{len}"))
                        .map_err(|e| AppError::Internal(e.into()))?,
                );
                return Ok(resp);
            }
        }
    }
    let (status, start, count) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, len),
    };
    let stream = state
        .media
        .storage
        .get_range(&object.key, start, count)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut resp = (status, Body::from_stream(stream)).into_response();
    set_common(&mut resp);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if let Ok(v) = HeaderValue::from_str(&object.mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some((start, end)) = range {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
                .map_err(|e| AppError::Internal(e.into()))?,
        );
    }
    Ok(resp)
}
