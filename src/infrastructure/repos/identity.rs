//! `identity_users`: accounts and guests.

use super::Storage;
use crate::application::ports::identity::{InsertUserError, UserRecord};
use crate::infrastructure::db::schema::identity_users::dsl as users;
use crate::infrastructure::db::{parse_id, time, with_conn, with_write_conn, StorageError, StorageResult};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use livecart_actors::{Role, UserId};

/// The unique columns a user is looked up by.
enum UserKey {
    Id(UserId),
    Username(String),
}

type Row = (String, Option<String>, Option<String>, String, String, i64);

fn from_row((id, username, password_hash, role, nickname, created_at): Row) -> StorageResult<UserRecord> {
    Ok(UserRecord {
        id: parse_id(&id)?,
        username,
        password_hash,
        role: Role::parse(&role).ok_or_else(|| StorageError::Corrupt(format!("bad role {role:?}")))?,
        nickname,
        created_at: time::from_millis(created_at),
    })
}

impl Storage {
    pub async fn insert_user(&self, user: UserRecord) -> Result<(), InsertUserError> {
        let inserted = with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(diesel::insert_into(users::identity_users)
                .values((
                    users::id.eq(user.id.to_string()),
                    users::username.eq(user.username),
                    users::password_hash.eq(user.password_hash),
                    users::role.eq(user.role.as_str()),
                    users::nickname.eq(user.nickname),
                    users::created_at.eq(time::to_millis(user.created_at)),
                ))
                .execute(conn)?)
        })
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(StorageError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
                Err(InsertUserError::UsernameTaken)
            }
            Err(other) => Err(InsertUserError::Store(other.into())),
        }
    }

    pub async fn find_user_by_username(&self, username: String) -> StorageResult<Option<UserRecord>> {
        self.find_user_by(UserKey::Username(username)).await
    }

    pub async fn find_user(&self, id: UserId) -> StorageResult<Option<UserRecord>> {
        self.find_user_by(UserKey::Id(id)).await
    }

    async fn find_user_by(&self, key: UserKey) -> StorageResult<Option<UserRecord>> {
        with_conn(&self.pool, move |conn| {
            let query = users::identity_users
                .select((
                    users::id,
                    users::username,
                    users::password_hash,
                    users::role,
                    users::nickname,
                    users::created_at,
                ))
                .into_boxed();
            let query = match key {
                UserKey::Id(id) => query.filter(users::id.eq(id.to_string())),
                UserKey::Username(name) => query.filter(users::username.eq(name)),
            };
            let row: Option<Row> = query.first(conn).optional()?;
            row.map(from_row).transpose()
        })
        .await
    }
}
