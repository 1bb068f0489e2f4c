DROP TABLE live_room_snapshots;
