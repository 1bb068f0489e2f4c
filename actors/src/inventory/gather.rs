//! Reserves gathered per thread: the reservations one worker thread reads in a turn of its event
//! loop reach a listing's actor as one message, and their answers come back together.
//!
//! In a flash sale a worker thread serving many connections reads, in each turn, requests that
//! mostly go to the same hot listing. Sent one by one (`Addr::send`), each costs a boxed
//! envelope, a reply channel and a wake-up of the other thread each way. [`reserve`] instead
//! puts the first reserve for a listing in a gathering and schedules its flush behind the tasks
//! already ready on the thread; every reserve for that listing until the flush runs joins it.
//! The flush sends one [`ReserveMany`], and the actor answers into one shared [`Answers`], which
//! wakes the flush once for all the answers a journal batch brings; the flush hands each to its
//! caller on this thread.
//!
//! The actor decides each reserve exactly as it decides a `Reserve` (same rules, in the order
//! gathered, same journal entry, answered at the same commit); only the way there and back is
//! shared. As with `send`, a reserve whose caller has given up (its deadline passed while the
//! message waited) is not decided at all, so a buyer told "retry" has no order made behind their
//! back; and an answer that cannot come (the actor stopped with the message unread) is
//! `MailboxError::Closed`, so callers retry the next incarnation the same way.

use super::actor::{InventoryActor, Placed, Reserve, ReserveFailed};
use actix::prelude::*;
use futures_util::task::AtomicWaker;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use tokio::sync::oneshot;

type ReserveAnswer = Result<Placed, ReserveFailed>;
type Delivered = Result<ReserveAnswer, MailboxError>;

/// Reserves for one listing's actor, each with its place in the batch's answers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReserveMany {
    pub(super) entries: Vec<(Reserve, Slot)>,
}

/// One gathered batch's answers, as the actor gives them, by the reserve's index in the batch.
#[derive(Default)]
pub struct Answers {
    given: Mutex<Vec<(usize, Delivered)>>,
    /// The flush waiting for them, on the gathering thread.
    flush: AtomicWaker,
    /// The callers that stopped waiting, by index; `gone_count` lets the actor skip the lock
    /// while there are none (almost always).
    gone: Mutex<Vec<usize>>,
    gone_count: AtomicUsize,
}

impl Answers {
    fn give_up(&self, index: usize) {
        self.gone.lock().unwrap_or_else(PoisonError::into_inner).push(index);
        self.gone_count.fetch_add(1, Ordering::Release);
    }

    fn is_gone(&self, index: usize) -> bool {
        self.gone_count.load(Ordering::Acquire) > 0
            && self
                .gone
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&index)
    }

    fn give(&self, index: usize, answer: Delivered) {
        // A panic while this was held cannot leave the list half-pushed: taken as it is.
        self.given
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((index, answer));
        self.flush.wake();
    }

    fn take(&self) -> Vec<(usize, Delivered)> {
        std::mem::take(&mut *self.given.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Ready with whatever answers have come since the last call, once there is at least one.
    fn poll_given(&self, cx: &mut TaskContext<'_>) -> Poll<Vec<(usize, Delivered)>> {
        let given = self.take();
        if !given.is_empty() {
            return Poll::Ready(given);
        }
        self.flush.register(cx.waker());
        // An answer given between the take and the register woke nobody: look again.
        let given = self.take();
        if given.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(given)
        }
    }
}

/// A reserve's place in its batch's answers. Dropped unanswered (the message was dropped with
/// its actor), it answers `MailboxError::Closed`, so no caller waits for an answer that cannot
/// come.
pub struct Slot {
    answers: Arc<Answers>,
    index: usize,
    answered: bool,
}

impl Slot {
    /// Whether its caller stopped waiting (its deadline passed): the reserve is then not decided,
    /// as actix skips a `send` whose caller has gone.
    pub(crate) fn caller_gone(&self) -> bool {
        self.answers.is_gone(self.index)
    }

