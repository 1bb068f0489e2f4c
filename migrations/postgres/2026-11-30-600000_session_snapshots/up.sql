-- A viewer's session snapshot per room (chat position, unanswered buys) when Redis is not
-- configured: the viewer's next connection to the room resumes from it. Derived state, written
-- behind and pruned an hour after its last write; never the source of truth.
CREATE TABLE live_session_snapshots (
    room_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX live_session_snapshots_updated_at ON live_session_snapshots (updated_at);
