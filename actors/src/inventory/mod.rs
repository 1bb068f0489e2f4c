//! One listing's flash stock: the pure rules (`state`) and the actor that owns them (`actor`).

pub mod actor;
pub mod state;

pub use actor::{
    Cancel, CancelFailed, Drain, IdleFor, InventoryActor, InventorySnapshot, PaidOutcome, Pay, PayFailed, Placed,
    Reserve, ReserveFailed, Restock, RestockFailed, Retire, SetRoomStatus, Snapshot,
};
pub use state::{
    CancelError, Expiring, InventoryState, ListingTerms, PayError, PayPlan, ReserveError, ReserveRequest, Reserved,
    StoredHoldings, StoredOrder, StoredPayment, MAX_ORDER_QUANTITY,
};
