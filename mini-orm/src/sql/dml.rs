//! The statements of each operation on rows: selects (by primary key or by filter), counts,
//! inserts (one row or many), updates and deletes.

use std::borrow::Cow;
use std::fmt::Write;

use crate::column::{Assignment, Change, Expr, Order};
use crate::error::{Error, Result};
use crate::sql::cache::{INSERT_ROWS_CACHED, table_sql};
use crate::sql::{Backend, Statement, placeholders};
use crate::table::{ColumnDef, TableDef};
use crate::value::Value;

/// The parts of a `SELECT`, `UPDATE` or `DELETE` that `Select` collects.
pub(crate) struct Clauses<'a> {
    pub filter: Option<&'a Expr>,
    pub order: &'a [(&'static str, bool)],
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub for_update: bool,
}

impl<M> From<&Order<M>> for (&'static str, bool) {
    fn from(order: &Order<M>) -> Self {
        (order.column, order.descending)
    }
}

fn select_from<'a>(backend: Backend, table: &'static TableDef) -> Statement<'a> {
    let mut stmt = Statement::new(table, &table_sql(backend, table).select);
    stmt.columns_in_model_order = true;
    stmt
}

pub(crate) fn select_by_primary_key(
    backend: Backend,
    table: &'static TableDef,
    id: i64,
) -> Statement<'static> {
    let mut stmt = by_primary_key(table, &table_sql(backend, table).select_by_primary_key, id);
    stmt.columns_in_model_order = true;
    stmt
}

/// The cached statement `sql` on `table`, whose one parameter is the primary key `id`.
fn by_primary_key(table: &'static TableDef, sql: &'static str, id: i64) -> Statement<'static> {
    let mut stmt = Statement::fixed(table, Cow::Borrowed(sql));
    stmt.params.push(Value::Int(id));
    stmt
}

/// Refuses text longer than its column's `max_len`, the same way on both backends.
fn check_length(column: &ColumnDef, value: &Value<'_>) -> Result<()> {
    if let (Some(max_len), Value::Text(text)) = (column.max_len, value) {
        let len = text.chars().count();
        if len > max_len as usize {
            return Err(Error::ValueTooLong {
                column: column.name,
                max_len,
                len,
            });
        }
    }
    Ok(())
}

fn check_lengths(table: &TableDef, values: &[Value<'_>]) -> Result<()> {
    if table.columns.iter().all(|c| c.max_len.is_none()) {
        return Ok(());
    }
    table
        .value_columns()
        .zip(values)
        .try_for_each(|(column, value)| check_length(column, value))
}

/// The most `?` placeholders one statement may carry: SQLite's default limit (MySQL's is 65 535).
pub(crate) const MAX_PARAMS: usize = 32_766;

/// How many rows of `table` one multi-row `INSERT` carries at most.
pub(crate) fn rows_per_insert(table: &TableDef) -> usize {
    (MAX_PARAMS / table.value_columns().count().max(1)).max(1)
}

/// `INSERT INTO t (…) VALUES (…), (…)` of `params`, one group of [`TableDef::value_columns`]
/// values per row.
pub(crate) fn insert<'a>(
    backend: Backend,
    table: &'static TableDef,
    params: Vec<Value<'a>>,
) -> Result<Statement<'a>> {
    let width = table.value_columns().count().max(1);
    if table.columns.iter().any(|c| c.max_len.is_some()) {
        params
            .chunks(width)
            .try_for_each(|row| check_lengths(table, row))?;
    }
    let fragments = table_sql(backend, table);
    let mut stmt = match params.len() / width {
        1 => Statement::fixed(table, Cow::Borrowed(&fragments.insert_one)),
        rows => {
            let mut stmt = Statement::new(table, &fragments.insert_head);
            let sql = stmt.sql.to_mut();
            sql.reserve(rows * (fragments.insert_row.len() + 2));
            let mut left = rows;
            while left > 0 {
                if left < rows {
                    sql.push_str(", ");
                }
                let take = left.min(INSERT_ROWS_CACHED);
                sql.push_str(fragments.insert_rows(take));
                left -= take;
            }
            stmt
        }
    };
    stmt.params = params;
    Ok(stmt)
}

