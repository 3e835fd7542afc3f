-- Live presence survives a crashed process: each open connection refreshes `seen_at`, and a
-- sweep closes intervals not refreshed for a while at their last sign of life (otherwise an
-- interval left open by a dead process would count until the session ended).
ALTER TABLE live_presence ADD COLUMN seen_at TIMESTAMPTZ;
CREATE INDEX live_presence_open_idx ON live_presence (left_at) WHERE left_at IS NULL;
