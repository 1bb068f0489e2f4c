-- Room ownership across processes: one lease per room. Every acquisition bumps `epoch`, the
-- fencing token that journal batches carry; a batch whose epoch is not the room's is refused.
-- `owner_pid` and `owner_started` name the owner's lease session, so a node that died (its
-- session is gone) can be replaced at once rather than after its lease runs out.
CREATE TABLE live_room_leases (
    room_id       TEXT PRIMARY KEY REFERENCES live_rooms (id),
    owner         TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    owner_pid     INTEGER,
    owner_started BIGINT
);

-- Each journal writer's last batch, written inside that batch's transaction: after a commit
-- whose outcome is unknown (the connection broke after COMMIT was sent) this row says whether
-- the batch landed, and which of its entries it refused.
CREATE TABLE orders_journal_writers (
    writer     TEXT PRIMARY KEY,
    last_batch BIGINT NOT NULL,
    refused    TEXT NOT NULL DEFAULT ''
);
