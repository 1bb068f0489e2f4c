-- Room snapshots (chat ring, epoch, likes) when Redis is not configured: the next incarnation of
-- a room resumes from its row. Derived state, written behind; never the source of truth.
CREATE TABLE live_room_snapshots (
    room_id    TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
