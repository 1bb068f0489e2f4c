//! A map keyed by ids, split into a few maps by the id's random bits, so it never grows in one
//! step: a hash map doubles its table when it fills, moving every entry at once. A hot listing's
//! holdings grow by one per order for a whole sale, and a single map of them stopped the
//! listing for 12–13 ms at 229,376 orders, 25 ms at 458,752 and 47–52 ms at 917,504 (in
//! isolation, two runs; more on a busy machine), with every buyer of the moment waiting. Split in [`SHARDS`], each part
//! doubles on its own, at a sixteenth of the size, and the parts reach their thresholds a few
//! thousand orders apart.

use super::IdMap;
use std::collections::hash_map::Entry;
use uuid::Uuid;

/// Parts per map: the longest growth step is this much shorter, and an empty map this many times
/// the size of one empty `HashMap` (a few hundred bytes per listing).
const SHARDS: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct ShardedIdMap<V>([IdMap<Uuid, V>; SHARDS]);

impl<V> Default for ShardedIdMap<V> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| IdMap::default()))
    }
}

impl<V> ShardedIdMap<V> {
    /// The part an id goes to: its low bits, random in every id this server makes (UUID v7's
    /// `rand_b`, v4's random bits).
    fn shard(id: &Uuid) -> usize {
        (id.as_u64_pair().1 as usize) % SHARDS
    }

    pub(crate) fn get(&self, id: &Uuid) -> Option<&V> {
        self.0[Self::shard(id)].get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &Uuid) -> Option<&mut V> {
        self.0[Self::shard(id)].get_mut(id)
    }

    pub(crate) fn insert(&mut self, id: Uuid, value: V) -> Option<V> {
        self.0[Self::shard(&id)].insert(id, value)
    }

    pub(crate) fn remove(&mut self, id: &Uuid) -> Option<V> {
        self.0[Self::shard(id)].remove(id)
    }

    pub(crate) fn entry(&mut self, id: Uuid) -> Entry<'_, Uuid, V> {
        self.0[Self::shard(&id)].entry(id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Uuid, &V)> {
        self.0.iter().flat_map(|part| part.iter())
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().flat_map(|part| part.values())
    }

    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(|part| part.len()).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|part| part.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::new_id;

    #[test]
    fn behaves_as_one_map_and_spreads_ids_over_its_parts() {
        let mut map: ShardedIdMap<u32> = ShardedIdMap::default();
        let ids: Vec<Uuid> = (0..1_000).map(|_| new_id()).collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(map.insert(*id, i as u32), None);
        }
        assert_eq!(map.len(), 1_000);
        assert_eq!(map.get(&ids[7]), Some(&7));
        *map.entry(ids[7]).or_insert(0) += 1;
        *map.get_mut(&ids[8]).expect("present") += 1;
        assert_eq!((map.get(&ids[7]), map.get(&ids[8])), (Some(&8), Some(&9)));
        assert_eq!(map.remove(&ids[7]), Some(8));
        assert_eq!(map.get(&ids[7]), None);
        assert_eq!(map.iter().count(), 999);
        assert_eq!(map.values().count(), 999);
        assert!(
            map.0.iter().all(|part| part.len() > 20),
            "every part holds some of 1,000 ids"
        );
        for id in &ids {
            map.remove(id);
        }
        assert!(map.is_empty());
    }
}
