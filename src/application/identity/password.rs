//! Password hashing with Argon2id (the `argon2` crate's defaults, OWASP's recommendation).
//!
//! Hashing is deliberately slow and takes 19 MiB a call, so it runs on the blocking pool, never on
//! an async thread, and only a few calls run at once: a register or login flood waits briefly for
//! a turn and is then told to come back (503 `unavailable` with `Retry-After`), rather than
//! starting hundreds of hashes whose memory and CPU would starve the order path.

use crate::application::AppError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The hash of a random password nobody knows, made with the same parameters as real hashes
/// (`Argon2::default()`, checked by a test): a login for a missing user, or for a guest, is
/// verified against it, so it costs what a wrong password costs and its timing does not tell
/// which usernames exist.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$e2GfdvT2rBo7/g6s+RGHSA$cqkNMTJCf8PQaa3p2GF3s5cVKq0chX288L9/s9Urvyc";

/// Hashes and verifies passwords, a bounded number at a time.
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// How long a call waits for a turn before it is refused.
    wait: Duration,
}

impl Passwords {
    /// At most `max_concurrent` hashes at once (0: twice the cores); a call waits up to `wait`.
    pub fn new(max_concurrent: usize, wait: Duration) -> Self {
        let permits = match max_concurrent {
            0 => 2 * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            wait,
        }
    }

    /// A turn to hash, held until the blocking work ends (even if the request is dropped).
    async fn turn(&self) -> Result<OwnedSemaphorePermit, AppError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(AppError::Internal(anyhow::anyhow!("password permits: {closed}"))),
            Err(_) => {
                metrics::counter!("livecart_password_hashes_refused_total").increment(1);
                Err(AppError::Busy("too many passwords are being checked; retry shortly"))
            }
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let turn = self.turn().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password failed: {e}")))
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing task failed: {e}")))?
    }

    /// Whether `password` matches the stored PHC string.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, AppError> {
        let turn = self.turn().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("stored password hash is malformed: {e}")))?;
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("verifying task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwords() -> Passwords {
        Passwords::new(0, Duration::from_secs(2))
    }

    #[actix_rt::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = passwords();
        let stored = passwords.hash("correct horse".into()).await.expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(passwords
            .verify("correct horse".into(), stored.clone())
            .await
            .expect("verify"));
        assert!(!passwords.verify("wrong horse".into(), stored).await.expect("verify"));
    }

    #[actix_rt::test]
    async fn the_dummy_hash_costs_what_a_real_one_costs_and_matches_nothing() {
        let dummy = PasswordHash::new(DUMMY_HASH).expect("a valid PHC string");
        let real = passwords().hash("correct horse".into()).await.expect("hash");
        let real = PasswordHash::new(&real).expect("a valid PHC string");
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params, "same memory, time and parallelism costs");
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!passwords().verify("".into(), DUMMY_HASH.into()).await.expect("verify"));
    }

    #[actix_rt::test]
    async fn zero_permits_means_twice_the_cores() {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        assert_eq!(passwords().permits.available_permits(), 2 * cores);
        assert_eq!(Passwords::new(3, Duration::ZERO).permits.available_permits(), 3);
    }

    #[actix_rt::test]
    async fn a_call_without_a_turn_is_refused_as_busy_and_takes_none() {
        let passwords = Passwords::new(1, Duration::ZERO);
        let held = passwords.turn().await.expect("the one turn");
        assert!(matches!(passwords.hash("x".into()).await, Err(AppError::Busy(_))));
        assert!(matches!(
            passwords.verify("x".into(), DUMMY_HASH.into()).await,
            Err(AppError::Busy(_))
        ));
        drop(held);
        passwords.hash("x".into()).await.expect("a turn is free again");
        assert_eq!(passwords.permits.available_permits(), 1, "the turn is given back");
    }

    #[actix_rt::test]
    async fn a_call_waits_briefly_for_a_turn() {
        let passwords = Arc::new(Passwords::new(1, Duration::from_secs(5)));
        let held = passwords.turn().await.expect("the one turn");
        let waiting = tokio::spawn({
            let passwords = passwords.clone();
            async move { passwords.hash("x".into()).await }
        });
        tokio::task::yield_now().await;
        drop(held);
        waiting.await.expect("joined").expect("hashed once the turn was free");
    }
}
