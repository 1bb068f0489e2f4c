//! Where the outbox relay publishes: the in-process bus (the embedded default), which delivers
//! each batch to every subscribed handler, or the Redis stream (`streams::RedisStreamBus`).

use futures_util::future::BoxFuture;
use livecart_actors::events::{DomainEvent, EventHandler, HandlerError};
use std::sync::Arc;

/// Where the outbox relay publishes, a batch at a time, in commit order. `Ok` means the bus has
/// taken the whole batch (handled it, or stored it in the stream), so the relay may mark it.
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, events: Arc<[DomainEvent]>) -> BoxFuture<'static, Result<(), PublishError>>;
}

/// Why a batch was not taken; the relay keeps it unpublished and tries again.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// An in-process handler failed.
    #[error(transparent)]
    Handler(#[from] HandlerError),
    /// The broker (Redis) is away, refused the batch, or did not answer in time.
    #[error("the event stream did not take the batch: {0}")]
    Broker(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Default, Clone)]
pub struct InProcessBus {
    handlers: Vec<Arc<dyn EventHandler>>,
}

impl InProcessBus {
    pub fn new(handlers: Vec<Arc<dyn EventHandler>>) -> Self {
        Self { handlers }
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, events: Arc<[DomainEvent]>) -> BoxFuture<'static, Result<(), PublishError>> {
        let handlers = self.handlers.clone();
        Box::pin(async move {
            for handler in handlers {
                handler.handle(events.clone()).await?;
            }
            Ok(())
        })
    }
}
