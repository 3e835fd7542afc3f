-- Which process (node) hosts each live session's room. Every participant of a session must
-- reach the same in-memory room: the node that gets a connection for a room hosted elsewhere
-- relays the signalling there (media goes straight to the host). The host refreshes `seen_at`
-- while the room lives; a row not refreshed for a while belongs to a node that is gone, and
-- the next connection takes the room over.
CREATE TABLE live_rooms (
    session_id BIGINT PRIMARY KEY REFERENCES live_sessions(id),
    node_url TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX live_rooms_node_idx ON live_rooms (node_url);
