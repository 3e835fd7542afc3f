-- Delivery of the outbox to SIPE's webhook endpoints, and the "did not complete" marker.

-- Set once, by the sweep that records `curso.no_completado` in the same transaction: the
-- marker is what makes that event happen exactly once per enrolment.
ALTER TABLE enrolments ADD COLUMN not_completed_at TEXT;
CREATE INDEX enrolments_not_completed_idx ON enrolments(status, not_completed_at, class_id);

-- One row per (event, endpoint): its delivery state. A row is claimed by one process at a time
-- (lease_owner/lease_until, set by one conditional UPDATE); a process that dies mid-delivery
-- leaves a lease that expires, and the event is sent again with the same webhook-id.
CREATE TABLE feed_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL REFERENCES outbox(id),
    endpoint TEXT NOT NULL CHECK (length(endpoint) BETWEEN 1 AND 60),
    person_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    last_error TEXT,
    last_attempt_at TEXT,
    delivered_at TEXT,
    dead_at TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT feed_deliveries_event_endpoint_key UNIQUE (endpoint, outbox_id),
    CONSTRAINT feed_deliveries_final_check CHECK (delivered_at IS NULL OR dead_at IS NULL)
);
-- The pending ones, in event order (claims and the per-person order look here).
CREATE INDEX feed_deliveries_pending_idx ON feed_deliveries(endpoint, outbox_id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX feed_deliveries_person_idx ON feed_deliveries(endpoint, person_id, outbox_id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX feed_deliveries_dead_idx ON feed_deliveries(dead_at) WHERE dead_at IS NOT NULL;
