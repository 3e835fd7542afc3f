-- Live classes: scheduled sessions of a class, presence intervals (from the signalling
-- server), and the instructor's attendance corrections (kept as history, with a reason).

CREATE TABLE live_sessions (
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    starts_at TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 5 AND 600),
    status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'open', 'ended')),
    opened_at TEXT,
    ended_at TEXT,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX live_sessions_class_idx ON live_sessions(class_id, starts_at);

CREATE TABLE live_presence (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES live_sessions(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    joined_at TEXT NOT NULL,
    left_at TEXT
);
CREATE INDEX live_presence_session_idx ON live_presence(session_id, person_id);

CREATE TABLE live_attendance_corrections (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES live_sessions(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    minutes INTEGER NOT NULL CHECK (minutes >= 0),
    reason TEXT NOT NULL CHECK (length(reason) BETWEEN 3 AND 500),
    corrected_by INTEGER NOT NULL REFERENCES users(id),
    corrected_at TEXT NOT NULL
);
CREATE INDEX live_attendance_corrections_idx ON live_attendance_corrections(session_id, person_id, id);
