DROP TABLE outbox_events;
DROP TABLE marketing_processed_events;
DROP TABLE marketing_coupons;
DROP TABLE marketing_campaigns;
DROP TABLE orders_orders;
DROP TABLE catalog_listings;
DROP TABLE live_rooms;
DROP TABLE identity_users;
