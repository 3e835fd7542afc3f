//! Receiving a file from a form: the building block for every upload (instructors' class
//! materials, essay attachments, the admin's media page).
//!
//! The body is streamed (`multipart/form-data`, one part at a time) straight into the store:
//! never the whole file in memory. The type is decided by the content (magic bytes, the
//! `infer` crate), never by the name, so an `.exe` renamed `.pdf` is refused; each kind has
//! its size limit; the name is sanitised; each refusal has a Spanish message; and a refused
//! or interrupted upload leaves nothing behind (see `ingest`). The receiving runs in a task
//! of its own, so a client that disconnects cannot cancel the clean-up half-way.

use std::{io, time::Duration};

use axum::{
    extract::multipart::{Field, Multipart},
    http::{HeaderMap, header},
};
use bytes::{Bytes, BytesMut};
use futures_util::stream;

use super::{
    Media,
    config::LimitsConfig,
    ingest::{Incoming, IngestError, ingest},
    objects::{MediaObject, Visibility},
    storage::BodyStream,
    view::format_size,
};
use crate::{
    db::Db,
    web::{
        cookies::cookie,
        error::{AppError, AppResult},
    },
};

/// How long an upload may go without a single byte before it counts as interrupted.
const IDLE: Duration = Duration::from_secs(60);
/// Bytes read before deciding the type (office documents are ZIPs: their tell-tale names
/// come a little way in).
const SNIFF: usize = 64 * 1024;
/// Longest text field before the file (titles, choices).
const MAX_TEXT: usize = 4096;

/// The kinds of file Aula accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Video,
    Audio,
    Image,
    Document,
}

impl Kind {
    /// In Spanish, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Video => "videos",
            Kind::Audio => "audios",
            Kind::Image => "imágenes",
            Kind::Document => "documentos",
        }
    }

    /// Largest accepted size in bytes.
    pub fn limit(self, limits: &LimitsConfig) -> u64 {
        let mb = match self {
            Kind::Video => limits.video_mb,
            Kind::Audio => limits.audio_mb,
            Kind::Image => limits.image_mb,
            Kind::Document => limits.document_mb,
        };
        mb * 1024 * 1024
    }
}

/// The kind of a detected type, if Aula accepts it. SVG and HTML are not accepted from
/// uploads (they can carry scripts); plain text has no magic bytes to check.
pub fn classify(mime: &str) -> Option<Kind> {
    match mime {
        "video/mp4" | "video/webm" | "video/quicktime" | "video/x-matroska" | "video/x-m4v" => {
            Some(Kind::Video)
        }
        "audio/mpeg" | "audio/m4a" | "audio/mp4" | "audio/ogg" | "audio/x-wav" | "audio/aac"
        | "audio/opus" | "audio/x-flac" | "audio/webm" => Some(Kind::Audio),
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" => Some(Kind::Image),
        "application/pdf"
        | "application/msword"
        | "application/vnd.ms-excel"
        | "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.oasis.opendocument.text"
        | "application/vnd.oasis.opendocument.spreadsheet"
        | "application/vnd.oasis.opendocument.presentation" => Some(Kind::Document),
        _ => None,
    }
}

/// What a form accepts.
#[derive(Clone, Debug)]
pub struct UploadPolicy {
    /// Name of the file field.
    pub field: &'static str,
    pub kinds: Vec<Kind>,
    pub visibility: Visibility,
}

/// Why an upload was refused; `message` says it to the person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no file")]
    NoFile,
    #[error("empty")]
    Empty,
    #[error("too big")]
    TooBig { kind: Kind, limit: u64 },
    #[error("wrong type")]
    WrongType { name: String, found: String },
    #[error("interrupted")]
    Interrupted,
}

impl Refusal {
    /// The Spanish message shown at the file field.
    pub fn message(&self, policy: &UploadPolicy) -> String {
        match self {
            Refusal::NoFile => "Elegí un archivo para subir.".into(),
            Refusal::Empty => "El archivo está vacío.".into(),
            Refusal::TooBig { kind, limit } => format!(
                "El archivo es demasiado grande: para {} el máximo es {}.",
                kind.label(),
                format_size(*limit)
            ),
            Refusal::WrongType { name, found } => format!(
                "«{name}» no es un archivo que se pueda subir acá: por su contenido es {found}. \
                 Se aceptan {}.",
                accepted(&policy.kinds)
            ),
            Refusal::Interrupted => {
                "La subida se cortó antes de terminar y no se guardó nada. Probá de nuevo.".into()
            }
        }
    }
}

fn accepted(kinds: &[Kind]) -> String {
    let words: Vec<&str> = kinds
        .iter()
        .map(|k| match k {
            Kind::Video => "videos (MP4, WebM)",
            Kind::Audio => "audios (MP3, M4A, OGG)",
            Kind::Image => "imágenes (JPG, PNG, GIF, WebP)",
            Kind::Document => "PDF y documentos de Office o LibreOffice",
        })
        .collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} y {last}", init.join(", ")),
    }
}

