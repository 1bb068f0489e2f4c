DROP INDEX marketing_coupons_room;
ALTER TABLE marketing_coupons DROP COLUMN redeemed_order_id;
ALTER TABLE marketing_coupons DROP COLUMN redeemed_at;
