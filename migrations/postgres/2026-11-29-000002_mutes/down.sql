DROP TABLE live_mutes;
