//! A PostgreSQL database that does not exist yet is created at start, when the configured user
//! may: `LIVECART__DATABASE__URL=postgres://…/livecart` then works on a fresh server as written.
//! When it may not, the error says exactly what to run.

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, PgConnection};
use url::Url;

/// Why a missing database could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateDatabaseError {
    #[error("database {name:?} does not exist and could not be created ({why}); create it with: {command}")]
    NotCreated { name: String, why: String, command: String },
    #[error("database.url names no database to create")]
    NoName,
}

/// Whether a connection failed because its database is missing (PostgreSQL's own wording:
/// `FATAL:  database "x" does not exist`; libpq gives no SQLSTATE for a refused connection).
pub fn is_missing_database(err: &ConnectionError) -> bool {
    matches!(err, ConnectionError::BadConnection(message) if message.contains("database") && message.contains("does not exist"))
}

/// Creates the database `url` names, connecting to the server's `postgres` database (then
/// `template1`) with the same user and options. Another process creating it at the same moment
/// is fine: it exists either way.
pub fn create_missing(url: &str) -> Result<String, CreateDatabaseError> {
    let parsed = Url::parse(url).map_err(|_| CreateDatabaseError::NoName)?;
    let name = database_name(&parsed).ok_or(CreateDatabaseError::NoName)?;
    let command = createdb_command(&parsed, &name);
    let not_created = |why: String| CreateDatabaseError::NotCreated {
        name: name.clone(),
        why,
        command: command.clone(),
    };
    let mut last = String::new();
    for maintenance in ["postgres", "template1"] {
        let mut admin_url = parsed.clone();
        admin_url.set_path(maintenance);
        let mut conn = match PgConnection::establish(admin_url.as_str()) {
            Ok(conn) => conn,
            Err(err) => {
                last = err.to_string();
                continue;
            }
        };
        return match conn.batch_execute(&format!("CREATE DATABASE {}", quote_identifier(&name))) {
            Ok(()) => Ok(name),
            Err(err) if err.to_string().contains("already exists") => Ok(name),
            Err(err) => Err(not_created(err.to_string().trim().to_owned())),
        };
    }
    Err(not_created(last.trim().to_owned()))
}

fn database_name(url: &Url) -> Option<String> {
    let path = url.path().trim_start_matches('/');
    if path.is_empty() || path.contains('/') {
        return None;
    }
    let name = percent_decode(path)?;
    (!name.is_empty()).then_some(name)
}

/// `createdb -h HOST -p PORT -U USER NAME`, with what the URL gives (never its password).
fn createdb_command(url: &Url, name: &str) -> String {
    let mut command = String::from("createdb");
    if let Some(host) = url.host_str() {
        command.push_str(&format!(" -h {host}"));
    }
    if let Some(port) = url.port() {
        command.push_str(&format!(" -p {port}"));
    }
    if !url.username().is_empty() {
        let user = percent_decode(url.username()).unwrap_or_else(|| url.username().to_owned());
        command.push_str(&format!(" -U {}", shell_word(&user)));
    }
    command.push(' ');
    command.push_str(&shell_word(name));
    command
}

/// `"name"`, doubling any quote inside, so any name is one identifier and nothing more.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn shell_word(word: &str) -> String {
    if word.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A URL part as text: `%20` is a space. `None` when it decodes to no UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_names_host_port_user_and_database_but_no_password() {
        let url = Url::parse("postgres://shop:s3cret@db.internal:6432/live%20cart?sslmode=require").expect("a url");
        let name = database_name(&url).expect("a name");
        assert_eq!(name, "live cart");
        let command = createdb_command(&url, &name);
        assert_eq!(command, "createdb -h db.internal -p 6432 -U shop 'live cart'");
        assert!(!command.contains("s3cret"));
    }

    #[test]
    fn a_url_without_a_database_names_none() {
        for url in ["postgres://u@h", "postgres://u@h/", "postgres://u@h/a/b"] {
            assert_eq!(database_name(&Url::parse(url).expect("a url")), None, "{url}");
        }
    }

    #[test]
    fn identifiers_are_quoted_whole() {
        assert_eq!(quote_identifier("shop"), "\"shop\"");
        assert_eq!(
            quote_identifier("a\"; DROP DATABASE x; --"),
            "\"a\"\"; DROP DATABASE x; --\""
        );
    }

    #[test]
    fn a_missing_database_is_told_from_other_connection_failures() {
        let missing = ConnectionError::BadConnection(
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"shop\" does not exist\n"
                .into(),
        );
        assert!(is_missing_database(&missing));
        let refused = ConnectionError::BadConnection("connection refused".into());
        assert!(!is_missing_database(&refused));
    }
}