/// `insert` of one row that writes nothing when the row would break a unique constraint:
/// `INSERT … ON CONFLICT DO NOTHING` on SQLite, `INSERT IGNORE …` on MySQL.
pub(crate) fn insert_if_absent<'a>(
    backend: Backend,
    table: &'static TableDef,
    params: Vec<Value<'a>>,
) -> Result<Statement<'a>> {
    check_lengths(table, &params)?;
    let sql = &table_sql(backend, table).insert_if_absent;
    let mut stmt = Statement::fixed(table, Cow::Borrowed(sql));
    stmt.params = params;
    Ok(stmt)
}

pub(crate) fn update_by_primary_key<'a>(
    backend: Backend,
    table: &'static TableDef,
    values: Vec<Value<'a>>,
    id: i64,
) -> Result<Statement<'a>> {
    check_lengths(table, &values)?;
    let mut stmt = Statement::fixed(
        table,
        Cow::Borrowed(&table_sql(backend, table).update_by_primary_key),
    );
    stmt.params = values;
    stmt.params.push(Value::Int(id));
    Ok(stmt)
}

pub(crate) fn delete_by_primary_key(
    backend: Backend,
    table: &'static TableDef,
    id: i64,
) -> Statement<'static> {
    by_primary_key(table, &table_sql(backend, table).delete_by_primary_key, id)
}

pub(crate) fn select<'a>(
    backend: Backend,
    table: &'static TableDef,
    clauses: &Clauses<'a>,
) -> Statement<'a> {
    let mut stmt = select_from(backend, table);
    where_clause(backend, clauses.filter, &mut stmt);
    order_and_window(backend, None, clauses, &mut stmt);
    if clauses.for_update && backend == Backend::MySql {
        stmt.sql.to_mut().push_str(" FOR UPDATE");
    }
    stmt
}

/// `clauses`' `ORDER BY` (columns qualified by `table` when given), `LIMIT` and `OFFSET`.
pub(crate) fn order_and_window(
    backend: Backend,
    table: Option<&str>,
    clauses: &Clauses<'_>,
    stmt: &mut Statement<'_>,
) {
    if !clauses.order.is_empty() {
        stmt.sql.to_mut().push_str(" ORDER BY ");
        for (i, (column, descending)) in clauses.order.iter().enumerate() {
            if i > 0 {
                stmt.sql.to_mut().push_str(", ");
            }
            column_ref(backend, table, column, stmt.sql.to_mut());
            stmt.sql
                .to_mut()
                .push_str(if *descending { " DESC" } else { " ASC" });
        }
    }
    if clauses.limit.is_some() || clauses.offset.is_some() {
        // Both dialects need a LIMIT before an OFFSET; "no limit" is the largest one.
        let limit = clauses
            .limit
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        stmt.sql.to_mut().push_str(" LIMIT ?");
        stmt.params.push(Value::Int(limit));
        if let Some(offset) = clauses.offset {
            stmt.sql.to_mut().push_str(" OFFSET ?");
            stmt.params
                .push(Value::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
        }
    }
}

pub(crate) fn count<'a>(
    backend: Backend,
    table: &'static TableDef,
    filter: Option<&'a Expr>,
) -> Statement<'a> {
    let head = &table_sql(backend, table).count;
    filtered(backend, table, head, filter)
}

pub(crate) fn delete<'a>(
    backend: Backend,
    table: &'static TableDef,
    filter: Option<&'a Expr>,
) -> Statement<'a> {
    let head = &table_sql(backend, table).delete;
    filtered(backend, table, head, filter)
}

/// A statement on `table` whose text is `head` and then `filter`'s `WHERE` clause, if any.
fn filtered<'a>(
    backend: Backend,
    table: &'static TableDef,
    head: &str,
    filter: Option<&'a Expr>,
) -> Statement<'a> {
    let mut stmt = Statement::new(table, head);
    where_clause(backend, filter, &mut stmt);
    stmt
}

