ALTER TABLE outbox_events ADD COLUMN published_at BIGINT;
UPDATE outbox_events SET published_at = created_at
    WHERE seq <= (SELECT published_seq FROM outbox_cursor);
CREATE INDEX outbox_events_unpublished ON outbox_events (seq) WHERE published_at IS NULL;
DROP TABLE outbox_cursor;
