//! Input rules shared by several use cases.

use super::AppError;

/// A human-entered text: trimmed, non-empty, at most `max` characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, AppError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AppError::invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(AppError::invalid(field, format!("must be at most {max} characters")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AppError::invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// An integer within `min..=max`.
pub fn range(field: &'static str, value: i64, min: i64, max: i64) -> Result<i64, AppError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::invalid(field, format!("must be between {min} and {max}")))
    }
}
