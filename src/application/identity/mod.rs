//! Accounts: merchants and viewers with passwords, and guests arriving from a share link.

pub mod guest;
pub mod login;
pub mod password;
pub mod register;
