//! `GET /media/{path}` with HTTP range requests (206 Partial Content, 416 when unsatisfiable),
//! so videos can seek on slow connections without downloading everything.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::web::{
    error::{AppError, AppResult},
    state::AppState,
};

/// Serves a media object, whole or by a single byte range.
pub async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    // No stored object has a control character in its name (`.svg%00.txt` made the file
    // system refuse the path with an error).
    if crate::web::text::has_control(&key) {
        return Err(AppError::NotFound);
    }
    let meta = state
        .storage
        .head(&key)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .ok_or(AppError::NotFound)?;
    let mime = mime_guess::from_path(&key).first_or_octet_stream();
    let etag = format!(
        "\"{:x}-{:x}\"",
        meta.len,
        meta.modified
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let common = |resp: &mut Response| {
        let h = resp.headers_mut();
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
            h.insert(header::CONTENT_TYPE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        );
        // SVGs are served as images only: no script may run even if opened directly.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        );
    };
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // If-Range with a stale validator means: send the whole (new) object.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == etag);
    if let (Some(range), true) = (range, if_range_ok) {
        let parsed =
            http_range_header::parse_range_header(range).and_then(|r| r.validate(meta.len));
        let ranges = match parsed {
            Ok(r) if r.len() == 1 => r,
            // Multiple ranges are legal but rare; we answer them with the whole object.
            Ok(_) => Vec::new(),
            Err(_) => {
                let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                common(&mut resp);
                resp.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{}", meta.len))
                        .map_err(|e| AppError::Internal(e.into()))?,
                );
                return Ok(resp);
            }
        };
        if let Some(r) = ranges.first() {
            let (start, end) = (*r.start(), *r.end());
            let len = end - start + 1;
            let body = state
                .storage
                .read_range(&key, start, len)
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
            let mut resp = (StatusCode::PARTIAL_CONTENT, body).into_response();
            common(&mut resp);
            let h = resp.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            h.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {start}-{end}/{}", meta.len))
                    .map_err(|e| AppError::Internal(e.into()))?,
            );
            return Ok(resp);
        }
    }
    let body = state
        .storage
        .read_range(&key, 0, meta.len)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut resp = (StatusCode::OK, body).into_response();
    common(&mut resp);
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len));
    Ok(resp)
}
