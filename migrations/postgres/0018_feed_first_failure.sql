-- A delivery's retries are counted from its first failure, not from when it was queued (an
-- event that waited behind a person's failing earlier one gets its own days of retries).
ALTER TABLE feed_deliveries ADD COLUMN first_failed_at TIMESTAMPTZ;
-- Deliveries already failing keep the clock they had.
UPDATE feed_deliveries SET first_failed_at = created_at
 WHERE last_error IS NOT NULL AND delivered_at IS NULL;
