-- People an instructor removed from a live session: they may not come back to it, even to a
-- room started again (after a restart, or on another process).
CREATE TABLE live_removals (
    session_id INTEGER NOT NULL REFERENCES live_sessions(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    removed_by INTEGER NOT NULL REFERENCES persons(id),
    removed_at TEXT NOT NULL,
    PRIMARY KEY (session_id, person_id)
);

-- Whether the instructor allows learners' cameras and microphones, kept for the same reason.
ALTER TABLE live_sessions ADD COLUMN cams_allowed BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE live_sessions ADD COLUMN mics_allowed BOOLEAN NOT NULL DEFAULT TRUE;
