CREATE INDEX orders_orders_user ON orders_orders (user_id, created_at);
ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_id_key UNIQUE (id);
