//! Where media live: the `[media]` table of `aula.toml` and the `AULA_S3_*` variables.
//!
//! Without any of them, media go to a folder inside the data folder (zero configuration);
//! with a bucket, to any S3-compatible store (MinIO, Garage, Ceph, AWS).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::web::config_de::{opt_bool, opt_text};

/// The `[media]` table; every key also has an environment variable.
#[derive(Clone, Debug, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Local store folder (`AULA_MEDIA_STORE_DIR`); default `<data_dir>/media`.
    pub store_dir: Option<PathBuf>,
    /// S3 settings; a bucket selects the S3 backend.
    pub s3: S3Config,
    /// Answer downloads with a 302 to a presigned URL valid this many seconds
    /// (`AULA_S3_PRESIGN_SECONDS`; S3 only). 0 or unset: Aula proxies the bytes.
    pub presign_seconds: u32,
    /// Size of each part of a multipart upload to S3, in MiB (at least 5, S3's minimum).
    pub part_size_mb: Option<usize>,
    /// Largest upload of each kind, in MiB (`video_mb`, `audio_mb`, `image_mb`, `document_mb`).
    pub limits: LimitsConfig,
    /// Make light renditions with ffmpeg when it is installed (`AULA_MEDIA_RENDITIONS=0` turns
    /// it off).
    #[serde(deserialize_with = "opt_bool")]
    pub renditions: Option<bool>,
    /// The ffmpeg and ffprobe programs (`AULA_FFMPEG`, `AULA_FFPROBE`).
    pub ffmpeg: Option<PathBuf>,
    pub ffprobe: Option<PathBuf>,
}

/// The S3-compatible store (`AULA_S3_BUCKET`, `AULA_S3_ENDPOINT`, `AULA_S3_REGION`,
/// `AULA_S3_PATH_STYLE`, `AULA_S3_ACCESS_KEY`, `AULA_S3_SECRET_KEY`, `AULA_S3_PREFIX`).
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    #[serde(deserialize_with = "opt_text")]
    pub bucket: Option<String>,
    /// e.g. `https://minio.interno:9000`; none means AWS for the region.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (MinIO, Garage).
    #[serde(deserialize_with = "opt_bool")]
    pub path_style: Option<bool>,
    #[serde(deserialize_with = "opt_text")]
    pub access_key: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub secret_key: Option<String>,
    /// Keys start with this (several installations in one bucket).
    pub prefix: Option<String>,
}

impl std::fmt::Debug for S3Config {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Upload size limits per kind, in MiB.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub video_mb: u64,
    pub audio_mb: u64,
    pub image_mb: u64,
    pub document_mb: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            video_mb: 500,
            audio_mb: 100,
            image_mb: 10,
            document_mb: 25,
        }
    }
}

/// Default part size: S3's minimum, so an upload holds at most 5 MiB in memory.
pub const DEFAULT_PART_SIZE: usize = 5 * 1024 * 1024;

impl MediaConfig {
    /// Checks the settings that depend on each other.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.part_size_mb.is_some_and(|p| p < 5) {
            anyhow::bail!("[media] part_size_mb debe ser al menos 5 (el mínimo de S3)");
        }
        if self.presign_seconds > 7 * 24 * 3600 {
            anyhow::bail!("[media] presign_seconds no puede superar una semana");
        }
        if self.presign_seconds > 0 && self.s3.bucket.is_none() {
            anyhow::bail!("[media] presign_seconds solo sirve con un bucket S3 (AULA_S3_BUCKET)");
        }
        if let Some(b) = &self.s3.bucket {
            if b.is_empty() {
                anyhow::bail!("AULA_S3_BUCKET vacío");
            }
            if self.s3.access_key.is_some() != self.s3.secret_key.is_some() {
                anyhow::bail!("indicá AULA_S3_ACCESS_KEY y AULA_S3_SECRET_KEY juntas");
            }
        }
        Ok(())
    }

    /// Part size of multipart uploads, in bytes.
    pub fn part_size(&self) -> usize {
        self.part_size_mb
            .map(|m| m * 1024 * 1024)
            .unwrap_or(DEFAULT_PART_SIZE)
    }
}
