DROP TABLE orders_journal_writers;
DROP TABLE live_room_leases;
