-- Payments of orders through the configured provider. `state`: pending (created, waiting for
-- the provider's webhook), succeeded (the order is paid), failed, refunded (the payment came
-- after the order's units were gone). Its final state commits with the order's status change.
CREATE TABLE payments_payments (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    provider     TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX payments_payments_order ON payments_payments (order_id);
