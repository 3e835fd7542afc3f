//! Where media bytes live. `LocalStorage` reads a folder; an S3 backend implements the same
//! trait, so handlers never know which one serves them.

use std::{future::Future, io, path::PathBuf, pin::Pin, time::SystemTime};

use axum::body::Body;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What we know of a stored object without reading it.
#[derive(Clone, Debug)]
pub struct ObjectMeta {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

/// A media store: metadata and byte ranges of objects addressed by a relative key.
pub trait Storage: Send + Sync {
    /// Metadata of `key`, or `None` if there is no such object.
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<ObjectMeta>>>;
    /// A body streaming `len` bytes of `key` from `start`.
    fn read_range<'a>(
        &'a self,
        key: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<Body>>;
}

/// Whether a key is a safe relative path (no `..`, no hidden parts, no absolute paths).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && !key.contains('\\')
        && key
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'))
}

/// Objects are files below a root folder.
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: PathBuf) -> LocalStorage {
        LocalStorage { root }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        valid_key(key).then(|| self.root.join(key))
    }
}

impl Storage for LocalStorage {
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<ObjectMeta>>> {
        Box::pin(async move {
            let Some(path) = self.path(key) else {
                return Ok(None);
            };
            match tokio::fs::metadata(&path).await {
                Ok(m) if m.is_file() => Ok(Some(ObjectMeta {
                    len: m.len(),
                    modified: m.modified().ok(),
                })),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn read_range<'a>(
        &'a self,
        key: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<Body>> {
        Box::pin(async move {
            let path = self
                .path(key)
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "clave inválida"))?;
            let mut file = tokio::fs::File::open(path).await?;
            file.seek(io::SeekFrom::Start(start)).await?;
            Ok(Body::from_stream(ReaderStream::new(file.take(len))))
        })
    }
}
