//! Light renditions of videos, made in the background with ffmpeg when it is installed: a
//! 360p ~300 kbit/s H.264/AAC MP4 (faststart, so it plays while downloading), an audio-only
//! ~48 kbit/s AAC and a poster image, stored next to the original.
//!
//! Jobs are rows (`media_jobs`): a process claims one with a lease it renews while working,
//! so a job survives a restart (its lease runs out and another claim takes it) and two
//! processes never work on the same one at once.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::Command,
};

use super::{
    Media,
    ingest::store_rendition,
    objects::{self, MediaObject, Rendition},
};
use crate::{db::Db, web::time::now, with_db};

/// How long a claim holds without renewal.
const LEASE: Duration = Duration::from_secs(60);
/// Attempts before a job is marked failed.
const MAX_ATTEMPTS: i64 = 3;

/// The programs found on this machine.
#[derive(Clone, Debug)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Tools {
    /// `ffmpeg` and `ffprobe` if both run (`ffmpeg -version`); none disables renditions.
    pub fn detect(ffmpeg: Option<&Path>, ffprobe: Option<&Path>) -> Option<Tools> {
        let ffmpeg = ffmpeg.map_or_else(|| PathBuf::from("ffmpeg"), Path::to_path_buf);
        let ffprobe = ffprobe.map_or_else(|| PathBuf::from("ffprobe"), Path::to_path_buf);
        let runs = |p: &Path| {
            std::process::Command::new(p)
                .arg("-version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        (runs(&ffmpeg) && runs(&ffprobe)).then_some(Tools { ffmpeg, ffprobe })
    }
}

/// State of a video's renditions, as an instructor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running { percent: i64 },
    Done,
    Failed { message: String },
}

