//! One listing's flash stock: the pure rules (`state`), the actor that owns them (`actor`), and
//! the way a worker thread's reserves reach it together (`gather`).

pub mod actor;
pub mod gather;
pub mod state;

pub use actor::{
    Cancel, CancelFailed, Drain, IdleFor, InventoryActor, InventorySnapshot, PaidOutcome, Pay, PayFailed, Placed,
    Reserve, ReserveFailed, Restock, RestockFailed, Retire, SetRoomStatus, Snapshot,
};
pub use gather::{reserve, ReserveMany};
pub use state::{
    CancelError, Expiring, InventoryState, ListingTerms, PayError, PayPlan, ReserveError, ReserveRequest, Reserved,
    StoredHoldings, StoredOrder, StoredPayment, MAX_ORDER_QUANTITY,
};
