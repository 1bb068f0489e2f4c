-- One outbox row per transaction that appends events (a journal batch, a room going live or
-- ending): its events as one JSON array, in commit order. A row per event cost the journal's
-- commit a cell, its bound parameters and its share of the log per order; a journal batch of a
-- flash sale holds 20 to 30 orders, so now it writes one row where it wrote as many. The
-- relay's cursor still counts rows: every row with `seq <= published_seq` is published, and an
-- old event keeps its number as a row of one.
CREATE TABLE outbox_batches (
    seq        INTEGER PRIMARY KEY,
    events     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO outbox_batches (seq, events, created_at)
    SELECT seq, '[' || payload || ']', created_at FROM outbox_events;
DROP TABLE outbox_events;
