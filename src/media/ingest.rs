//! Putting bytes into the store and recording them, all or nothing.
//!
//! An upload streams to a temporary key while its SHA-256 is computed; only then is its
//! content address known. The object is moved there (or dropped, when those bytes are already
//! stored) and its row written. Any failure on the way removes what was written, and a key
//! without a row is never served, so a refused or interrupted upload leaves nothing visible.
//! What a crash between those steps can leave (a `tmp/` object, an object without a row)
//! is invisible and is swept by the store's lifecycle rule (README).

use std::{
    io,
    path::Path,
    sync::{Arc, Mutex},
};

use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::{
    Media,
    objects::{self, Hashing, MediaObject, NewObject, Visibility},
    renditions,
    storage::BodyStream,
};
use crate::db::Db;

/// What a caller knows of the bytes before they arrive.
pub struct Incoming<'a> {
    pub mime: &'a str,
    pub ext: &'a str,
    pub original_name: &'a str,
    pub owner_user_id: Option<i64>,
    pub visibility: Visibility,
}

/// Why storing failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("almacenamiento: {0}")]
    Io(#[from] io::Error),
    #[error("base de datos: {0}")]
    Db(#[from] sqlx::Error),
}

/// Streams `body` into the store under its content address and records it. The same bytes
/// stored twice are one object (and one row).
pub async fn ingest(
    db: &Db,
    media: &Media,
    body: BodyStream<'_>,
    incoming: &Incoming<'_>,
) -> Result<MediaObject, IngestError> {
    let storage = &media.storage;
    let hashing = Arc::new(Mutex::new(Hashing::default()));
    let tap = hashing.clone();
    let body: BodyStream<'_> = Box::pin(body.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            // A poisoned lock only means another chunk's hashing panicked: keep the data.
            tap.lock().unwrap_or_else(|e| e.into_inner()).update(bytes);
        }
    }));
    let tmp = objects::temp_key();
    // The store cleans up after itself when the stream fails (file removed, multipart aborted).
    storage.put(&tmp, body, incoming.mime).await?;
    let hashing = std::mem::take(&mut *hashing.lock().unwrap_or_else(|e| e.into_inner()));
    let size = hashing.len as i64;
    let sha256 = hashing.finish();
    let key = objects::content_key(&sha256, incoming.ext);
    let committed = commit(db, media, &tmp, &key, &sha256, size, incoming).await;
    if committed.is_err() {
        let _ = storage.delete(&tmp).await;
    }
    committed
}

async fn commit(
    db: &Db,
    media: &Media,
    tmp: &str,
    key: &str,
    sha256: &str,
    size: i64,
    incoming: &Incoming<'_>,
) -> Result<MediaObject, IngestError> {
    let storage = &media.storage;
    let known = objects::by_key(db, key).await?;
    let moved = if known.is_some() || storage.exists(key).await? {
        // Same bytes already stored: this copy is not needed.
        storage.delete(tmp).await?;
        false
    } else {
        storage.rename(tmp, key).await?;
        true
    };
    let row = objects::insert(
        db,
        &NewObject {
            key,
            sha256,
            size,
            mime: incoming.mime,
            original_name: incoming.original_name,
            owner_user_id: incoming.owner_user_id,
            visibility: incoming.visibility,
            source: None,
        },
    )
    .await;
    match row {
        Ok(row) => {
            after_new_object(db, media, &row).await?;
            Ok(row)
        }
        Err(e) => {
            // Remove the object we just placed, unless a concurrent identical upload recorded it.
            if moved && matches!(objects::by_key(db, key).await, Ok(None)) {
                let _ = storage.delete(key).await;
            }
            Err(e.into())
        }
    }
}

/// A video gets its light renditions made in the background (when ffmpeg is there).
async fn after_new_object(db: &Db, media: &Media, row: &MediaObject) -> Result<(), sqlx::Error> {
    if row.mime.starts_with("video/") && media.renditions_enabled() {
        renditions::enqueue(db, row.id).await?;
    }
    Ok(())
}

/// What `publish_file` gives the importer: where the file is served and what it costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRef {
    pub id: i64,
    pub key: String,
    pub url: String,
    pub size: u64,
    pub mime: String,
}

/// Type of a course file: its content when recognisable, else its extension (course files
/// are reviewed like code; SVG and text have no magic bytes).
fn course_file_type(path: &Path, head: &[u8]) -> (String, String) {
    if let Some(t) = infer::get(head) {
        return (t.mime_type().to_string(), t.extension().to_string());
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into());
    let mime = mime_guess::from_ext(&ext)
        .first_or_octet_stream()
        .to_string();
    (mime, ext)
}

async fn file_stream(path: &Path) -> io::Result<BodyStream<'static>> {
    let file = tokio::fs::File::open(path).await?;
    Ok(Box::pin(ReaderStream::with_capacity(file, 64 * 1024)))
}

/// Puts a course's media file in the store once, under the address of its content, and
/// records it as public. An unchanged file is not uploaded again; a changed one gets a new
/// address. Videos get their renditions queued.
pub async fn publish_file(db: &Db, media: &Media, path: &Path) -> Result<MediaRef, IngestError> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hashing = Hashing::default();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if head.len() < 8192 {
            head.extend_from_slice(&buf[..n.min(8192 - head.len())]);
        }
        hashing.update(&buf[..n]);
    }
    drop(file);
    let (mime, ext) = course_file_type(path, &head);
    let size = hashing.len;
    let sha256 = hashing.finish();
    let key = objects::content_key(&sha256, &ext);
    if !media.storage.exists(&key).await? {
        // Straight to its final key: both stores make a put atomic (rename, S3 completion),
        // and the bytes come from a trusted local file whose hash is already known.
        media
            .storage
            .put(&key, file_stream(path).await?, &mime)
            .await?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let row = objects::insert(
        db,
        &NewObject {
            key: &key,
            sha256: &sha256,
            size: size as i64,
            mime: &mime,
            original_name: &name,
            owner_user_id: None,
            visibility: Visibility::Public,
            source: None,
        },
    )
    .await?;
    after_new_object(db, media, &row).await?;
    Ok(MediaRef {
        id: row.id,
        url: row.url(),
        key: row.key,
        size,
        mime: row.mime,
    })
}

/// Stores a file made here (a rendition) as an object derived from `source`.
pub async fn store_rendition(
    db: &Db,
    media: &Media,
    source: &MediaObject,
    rendition: objects::Rendition,
    path: &Path,
    mime: &str,
) -> Result<MediaObject, IngestError> {
    let mut hashing = Hashing::default();
    let mut file = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hashing.update(&buf[..n]);
    }
    let size = hashing.len as i64;
    let sha256 = hashing.finish();
    let key = objects::rendition_key(&source.sha256, rendition);
    media
        .storage
        .put(&key, file_stream(path).await?, mime)
        .await?;
    let original_name = format!(
        "{}-{}",
        rendition.as_str(),
        key.rsplit('/').next().unwrap_or_default()
    );
    Ok(objects::insert(
        db,
        &NewObject {
            key: &key,
            sha256: &sha256,
            size,
            mime,
            original_name: &original_name,
            owner_user_id: source.owner_user_id,
            visibility: source.visibility,
            source: Some((source.id, rendition)),
        },
    )
    .await?)
}