/// What the content is, for a refusal message.
fn describe(found: Option<infer::Type>) -> String {
    match found {
        Some(t) if t.mime_type() == "application/vnd.microsoft.portable-executable" => {
            "un programa de Windows (.exe)".into()
        }
        Some(t) if t.matcher_type() == infer::MatcherType::App => {
            format!("un programa (.{})", t.extension())
        }
        Some(t) => format!("un archivo .{}", t.extension()),
        None => "de un tipo desconocido".into(),
    }
}

/// A file name safe to store and show: the last path part, without control characters nor
/// characters that mean something to file systems or headers, at most 120 characters, with
/// the extension of what the content really is.
pub fn sanitize_name(raw: &str, ext: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || "<>:\"|?*;%".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed.trim_matches(|c: char| c == '.' || c == ' ');
    let stem = match trimmed.rsplit_once('.') {
        Some((stem, e)) if e.eq_ignore_ascii_case(ext) || e.len() <= 5 => stem.trim_end(),
        _ => trimmed,
    };
    let stem: String = stem.chars().take(120 - ext.len().min(20) - 1).collect();
    let stem = if stem.trim().is_empty() {
        "archivo".to_string()
    } else {
        stem.trim().to_string()
    };
    format!("{stem}.{ext}")
}

/// A stored upload and the text fields that came before it in the form.
#[derive(Debug)]
pub struct Received {
    pub object: MediaObject,
    pub fields: Vec<(String, String)>,
}

/// Checks the form's CSRF token: the first field, `csrf`, must equal the `aula_csrf` cookie
/// (upload routes stream their body, so the site-wide check, which reads whole forms, cannot
/// look into it).
pub async fn check_csrf(headers: &HeaderMap, multipart: &mut Multipart) -> AppResult<()> {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site") | Some("same-site")) {
        return Err(AppError::Csrf);
    }
    let expected = cookie(headers, "aula_csrf").ok_or(AppError::Csrf)?;
    let given = match headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        Some(h) => h.to_string(),
        None => {
            let mut field = multipart
                .next_field()
                .await
                .map_err(|_| AppError::Csrf)?
                .ok_or(AppError::Csrf)?;
            if field.name() != Some("csrf") {
                return Err(AppError::Csrf);
            }
            read_text(&mut field).await.ok_or(AppError::Csrf)?
        }
    };
    // Compare digests, so the time taken says nothing about the token.
    use sha2::{Digest, Sha256};
    if Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Csrf)
    }
}

async fn read_text(field: &mut Field<'_>) -> Option<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.ok()? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_TEXT {
            return None;
        }
    }
    String::from_utf8(buf).ok()
}

/// Next chunk of the file, with the idle limit; errors mean the client went away.
async fn next_chunk(field: &mut Field<'_>) -> Result<Option<Bytes>, Refusal> {
    match tokio::time::timeout(IDLE, field.chunk()).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(_)) | Err(_) => Err(Refusal::Interrupted),
    }
}

/// Receives the rest of a form whose CSRF token was checked: text fields, then the file in
/// `policy.field`, stored as the owner's. Runs in its own task (see the module doc).
pub async fn receive(
    db: &Db,
    media: &Media,
    multipart: Multipart,
    policy: &UploadPolicy,
    owner_user_id: i64,
) -> AppResult<Result<Received, Refusal>> {
    let (db, media, policy) = (db.clone(), media.clone(), policy.clone());
    tokio::spawn(async move { receive_inner(&db, &media, multipart, &policy, owner_user_id).await })
        .await
        .map_err(|e| AppError::Internal(e.into()))?
}

async fn receive_inner(
    db: &Db,
    media: &Media,
    mut multipart: Multipart,
    policy: &UploadPolicy,
    owner_user_id: i64,
) -> AppResult<Result<Received, Refusal>> {
    let mut fields = Vec::new();
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(Err(Refusal::NoFile)),
            Err(_) => return Ok(Err(Refusal::Interrupted)),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name != policy.field {
            let value = read_text(&mut field).await.unwrap_or_default();
            fields.push((name, value));
            continue;
        }
        let raw_name = field.file_name().unwrap_or_default().to_string();
        let result = receive_file(db, media, &mut field, policy, owner_user_id, &raw_name).await;
        if let Ok(Err(r)) = &result
            && *r != Refusal::Interrupted
        {
            drain(&mut field).await;
        }
        return result.map(|r| r.map(|object| Received { object, fields }));
    }
}

