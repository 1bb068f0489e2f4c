//! The in-process event bus: delivers each published batch to every subscribed handler.

use futures_util::future::BoxFuture;
use livecart_actors::events::{DomainEvent, EventHandler, HandlerError};
use std::sync::Arc;

/// Where the outbox relay publishes, a batch at a time. In-process by default; Redis Streams
/// plugs in here.
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, events: Arc<[DomainEvent]>) -> BoxFuture<'static, Result<(), HandlerError>>;
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
    fn publish(&self, events: Arc<[DomainEvent]>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let handlers = self.handlers.clone();
        Box::pin(async move {
            for handler in handlers {
                handler.handle(events.clone()).await?;
            }
            Ok(())
        })
    }
}
