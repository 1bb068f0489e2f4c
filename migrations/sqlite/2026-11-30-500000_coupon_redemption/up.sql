-- A coupon is spent once: by the room's merchant, or on an order's payment (then with the order).
ALTER TABLE marketing_coupons ADD COLUMN redeemed_at BIGINT;
ALTER TABLE marketing_coupons ADD COLUMN redeemed_order_id TEXT;
-- The merchant's list of a room's coupons, newest first.
CREATE INDEX marketing_coupons_room ON marketing_coupons (room_id, created_at);
