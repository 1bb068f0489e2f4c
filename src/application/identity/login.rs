//! `login`: a registered user proves their password.

use super::password;
use crate::application::{AppError, Services};
use crate::infrastructure::repos::identity::UserRecord;

pub async fn login(services: &Services, username: String, password: String) -> Result<UserRecord, AppError> {
    const REFUSED: AppError = AppError::Unauthorized("wrong username or password");
    let user = services
        .storage
        .find_user_by_username(username.trim().to_owned())
        .await?
        .ok_or(REFUSED)?;
    let Some(stored) = user.password_hash.clone() else {
        return Err(REFUSED);
    };
    if password::verify(password, stored).await? {
        Ok(user)
    } else {
        Err(REFUSED)
    }
}
