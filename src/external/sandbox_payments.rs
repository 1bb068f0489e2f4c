//! The sandbox payment provider, livecart's embedded default. It behaves like a real provider
//! so that everything around it is exercised for real: a payment's outcome arrives later, on
//! `POST /v1/payments/webhook`, signed like Stripe's webhooks; it can be set to fail every
//! payment, to come late, or to deliver each webhook several times; and it retries a delivery
//! the server did not accept (5xx or no answer) with backoff, as providers do.

use super::webhook_signature;
use crate::application::payment_provider::{
    PaymentNotice, PaymentOutcome, PaymentProvider, PaymentRequest, ProviderError, WebhookError,
};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use livecart_actors::Clock;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use uuid::Uuid;

/// How the sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxBehaviour {
    /// How long after a payment starts its webhook is sent.
    pub delay: Duration,
    pub outcome: PaymentOutcome,
    /// Deliveries of each webhook.
    pub repeat: u32,
}

/// Attempts to deliver one webhook before the sandbox gives up on it.
const ATTEMPTS: u32 = 8;

pub struct SandboxPayments {
    secret: String,
    tolerance: Duration,
    behaviour: SandboxBehaviour,
    /// The provider's clock signs the webhooks (a test's manual clock moves both sides).
    clock: Arc<dyn Clock>,
    /// The server's own webhook, known once it listens.
    webhook_url: Arc<OnceLock<String>>,
    client: reqwest::Client,
}

/// The webhook's body: a notice about one payment.
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: NoticeData,
}

#[derive(Debug, Serialize, Deserialize)]
struct NoticeData {
    payment_id: Uuid,
    order_id: Uuid,
    amount_cents: i64,
}

const SUCCEEDED: &str = "payment.succeeded";
const FAILED: &str = "payment.failed";

impl SandboxPayments {
    pub fn new(secret: String, tolerance: Duration, behaviour: SandboxBehaviour, clock: Arc<dyn Clock>) -> Self {
        Self {
            secret,
            tolerance,
            behaviour,
            clock,
            webhook_url: Arc::new(OnceLock::new()),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Where the webhooks go: the server's own `POST /v1/payments/webhook`.
    pub fn call_back_to(&self, url: String) {
        let _ = self.webhook_url.set(url);
    }
}

impl PaymentProvider for SandboxPayments {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn start(&self, payment: PaymentRequest) -> BoxFuture<'static, Result<(), ProviderError>> {
        let Some(url) = self.webhook_url.get().cloned() else {
            return Box::pin(async { Err(ProviderError("the sandbox has no webhook address yet".into())) });
        };
        let kind = match self.behaviour.outcome {
            PaymentOutcome::Succeeded => SUCCEEDED,
            PaymentOutcome::Failed => FAILED,
        };
        let notice = Notice {
            id: format!("evt_{}", Uuid::new_v4().simple()),
            kind: kind.to_owned(),
            data: NoticeData {
                payment_id: payment.payment_id,
                order_id: payment.order_id,
                amount_cents: payment.amount_cents,
            },
        };
        let delivery = Delivery {
            client: self.client.clone(),
            url,
            secret: self.secret.clone(),
            clock: self.clock.clone(),
            // unwrap: the notice is plain data and always serializes.
            body: serde_json::to_vec(&notice).expect("a notice serializes"),
            payment_id: payment.payment_id,
        };
        let behaviour = self.behaviour.clone();
        tokio::spawn(async move {
            tokio::time::sleep(behaviour.delay).await;
            for _ in 0..behaviour.repeat.max(1) {
                delivery.send().await;
            }
        });
        Box::pin(async { Ok(()) })
    }

    fn verify(&self, signature: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<PaymentNotice, WebhookError> {
        webhook_signature::verify(&self.secret, signature, body, now, self.tolerance)?;
        let notice: Notice = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let outcome = match notice.kind.as_str() {
            SUCCEEDED => PaymentOutcome::Succeeded,
            FAILED => PaymentOutcome::Failed,
            other => return Err(WebhookError::Malformed(format!("unknown notice type {other:?}"))),
        };
        Ok(PaymentNotice {
            notice_id: notice.id,
            payment_id: notice.data.payment_id,
            outcome,
        })
    }
}

/// One webhook on its way, signed afresh at every attempt.
struct Delivery {
    client: reqwest::Client,
    url: String,
    secret: String,
    clock: Arc<dyn Clock>,
    body: Vec<u8>,
    payment_id: Uuid,
}

impl Delivery {
    /// Sends until the server accepts (2xx) or refuses (4xx: retrying would not help).
    async fn send(&self) {
        let mut pause = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            let signature = webhook_signature::sign(&self.secret, self.clock.now(), &self.body);
            let sent = self
                .client
                .post(&self.url)
                .header(webhook_signature::HEADER, signature)
                .header("content-type", "application/json")
                .body(self.body.clone())
                .send()
                .await;
            match sent {
                Ok(res) if res.status().is_success() => return,
                Ok(res) if res.status().is_client_error() => {
                    tracing::warn!(payment.id = %self.payment_id, http.status = res.status().as_u16(), "sandbox webhook refused");
                    return;
                }
                Ok(res) => {
                    tracing::debug!(payment.id = %self.payment_id, http.status = res.status().as_u16(), attempt, "sandbox webhook not accepted; retrying")
                }
                Err(err) => {
                    tracing::debug!(payment.id = %self.payment_id, error = %err, attempt, "sandbox webhook not delivered; retrying")
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        tracing::warn!(payment.id = %self.payment_id, "sandbox webhook given up after {ATTEMPTS} attempts");
    }
}
