-- Each listing's journal position: the number of its journal entries ever committed, advanced
-- in the journal's own transaction. A listing snapshot stamped with the same position holds
-- every committed change, so a restarting listing may take it instead of reading its orders.
ALTER TABLE catalog_listings ADD COLUMN journal_position BIGINT NOT NULL DEFAULT 0;

-- Listing snapshots when Redis is not configured. Derived state, written behind; never the
-- source of truth.
CREATE TABLE inventory_listing_snapshots (
    listing_id TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
