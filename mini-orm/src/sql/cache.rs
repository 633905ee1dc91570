//! The parts of a table's statements that depend only on the table and the backend (quoted
//! names, column lists, `?` groups), built once per process and shared: the hot paths (get,
//! save, update, delete by primary key, selects) copy them instead of quoting every name again.

use std::sync::RwLock;

use crate::sql::{Backend, placeholders, quoted_list};
use crate::table::TableDef;

/// How many rows of an insert's `VALUES` list [`TableSql::insert_rows`] hands out at once.
pub(crate) const INSERT_ROWS_CACHED: usize = 64;

/// One table's statement fragments in one backend's dialect.
pub(crate) struct TableSql {
    /// `SELECT "a", "b" FROM "t"`
    pub select: String,
    /// `INSERT INTO "t" ("b", "c") VALUES `
    pub insert_head: String,
    /// `(?, ?)`: one row of an insert.
    pub insert_row: String,
    /// `INSERT INTO "t" ("b", "c") VALUES (?, ?)`
    pub insert_one: String,
    /// [`INSERT_ROWS_CACHED`] rows of an insert, `(?, ?), (?, ?), …`, so that up to that many
    /// are one copy of a prefix ([`TableSql::insert_rows`]).
    insert_rows: String,
    /// `insert_one` that writes nothing when the row would break a unique constraint:
    /// `… ON CONFLICT DO NOTHING` on SQLite, `INSERT IGNORE INTO …` on MySQL.
    pub insert_if_absent: String,
    /// `SELECT "a", "b" FROM "t" WHERE "id" = ?`
    pub select_by_primary_key: String,
    /// `UPDATE "t" SET "b" = ?, "c" = ? WHERE "id" = ?`
    pub update_by_primary_key: String,
    /// `DELETE FROM "t" WHERE "id" = ?`
    pub delete_by_primary_key: String,
    /// `SELECT COUNT(*) FROM "t"`
    pub count: String,
    /// `DELETE FROM "t"`
    pub delete: String,
    /// `UPDATE "t" SET `
    pub update_head: String,
}

impl TableSql {
    /// `rows` rows of an insert (`(?, ?), (?, ?)`), for `rows` from 1 to
    /// [`INSERT_ROWS_CACHED`].
    pub fn insert_rows(&self, rows: usize) -> &str {
        debug_assert!((1..=INSERT_ROWS_CACHED).contains(&rows));
        &self.insert_rows[..rows * (self.insert_row.len() + 2) - 2]
    }
}

/// The fragments of `table` for `backend`.
///
/// Keyed by the table definition's address: every model's `TABLE` is a `'static` constant, so
/// the cache holds one entry per model and backend (and leaks exactly those). A program has a
/// few dozen models at most, so a list searched in order is as quick as a hash map.
pub(crate) fn table_sql(backend: Backend, table: &'static TableDef) -> &'static TableSql {
    static CACHE: RwLock<Vec<(Key, &'static TableSql)>> = RwLock::new(Vec::new());
    let key = (std::ptr::from_ref(table) as usize, backend);
    let find = |entries: &[(Key, &'static TableSql)]| {
        entries.iter().find(|(k, _)| *k == key).map(|(_, sql)| *sql)
    };
    if let Some(sql) = find(&CACHE.read().unwrap_or_else(|p| p.into_inner())) {
        return sql;
    }
    let mut entries = CACHE.write().unwrap_or_else(|p| p.into_inner());
    if let Some(sql) = find(&entries) {
        return sql;
    }
    let built: &'static TableSql = Box::leak(Box::new(build(backend, table)));
    entries.push((key, built));
    built
}

/// A table definition's address, and the backend.
type Key = (usize, Backend);

fn build(backend: Backend, table: &TableDef) -> TableSql {
    let name = backend.quoted(table.name);
    let values = || table.value_columns().map(|c| c.name);
    let mut columns = String::new();
    quoted_list(
        backend,
        table.columns.iter().map(|c| c.name),
        "",
        &mut columns,
    );
    let mut value_columns = String::new();
    quoted_list(backend, values(), "", &mut value_columns);
    let mut assignments = String::new();
    quoted_list(backend, values(), " = ?", &mut assignments);
    let mut insert_row = String::from("(");
    placeholders(table.value_columns().count(), &mut insert_row);
    insert_row.push(')');
    let insert_rows = vec![insert_row.as_str(); INSERT_ROWS_CACHED].join(", ");
    let where_primary_key = format!(" WHERE {} = ?", backend.quoted(table.primary_key().name));
    let select = format!("SELECT {columns} FROM {name}");
    let insert_head = format!("INSERT INTO {name} ({value_columns}) VALUES ");
    let insert_one = format!("{insert_head}{insert_row}");
    let insert_if_absent = match backend {
        Backend::Sqlite => format!("{insert_one} ON CONFLICT DO NOTHING"),
        Backend::MySql => insert_one.replacen("INSERT INTO", "INSERT IGNORE INTO", 1),
    };
    TableSql {
        select_by_primary_key: format!("{select}{where_primary_key}"),
        select,
        insert_one,
        insert_if_absent,
        insert_head,
        insert_row,
        insert_rows,
        update_by_primary_key: format!("UPDATE {name} SET {assignments}{where_primary_key}"),
        delete_by_primary_key: format!("DELETE FROM {name}{where_primary_key}"),
        count: format!("SELECT COUNT(*) FROM {name}"),
        delete: format!("DELETE FROM {name}"),
        update_head: format!("UPDATE {name} SET "),
    }
}
