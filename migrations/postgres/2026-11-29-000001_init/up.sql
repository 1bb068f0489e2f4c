-- Ids are UUID strings and times are Unix milliseconds (BIGINT), identically on both backends, so
-- one diesel schema serves SQLite and PostgreSQL. Each module owns the tables with its prefix.

CREATE TABLE identity_users (
    id            TEXT PRIMARY KEY,
    username      TEXT UNIQUE,
    password_hash TEXT,
    role          TEXT NOT NULL,
    nickname      TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE live_rooms (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL,
    title             TEXT NOT NULL,
    status            TEXT NOT NULL,
    scheduled_at      BIGINT,
    stream_key        TEXT NOT NULL,
    pinned_listing_id TEXT,
    created_at        BIGINT NOT NULL,
    started_at        BIGINT,
    ended_at          BIGINT
);
CREATE INDEX live_rooms_merchant ON live_rooms (merchant_id);

CREATE TABLE catalog_listings (
    id             TEXT PRIMARY KEY,
    room_id        TEXT NOT NULL,
    title          TEXT NOT NULL,
    price_cents    BIGINT NOT NULL,
    -- every unit ever made sellable: initial stock plus restocks
    stock_total    BIGINT NOT NULL,
    per_user_limit INTEGER NOT NULL,
    starts_at      BIGINT,
    ends_at        BIGINT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX catalog_listings_room ON catalog_listings (room_id, created_at);

CREATE TABLE orders_orders (
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
    -- a buyer's key names one order across every listing
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_orders_listing ON orders_orders (listing_id);
CREATE INDEX orders_orders_user ON orders_orders (user_id, created_at);

CREATE TABLE marketing_campaigns (
    room_id          TEXT PRIMARY KEY,
    amount_off_cents BIGINT NOT NULL,
    min_spend_cents  BIGINT NOT NULL,
    valid_for_s      BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE marketing_coupons (
    id               TEXT PRIMARY KEY,
    -- one coupon per order, whatever the event is replayed
    order_id         TEXT NOT NULL UNIQUE,
    user_id          TEXT NOT NULL,
    room_id          TEXT NOT NULL,
    amount_off_cents BIGINT NOT NULL,
    min_spend_cents  BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX marketing_coupons_user ON marketing_coupons (user_id, created_at);

CREATE TABLE marketing_processed_events (
    event_id     TEXT PRIMARY KEY,
    processed_at BIGINT NOT NULL
);

CREATE TABLE outbox_events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX outbox_events_unpublished ON outbox_events (seq) WHERE published_at IS NULL;