impl JobStatus {
    /// In Spanish, for pages.
    pub fn label(&self) -> String {
        match self {
            JobStatus::Queued => "Versiones livianas: en cola".into(),
            JobStatus::Running { percent } => {
                format!("Versiones livianas: procesando, {percent} %")
            }
            JobStatus::Done => "Versiones livianas: listas".into(),
            JobStatus::Failed { message } => format!("Versiones livianas: fallaron ({message})"),
        }
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    source_id: i64,
    status: String,
    progress: i64,
    message: Option<String>,
    attempts: i64,
}

impl JobRow {
    fn status(&self) -> JobStatus {
        match self.status.as_str() {
            "running" => JobStatus::Running {
                percent: self.progress,
            },
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed {
                message: self.message.clone().unwrap_or_default(),
            },
            _ => JobStatus::Queued,
        }
    }
}

/// Queues the renditions of a video (once: a second call changes nothing).
pub async fn enqueue(db: &Db, source_id: i64) -> Result<(), sqlx::Error> {
    let t = now();
    with_db!(db, |p| sqlx::query(
        "INSERT INTO media_jobs (source_id, status, progress, attempts, created_at, updated_at)
         VALUES ($1, 'queued', 0, 0, $2, $2) ON CONFLICT (source_id) DO NOTHING"
    )
    .bind(source_id)
    .bind(t)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The renditions' state of each of these videos (those that have a job).
pub async fn statuses(db: &Db, source_ids: &[i64]) -> Result<Vec<(i64, JobStatus)>, sqlx::Error> {
    if source_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = source_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // Ids are integers formatted here, never text from a request.
    let sql = format!(
        "SELECT id, source_id, status, progress, message, attempts FROM media_jobs
         WHERE source_id IN ({list})"
    );
    let rows: Vec<JobRow> = with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(p)
        .await)?;
    Ok(rows.iter().map(|r| (r.source_id, r.status())).collect())
}

/// Claims the oldest job that is queued or whose lease ran out, in one statement.
async fn claim(db: &Db, owner: &str) -> Result<Option<JobRow>, sqlx::Error> {
    let t = now();
    let until: DateTime<Utc> = t + chrono::Duration::from_std(LEASE).unwrap_or_default();
    // The condition is repeated in the outer WHERE so that, of two processes racing for the
    // same row, the second finds it no longer claimable (PostgreSQL re-checks it on update).
    with_db!(db, |p| sqlx::query_as(
        "UPDATE media_jobs SET status = 'running', lease_owner = $1, lease_until = $2,
                attempts = attempts + 1, updated_at = $3
         WHERE id = (SELECT id FROM media_jobs
                     WHERE status = 'queued' OR (status = 'running' AND lease_until < $3)
                     ORDER BY id LIMIT 1)
           AND (status = 'queued' OR (status = 'running' AND lease_until < $3))
         RETURNING id, source_id, status, progress, message, attempts"
    )
    .bind(owner)
    .bind(until)
    .bind(t)
    .fetch_optional(p)
    .await)
}

/// Renews the lease; false when another process took the job over.
async fn renew(db: &Db, job: i64, owner: &str) -> Result<bool, sqlx::Error> {
    let t = now();
    let until: DateTime<Utc> = t + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let done = with_db!(db, |p| sqlx::query(
        "UPDATE media_jobs SET lease_until = $1, updated_at = $2
         WHERE id = $3 AND lease_owner = $4 AND status = 'running'"
    )
    .bind(until)
    .bind(t)
    .bind(job)
    .bind(owner)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Renews the lease and records progress; false when another process took the job over.
async fn heartbeat(db: &Db, job: i64, owner: &str, percent: i64) -> Result<bool, sqlx::Error> {
    let t = now();
    let until: DateTime<Utc> = t + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let done = with_db!(db, |p| sqlx::query(
        "UPDATE media_jobs SET progress = $1, lease_until = $2, updated_at = $3
         WHERE id = $4 AND lease_owner = $5 AND status = 'running'"
    )
    .bind(percent.clamp(0, 99))
    .bind(until)
    .bind(t)
    .bind(job)
    .bind(owner)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

async fn finish(
    db: &Db,
    job: &JobRow,
    owner: &str,
    outcome: Result<(), String>,
) -> Result<(), sqlx::Error> {
    let (status, progress, message) = match outcome {
        Ok(()) => ("done", 100, None),
        Err(m) if job.attempts >= MAX_ATTEMPTS => ("failed", job.progress, Some(m)),
        Err(m) => ("queued", 0, Some(m)),
    };
    with_db!(db, |p| sqlx::query(
        "UPDATE media_jobs SET status = $1, progress = $2, message = $3, lease_owner = NULL,
                lease_until = NULL, updated_at = $4
         WHERE id = $5 AND lease_owner = $6"
    )
    .bind(status)
    .bind(progress)
    .bind(message)
    .bind(now())
    .bind(job.id)
    .bind(owner)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The background worker: claims and processes jobs until the process stops.
pub async fn run(db: Db, media: Media) {
    let Some(tools) = media.tools.clone() else {
        return;
    };
    let owner = format!(
        "{}-{}",
        std::process::id(),
        &crate::web::cookies::random_token()[..8]
    );
    loop {
        match claim(&db, &owner).await {
            Ok(Some(job)) => {
                // The lease is renewed all along (downloading a long video from the store
                // takes time too), and work stops if another process took the job over.
                let keep = async {
                    loop {
                        tokio::time::sleep(LEASE / 3).await;
                        match renew(&db, job.id, &owner).await {
                            Ok(false) => return "otro proceso tomó el trabajo".to_string(),
                            Ok(true) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "versiones livianas: no se pudo renovar")
                            }
                        }
                    }
                };
                let outcome = tokio::select! {
                    r = process(&db, &media, &tools, &job, &owner) => r,
                    lost = keep => Err(lost),
                }
                .map_err(|e| {
                    tracing::warn!(job = job.id, error = %e, "versiones livianas: falló");
                    e
                });
                if let Err(e) = finish(&db, &job, &owner, outcome).await {
                    tracing::warn!(error = %e, "versiones livianas: no se pudo registrar el final");
                }
            }
            Ok(None) => tokio::time::sleep(Duration::from_secs(2)).await,
            Err(e) => {
                tracing::warn!(error = %e, "versiones livianas: no se pudo buscar trabajo");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// What ffprobe says of a file.
#[derive(Debug, Default)]
pub struct Probe {
    pub duration_ms: Option<i64>,
    pub has_audio: bool,
    pub has_video: bool,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub video_bit_rate: Option<i64>,
    pub format_bit_rate: Option<i64>,
}

/// Runs ffprobe on a file.
pub async fn probe(ffprobe: &Path, file: &Path) -> Result<Probe, String> {
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration,bit_rate:stream=codec_type,width,height,bit_rate",
            "-of",
            "json",
        ])
        .arg(file)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("no se pudo ejecutar ffprobe: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffprobe no reconoce el archivo: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe: {e}"))?;
    let num = |v: &serde_json::Value| -> Option<f64> {
        v.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| v.as_f64())
    };
    let mut p = Probe {
        duration_ms: num(&v["format"]["duration"]).map(|d| (d * 1000.0) as i64),
        format_bit_rate: num(&v["format"]["bit_rate"]).map(|b| b as i64),
        ..Probe::default()
    };
    for s in v["streams"].as_array().into_iter().flatten() {
        match s["codec_type"].as_str() {
            Some("audio") => p.has_audio = true,
            Some("video") if !p.has_video => {
                p.has_video = true;
                p.width = s["width"].as_i64();
                p.height = s["height"].as_i64();
                p.video_bit_rate = num(&s["bit_rate"]).map(|b| b as i64);
            }
            _ => {}
        }
    }
    Ok(p)
}

/// Removes the job's work folder however processing ends.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn process(
    db: &Db,
    media: &Media,
    tools: &Tools,
    job: &JobRow,
    owner: &str,
) -> Result<(), String> {
    let source = objects::by_id(db, job.source_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("el video ya no existe")?;
    let dir = WorkDir(media.work_dir.join(format!(
        "rendicion-{}-{}",
        job.id,
        &crate::web::cookies::random_token()[..8].replace(['-', '_'], "x")
    )));
    tokio::fs::create_dir_all(&dir.0)
        .await
        .map_err(|e| format!("carpeta de trabajo: {e}"))?;
    let input = dir.0.join("original");
    download(media, &source, &input)
        .await
        .map_err(|e| format!("no se pudo leer el original: {e}"))?;
    let info = probe(&tools.ffprobe, &input).await?;
    if !info.has_video {
        return Err("el archivo no tiene video".into());
    }
    if let Some(ms) = info.duration_ms {
        objects::set_duration(db, source.id, ms)
            .await
            .map_err(|e| e.to_string())?;
    }
    let poster = dir.0.join("poster.jpg");
    let light = dir.0.join("light.mp4");
    let audio = dir.0.join("audio.m4a");
    make_poster(tools, &input, &poster, info.duration_ms).await?;
    encode(
        db,
        tools,
        job,
        owner,
        &input,
        &light,
        info.has_audio.then_some(&*audio),
        info.duration_ms,
    )
    .await?;
    let store = |r: Rendition, path: PathBuf, mime: &'static str| {
        let source = source.clone();
        async move {
            store_rendition(db, media, &source, r, &path, mime)
                .await
                .map_err(|e| format!("no se pudo guardar la versión {}: {e}", r.as_str()))
        }
    };
    store(Rendition::Poster, poster, "image/jpeg").await?;
    store(Rendition::Light, light, "video/mp4").await?;
    if info.has_audio {
        store(Rendition::Audio, audio, "audio/mp4").await?;
    }
    Ok(())
}

async fn download(media: &Media, source: &MediaObject, to: &Path) -> std::io::Result<()> {
    let mut stream = media
        .storage
        .get_range(&source.key, 0, source.size as u64)
        .await?;
    let mut file = tokio::fs::File::create(to).await?;
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk?).await?;
    }
    file.flush().await
}

/// Even height up to 360 lines, width keeping the aspect (even too: H.264 4:2:0 needs it).
const SCALE_360: &str = "scale=-2:'min(360,trunc(ih/2)*2)'";

async fn make_poster(
    tools: &Tools,
    input: &Path,
    out: &Path,
    duration_ms: Option<i64>,
) -> Result<(), String> {
    // A frame a second in (the first is often black), or the middle of a shorter clip.
    let at = duration_ms.map_or(0.0, |d| (d as f64 / 2000.0).min(1.0));
    let status = Command::new(&tools.ffmpeg)
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-ss", &format!("{at:.2}")])
        .arg("-i")
        .arg(input)
        .args(["-frames:v", "1", "-vf", SCALE_360, "-q:v", "5"])
        .arg(out)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("no se pudo ejecutar ffmpeg: {e}"))?;
    if !status.status.success() {
        return Err(format!(
            "ffmpeg (póster): {}",
            String::from_utf8_lossy(&status.stderr).trim()
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn encode(
    db: &Db,
    tools: &Tools,
    job: &JobRow,
    owner: &str,
    input: &Path,
    light: &Path,
    audio: Option<&Path>,
    duration_ms: Option<i64>,
) -> Result<(), String> {
    let mut cmd = Command::new(&tools.ffmpeg);
    cmd.args([
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-progress",
        "pipe:1",
        "-nostats",
    ])
    .arg("-i")
    .arg(input)
    .args(["-map", "0:v:0", "-map", "0:a:0?", "-vf", SCALE_360])
    .args([
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "main",
    ])
    // Quality-targeted but capped: a simple picture (slides, a talking head) costs far less
    // than 300 kbit/s, a busy one never more.
    .args([
        "-pix_fmt", "yuv420p", "-crf", "28", "-maxrate", "300k", "-bufsize", "600k",
    ])
    .args([
        "-c:a",
        "aac",
        "-b:a",
        "48k",
        "-ac",
        "1",
        "-movflags",
        "+faststart",
    ])
    .arg(light);
    if let Some(audio) = audio {
        cmd.args([
            "-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", "48k", "-ac", "1",
        ])
        .args(["-movflags", "+faststart"])
        .arg(audio);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("no se pudo ejecutar ffmpeg: {e}"))?;
    let stdout = child.stdout.take().ok_or("ffmpeg sin salida")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut last_beat = std::time::Instant::now();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(us) = line
            .strip_prefix("out_time_us=")
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            continue;
        };
        if last_beat.elapsed() < Duration::from_secs(1) {
            continue;
        }
        last_beat = std::time::Instant::now();
        let percent = duration_ms.filter(|d| *d > 0).map_or(0, |d| us / 10 / d);
        match heartbeat(db, job.id, owner, percent).await {
            Ok(true) => {}
            // Another process holds the job now: stop (kill_on_drop ends ffmpeg).
            Ok(false) => return Err("otro proceso tomó el trabajo".into()),
            Err(e) => tracing::warn!(error = %e, "versiones livianas: no se pudo renovar"),
        }
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("ffmpeg: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffmpeg: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}
