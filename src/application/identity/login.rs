//! `login`: a registered user proves their password.

use super::password;
use crate::application::ports::identity::UserRecord;
use crate::application::{AppError, Services};
use std::future::Future;

const REFUSED: AppError = AppError::Unauthorized("wrong username or password");

pub async fn login(services: &Services, username: String, password: String) -> Result<UserRecord, AppError> {
    let user = services.users.find_user_by_username(username.trim().to_owned()).await?;
    let passwords = services.passwords.clone();
    check(user, password, |given, stored| async move {
        passwords.verify(given, stored).await
    })
    .await
}

/// Decides a login given the user found (if any) and a verifier of `(password, stored hash)`.
/// Every path costs exactly one verification — against [`password::DUMMY_HASH`] when there is no
/// such user or it is a guest without a password — so how long the refusal takes does not tell
/// which usernames exist.
async fn check<V, F>(user: Option<UserRecord>, given: String, verify: V) -> Result<UserRecord, AppError>
where
    V: FnOnce(String, String) -> F,
    F: Future<Output = Result<bool, AppError>>,
{
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let has_password = stored.is_some();
    let matches = verify(given, stored.unwrap_or_else(|| password::DUMMY_HASH.to_owned())).await?;
    match user {
        Some(user) if has_password && matches => Ok(user),
        _ => Err(REFUSED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_actors::Role;
    use std::sync::Mutex;

    fn user(password_hash: Option<&str>) -> UserRecord {
        UserRecord {
            id: livecart_actors::ids::new_id(),
            username: Some("mei".into()),
            password_hash: password_hash.map(str::to_owned),
            role: Role::Viewer,
            nickname: "mei".into(),
            created_at: chrono::Utc::now(),
        }
    }

    /// Runs `check` with a verifier that records the hash it was given and answers `answer`.
    async fn check_recording(user: Option<UserRecord>, answer: bool) -> (Result<UserRecord, AppError>, Vec<String>) {
        let seen = Mutex::new(Vec::new());
        let result = check(user, "guess".into(), |_, stored| {
            seen.lock().expect("not poisoned").push(stored);
            async move { Ok(answer) }
        })
        .await;
        (result, seen.into_inner().expect("not poisoned"))
    }

    #[actix_rt::test]
    async fn an_unknown_user_costs_one_verification_against_the_dummy_hash() {
        // Even a verifier that says yes cannot let a missing user in.
        let (result, seen) = check_recording(None, true).await;
        assert!(matches!(result, Err(AppError::Unauthorized(_))));
        assert_eq!(seen, vec![password::DUMMY_HASH.to_owned()]);
    }

    #[actix_rt::test]
    async fn a_guest_without_a_password_costs_one_verification_too() {
        let (result, seen) = check_recording(Some(user(None)), true).await;
        assert!(matches!(result, Err(AppError::Unauthorized(_))));
        assert_eq!(seen, vec![password::DUMMY_HASH.to_owned()]);
    }

    #[actix_rt::test]
    async fn a_known_user_is_verified_against_their_own_hash() {
        let (result, seen) = check_recording(Some(user(Some("$argon2id$stored"))), true).await;
        assert!(result.is_ok());
        assert_eq!(seen, vec!["$argon2id$stored".to_owned()]);
        let (result, _) = check_recording(Some(user(Some("$argon2id$stored"))), false).await;
        assert!(matches!(result, Err(AppError::Unauthorized(_))));
    }
}
