//! Tokens a worker thread has verified, with what they said.
//!
//! A buyer sends the same token with every order. Checking it (base64, an HMAC-SHA256 over the
//! text, the claims parsed from JSON) was about a tenth of an HTTP worker's CPU in a flash sale;
//! looking the token up here costs a hash of its text. An entry is keyed by the whole token, so
//! only the very bytes that verified can match it, and it answers only for the keys that
//! verified it: the expiry is still checked on every request, by the caller.

use crate::application::Caller;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries a thread keeps; when full it starts over (a crowd of buyers each sends one token, so
/// a full map is a crowd larger than this on one thread, not a hot set worth ranking).
const PER_THREAD: usize = 4096;

/// What a verified token said.
#[derive(Clone, Copy)]
pub struct Verified {
    pub caller: Caller,
    /// Its `exp`, in seconds since the epoch.
    pub expires: i64,
}

/// Names one set of token keys, so that a thread serving two servers (tests run many in one
/// process) never answers one's token with the other's verdict.
pub fn new_keys_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    static VERIFIED: RefCell<HashMap<Box<str>, (u64, Verified)>> = RefCell::new(HashMap::new());
}

/// What `token` said when the keys named `keys` verified it on this thread, if they did.
pub fn lookup(keys: u64, token: &str) -> Option<Verified> {
    VERIFIED.with(|verified| {
        verified
            .borrow()
            .get(token)
            .filter(|(by, _)| *by == keys)
            .map(|(_, said)| *said)
    })
}

/// Remembers that the keys named `keys` verified `token`.
pub fn remember(keys: u64, token: &str, said: Verified) {
    VERIFIED.with(|verified| {
        let mut verified = verified.borrow_mut();
        if verified.len() >= PER_THREAD {
            verified.clear();
        }
        verified.insert(token.into(), (keys, said));
    });
}
