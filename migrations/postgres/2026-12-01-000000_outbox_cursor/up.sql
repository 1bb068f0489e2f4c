-- The outbox relay keeps one position instead of marking every event it published: every event
-- with `seq <= published_seq` has been published. Marking rewrote each event's page a second
-- time, and the relay's marks, a transaction of their own after every journal batch, made the
-- journal's connection drop its page cache and read its pages again.
CREATE TABLE outbox_cursor (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    published_seq BIGINT NOT NULL
);
-- From the oldest event not yet published; events after it that were already published go out
-- again, which at-least-once delivery allows (handlers dedupe by event id).
INSERT INTO outbox_cursor (id, published_seq) VALUES (1, COALESCE(
    (SELECT MIN(seq) - 1 FROM outbox_events WHERE published_at IS NULL),
    (SELECT MAX(seq) FROM outbox_events),
    0));
DROP INDEX outbox_events_unpublished;
ALTER TABLE outbox_events DROP COLUMN published_at;
-- A sequence number is taken when the row is inserted, not when it commits, so two transactions
-- could commit their events out of seq order and a position would skip the later-committing
-- lower one. Every transaction that appends events takes the outbox's advisory lock first and
-- holds it until it commits (`repos::outbox::append`): seq order is commit order.
