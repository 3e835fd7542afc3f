//! Any S3-compatible store (MinIO, Garage, Ceph, AWS) through the `rust-s3` crate.
//!
//! Uploads go up in parts of `part_size` bytes (multipart upload), so an upload holds one
//! part in memory whatever the file's size; a failed or interrupted upload is aborted, so the
//! bucket keeps no invisible half-uploaded parts. Reads are ranged GETs streamed through.

use std::{collections::HashMap, io, time::SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use s3::{
    Bucket, Region,
    command::Command,
    creds::Credentials,
    error::S3Error,
    request::{Request, tokio_backend::ReqwestRequest},
    serde_types::Part,
};

use super::{
    config::MediaConfig,
    storage::{BodyStream, BoxFuture, ByteStream, ObjectMeta, Storage, valid_key},
};

/// A bucket, with an optional key prefix.
pub struct S3Storage {
    bucket: Box<Bucket>,
    prefix: String,
    part_size: usize,
}

fn s3_err(e: S3Error) -> io::Error {
    match e {
        S3Error::HttpFailWithBody(404, _) => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(e),
    }
}

fn status_err(what: &str, status: u16, body: &[u8]) -> io::Error {
    let kind = if status == 404 {
        io::ErrorKind::NotFound
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(
        kind,
        format!(
            "S3 {what}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ),
    )
}

impl S3Storage {
    /// The bucket named in the configuration (it must exist: `aula media check` tells).
    pub fn new(config: &MediaConfig) -> anyhow::Result<S3Storage> {
        let s3 = &config.s3;
        let name = s3
            .bucket
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("falta el bucket S3"))?;
        let region_name = s3.region.clone().unwrap_or_else(|| "us-east-1".into());
        let region = match &s3.endpoint {
            Some(endpoint) => Region::Custom {
                region: region_name,
                endpoint: endpoint.trim_end_matches('/').to_string(),
            },
            None => region_name
                .parse()
                .map_err(|e| anyhow::anyhow!("región S3 inválida: {e}"))?,
        };
        let credentials = match (&s3.access_key, &s3.secret_key) {
            (Some(a), Some(s)) => Credentials::new(Some(a), Some(s), None, None, None)?,
            _ => Credentials::default()?,
        };
        let mut bucket = Bucket::new(name, region, credentials)?;
        if s3.path_style.unwrap_or(s3.endpoint.is_some()) {
            bucket.set_path_style();
        }
        let prefix = s3
            .prefix
            .as_deref()
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        Ok(S3Storage {
            bucket,
            prefix,
            part_size: config.part_size(),
        })
    }

    /// The bucket itself (tests create and inspect it).
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    fn full(&self, key: &str) -> io::Result<String> {
        if valid_key(key) {
            Ok(format!("{}{key}", self.prefix))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("clave de medio inválida: {key:?}"),
            ))
        }
    }

    /// Multipart upload of `first` (a full part) and the rest of `body`; aborted on failure.
    async fn put_multipart(
        &self,
        path: &str,
        first: BytesMut,
        body: &mut BodyStream<'_>,
        content_type: &str,
    ) -> io::Result<u64> {
        let init = self
            .bucket
            .initiate_multipart_upload(path, content_type)
            .await
            .map_err(s3_err)?;
        let upload_id = init.upload_id;
        let result = async {
            let mut parts: Vec<Part> = Vec::new();
            let mut written = 0u64;
            let mut buf = first;
            let mut done = false;
            loop {
                while !done && buf.len() < self.part_size {
                    match body.next().await {
                        Some(chunk) => buf.extend_from_slice(&chunk?),
                        None => done = true,
                    }
                }
                if buf.is_empty() && !parts.is_empty() {
                    break;
                }
                // A part is exactly part_size (the last one may be smaller).
                let take = buf.len().min(self.part_size);
                let part = buf.split_to(take);
                written += part.len() as u64;
                let number = parts.len() as u32 + 1;
                let p = self
                    .bucket
                    .put_multipart_chunk(part.to_vec(), path, number, &upload_id, content_type)
                    .await
                    .map_err(s3_err)?;
                parts.push(p);
                if done && buf.is_empty() {
                    break;
                }
            }
            match self
                .bucket
                .complete_multipart_upload(path, &upload_id, parts)
                .await
            {
                Ok(_) => {}
                // rust-s3 wants AWS's `CompleteMultipartUploadResult` root element; some
                // compatible servers (moto) name it `...Response`. A 200 without an <Error>
                // is a completed upload.
                Err(S3Error::HttpFailWithBody(200, body))
                    if body.contains("<CompleteMultipartUpload") && !body.contains("<Error>") => {}
                Err(e) => return Err(s3_err(e)),
            }
            Ok::<u64, io::Error>(written)
        }
        .await;
        if result.is_err()
            && let Err(e) = self.bucket.abort_upload(path, &upload_id).await
        {
            tracing::warn!(error = %e, path, "no se pudo abortar la subida multiparte");
        }
        result
    }
}