pub(crate) fn update<'a, M>(
    backend: Backend,
    table: &'static TableDef,
    assignments: &'a [Assignment<M>],
    filter: Option<&'a Expr>,
) -> Result<Statement<'a>> {
    if assignments.is_empty() {
        return Err(Error::InvalidQuery(
            "an update needs at least one assignment",
        ));
    }
    let mut stmt = Statement::new(table, &table_sql(backend, table).update_head);
    for (i, assignment) in assignments.iter().enumerate() {
        if i > 0 {
            stmt.sql.to_mut().push_str(", ");
        }
        backend.quote(assignment.column, stmt.sql.to_mut());
        stmt.sql.to_mut().push_str(" = ");
        match &assignment.change {
            Change::Set(value) => {
                if let Some(column) = table.columns.iter().find(|c| c.name == assignment.column) {
                    check_length(column, value)?;
                }
                stmt.sql.to_mut().push('?');
                stmt.params.push(value.as_borrowed());
            }
            Change::Add(amount) => {
                backend.quote(assignment.column, stmt.sql.to_mut());
                stmt.sql.to_mut().push_str(" + ?");
                stmt.params.push(amount.as_borrowed());
            }
        }
    }
    where_clause(backend, filter, &mut stmt);
    Ok(stmt)
}

/// Appends ` WHERE <filter>` (columns unqualified), if there is a filter.
pub(crate) fn where_clause<'a>(
    backend: Backend,
    filter: Option<&'a Expr>,
    stmt: &mut Statement<'a>,
) {
    if let Some(expr) = filter {
        stmt.sql.to_mut().push_str(" WHERE ");
        render(backend, expr, None, stmt);
    }
}

/// `"table"."column"`.
pub(crate) fn qualified(backend: Backend, (table, column): (&str, &str), out: &mut String) {
    backend.quote(table, out);
    out.push('.');
    backend.quote(column, out);
}

/// `SELECT column, COUNT(*) FROM table WHERE ... GROUP BY column ORDER BY column`.
pub(crate) fn count_by<'a>(
    backend: Backend,
    table: &'static TableDef,
    column: &'static str,
    filter: Option<&'a Expr>,
) -> Statement<'a> {
    let mut head = String::from("SELECT ");
    backend.quote(column, &mut head);
    head.push_str(", COUNT(*) FROM ");
    backend.quote(table.name, &mut head);
    let mut stmt = Statement::text(head, Vec::new());
    where_clause(backend, filter, &mut stmt);
    let sql = stmt.sql.to_mut();
    for clause in [" GROUP BY ", " ORDER BY "] {
        sql.push_str(clause);
        backend.quote(column, sql);
    }
    stmt
}

/// A column named in a filter: `"column"`, or `"table"."column"` when `table` qualifies it
/// (in a join, where both tables may have a column of that name).
fn column_ref(backend: Backend, table: Option<&str>, name: &str, out: &mut String) {
    match table {
        Some(table) => qualified(backend, (table, name), out),
        None => backend.quote(name, out),
    }
}

