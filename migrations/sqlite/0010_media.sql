-- Media objects in the store (local folder or S3 bucket). Course media and uploads are
-- content-addressed: the key derives from the SHA-256, so one set of bytes is stored once and
-- a changed file gets a new key (cached copies never go stale). A rendition (light video,
-- audio only, poster) is an object of its own that names its source.
CREATE TABLE media_objects (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL CONSTRAINT media_objects_key_key UNIQUE,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    size INTEGER NOT NULL CHECK (size >= 0),
    mime TEXT NOT NULL,
    original_name TEXT NOT NULL,
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    created_at TEXT NOT NULL,
    -- Length of a video or audio, when ffprobe measured it.
    duration_ms INTEGER,
    source_id INTEGER REFERENCES media_objects(id) ON DELETE CASCADE,
    rendition TEXT CHECK (rendition IN ('light', 'audio', 'poster')),
    CHECK ((source_id IS NULL) = (rendition IS NULL)),
    CONSTRAINT media_objects_rendition_key UNIQUE (source_id, rendition)
);
CREATE INDEX media_objects_sha256 ON media_objects (sha256);

-- Background work on a video (its renditions). A process claims a job with a lease it renews
-- while ffmpeg runs; a job whose lease ran out (its process died) is claimed again.
CREATE TABLE media_jobs (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL CONSTRAINT media_jobs_source_key UNIQUE
        REFERENCES media_objects(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX media_jobs_pending ON media_jobs (status, lease_until);