/// Reads what is left of a refused file (a bounded amount), so the browser gets to read our
/// answer instead of a reset connection.
async fn drain(field: &mut Field<'_>) {
    let mut left: usize = 32 * 1024 * 1024;
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(c)) = field.chunk().await {
            left = left.saturating_sub(c.len());
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

async fn receive_file(
    db: &Db,
    media: &Media,
    field: &mut Field<'_>,
    policy: &UploadPolicy,
    owner_user_id: i64,
    raw_name: &str,
) -> AppResult<Result<MediaObject, Refusal>> {
    if raw_name.is_empty() {
        return Ok(Err(Refusal::NoFile));
    }
    // The first bytes decide the type, before anything is stored.
    let mut head = BytesMut::new();
    let mut ended = false;
    while head.len() < SNIFF {
        match next_chunk(field).await {
            Ok(Some(c)) => head.extend_from_slice(&c),
            Ok(None) => {
                ended = true;
                break;
            }
            Err(r) => return Ok(Err(r)),
        }
    }
    if head.is_empty() {
        return Ok(Err(Refusal::Empty));
    }
    let found = infer::get(&head);
    let kind = found
        .and_then(|t| classify(t.mime_type()))
        .filter(|k| policy.kinds.contains(k));
    let (Some(kind), Some(found)) = (kind, found) else {
        let shown = sanitize_name(raw_name, raw_name.rsplit('.').next().unwrap_or("bin"));
        return Ok(Err(Refusal::WrongType {
            name: shown,
            found: describe(found),
        }));
    };
    let limit = kind.limit(&media.config.limits);
    if head.len() as u64 > limit {
        return Ok(Err(Refusal::TooBig { kind, limit }));
    }
    let mime = found.mime_type();
    let ext = found.extension();
    let name = sanitize_name(raw_name, ext);
    // The rest streams through with the size limit counted as it goes.
    let first = head.len() as u64;
    let head = head.freeze();
    let rest = stream::unfold(
        (field, ended, first),
        move |(field, ended, received)| async move {
            if ended {
                return None;
            }
            match next_chunk(field).await {
                Ok(Some(c)) => {
                    let received = received + c.len() as u64;
                    if received > limit {
                        let e = io::Error::other(Refusal::TooBig { kind, limit });
                        Some((Err(e), (field, true, received)))
                    } else {
                        Some((Ok(c), (field, false, received)))
                    }
                }
                Ok(None) => None,
                Err(r) => Some((Err(io::Error::other(r)), (field, true, received))),
            }
        },
    );
    let body: BodyStream<'_> = Box::pin(futures_util::StreamExt::chain(
        stream::once(async move { Ok(head) }),
        rest,
    ));
    let incoming = Incoming {
        mime,
        ext,
        original_name: &name,
        owner_user_id: Some(owner_user_id),
        visibility: policy.visibility,
    };
    match ingest(db, media, body, &incoming).await {
        Ok(object) => Ok(Ok(object)),
        Err(IngestError::Io(e)) => {
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<Refusal>())
            {
                Some(r) => Ok(Err(r.clone())),
                None => Err(AppError::Internal(e.into())),
            }
        }
        Err(IngestError::Db(e)) => Err(e.into()),
    }
}

/// Largest body a form of this policy may send: its largest kind plus room for the form.
pub fn body_limit(policy: &UploadPolicy, limits: &LimitsConfig) -> u64 {
    policy
        .kinds
        .iter()
        .map(|k| k.limit(limits))
        .max()
        .unwrap_or(0)
        + 64 * 1024
}

/// Refuses at once a body whose declared length is over the limit (before reading it).
pub fn declared_too_big(headers: &HeaderMap, policy: &UploadPolicy, limits: &LimitsConfig) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > body_limit(policy, limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_and_carry_the_real_extension() {
        assert_eq!(
            sanitize_name("Guía de estudio.pdf", "pdf"),
            "Guía de estudio.pdf"
        );
        assert_eq!(
            sanitize_name("C:\\Users\\ana\\tarea.PDF", "pdf"),
            "tarea.pdf"
        );
        assert_eq!(sanitize_name("../../etc/passwd", "pdf"), "passwd.pdf");
        assert_eq!(sanitize_name("foto.jpeg", "jpg"), "foto.jpg");
        assert_eq!(sanitize_name("a\"b<c>\n.png", "png"), "a b c.png");
        assert_eq!(sanitize_name("...", "png"), "archivo.png");
        assert_eq!(sanitize_name("", "mp4"), "archivo.mp4");
        assert!(sanitize_name(&"x".repeat(500), "pdf").chars().count() <= 120);
    }

    #[test]
    fn types_are_told_by_content() {
        let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";
        let t = infer::get(exe).expect("exe");
        assert_eq!(classify(t.mime_type()), None);
        assert_eq!(describe(Some(t)), "un programa de Windows (.exe)");
        let pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
        assert_eq!(
            classify(infer::get(pdf).unwrap().mime_type()),
            Some(Kind::Document)
        );
    }
}