/// Appends `expr` as SQL to `stmt`, its columns qualified by `table` when given.
pub(crate) fn render<'a>(
    backend: Backend,
    expr: &'a Expr,
    table: Option<&'static str>,
    stmt: &mut Statement<'a>,
) {
    match expr {
        Expr::Compare { column, op, value } => {
            column_ref(backend, table, column, stmt.sql.to_mut());
            let _ = write!(stmt.sql.to_mut(), " {} ?", op.sql());
            stmt.params.push(value.as_borrowed());
        }
        Expr::In {
            values, negated, ..
        } if values.is_empty() => {
            stmt.sql
                .to_mut()
                .push_str(if *negated { "1 = 1" } else { "1 = 0" });
        }
        Expr::In {
            column,
            values,
            negated,
        } => {
            column_ref(backend, table, column, stmt.sql.to_mut());
            stmt.sql
                .to_mut()
                .push_str(if *negated { " NOT IN (" } else { " IN (" });
            placeholders(values.len(), stmt.sql.to_mut());
            stmt.sql.to_mut().push(')');
            stmt.params.extend(values.iter().map(Value::as_borrowed));
        }
        Expr::Like {
            column,
            pattern,
            ignore_case,
        } => {
            if *ignore_case {
                stmt.sql.to_mut().push_str("LOWER(");
                column_ref(backend, table, column, stmt.sql.to_mut());
                stmt.sql.to_mut().push(')');
            } else {
                column_ref(backend, table, column, stmt.sql.to_mut());
            }
            stmt.sql.to_mut().push_str(" LIKE ?");
            stmt.sql.to_mut().push_str(backend.like_escape());
            stmt.params.push(Value::Text(Cow::Borrowed(pattern)));
        }
        Expr::IsNull { column, negated } => {
            column_ref(backend, table, column, stmt.sql.to_mut());
            stmt.sql
                .to_mut()
                .push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
        Expr::InSubquery {
            column,
            subquery,
            negated,
        } => {
            column_ref(backend, table, column, stmt.sql.to_mut());
            stmt.sql.to_mut().push_str(if *negated {
                " NOT IN (SELECT "
            } else {
                " IN (SELECT "
            });
            backend.quote(subquery.column, stmt.sql.to_mut());
            stmt.sql.to_mut().push_str(" FROM ");
            backend.quote(subquery.table, stmt.sql.to_mut());
            where_clause(backend, subquery.filter.as_ref(), stmt);
            stmt.sql.to_mut().push(')');
        }
        Expr::Exists {
            table,
            filter,
            negated,
        } => {
            stmt.sql.to_mut().push_str(if *negated {
                "NOT EXISTS (SELECT 1 FROM "
            } else {
                "EXISTS (SELECT 1 FROM "
            });
            backend.quote(table, stmt.sql.to_mut());
            where_clause(backend, filter.as_deref(), stmt);
            stmt.sql.to_mut().push(')');
        }
        Expr::CompareColumns { left, op, right } => {
            qualified(backend, *left, stmt.sql.to_mut());
            let _ = write!(stmt.sql.to_mut(), " {} ", op.sql());
            qualified(backend, *right, stmt.sql.to_mut());
        }
        Expr::And(parts) | Expr::Or(parts) => {
            let joiner = if matches!(expr, Expr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            stmt.sql.to_mut().push('(');
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    stmt.sql.to_mut().push_str(joiner);
                }
                render(backend, part, table, stmt);
            }
            stmt.sql.to_mut().push(')');
        }
        Expr::Not(inner) => {
            stmt.sql.to_mut().push_str("NOT (");
            render(backend, inner, table, stmt);
            stmt.sql.to_mut().push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SqlType;

    static COLUMNS: [ColumnDef; 3] = [
        ColumnDef::required("id", SqlType::BigInt),
        ColumnDef::required("a", SqlType::Text),
        ColumnDef {
            nullable: true,
            ..ColumnDef::required("b", SqlType::Int)
        },
    ];
    static TABLE: TableDef = TableDef {
        name: "t",
        columns: &COLUMNS,
        primary_key: 0,
        indexes: &[],
    };

    #[test]
    fn multi_row_inserts_have_one_group_per_row_past_the_cached_prefix() {
        for rows in [
            1,
            2,
            INSERT_ROWS_CACHED - 1,
            INSERT_ROWS_CACHED,
            INSERT_ROWS_CACHED + 1,
            200,
        ] {
            let params = (0..rows * 2).map(|i| Value::Int(i as i64)).collect();
            let stmt = insert(Backend::Sqlite, &TABLE, params).unwrap();
            let expected = format!(
                r#"INSERT INTO "t" ("a", "b") VALUES {}"#,
                vec!["(?, ?)"; rows].join(", ")
            );
            assert_eq!(stmt.sql, expected, "{rows} rows");
            assert_eq!(stmt.params.len(), rows * 2);
        }
    }

    #[test]
    fn statements_by_primary_key_use_the_cached_text() {
        let get = select_by_primary_key(Backend::MySql, &TABLE, 7);
        assert_eq!(get.sql, "SELECT `id`, `a`, `b` FROM `t` WHERE `id` = ?");
        assert!(matches!(get.sql, Cow::Borrowed(_)));
        assert_eq!(get.params, [Value::Int(7)]);
        let delete = delete_by_primary_key(Backend::Sqlite, &TABLE, 7);
        assert_eq!(delete.sql, r#"DELETE FROM "t" WHERE "id" = ?"#);
    }
}
