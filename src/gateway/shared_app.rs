//! One instance of the app per worker, for both ways a request comes in: the HTTP/1 dispatcher
//! and the WebSocket takeover (`ws/takeover.rs`), which runs upgrade requests through the same
//! app. An instance compiles every route's pattern and builds its pools: a second one per worker
//! would cost memory (about 0.7 MiB each) for nothing.

use actix_web::dev::{forward_ready, AppConfig, Service, ServiceFactory};
use futures_util::future::LocalBoxFuture;
use std::cell::RefCell;
use std::rc::Rc;

/// The app's factory for one worker; every `new_service` gets the same instance.
pub struct SharedApp<F: ServiceFactory<actix_http::Request>> {
    inner: Rc<Inner<F>>,
}

struct Inner<F: ServiceFactory<actix_http::Request>> {
    factory: F,
    config: AppConfig,
    built: RefCell<Option<Rc<F::Service>>>,
}

impl<F: ServiceFactory<actix_http::Request>> Clone for SharedApp<F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<F> SharedApp<F>
where
    F: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
{
    pub fn new(factory: F, config: AppConfig) -> Self {
        Self {
            inner: Rc::new(Inner {
                factory,
                config,
                built: RefCell::new(None),
            }),
        }
    }

    /// The worker's instance, built by whichever way in asks first (actix-http builds its
    /// services one after the other, so the second finds it built).
    pub async fn instance(&self) -> Result<Rc<F::Service>, F::InitError> {
        if let Some(built) = self.inner.built.borrow().clone() {
            return Ok(built);
        }
        let built = Rc::new(self.inner.factory.new_service(self.inner.config.clone()).await?);
        *self.inner.built.borrow_mut() = Some(built.clone());
        Ok(built)
    }
}

impl<F> ServiceFactory<actix_http::Request> for SharedApp<F>
where
    F: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
{
    type Response = F::Response;
    type Error = F::Error;
    type Config = ();
    type Service = Shared<F::Service>;
    type InitError = F::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, Self::InitError>>;

    fn new_service(&self, _: ()) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.instance().await.map(|app| Shared { app }) })
    }
}

/// The worker's app instance, as the HTTP/1 dispatcher's service.
pub struct Shared<S> {
    app: Rc<S>,
}

impl<S: Service<actix_http::Request>> Service<actix_http::Request> for Shared<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    forward_ready!(app);

    fn call(&self, req: actix_http::Request) -> Self::Future {
        self.app.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_service::{fn_factory_with_config, fn_service};
    use std::cell::Cell;

    #[actix_web::test]
    async fn both_ways_in_get_one_instance_built_once() {
        let builds = Rc::new(Cell::new(0));
        let counting = builds.clone();
        let factory = fn_factory_with_config(move |_: AppConfig| {
            counting.set(counting.get() + 1);
            async { Ok::<_, ()>(fn_service(|_: actix_http::Request| async { Ok::<_, ()>(()) })) }
        });
        let app = SharedApp::new(factory, AppConfig::default());
        let for_upgrades = app.instance().await.expect("built");
        let _for_http = app.new_service(()).await.expect("built");
        let again = app.instance().await.expect("built");
        assert!(Rc::ptr_eq(&for_upgrades, &again));
        assert_eq!(builds.get(), 1, "the app is built once per worker");
    }
}
