-- Fewer B-trees on the journal's inserts, which every order pays.

-- A buyer's orders are found through the (user_id, idempotency_key) unique index's prefix.
DROP INDEX orders_orders_user;

-- Outbox rows keep a plain rowid key (no AUTOINCREMENT bookkeeping in sqlite_sequence) and no
-- unique index on the event id: ids are made here, and consumers dedupe by them anyway.
CREATE TABLE outbox_events_lean (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    published_at BIGINT
);
INSERT INTO outbox_events_lean (seq, id, kind, payload, created_at, published_at)
    SELECT seq, id, kind, payload, created_at, published_at FROM outbox_events;
DROP TABLE outbox_events;
ALTER TABLE outbox_events_lean RENAME TO outbox_events;
CREATE INDEX outbox_events_unpublished ON outbox_events (seq) WHERE published_at IS NULL;
