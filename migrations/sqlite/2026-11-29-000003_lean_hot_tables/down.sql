CREATE INDEX orders_orders_user ON orders_orders (user_id, created_at);
CREATE TABLE outbox_events_full (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    published_at BIGINT
);
INSERT INTO outbox_events_full SELECT seq, id, kind, payload, created_at, published_at FROM outbox_events;
DROP TABLE outbox_events;
ALTER TABLE outbox_events_full RENAME TO outbox_events;
CREATE INDEX outbox_events_unpublished ON outbox_events (seq) WHERE published_at IS NULL;
