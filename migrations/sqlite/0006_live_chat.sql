-- The chat of each live session, kept: a room started again (another process, a restart)
-- shows the recent lines to who joins, and the class keeps its record.
CREATE TABLE live_chat (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES live_sessions(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    name TEXT NOT NULL,
    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 500),
    sent_at TEXT NOT NULL
);
CREATE INDEX live_chat_session_idx ON live_chat (session_id, sent_at);
