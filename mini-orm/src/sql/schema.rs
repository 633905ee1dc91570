//! Schema from the model: `CREATE TABLE` and its indexes, in each backend's dialect.
//!
//! A column with `#[field(references = Model)]` gets a `FOREIGN KEY (column) REFERENCES
//! parent (id) ON DELETE ...` line in its table, on both backends (SQLite connections turn
//! `PRAGMA foreign_keys` on; MySQL's InnoDB enforces them), so a referenced table must be
//! created before the tables that reference it.
//!
//! Both forms are idempotent. MySQL tables are InnoDB, `utf8mb4` with the binary collation (so
//! comparisons and `LIKE` are exact, as on SQLite), with `BIGINT AUTO_INCREMENT` keys and indexes
//! declared inside the table. SQLite tables are `STRICT`, with `INTEGER PRIMARY KEY
//! AUTOINCREMENT` keys (never reused, as on MySQL) and separate `CREATE INDEX IF NOT EXISTS`.
//!
//! For migrations: [`add_column`] and [`create_index`] (the same column and index definitions as
//! [`create_table`]), the queries that read a live table ([`live_columns`], [`index_exists`]),
//! and [`mismatches`], which compares a table's live columns with its [`TableDef`].

use std::fmt::Write;

use crate::sql::Backend;
use crate::table::{ColumnDef, DefaultValue, ForeignKey, IndexDef, TableDef};
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
    for column in table.columns {
        if let Some(key) = &column.references {
            lines.push(foreign_key(backend, column, key));
        }
    }
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
                statements.push(create_index(backend, table, index));
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

/// `FOREIGN KEY (column) REFERENCES parent (id) ON DELETE ...`, the same on both backends.
fn foreign_key(backend: Backend, column: &ColumnDef, key: &ForeignKey) -> String {
    format!(
        "FOREIGN KEY ({}) {}",
        backend.quoted(column.name),
        references(backend, key)
    )
}

/// `REFERENCES parent (id) ON DELETE ...`.
fn references(backend: Backend, key: &ForeignKey) -> String {
    format!(
        "REFERENCES {} ({}) ON DELETE {}",
        backend.quoted(key.table().name),
        backend.quoted(key.column()),
        key.on_delete.sql()
    )
}

/// The statement that drops `table` when present.
pub fn drop_table(backend: Backend, table: &TableDef) -> String {
    format!("DROP TABLE IF EXISTS {}", backend.quoted(table.name))
}

/// The statement that adds `column` (a non-key column of `table`) to the live table, with the
/// definition [`create_table`] gives it: rows already there get its default (or `NULL`). A
/// foreign key comes with its constraint: inline `REFERENCES` on SQLite (which accepts it only
/// for a column whose default is `NULL`), a separate `ADD FOREIGN KEY` clause on MySQL.
pub fn add_column(backend: Backend, table: &TableDef, column: &ColumnDef) -> String {
    let mut sql = format!(
        "ALTER TABLE {} ADD COLUMN {}",
        backend.quoted(table.name),
        column_definition(backend, table, column, false)
    );
    if let Some(key) = &column.references {
        match backend {
            Backend::Sqlite => {
                let _ = write!(sql, " {}", references(backend, key));
            }
            Backend::MySql => {
                let _ = write!(sql, ", ADD {}", foreign_key(backend, column, key));
            }
        }
    }
    sql
}

/// The statement that creates `index` on `table`, named by [`IndexDef::name`]: with
/// `IF NOT EXISTS` on SQLite; MySQL has no such clause (MariaDB does), so ask [`index_exists`]
/// first there.
pub fn create_index(backend: Backend, table: &TableDef, index: &IndexDef) -> String {
    let unique = if index.unique { "UNIQUE " } else { "" };
    let if_not_exists = match backend {
        Backend::Sqlite => "IF NOT EXISTS ",
        Backend::MySql => "",
    };
    format!(
        "CREATE {unique}INDEX {if_not_exists}{} ON {} ({})",
        backend.quoted(&index.name(table.name)),
        backend.quoted(table.name),
        column_names(backend, index.columns)
    )
}

/// The query for a live table's columns, given the table name as its one parameter: rows of
/// (name, declared type, 1 when `NULL` is allowed). Empty when the table does not exist.
pub fn live_columns(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT name, type, CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END \
             FROM pragma_table_info(?) ORDER BY cid"
        }
        Backend::MySql => {
            "SELECT COLUMN_NAME, DATA_TYPE, CASE WHEN IS_NULLABLE = 'YES' THEN 1 ELSE 0 END \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION"
        }
    }
}

/// The query counting the indexes named by its first parameter (a name from
/// [`IndexDef::name`]) on the table named by its second.
pub fn index_exists(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ? AND tbl_name = ?"
        }
        Backend::MySql => {
            "SELECT COUNT(*) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = ? AND TABLE_NAME = ?"
        }
    }
}

/// One column of a live table, as [`live_columns`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    /// The column name.
    pub name: String,
    /// The type as the database reports it (`INTEGER`, `varchar`, `longtext`, ...).
    pub declared_type: String,
    /// Whether `NULL` is allowed (always false for the primary key).
    pub nullable: bool,
}

