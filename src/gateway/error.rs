//! The one place errors become HTTP: each maps to the contract's status and
//! `{"error": "<code>", "message": "<text>"}`. Causes of a 500 are logged, never shown.

use crate::application::error::CouponRefusal;
use crate::application::place_order::refusal_code;
use crate::application::AppError;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use livecart_actors::inventory::ReserveError;
use serde::Serialize;
use utoipa::ToSchema;

/// The contract's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    /// Malformed JSON, wrong field types.
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A known path asked with a method it does not serve; `Allow` lists the ones it does.
    #[error("{method} is not allowed here; allowed: {}", allowed_list(.allowed))]
    MethodNotAllowed { method: Method, allowed: Vec<Method> },
    /// Over a rate limit or connection cap; try again after the duration.
    #[error("too many requests; retry later")]
    RateLimited(std::time::Duration),
}

impl ApiError {
    fn code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::BadRequest(_) => (S::BAD_REQUEST, "bad_request"),
            ApiError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::NotFound(_) => (S::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed { .. } => (S::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RateLimited(_) => (S::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::App(app) => match app {
                AppError::Unauthorized(_) => (S::UNAUTHORIZED, "unauthorized"),
                AppError::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
                AppError::NotFound(_) => (S::NOT_FOUND, "not_found"),
                AppError::Refused(r @ (ReserveError::InvalidQuantity | ReserveError::IdempotencyKeyReused)) => {
                    (S::UNPROCESSABLE_ENTITY, refusal_code(*r))
                }
                AppError::Refused(ReserveError::Suspended) => (S::SERVICE_UNAVAILABLE, "unavailable"),
                AppError::Refused(r) => (S::CONFLICT, refusal_code(*r)),
                AppError::NotCancellable => (S::CONFLICT, "not_cancellable"),
                AppError::NotPayable(_) => (S::CONFLICT, "not_payable"),
                AppError::UsernameTaken => (S::CONFLICT, "username_taken"),
                AppError::ListingHasOrders => (S::CONFLICT, "listing_has_orders"),
                AppError::CouponRefused(refusal) => (
                    S::CONFLICT,
                    match refusal {
                        CouponRefusal::AlreadyRedeemed => "coupon_already_redeemed",
                        CouponRefusal::Expired => "coupon_expired",
                        CouponRefusal::Revoked => "coupon_revoked",
                    },
                ),
                AppError::InvalidField { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_field"),
                AppError::Malformed { .. } => (S::BAD_REQUEST, "bad_request"),
                AppError::Unavailable(_) | AppError::Busy(_) => (S::SERVICE_UNAVAILABLE, "unavailable"),
                AppError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }

    /// When the client may try again: a 429 knows its wait; a 503 (storage away, the room's
    /// owner elsewhere, hashing busy) says a second, as nothing was done and the cause is
    /// usually brief.
    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ApiError::RateLimited(wait) => Some(*wait),
            _ if self.code().0 == StatusCode::SERVICE_UNAVAILABLE => Some(std::time::Duration::from_secs(1)),
            _ => None,
        }
    }

    /// The body as the contract shapes it, also sent in WebSocket error frames.
    pub fn body(&self) -> ErrorBody {
        let (_, code) = self.code();
        let message = match self {
            ApiError::App(AppError::Unavailable(_)) => {
                "storage is unavailable; nothing was acknowledged: retry shortly (with the same Idempotency-Key)"
                    .to_owned()
            }
            ApiError::App(AppError::Internal(_)) => "internal error".to_owned(),
            other => other.to_string(),
        };
        ErrorBody { error: code, message }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().0
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::App(AppError::Internal(cause)) => {
                tracing::error!(error = ?cause, "request failed")
            }
            ApiError::App(AppError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "storage unavailable")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Some(wait) = self.retry_after() {
            // Whole seconds, rounded up: a client retrying at once would only be refused again.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.max(1).to_string()));
        }
        if let ApiError::MethodNotAllowed { allowed, .. } = self {
            response.insert_header(actix_web::http::header::Allow(allowed.clone()));
        }
        response.json(self.body())
    }
}

fn allowed_list(methods: &[Method]) -> String {
    methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}
