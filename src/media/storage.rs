//! Where media bytes live. `LocalStorage` keeps them in a folder, `S3Storage` (in `s3.rs`) in
//! any S3-compatible bucket; both implement [`Storage`], so nothing else in Aula knows which
//! one runs. Bytes always travel as streams: no operation holds a whole file in memory.

use std::{
    future::Future,
    io,
    path::{Path, PathBuf},
    pin::Pin,
    time::SystemTime,
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Bytes arriving in chunks (an upload being received, a file being read).
pub type BodyStream<'a> = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'a>>;

/// An object being read from the store.
pub type ByteStream = BodyStream<'static>;

/// What the store knows of an object without reading it.
#[derive(Clone, Debug)]
pub struct ObjectMeta {
    pub len: u64,
    /// The store's own validator (S3's ETag; size and time for a file).
    pub etag: Option<String>,
    pub modified: Option<SystemTime>,
}

/// A media store: objects addressed by a relative key (`a/b/c.mp4`).
pub trait Storage: Send + Sync {
    /// "local" or "S3", for logs and `aula media check`.
    fn backend(&self) -> String;
    /// Stores the stream under `key`, replacing any object there; returns the bytes written.
    /// If the stream fails (a client that disconnects) nothing is left under `key` nor
    /// elsewhere (S3 multipart uploads are aborted).
    fn put<'a>(
        &'a self,
        key: &'a str,
        body: BodyStream<'a>,
        content_type: &'a str,
    ) -> BoxFuture<'a, io::Result<u64>>;
    /// `len` bytes of `key` from `start`, as a stream.
    fn get_range<'a>(
        &'a self,
        key: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<ByteStream>>;
    /// Metadata of `key`, or `None` if there is no such object.
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<ObjectMeta>>>;
    /// Deletes `key`; deleting a missing object is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Moves an object to another key (a rename for files, copy + delete on S3).
    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// A short-lived URL that lets anyone holding it GET the object, when the store has them.
    fn presign_get<'a>(
        &'a self,
        key: &'a str,
        seconds: u32,
        content_type: &'a str,
        disposition: &'a str,
    ) -> BoxFuture<'a, io::Result<Option<String>>>;
    /// Every key starting with `prefix` (maintenance and tests: small listings only).
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<Vec<String>>>;
    /// Whether `key` exists.
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        Box::pin(async move { Ok(self.head(key).await?.is_some()) })
    }
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

fn invalid(key: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("clave de medio inválida: {key:?}"),
    )
}

/// Objects are files below a root folder.
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: PathBuf) -> LocalStorage {
        LocalStorage { root }
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        if valid_key(key) {
            Ok(self.root.join(key))
        } else {
            Err(invalid(key))
        }
    }
}

/// Writes the stream to `tmp`, then renames it to `path`: a reader never sees half a file.
async fn write_file(tmp: &Path, path: &Path, mut body: BodyStream<'_>) -> io::Result<u64> {
    let mut file = tokio::fs::File::create(tmp).await?;
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        file.write_all(&chunk).await?;
        written += chunk.len() as u64;
    }
    file.flush().await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(tmp, path).await?;
    Ok(written)
}

impl Storage for LocalStorage {
    fn backend(&self) -> String {
        format!("local ({})", self.root.display())
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        body: BodyStream<'a>,
        _content_type: &'a str,
    ) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let dir = path.parent().unwrap_or(&self.root).to_path_buf();
            tokio::fs::create_dir_all(&dir).await?;
            // A hidden name: never a valid key, so never served nor listed while being written.
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = dir.join(format!(
                ".{name}.{}.part",
                crate::web::cookies::random_token()
            ));
            let result = write_file(&tmp, &path, body).await;
            if result.is_err() {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
            result
        })
    }

    fn get_range<'a>(
        &'a self,
        key: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<ByteStream>> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(self.path(key)?).await?;
            file.seek(io::SeekFrom::Start(start)).await?;
            let stream: ByteStream =
                Box::pin(ReaderStream::with_capacity(file.take(len), 64 * 1024));
            Ok(stream)
        })
    }

    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<ObjectMeta>>> {
        Box::pin(async move {
            let Ok(path) = self.path(key) else {
                return Ok(None);
            };
            match tokio::fs::metadata(&path).await {
                Ok(m) if m.is_file() => {
                    let modified = m.modified().ok();
                    let secs = modified
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    Ok(Some(ObjectMeta {
                        len: m.len(),
                        etag: Some(format!("\"{:x}-{secs:x}\"", m.len())),
                        modified,
                    }))
                }
                Ok(_) => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let (from, to) = (self.path(from)?, self.path(to)?);
            if let Some(dir) = to.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::rename(from, to).await
        })
    }

    fn presign_get<'a>(
        &'a self,
        _key: &'a str,
        _seconds: u32,
        _content_type: &'a str,
        _disposition: &'a str,
    ) -> BoxFuture<'a, io::Result<Option<String>>> {
        Box::pin(async { Ok(None) })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<Vec<String>>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                let mut stack = vec![root.clone()];
                while let Some(dir) = stack.pop() {
                    let entries = match std::fs::read_dir(&dir) {
                        Ok(e) => e,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    for entry in entries {
                        let path = entry?.path();
                        if path.is_dir() {
                            stack.push(path);
                        } else if let Ok(rel) = path.strip_prefix(&root) {
                            let key = rel.to_string_lossy().replace('\\', "/");
                            if key.starts_with(&prefix) {
                                out.push(key);
                            }
                        }
                    }
                }
                out.sort();
                Ok(out)
            })
            .await
            .map_err(io::Error::other)?
        })
    }
}
