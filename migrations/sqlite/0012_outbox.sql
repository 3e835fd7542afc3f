-- The outbox: every change that SIPE must know is written here in the same transaction as
-- the change itself. Delivery (webhooks, the pull API) reads it; rows are never updated.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL CONSTRAINT outbox_event_id_key UNIQUE,
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 60),
    person_id INTEGER REFERENCES persons(id),
    dni TEXT,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_person_idx ON outbox(person_id, id);
CREATE INDEX outbox_kind_idx ON outbox(kind, id);
