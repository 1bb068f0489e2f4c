ALTER TABLE marketing_coupons DROP COLUMN revoked_at;
