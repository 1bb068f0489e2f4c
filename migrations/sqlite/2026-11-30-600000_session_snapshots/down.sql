DROP TABLE live_session_snapshots;
