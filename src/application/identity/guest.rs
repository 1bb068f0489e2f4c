//! `guest`: a viewer arriving from a share link, known by a nickname only.

use crate::application::ports::identity::{InsertUserError, UserRecord};
use crate::application::{validate, AppError, Services};
use livecart_actors::ids::new_id;
use livecart_actors::Role;

pub async fn guest(services: &Services, nickname: &str) -> Result<UserRecord, AppError> {
    let user = UserRecord {
        id: new_id(),
        username: None,
        password_hash: None,
        role: Role::Viewer,
        nickname: validate::text("nickname", nickname, 32)?,
        created_at: services.clock.now(),
    };
    services.users.insert_user(user.clone()).await.map_err(|e| match e {
        InsertUserError::Store(e) => AppError::from(e),
        // Guests have no username, so nothing can collide.
        other => AppError::Internal(anyhow::anyhow!("{other}")),
    })?;
    Ok(user)
}
