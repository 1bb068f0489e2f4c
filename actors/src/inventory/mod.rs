//! One listing's flash stock: the pure rules (`state`) and the actor that owns them (`actor`).

pub mod actor;
pub mod state;

pub use actor::{
    Cancel, CancelFailed, InventoryActor, InventorySnapshot, Placed, Reserve, ReserveFailed, Restock, RestockFailed,
    Retire, SetRoomStatus, Snapshot,
};
pub use state::{
    CancelError, InventoryState, ListingTerms, ReserveError, ReserveRequest, Reserved, StoredHoldings, StoredOrder,
    MAX_ORDER_QUANTITY,
};
