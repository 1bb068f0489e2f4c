DROP TABLE inventory_listing_snapshots;
ALTER TABLE catalog_listings DROP COLUMN journal_position;
