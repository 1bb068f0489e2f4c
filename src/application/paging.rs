//! Paging of list endpoints: `{items, next}`, newest first. `next` is an opaque cursor (the
//! creation time and id of the last item given) that a client sends back as `cursor` until it is
//! absent. Keyset paging: a page costs the same however deep it is, and items created meanwhile
//! never shift the pages a client is walking.

use super::ports::Window;
use super::AppError;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Most items per page, and the default.
pub const MAX_LIMIT: i64 = 200;
pub const DEFAULT_LIMIT: i64 = 50;

/// Where a page starts: after this (created_at, id), in descending order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at.timestamp_millis(), self.id.simple())
    }

    pub fn decode(text: &str) -> Result<Cursor, AppError> {
        let invalid = || AppError::Malformed {
            field: "cursor",
            reason: "not a cursor this server gave".into(),
        };
        let (millis, id) = text.split_once('_').ok_or_else(invalid)?;
        let millis: i64 = millis.parse().map_err(|_| invalid())?;
        Ok(Cursor {
            created_at: DateTime::from_timestamp_millis(millis).ok_or_else(invalid)?,
            id: Uuid::parse_str(id).map_err(|_| invalid())?,
        })
    }
}

/// A page request: how many items, starting after which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub after: Option<Cursor>,
}

impl Page {
    /// A page when the client asked for one (a `limit` or a `cursor`); `None` for a list the
    /// contract answers whole.
    pub fn requested(limit: Option<i64>, cursor: Option<&str>) -> Result<Option<Page>, AppError> {
        if limit.is_none() && cursor.is_none() {
            return Ok(None);
        }
        Page::parse(limit, cursor).map(Some)
    }

    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Page, AppError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::invalid("limit", format!("1 to {MAX_LIMIT}")));
        }
        Ok(Page {
            limit,
            after: cursor.map(Cursor::decode).transpose()?,
        })
    }

    /// What to ask storage for: one row more than the page, to know whether more exist.
    pub fn window(&self) -> Window {
        Window {
            after: self.after.map(|c| (c.created_at, c.id)),
            limit: Some(self.limit + 1),
        }
    }

    /// Splits what storage returned (one more than `limit`, to know whether more exist) into the
    /// page and the cursor of the next one.
    pub fn cut<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> Cursor) -> (Vec<T>, Option<String>) {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next = if more {
            rows.last().map(|r| key(r).encode())
        } else {
            None
        };
        (rows, next)
    }
}

/// What to read for a list answered whole (`None`) or by the page.
pub fn window(page: Option<&Page>) -> Window {
    page.map_or(Window::ALL, Page::window)
}

/// A list answered whole as read, or cut into the page and the next cursor.
pub fn cut<T>(page: Option<&Page>, rows: Vec<T>, key: impl Fn(&T) -> Cursor) -> (Vec<T>, Option<String>) {
    match page {
        Some(page) => page.cut(rows, key),
        None => (rows, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_millis(1_800_000_000_123).expect("valid"),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).expect("decodes"), cursor);
        for bad in [
            "",
            "x",
            "1_2",
            "abc_0b3e",
            "99999999999999999999_00000000000000000000000000000000",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_is_requested_only_with_a_limit_or_a_cursor() {
        assert_eq!(Page::requested(None, None).expect("whole"), None);
        let page = Page::requested(Some(3), None).expect("valid").expect("a page");
        assert_eq!(
            page.window(),
            Window {
                after: None,
                limit: Some(4)
            }
        );
        assert!(Page::requested(None, Some("x")).is_err());
        assert!(matches!(
            Page::requested(None, Some("x")),
            Err(AppError::Malformed { .. })
        ));
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(Page::parse(None, None).expect("default").limit, DEFAULT_LIMIT);
        assert!(Page::parse(Some(0), None).is_err());
        assert!(Page::parse(Some(MAX_LIMIT + 1), None).is_err());
    }
}
