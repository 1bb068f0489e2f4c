-- A buyer's orders without an idempotency key are found through `orders_buyers`, which the
-- journal fills behind its commits in large sweeps (`repos::buyer_index`), not through a
-- unique index that every order wrote in its own commit. That index was 71 % of the pages each
-- journal commit wrote in a flash sale (one random leaf per order: buyers come in any order),
-- see docs/BENCHMARKS.md. Only orders with a key still enter a unique index as they commit,
-- which is what makes a resent key name one order.
CREATE TABLE orders_orders_keyed (
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
    updated_at       BIGINT NOT NULL
);
-- Rowids kept: the order they give is the order orders were committed in.
INSERT INTO orders_orders_keyed (rowid, id, room_id, listing_id, user_id, quantity, unit_price_cents,
        total_cents, status, idempotency_key, expires_at, created_at, updated_at)
    SELECT rowid, id, room_id, listing_id, user_id, quantity, unit_price_cents, total_cents, status,
        idempotency_key, expires_at, created_at, updated_at
    FROM orders_orders;
DROP TABLE orders_orders;
ALTER TABLE orders_orders_keyed RENAME TO orders_orders;
CREATE INDEX orders_orders_listing ON orders_orders (listing_id);
-- A buyer's key names one order across every listing.
CREATE UNIQUE INDEX orders_orders_key ON orders_orders (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE orders_buyers (
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    order_id   TEXT NOT NULL,
    PRIMARY KEY (user_id, created_at, order_id)
) WITHOUT ROWID;
-- Every keyless order with `rowid <= indexed_rowid` is in `orders_buyers`, and some after it
-- (a sweep under way). Orders are never deleted and one transaction writes at a time, so a rowid
-- at or below the position is never handed out again.
CREATE TABLE orders_buyers_position (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_rowid BIGINT NOT NULL
);
INSERT INTO orders_buyers (user_id, created_at, order_id)
    SELECT user_id, created_at, id FROM orders_orders WHERE idempotency_key IS NULL;
INSERT INTO orders_buyers_position (id, indexed_rowid)
    SELECT 1, COALESCE(MAX(rowid), 0) FROM orders_orders;
