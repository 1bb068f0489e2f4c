//! Password hashing with Argon2id (the `argon2` crate's defaults, OWASP's recommendation).
//! Hashing is deliberately slow, so it runs on the blocking pool, never on an async thread.

use crate::application::AppError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
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
pub async fn verify(password: String, stored: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored password hash is malformed: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("verifying task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    #[actix_rt::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = super::hash("correct horse".into()).await.expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(super::verify("correct horse".into(), stored.clone())
            .await
            .expect("verify"));
        assert!(!super::verify("wrong horse".into(), stored).await.expect("verify"));
    }
}
