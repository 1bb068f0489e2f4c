-- Every event a row of its own again, numbered in commit order; the cursor moves to the last
-- event of the last row it had passed.
CREATE TABLE outbox_events (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO outbox_events (id, kind, payload, created_at)
    SELECT json_extract(e.value, '$.id'), CASE json_extract(e.value, '$.payload.type')
               WHEN 'stock_added' THEN 'inventory.stock_added'
               ELSE replace(json_extract(e.value, '$.payload.type'), '_', '.') END,
           e.value, b.created_at
    FROM outbox_batches AS b, json_each(b.events) AS e
    ORDER BY b.seq, e.key;
UPDATE outbox_cursor SET published_seq = (
    SELECT COALESCE(SUM(json_array_length(events)), 0) FROM outbox_batches
    WHERE seq <= outbox_cursor.published_seq);
DROP TABLE outbox_batches;