impl Storage for S3Storage {
    fn backend(&self) -> String {
        format!("S3 ({}, bucket {})", self.bucket.url(), self.bucket.name())
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        mut body: BodyStream<'a>,
        content_type: &'a str,
    ) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move {
            let path = self.full(key)?;
            // Small objects go up in one request; as soon as a full part has arrived, the
            // upload turns multipart and streams part by part.
            let mut buf = BytesMut::new();
            while buf.len() < self.part_size {
                match body.next().await {
                    Some(chunk) => buf.extend_from_slice(&chunk?),
                    None => {
                        let resp = self
                            .bucket
                            .put_object_with_content_type(&path, &buf, content_type)
                            .await
                            .map_err(s3_err)?;
                        if !(200..300).contains(&resp.status_code()) {
                            return Err(status_err("PUT", resp.status_code(), resp.as_slice()));
                        }
                        return Ok(buf.len() as u64);
                    }
                }
            }
            self.put_multipart(&path, buf, &mut body, content_type)
                .await
        })
    }

    fn get_range<'a>(
        &'a self,
        key: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<ByteStream>> {
        Box::pin(async move {
            let path = self.full(key)?;
            if len == 0 {
                let empty: ByteStream = Box::pin(futures_util::stream::empty());
                return Ok(empty);
            }
            let command = Command::GetObjectRange {
                start,
                end: Some(start + len - 1),
            };
            let request = ReqwestRequest::new(&self.bucket, &path, command)
                .await
                .map_err(s3_err)?;
            let resp = request.response_data_to_stream().await.map_err(s3_err)?;
            if !(200..300).contains(&resp.status_code) {
                return Err(status_err("GET", resp.status_code, b""));
            }
            let stream: ByteStream = Box::pin(resp.bytes.map_err(s3_err));
            Ok(stream)
        })
    }

    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<ObjectMeta>>> {
        Box::pin(async move {
            let Ok(path) = self.full(key) else {
                return Ok(None);
            };
            let (head, status) = match self.bucket.head_object(&path).await {
                Ok(r) => r,
                Err(S3Error::HttpFailWithBody(404, _)) => return Ok(None),
                Err(e) => return Err(s3_err(e)),
            };
            match status {
                404 => Ok(None),
                200..=299 => Ok(Some(ObjectMeta {
                    len: head.content_length.unwrap_or(0).max(0) as u64,
                    etag: head.e_tag,
                    modified: head
                        .last_modified
                        .as_deref()
                        .and_then(|t| chrono::DateTime::parse_from_rfc2822(t).ok())
                        .map(SystemTime::from),
                })),
                s => Err(status_err("HEAD", s, b"")),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = self.full(key)?;
            match self.bucket.delete_object(&path).await {
                Ok(r) if (200..300).contains(&r.status_code()) || r.status_code() == 404 => Ok(()),
                Ok(r) => Err(status_err("DELETE", r.status_code(), r.as_slice())),
                Err(S3Error::HttpFailWithBody(404, _)) => Ok(()),
                Err(e) => Err(s3_err(e)),
            }
        })
    }

    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let (src, dst) = (self.full(from)?, self.full(to)?);
            let status = self
                .bucket
                .copy_object_internal(&src, &dst)
                .await
                .map_err(s3_err)?;
            if !(200..300).contains(&status) {
                return Err(status_err("COPY", status, b""));
            }
            self.delete(from).await
        })
    }

    fn presign_get<'a>(
        &'a self,
        key: &'a str,
        seconds: u32,
        content_type: &'a str,
        disposition: &'a str,
    ) -> BoxFuture<'a, io::Result<Option<String>>> {
        Box::pin(async move {
            let path = self.full(key)?;
            // The store answers with our type and disposition, not whatever it guesses.
            let queries = HashMap::from([
                (
                    "response-content-type".to_string(),
                    content_type.to_string(),
                ),
                (
                    "response-content-disposition".to_string(),
                    disposition.to_string(),
                ),
            ]);
            let url = self
                .bucket
                .presign_get(&path, seconds, Some(queries))
                .await
                .map_err(s3_err)?;
            Ok(Some(url))
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<Vec<String>>> {
        Box::pin(async move {
            let pages = self
                .bucket
                .list(format!("{}{prefix}", self.prefix), None)
                .await
                .map_err(s3_err)?;
            let mut keys: Vec<String> = pages
                .into_iter()
                .flat_map(|p| p.contents)
                .filter_map(|o| o.key.strip_prefix(&self.prefix).map(str::to_string))
                .collect();
            // Unfinished multipart uploads are invisible objects that still cost storage.
            let uploads = self
                .bucket
                .list_multiparts_uploads(Some(&format!("{}{prefix}", self.prefix)), None)
                .await
                .map_err(s3_err)?;
            keys.extend(
                uploads
                    .into_iter()
                    .flat_map(|p| p.uploads)
                    .map(|u| format!("(subida sin terminar) {}", u.key)),
            );
            keys.sort();
            Ok(keys)
        })
    }
}

/// Reads a whole small object (the probe of `aula media check`).
pub async fn read_all(storage: &dyn Storage, key: &str, len: u64) -> io::Result<Bytes> {
    let mut stream = storage.get_range(key, 0, len).await?;
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.freeze())
}
