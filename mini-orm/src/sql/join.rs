//! The statement of an inner join: each row of one table with the row of another that a
//! condition pairs it with, both tables' columns in model order, every column qualified by its
//! table (both may have an `id`).

use crate::column::Expr;
use crate::sql::dml::{Clauses, order_and_window, qualified, render};
use crate::sql::{Backend, Statement};
use crate::table::TableDef;

/// `SELECT "l"."a", …, "r"."x", … FROM "l" JOIN "r" ON <on> WHERE <left's filter> AND
/// <right's filter> ORDER BY … LIMIT … OFFSET …`: the order and window are the left side's.
pub(crate) fn select_join<'a>(
    backend: Backend,
    (left, left_clauses): (&'static TableDef, &Clauses<'a>),
    (right, right_filter): (&'static TableDef, Option<&'a Expr>),
    on: &'a Expr,
) -> Statement<'a> {
    let mut sql = String::from("SELECT ");
    let columns = left
        .columns
        .iter()
        .map(|c| (left.name, c.name))
        .chain(right.columns.iter().map(|c| (right.name, c.name)));
    for (i, column) in columns.enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        qualified(backend, column, &mut sql);
    }
    sql.push_str(" FROM ");
    backend.quote(left.name, &mut sql);
    sql.push_str(" JOIN ");
    backend.quote(right.name, &mut sql);
    sql.push_str(" ON ");
    let mut stmt = Statement::text(sql, Vec::new());
    stmt.columns_in_model_order = true;
    render(backend, on, Some(right.name), &mut stmt);
    let filters = [(left_clauses.filter, left.name), (right_filter, right.name)];
    for (i, (filter, table)) in filters
        .into_iter()
        .filter_map(|(filter, table)| Some((filter?, table)))
        .enumerate()
    {
        stmt.sql
            .to_mut()
            .push_str(if i == 0 { " WHERE " } else { " AND " });
        render(backend, filter, Some(table), &mut stmt);
    }
    order_and_window(backend, Some(left.name), left_clauses, &mut stmt);
    stmt
}
