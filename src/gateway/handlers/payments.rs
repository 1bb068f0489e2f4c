//! `/v1/orders/{id}/pay` and the provider's `/v1/payments/webhook`.

use super::Svc;
use crate::application::pay_order::pay_order;
use crate::application::receive_payment::receive_payment;
use crate::application::views::PaymentView;
use crate::external::webhook_signature;
use crate::gateway::auth::Authenticated;
use crate::gateway::error::{ApiError, ErrorBody};
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Optional: a coupon of the buyer's, from the order's room, to spend on this payment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    coupon_id: Option<Uuid>,
}

#[utoipa::path(post, path = "/v1/orders/{order_id}/pay", tag = "payments", security(("bearer" = [])),
    request_body(content = Option<PayBody>, description = "optional; with `coupon_id`, the amount drops by the coupon's `amount_off_cents` and the coupon is spent"),
    responses((status = 200, body = PaymentView, description = "the payment is pending until the provider's webhook"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such order or coupon of the caller's"),
        (status = 409, body = ErrorBody, description = "`not_payable`: cancelled, expired, paid or refunded; `coupon_already_redeemed`, `coupon_expired`, `coupon_revoked`"),
        (status = 422, body = ErrorBody, description = "`invalid_field`: the coupon is for another room, or the order is below its minimum spend"),
        (status = 503, body = ErrorBody)))]
#[post("/v1/orders/{order_id}/pay")]
pub async fn pay(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The body is optional: none at all pays the whole amount.
    let coupon_id = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<PayBody>(&body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not a payment request: {e}")))?
            .coupon_id
    };
    let payment = pay_order(&svc, &auth.0, path.into_inner(), coupon_id).await?;
    Ok(HttpResponse::Ok().json(payment))
}

#[utoipa::path(post, path = "/v1/payments/webhook", tag = "payments",
    params(("Livecart-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`")),
    request_body(content = String, description = "the provider's notice: `{id, type: payment.succeeded|payment.failed, data: {payment_id, order_id, amount_cents}}`"),
    responses((status = 200, description = "applied, or already applied"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "missing, wrong or stale signature"),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody, description = "retry later")))]
#[post("/v1/payments/webhook")]
pub async fn webhook(svc: Svc, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get(webhook_signature::HEADER)
        .and_then(|v| v.to_str().ok());
    receive_payment(&svc, signature, &body).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"received": true})))
}
