//! The `media_objects` table: every object in the store that Aula serves has a row (key,
//! SHA-256, size, type, sanitised original name, owner, visibility). A key without a row is
//! never served, so a temporary upload or a half-finished one cannot be reached.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{db::Db, web::time::now, with_db};

/// Who may read an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone with the address (course media).
    Public,
    /// Only those the owning module allows (class materials, essay attachments); others get 404.
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

impl TryFrom<String> for Visibility {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            other => Err(format!("visibilidad desconocida: {other}")),
        }
    }
}

/// The light renditions made of a video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendition {
    /// 360p, ~300 kbit/s, H.264/AAC, faststart.
    Light,
    /// Audio only, ~48 kbit/s AAC.
    Audio,
    /// A still image shown before play.
    Poster,
}

impl Rendition {
    pub fn as_str(self) -> &'static str {
        match self {
            Rendition::Light => "light",
            Rendition::Audio => "audio",
            Rendition::Poster => "poster",
        }
    }
}

impl TryFrom<String> for Rendition {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "light" => Ok(Rendition::Light),
            "audio" => Ok(Rendition::Audio),
            "poster" => Ok(Rendition::Poster),
            other => Err(format!("versión desconocida: {other}")),
        }
    }
}

/// A row of `media_objects`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MediaObject {
    pub id: i64,
    pub key: String,
    pub sha256: String,
    pub size: i64,
    pub mime: String,
    pub original_name: String,
    pub owner_user_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    pub created_at: DateTime<Utc>,
    pub duration_ms: Option<i64>,
    pub source_id: Option<i64>,
    #[sqlx(try_from = "Option<String>")]
    pub rendition: OptRendition,
}

/// `Option<Rendition>` read from a nullable text column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptRendition(pub Option<Rendition>);

impl TryFrom<Option<String>> for OptRendition {
    type Error = String;
    fn try_from(s: Option<String>) -> Result<Self, String> {
        s.map(Rendition::try_from).transpose().map(OptRendition)
    }
}

const COLUMNS: &str = "id, key, sha256, size, mime, original_name, owner_user_id, visibility, \
                       created_at, duration_ms, source_id, rendition";

impl MediaObject {
    /// The address the object is served at.
    pub fn url(&self) -> String {
        format!("/media/{}", self.key)
    }
}

/// Lowercase hex of a SHA-256 digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running SHA-256 and byte count.
#[derive(Default)]
pub struct Hashing {
    hasher: Sha256,
    pub len: u64,
}

impl Hashing {
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }
    pub fn finish(self) -> String {
        hex(&self.hasher.finalize())
    }
}

/// The content address of bytes with this hash: `o/ab/abcdef….ext`.
pub fn content_key(sha256: &str, ext: &str) -> String {
    format!("o/{}/{sha256}.{ext}", &sha256[..2])
}

/// The address of a rendition of the source with this hash. The `v1` names the encoding
/// settings: new settings get new addresses, so cached copies never go stale either.
pub fn rendition_key(source_sha256: &str, rendition: Rendition) -> String {
    let file = match rendition {
        Rendition::Light => "light-v1.mp4",
        Rendition::Audio => "audio-v1.m4a",
        Rendition::Poster => "poster-v1.jpg",
    };
    format!("r/{}/{source_sha256}/{file}", &source_sha256[..2])
}

/// A fresh temporary key: uploads land here until they are checked and committed.
pub fn temp_key() -> String {
    format!(
        "tmp/{}",
        crate::web::cookies::random_token().replace(['-', '_'], "x")
    )
}

/// What to record about new bytes.
pub struct NewObject<'a> {
    pub key: &'a str,
    pub sha256: &'a str,
    pub size: i64,
    pub mime: &'a str,
    pub original_name: &'a str,
    pub owner_user_id: Option<i64>,
    pub visibility: Visibility,
    pub source: Option<(i64, Rendition)>,
}

/// Records an object; the same key twice keeps the first row (same bytes: same object), except
/// that publishing bytes publicly makes them public (they are no secret any more).
pub async fn insert(db: &Db, o: &NewObject<'_>) -> Result<MediaObject, sqlx::Error> {
    let sql = format!(
        "INSERT INTO media_objects (key, sha256, size, mime, original_name, owner_user_id, visibility,
                                    created_at, source_id, rendition)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (key) DO UPDATE SET visibility = CASE WHEN excluded.visibility = 'public'
             THEN 'public' ELSE media_objects.visibility END
         RETURNING {COLUMNS}"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(o.key)
        .bind(o.sha256)
        .bind(o.size)
        .bind(o.mime)
        .bind(o.original_name)
        .bind(o.owner_user_id)
        .bind(o.visibility.as_str())
        .bind(now())
        .bind(o.source.map(|s| s.0))
        .bind(o.source.map(|s| s.1.as_str()))
        .fetch_one(p)
        .await)
}

/// Makes an object (and its renditions) public.
pub async fn make_public(db: &Db, id: i64) -> Result<MediaObject, sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE media_objects SET visibility = 'public' WHERE id = $1 OR source_id = $1"
    )
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    by_id(db, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The object stored under `key`.
pub async fn by_key(db: &Db, key: &str) -> Result<Option<MediaObject>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM media_objects WHERE key = $1");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(p)
        .await)
}

/// The object with this id.
pub async fn by_id(db: &Db, id: i64) -> Result<Option<MediaObject>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM media_objects WHERE id = $1");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// A source object and its renditions, in one round trip (the lesson page).
pub async fn with_renditions(
    db: &Db,
    key: &str,
) -> Result<Option<(MediaObject, Vec<MediaObject>)>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM media_objects
         WHERE key = $1 OR source_id = (SELECT id FROM media_objects WHERE key = $1)
         ORDER BY id"
    );
    let rows: Vec<MediaObject> = with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_all(p)
        .await)?;
    let (sources, renditions): (Vec<_>, Vec<_>) = rows.into_iter().partition(|o| o.key == key);
    Ok(sources.into_iter().next().map(|s| (s, renditions)))
}

/// Records the measured length of a video or audio.
pub async fn set_duration(db: &Db, id: i64, duration_ms: i64) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE media_objects SET duration_ms = $1 WHERE id = $2"
    )
    .bind(duration_ms)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The most recent objects (the admin's media page), sources only.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<MediaObject>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM media_objects WHERE source_id IS NULL ORDER BY id DESC LIMIT $1"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(p)
        .await)
}
