-- A coupon earned by an order that was later cancelled is revoked, not deleted: the buyer's list
-- says so, and a replayed order.created (deduped by event id) cannot issue it again.
ALTER TABLE marketing_coupons ADD COLUMN revoked_at BIGINT;