/// How `table` disagrees with `live`, the columns the database has for it: one sentence per
/// problem (a missing table, a missing column, a column whose kind of value (integer, float,
/// text, bytes) or nullability differs). Columns the model does not know are not problems.
pub fn mismatches(table: &TableDef, live: &[LiveColumn]) -> Vec<String> {
    if live.is_empty() {
        return vec![format!("table `{}` does not exist", table.name)];
    }
    let mut problems = Vec::new();
    for (i, column) in table.columns.iter().enumerate() {
        let Some(found) = live
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(column.name))
        else {
            problems.push(format!("column `{}` is missing", column.name));
            continue;
        };
        let expected = Kind::of(column.sql_type);
        match Kind::of_declared(&found.declared_type) {
            Some(kind) if kind == expected => {}
            _ => problems.push(format!(
                "column `{}` is {} in the database but {} in the model",
                column.name,
                found.declared_type,
                expected.name()
            )),
        }
        if i != table.primary_key && found.nullable != column.nullable {
            let says = |nullable| if nullable { "nullable" } else { "NOT NULL" };
            problems.push(format!(
                "column `{}` is {} in the database but {} in the model",
                column.name,
                says(found.nullable),
                says(column.nullable)
            ));
        }
    }
    problems
}

/// The query for a live table's foreign keys, given the table name as its one parameter: rows of
/// (column, referenced table, referenced column (`NULL` for SQLite's "its primary key"),
/// `ON DELETE` action). Empty when it has none, or does not exist.
pub fn live_foreign_keys(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?) \
             ORDER BY id, seq"
        }
        Backend::MySql => {
            "SELECT k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE \
             FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
             ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
             AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? \
             AND k.REFERENCED_TABLE_NAME IS NOT NULL ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION"
        }
    }
}

/// One foreign key of a live table, as [`live_foreign_keys`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveForeignKey {
    /// The referencing column.
    pub column: String,
    /// The referenced table.
    pub parent_table: String,
    /// The referenced column; `None` when SQLite reports none (the parent's primary key).
    pub parent_column: Option<String>,
    /// The `ON DELETE` action as the database reports it (`CASCADE`, `SET NULL`, `NO ACTION`, ...).
    pub on_delete: String,
}

impl LiveForeignKey {
    /// Whether this is the foreign key `key` of `column` (`NO ACTION` counts as `RESTRICT`: they
    /// differ only for deferred constraints, which the crate never creates).
    fn is(&self, column: &ColumnDef, key: &ForeignKey) -> bool {
        let action = match self.on_delete.to_ascii_uppercase().as_str() {
            "NO ACTION" => "RESTRICT".to_owned(),
            other => other.to_owned(),
        };
        self.column.eq_ignore_ascii_case(column.name)
            && self.parent_table.eq_ignore_ascii_case(key.table().name)
            && self
                .parent_column
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(key.column()))
            && action == key.on_delete.sql()
    }

    fn describe(&self) -> String {
        let column = self.parent_column.as_deref().unwrap_or("its primary key");
        format!(
            "`{}`.`{column}` ON DELETE {}",
            self.parent_table, self.on_delete
        )
    }
}

/// How the foreign keys of `table` disagree with `live`, those the database has for it: one
/// sentence per column whose foreign key is missing, unexpected, or points elsewhere or acts
/// otherwise on delete. Foreign keys of columns the model does not know are not problems.
pub fn foreign_key_mismatches(table: &TableDef, live: &[LiveForeignKey]) -> Vec<String> {
    let mut problems = Vec::new();
    for column in table.columns {
        let found: Vec<&LiveForeignKey> = live
            .iter()
            .filter(|k| k.column.eq_ignore_ascii_case(column.name))
            .collect();
        let expected = column.references.as_ref().map(|key| {
            format!(
                "`{}`.`{}` ON DELETE {}",
                key.table().name,
                key.column(),
                key.on_delete.sql()
            )
        });
        match (&column.references, found.first()) {
            (None, None) => {}
            (Some(key), Some(_)) if found.iter().any(|k| k.is(column, key)) => {}
            (_, first) => problems.push(format!(
                "column `{}` references {} in the database but {} in the model",
                column.name,
                first.map_or("nothing".to_owned(), |k| k.describe()),
                expected.unwrap_or_else(|| "nothing".to_owned())
            )),
        }
    }
    problems
}

/// The kind of value a column holds, as far as both backends' types tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Float,
    Text,
    Bytes,
}

impl Kind {
    fn of(sql_type: SqlType) -> Kind {
        match sql_type {
            SqlType::BigInt | SqlType::Int | SqlType::Bool => Kind::Integer,
            SqlType::Double => Kind::Float,
            SqlType::Text => Kind::Text,
            SqlType::Blob => Kind::Bytes,
        }
    }

    /// From a declared type, by SQLite's affinity rules (which MySQL's type names fit too).
    fn of_declared(declared: &str) -> Option<Kind> {
        let t = declared.to_ascii_lowercase();
        if t.contains("int") {
            Some(Kind::Integer)
        } else if t.contains("char") || t.contains("text") || t.contains("clob") {
            Some(Kind::Text)
        } else if t.contains("blob") || t.contains("binary") {
            Some(Kind::Bytes)
        } else if ["real", "floa", "doub", "decimal", "numeric"]
            .iter()
            .any(|f| t.contains(f))
        {
            Some(Kind::Float)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Integer => "an integer",
            Kind::Float => "a float",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
        }
    }
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