    pub(crate) fn answer(mut self, answer: ReserveAnswer) {
        self.answered = true;
        self.answers.give(self.index, Ok(answer));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.answered {
            self.answers.give(self.index, Err(MailboxError::Closed));
        }
    }
}

/// The reserves gathered for one actor on this thread, who waits for each, and where their
/// answers will come.
struct Gathering {
    reserves: Vec<Reserve>,
    callers: Vec<oneshot::Sender<Delivered>>,
    answers: Arc<Answers>,
}

impl Gathering {
    /// Adds a reserve and its caller; the caller waits through what this returns.
    fn join(&mut self, reserve: Reserve, caller: oneshot::Sender<Delivered>) -> Waiting {
        let waiting = Waiting {
            answers: self.answers.clone(),
            index: self.reserves.len(),
            answered: false,
        };
        self.reserves.push(reserve);
        self.callers.push(caller);
        waiting
    }
}

/// A caller's wait for its answer. Dropped before the answer came (the caller's deadline passed),
/// it tells the actor not to decide the reserve if it has not yet.
struct Waiting {
    answers: Arc<Answers>,
    index: usize,
    answered: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if !self.answered {
            self.answers.give_up(self.index);
        }
    }
}

thread_local! {
    /// Gatherings not flushed yet, per actor. Only this thread's tasks touch them.
    static GATHERINGS: RefCell<HashMap<Addr<InventoryActor>, Gathering>> = RefCell::new(HashMap::new());
}

/// Sends `reserve` to `actor` with the other reserves this thread sends it in the same turn, and
/// waits for its answer: what `actor.send(reserve).await` answers.
///
/// Outside an actix arbiter (no local task set to flush from) it is that `send`.
pub async fn reserve(actor: &Addr<InventoryActor>, reserve: Reserve) -> Delivered {
    if Arbiter::try_current().is_none() {
        return actor.send(reserve).await;
    }
    let (caller, answer) = oneshot::channel();
    let (mut waiting, first) = GATHERINGS.with(|gatherings| {
        let mut gatherings = gatherings.borrow_mut();
        // The address is cloned once per gathering, not per reserve: its count is shared with
        // every thread that sends the listing.
        match gatherings.get_mut(actor) {
            Some(gathering) => (gathering.join(reserve, caller), false),
            None => {
                let mut gathering = Gathering {
                    reserves: Vec::new(),
                    callers: Vec::new(),
                    answers: Arc::default(),
                };
                let waiting = gathering.join(reserve, caller);
                gatherings.insert(actor.clone(), gathering);
                (waiting, true)
            }
        }
    });
    if first {
        actix::spawn(flush(actor.clone()));
    }
    // The flush ends only once every caller has its answer, so a dropped sender means the
    // thread's tasks are going away.
    let answer = answer.await.unwrap_or(Err(MailboxError::Closed));
    waiting.answered = true;
    answer
}

/// Sends the actor's gathering as one message and hands out the answers as they come.
async fn flush(actor: Addr<InventoryActor>) {
    let Some(gathering) = GATHERINGS.with(|gatherings| gatherings.borrow_mut().remove(&actor)) else {
        return;
    };
    let answers = gathering.answers;
    let entries = gathering
        .reserves
        .into_iter()
        .enumerate()
        .map(|(index, reserve)| {
            let slot = Slot {
                answers: answers.clone(),
                index,
                answered: false,
            };
            (reserve, slot)
        })
        .collect();
    let mut callers: Vec<Option<oneshot::Sender<Delivered>>> = gathering.callers.into_iter().map(Some).collect();
    let mut waiting = callers.len();
    // Queued whatever the mailbox holds, as one message per gathering: the gathering is bounded
    // by the requests one thread holds open. Dropped with a stopped actor, its slots answer.
    actor.do_send(ReserveMany { entries });
    while waiting > 0 {
        let given = std::future::poll_fn(|cx| answers.poll_given(cx)).await;
        for (index, answer) in given {
            if let Some(caller) = callers.get_mut(index).and_then(Option::take) {
                // A caller that gave up (its deadline passed) is simply not there any more.
                let _ = caller.send(answer);
                waiting -= 1;
            }
        }
    }
}
