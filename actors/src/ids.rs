//! Identifiers. Every id is a UUID (the contract's wire form); aliases keep signatures readable.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

pub type UserId = Uuid;
pub type RoomId = Uuid;
pub type ListingId = Uuid;
pub type OrderId = Uuid;

thread_local! {
    /// Per thread, seeded once from the operating system's random source.
    static RANDOM: Cell<u64> = Cell::new(Uuid::new_v4().as_u64_pair().0 | 1);
}

/// wyrand: a fast, well-distributed 64-bit generator (not a cryptographic one).
fn next_random() -> u64 {
    RANDOM.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// A new time-ordered id (UUID v7): the millisecond timestamp first keeps index inserts
/// append-mostly on the hot order path, and 74 random bits per id make a collision within a
/// millisecond negligible. Generated per thread without a lock or a system call: the order path
/// makes two per order, and the uuid crate's shared v7 context with a ChaCha generator was a
/// fifth of an InventoryActor's instructions (callgrind). Ids are names, not secrets: anything
/// that must not be guessed (a stream key, a token) is made from the operating system's
/// random source instead.
pub fn new_id() -> Uuid {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    new_id_at(millis)
}

/// A new v7 id stamped with `millis` since the Unix epoch: for a caller that has just read the
/// clock (an event made at `at`), so the id costs no second clock read.
pub fn new_id_at(millis: u64) -> Uuid {
    let (a, b) = (next_random().to_le_bytes(), next_random().to_le_bytes());
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&a);
    random[8..].copy_from_slice(&b[..2]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_v7_unique_and_ordered_by_millisecond() {
        let ids: Vec<Uuid> = (0..100_000).map(|_| new_id()).collect();
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        let millis = |id: &Uuid| id.get_timestamp().map(|t| t.to_unix()).expect("a v7 timestamp");
        assert!(ids.windows(2).all(|w| millis(&w[0]) <= millis(&w[1])));
    }

    #[test]
    fn threads_draw_different_ids() {
        let other = std::thread::spawn(|| (0..1000).map(|_| new_id()).collect::<Vec<_>>())
            .join()
            .expect("thread");
        let here: HashSet<Uuid> = (0..1000).map(|_| new_id()).collect();
        assert!(other.iter().all(|id| !here.contains(id)));
    }
}
