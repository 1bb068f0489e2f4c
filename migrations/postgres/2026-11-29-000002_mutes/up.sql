-- Users a merchant muted in a room's chat; the RoomActor loads them when it starts.
CREATE TABLE live_mutes (
    room_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
