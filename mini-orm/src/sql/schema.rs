//! Schema from the model: `CREATE TABLE` and its indexes, in each backend's dialect.
//!
//! Both forms are idempotent. MySQL tables are InnoDB, `utf8mb4` with the binary collation (so
//! comparisons and `LIKE` are exact, as on SQLite), with `BIGINT AUTO_INCREMENT` keys and indexes
//! declared inside the table. SQLite tables are `STRICT`, with `INTEGER PRIMARY KEY
//! AUTOINCREMENT` keys (never reused, as on MySQL) and separate `CREATE INDEX IF NOT EXISTS`.

use std::fmt::Write;

use crate::sql::Backend;
use crate::table::{ColumnDef, DefaultValue, TableDef};
use crate::value::SqlType;

/// The statements that create `table` and its indexes when missing.
pub fn create_table(backend: Backend, table: &TableDef) -> Vec<String> {
    let mut sql = String::from("CREATE TABLE IF NOT EXISTS ");
    backend.quote(table.name, &mut sql);
    sql.push_str(" (\n");
    let mut lines: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| column_definition(backend, table, column, i == table.primary_key))
        .collect();
    let mut statements = Vec::new();
    match backend {
        Backend::MySql => {
            lines.push(format!(
                "PRIMARY KEY ({})",
                backend.quoted(table.primary_key().name)
            ));
            for index in table.indexes {
                let kind = if index.unique { "UNIQUE KEY" } else { "KEY" };
                lines.push(format!(
                    "{kind} {} ({})",
                    backend.quoted(&index.name(table.name)),
                    column_names(backend, index.columns)
                ));
            }
        }
        Backend::Sqlite => {
            for index in table.indexes {
                let unique = if index.unique { "UNIQUE " } else { "" };
                statements.push(format!(
                    "CREATE {unique}INDEX IF NOT EXISTS {} ON {} ({})",
                    backend.quoted(&index.name(table.name)),
                    backend.quoted(table.name),
                    column_names(backend, index.columns)
                ));
            }
        }
    }
    sql.push_str("  ");
    sql.push_str(&lines.join(",\n  "));
    sql.push_str("\n)");
    sql.push_str(match backend {
        Backend::MySql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        Backend::Sqlite => " STRICT",
    });
    statements.insert(0, sql);
    statements
}

/// The statement that drops `table` when present.
pub fn drop_table(backend: Backend, table: &TableDef) -> String {
    format!("DROP TABLE IF EXISTS {}", backend.quoted(table.name))
}

fn column_names(backend: Backend, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| backend.quoted(c))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_definition(
    backend: Backend,
    table: &TableDef,
    column: &ColumnDef,
    primary_key: bool,
) -> String {
    let mut line = backend.quoted(column.name);
    if primary_key {
        line.push_str(match backend {
            Backend::Sqlite => " INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::MySql => " BIGINT NOT NULL AUTO_INCREMENT",
        });
        return line;
    }
    let indexed = table
        .indexes
        .iter()
        .any(|i| i.columns.contains(&column.name));
    let _ = write!(
        line,
        " {}",
        column_type(backend, column.sql_type, column.max_len, indexed)
    );
    if !column.nullable {
        line.push_str(" NOT NULL");
    }
    if let Some(default) = column.default {
        line.push_str(" DEFAULT ");
        match default {
            DefaultValue::Int(i) => line.push_str(&i.to_string()),
            DefaultValue::Float(f) => line.push_str(&format!("{f:?}")),
            DefaultValue::Bool(b) => line.push_str(if b { "1" } else { "0" }),
            DefaultValue::Text(text) => {
                line.push('\'');
                for c in text.chars() {
                    match c {
                        '\'' => line.push_str("''"),
                        // MySQL reads a backslash in a literal as an escape; SQLite does not.
                        '\\' if backend == Backend::MySql => line.push_str("\\\\"),
                        c => line.push(c),
                    }
                }
                line.push('\'');
            }
        }
    }
    line
}

/// The column type in this backend's DDL.
fn column_type(backend: Backend, sql_type: SqlType, max_len: Option<u32>, indexed: bool) -> String {
    match (backend, sql_type) {
        (Backend::Sqlite, SqlType::BigInt | SqlType::Int | SqlType::Bool) => "INTEGER".into(),
        (Backend::Sqlite, SqlType::Double) => "REAL".into(),
        (Backend::Sqlite, SqlType::Text) => "TEXT".into(),
        (Backend::Sqlite, SqlType::Blob) => "BLOB".into(),
        (Backend::MySql, SqlType::BigInt) => "BIGINT".into(),
        (Backend::MySql, SqlType::Int) => "INT".into(),
        (Backend::MySql, SqlType::Bool) => "BOOLEAN".into(),
        (Backend::MySql, SqlType::Double) => "DOUBLE".into(),
        // An index needs a bounded length on MySQL; 255 characters of utf8mb4 fit InnoDB's limit.
        (Backend::MySql, SqlType::Text) => match max_len.or(indexed.then_some(255)) {
            Some(n) => format!("VARCHAR({n})"),
            // TEXT holds only 65 535 bytes; SQLite's TEXT has no such limit.
            None => "LONGTEXT".into(),
        },
        (Backend::MySql, SqlType::Blob) => "LONGBLOB".into(),
    }
}
