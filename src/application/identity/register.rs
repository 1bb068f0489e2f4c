//! `register`: a merchant or viewer account with a password.

use crate::application::ports::identity::{InsertUserError, UserRecord};
use crate::application::{AppError, Services};
use livecart_actors::ids::new_id;
use livecart_actors::Role;

pub struct Registration {
    pub username: String,
    pub password: String,
    pub role: String,
}

pub async fn register(services: &Services, input: Registration) -> Result<UserRecord, AppError> {
    let username = input.username.trim().to_owned();
    let valid_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !(3..=32).contains(&username.len()) || !valid_chars {
        return Err(AppError::invalid(
            "username",
            "3 to 32 letters, digits, '_', '.' or '-'",
        ));
    }
    if !(8..=128).contains(&input.password.chars().count()) {
        return Err(AppError::invalid("password", "must be 8 to 128 characters"));
    }
    let role = Role::parse(&input.role).ok_or_else(|| AppError::invalid("role", "must be merchant or viewer"))?;
    let user = UserRecord {
        id: new_id(),
        nickname: username.clone(),
        username: Some(username),
        password_hash: Some(services.passwords.hash(input.password).await?),
        role,
        created_at: services.clock.now(),
    };
    match services.users.insert_user(user.clone()).await {
        Ok(()) => Ok(user),
        Err(InsertUserError::UsernameTaken) => Err(AppError::UsernameTaken),
        Err(InsertUserError::Store(e)) => Err(e.into()),
    }
}
