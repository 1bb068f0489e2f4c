-- Every event a row of its own again, numbered in commit order; the cursor moves to the last
-- event of the last row it had passed.
CREATE TABLE outbox_events (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO outbox_events (id, kind, payload, created_at)
    SELECT e.event ->> 'id', CASE e.event -> 'payload' ->> 'type'
               WHEN 'stock_added' THEN 'inventory.stock_added'
               ELSE regexp_replace(e.event -> 'payload' ->> 'type', '_', '.') END, e.event::text, b.created_at
    FROM outbox_batches AS b, json_array_elements(b.events::json) WITH ORDINALITY AS e(event, n)
    ORDER BY b.seq, e.n;
UPDATE outbox_cursor SET published_seq = (
    SELECT COALESCE(SUM(json_array_length(events::json)), 0) FROM outbox_batches
    WHERE seq <= outbox_cursor.published_seq);
DROP TABLE outbox_batches;
