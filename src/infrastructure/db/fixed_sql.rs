//! Statements whose SQL text never changes, so that diesel prepares them once per connection.
//!
//! diesel caches a prepared statement only when it can tell the SQL is always the same: never
//! for an `UPDATE` (its changeset could skip fields) nor for `eq_any` over a `Vec`. The journal
//! runs a few such statements in every batch, and SQLite parsed and planned each of them every
//! time (`sqlite3Prepare` was about 5% of the journal writer's CPU in a flash sale). A
//! [`fixed_sql!`](crate::fixed_sql) statement is its own type, with its SQL written out around
//! its binds, and tells diesel so.

/// Declares a statement type: its fields are bound, in order, between the SQL pieces (one more
/// piece than fields). With `loads = <sql types>;` it is a query that loads rows of those types;
/// without, a statement to `execute`. Each statement must be its own type: diesel keys its
/// cache by the type.
///
/// ```ignore
/// fixed_sql! {
///     /// Moves a listing's journal position.
///     pub struct AdvancePosition { by: i64 as BigInt, id: String as Text }
///     sql = ["UPDATE catalog_listings SET journal_position = journal_position + ", " WHERE id = ", ""];
/// }
/// ```
#[macro_export]
macro_rules! fixed_sql {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $($field:ident: $rust:ty as $sql_type:ident),* $(,)? }
        sql = [$first:literal $(, $piece:literal)* $(,)?];
        $(loads = $loads:ty;)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            $(pub $field: $rust),*
        }

        impl diesel::query_builder::QueryId for $name {
            type QueryId = Self;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl<DB> diesel::query_builder::QueryFragment<DB> for $name
        where
            DB: diesel::backend::Backend,
            $($rust: diesel::serialize::ToSql<diesel::sql_types::$sql_type, DB>,)*
        {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> diesel::QueryResult<()> {
                const PIECES: &[&str] = &[$($piece),*];
                let mut pieces = PIECES.iter();
                out.push_sql($first);
                $(
                    out.push_bind_param::<diesel::sql_types::$sql_type, _>(&self.$field)?;
                    out.push_sql(pieces.next().copied().unwrap_or(""));
                )*
                Ok(())
            }
        }

        $(
            impl diesel::query_builder::Query for $name {
                type SqlType = $loads;
            }
        )?

        impl<Conn> diesel::RunQueryDsl<Conn> for $name {}
    };
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;

    crate::fixed_sql! {
        struct Bump { by: i64 as BigInt, name: String as Text }
        sql = ["UPDATE counters SET n = n + ", " WHERE name = ", ""];
    }

    crate::fixed_sql! {
        struct Read { name: String as Text }
        sql = ["SELECT name, n FROM counters WHERE name = ", " ORDER BY name"];
        loads = (diesel::sql_types::Text, diesel::sql_types::BigInt);
    }

    #[test]
    fn binds_go_between_the_pieces_and_rows_load() {
        let mut conn = SqliteConnection::establish(":memory:").expect("an in-memory database");
        conn.batch_execute("CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL); INSERT INTO counters VALUES ('a', 1), ('b', 10);")
            .expect("a table");
        let bump = |by: i64, name: &str| Bump { by, name: name.into() };
        assert_eq!(bump(5, "a").execute(&mut conn).expect("updated"), 1);
        assert_eq!(
            bump(5, "a").execute(&mut conn).expect("updated"),
            1,
            "again, from the cache"
        );
        assert_eq!(bump(1, "zz").execute(&mut conn).expect("ran"), 0);
        let rows: Vec<(String, i64)> = Read { name: "a".into() }.load(&mut conn).expect("read");
        assert_eq!(rows, vec![("a".to_owned(), 11)]);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&bump(2, "b")).to_string();
        assert!(sql.starts_with("UPDATE counters SET n = n + ? WHERE name = ?"), "{sql}");
    }
}
