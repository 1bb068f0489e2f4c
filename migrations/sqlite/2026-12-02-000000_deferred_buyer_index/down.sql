DROP TABLE orders_buyers_position;
DROP TABLE orders_buyers;
DROP INDEX orders_orders_key;
CREATE TABLE orders_orders_unique (
    id               TEXT PRIMARY KEY,
    room_id          TEXT NOT NULL,
    listing_id       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    total_cents      BIGINT NOT NULL,
    status           TEXT NOT NULL,
    idempotency_key  TEXT,
    expires_at       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
INSERT INTO orders_orders_unique (rowid, id, room_id, listing_id, user_id, quantity, unit_price_cents,
        total_cents, status, idempotency_key, expires_at, created_at, updated_at)
    SELECT rowid, id, room_id, listing_id, user_id, quantity, unit_price_cents, total_cents, status,
        idempotency_key, expires_at, created_at, updated_at
    FROM orders_orders;
DROP TABLE orders_orders;
ALTER TABLE orders_orders_unique RENAME TO orders_orders;
CREATE INDEX orders_orders_listing ON orders_orders (listing_id);
