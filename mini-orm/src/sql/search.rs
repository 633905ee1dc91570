//! The SQL of full-text search, the same design on both backends: a term table that a small
//! tokenizer fills, and the statements that maintain it and rank rows by it. The API over it is
//! [`Model::search`](crate::Model::search); this module is text only.
//!
//! # The design, and why not the engines' own full-text search
//!
//! Every row of a model with `#[field(searchable)]` fields has its terms in one shared table,
//!
//! ```text
//! mini_orm_terms (tbl VARCHAR(64), row_id BIGINT, term VARCHAR(64), weight INT)
//!     primary key (tbl, term, row_id)  -- a search: the rows of one term, with their weights
//!                                      -- (clustered: InnoDB, and SQLite's WITHOUT ROWID)
//!     index (row_id, tbl)              -- an edit or a delete: the terms of one row
//! ```
//!
//! where `weight` is how many times the term occurs in the row's searchable text. The terms
//! come from [`for_each_term`]:
//!
//! - a run of letters and digits other than CJK is a word, lower-cased (`Sunset` is `sunset`);
//! - a run of CJK characters (Han, kana, Hangul) gives its overlapping pairs, `大家你好啊` giving
//!   `大家 家你 你好 好啊`, and a single CJK character alone is a term of one character;
//! - everything else (spaces, punctuation, symbols) separates terms; a term is cut at
//!   [`MAX_TERM_CHARS`] characters.
//!
//! A query is split the same way, keeping its first [`MAX_QUERY_TERMS`] distinct terms. A row
//! matches when it has any of them; rows rank by how many distinct query terms they have, then
//! by the sum of those terms' weights, then newest first (primary key descending). The ranking
//! reads at most [`SEARCH_WINDOW`] term rows, each term's newest: a word in 60 000 rows costs
//! what a word in 4 000 does (a few milliseconds), and its matches are found among its newest
//! rows (older ones are not ranked, nor paged to).
//!
//! The engines' own indexes cannot give the same answers on both backends, Chinese included:
//!
//! - MariaDB has no ngram parser. InnoDB `FULLTEXT` splits on spaces and punctuation, so a
//!   Chinese sentence is one token, and ignores tokens under 3 characters
//!   (`innodb_ft_min_token_size`), so it never finds `你好` inside `大家你好啊`.
//! - SQLite FTS5's default tokenizer (`unicode61`) does not split Chinese either; its `trigram`
//!   tokenizer finds substrings of 3 characters or more only, so it misses two-character words
//!   such as `你好`, which are most Chinese words; and its ranking (bm25) has no MariaDB twin.
//!
//! A term table is plain SQL with two B-tree indexes, so it behaves identically on both, joins
//! the model's table inside the same transaction as the write that changes a row, and rolls
//! back with it. The cost is the table's size (about one row per distinct word or character
//! pair of each row) and a match on whole words only: `sun` does not find `sunset`.

use std::collections::BTreeMap;

use crate::sql::{Backend, Statement};
use crate::table::TableDef;
use crate::value::Value;

/// The term table's name.
pub(crate) const TERMS_TABLE: &str = "mini_orm_terms";

/// The longest term, in characters: longer words are cut to this (the same way in rows and
/// queries, so a long word still finds itself).
pub(crate) const MAX_TERM_CHARS: usize = 64;

/// The most distinct terms a query uses; the rest of the query is not read.
pub(crate) const MAX_QUERY_TERMS: usize = 32;

/// How many term rows a search ranks at most: each of a query's terms contributes its newest
/// [`term_window`] rows. A term in more rows than its window finds its best matches among its
/// newest rows only, so that a search costs the same however common its words are.
pub(crate) const SEARCH_WINDOW: usize = 4096;

/// The fewest rows a term contributes, however many terms a query has.
const MIN_TERM_WINDOW: usize = 256;

/// The rows each term of a query of `terms` terms contributes to the ranking.
pub(crate) fn term_window(terms: usize) -> usize {
    (SEARCH_WINDOW / terms.max(1)).max(MIN_TERM_WINDOW)
}

/// Term rows per `INSERT` (four values each).
const TERMS_PER_INSERT: usize = 500;

/// Characters written without spaces between words, indexed as overlapping pairs.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3005 | 0x3007             // 々 〇
        | 0x3040..=0x30FF           // hiragana, katakana
        | 0x31F0..=0x31FF           // katakana phonetic extensions
        | 0x3400..=0x4DBF           // CJK extension A
        | 0x4E00..=0x9FFF           // CJK unified ideographs
        | 0xAC00..=0xD7AF           // Hangul syllables
        | 0xF900..=0xFAFF           // CJK compatibility ideographs
        | 0xFF66..=0xFF9D           // half-width katakana
        | 0x20000..=0x3134F         // CJK extensions B to G
    )
}

/// Calls `emit` with each term of `text`, in order, repeats included (see the module docs),
/// until it returns `false`.
pub(crate) fn for_each_term(text: &str, mut emit: impl FnMut(&str) -> bool) {
    let mut word = String::new();
    let mut word_chars = 0;
    // The CJK run: its previous character and its length so far.
    let mut previous: Option<char> = None;
    let mut run = 0;
    let mut pair = String::with_capacity(8);
    for c in text.chars() {
        let cjk = is_cjk(c);
        if !cjk && let Some(p) = previous.take() {
            if run == 1 && !emit(p.encode_utf8(&mut [0; 4])) {
                return;
            }
            run = 0;
        }
        if cjk {
            if !word.is_empty() {
                if !emit(&word) {
                    return;
                }
                word.clear();
                word_chars = 0;
            }
            if let Some(p) = previous {
                pair.clear();
                pair.push(p);
                pair.push(c);
                if !emit(&pair) {
                    return;
                }
            }
            previous = Some(c);
            run += 1;
        } else if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                if word_chars < MAX_TERM_CHARS {
                    word.push(lower);
                    word_chars += 1;
                }
            }
        } else if !word.is_empty() {
            if !emit(&word) {
                return;
            }
            word.clear();
            word_chars = 0;
        }
    }
    if let Some(p) = previous
        && run == 1
    {
        emit(p.encode_utf8(&mut [0; 4]));
    } else if !word.is_empty() {
        emit(&word);
    }
}

/// The distinct terms of `texts` with the number of times each occurs, in term order.
pub(crate) fn row_terms<'t>(texts: impl IntoIterator<Item = &'t str>) -> BTreeMap<String, u32> {
    let mut terms = BTreeMap::new();
    for text in texts {
        for_each_term(text, |term| {
            match terms.get_mut(term) {
                Some(n) => *n += 1,
                None => {
                    terms.insert(term.to_owned(), 1_u32);
                }
            }
            true
        });
    }
    terms
}

/// The distinct terms of a query, in order of appearance: at most [`MAX_QUERY_TERMS`], read
/// from the start of `query` (the rest is not looked at).
pub(crate) fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for_each_term(query, |term| {
        if !terms.iter().any(|t| t == term) {
            terms.push(term.to_owned());
        }
        terms.len() < MAX_QUERY_TERMS
    });
    terms
}

/// The statements that create the term table and its indexes when missing.
///
/// The row index leads with `row_id`, not `tbl`: given `(tbl, row_id)`, SQLite's planner (with no
/// statistics) reads a search's `GROUP BY row_id` in that index's order, scanning every term of
/// the table, instead of looking the query's terms up. On SQLite the table keeps its rowid, with
/// the term index as a unique index: as a `WITHOUT ROWID` table its row `DELETE` scanned the
/// whole table's terms.
pub(crate) fn create_terms_table(backend: Backend) -> Vec<String> {
    let table = backend.quoted(TERMS_TABLE);
    let row_index = backend.quoted(&format!("{TERMS_TABLE}_row_idx"));
    match backend {
        Backend::MySql => vec![format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n  `tbl` VARCHAR(64) NOT NULL,\n  \
             `row_id` BIGINT NOT NULL,\n  `term` VARCHAR({MAX_TERM_CHARS}) NOT NULL,\n  \
             `weight` INT NOT NULL,\n  PRIMARY KEY (`tbl`, `term`, `row_id`),\n  \
             KEY {row_index} (`row_id`, `tbl`)\n) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        )],
        Backend::Sqlite => vec![
            sqlite_terms_table(&table),
            // Named in `delete_row_terms`.
            format!("CREATE INDEX IF NOT EXISTS {row_index} ON {table} (\"row_id\", \"tbl\")"),
        ],
    }
}

/// SQLite's term table, `CREATE TABLE IF NOT EXISTS name`: clustered on its key, as InnoDB's
/// is, so that a term's rows and their weights are one range of one B-tree (a search reads no
/// row but its own page's).
fn sqlite_terms_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n  \"tbl\" TEXT NOT NULL,\n  \
         \"row_id\" INTEGER NOT NULL,\n  \"term\" TEXT NOT NULL,\n  \
         \"weight\" INTEGER NOT NULL,\n  PRIMARY KEY (\"tbl\", \"term\", \"row_id\")\n) STRICT, WITHOUT ROWID"
    )
}

/// The `SELECT` of the SQLite term table's `CREATE TABLE` text, if the table exists.
pub(crate) const SQLITE_TERMS_TABLE_SQL: &str =
    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'mini_orm_terms'";

/// Whether SQLite's term table, created as `sql`, is of the first form (a rowid table with a
/// unique index on the key, whose searches look every term row up in the table), which
/// [`upgrade_sqlite_terms_table`] rebuilds.
pub(crate) fn is_first_sqlite_form(sql: &str) -> bool {
    !sql.to_ascii_uppercase().contains("WITHOUT ROWID")
}

/// The statements, to run in one transaction, that rebuild a term table of the first form as
/// the current one with the same rows (its old indexes go with the old table).
pub(crate) fn upgrade_sqlite_terms_table() -> Vec<String> {
    let table = Backend::Sqlite.quoted(TERMS_TABLE);
    let rebuilt = Backend::Sqlite.quoted(&format!("{TERMS_TABLE}_rebuilt"));
    vec![
        format!("DROP TABLE IF EXISTS {rebuilt}"),
        sqlite_terms_table(&rebuilt),
        format!(
            "INSERT INTO {rebuilt} (\"tbl\", \"row_id\", \"term\", \"weight\") \
             SELECT \"tbl\", \"row_id\", \"term\", \"weight\" FROM {table}"
        ),
        format!("DROP TABLE {table}"),
        format!("ALTER TABLE {rebuilt} RENAME TO {table}"),
    ]
}

/// `DELETE` of the terms of one row of `table`, through the row index. (SQLite, without
/// statistics, would rather walk the key's `tbl = ?` range, every term of the table, for each
/// row written: it is told which index to use.)
pub(crate) fn delete_row_terms(
    backend: Backend,
    table: &'static TableDef,
    row_id: i64,
) -> Statement<'static> {
    let index = match backend {
        Backend::Sqlite => format!(
            " INDEXED BY {}",
            backend.quoted(&format!("{TERMS_TABLE}_row_idx"))
        ),
        Backend::MySql => String::new(),
    };
    let sql = format!(
        "DELETE FROM {}{index} WHERE {} = ? AND {} = ?",
        backend.quoted(TERMS_TABLE),
        backend.quoted("tbl"),
        backend.quoted("row_id"),
    );
    Statement::text(
        sql,
        vec![Value::Text(table.name.into()), Value::Int(row_id)],
    )
}

/// `DELETE` of the terms of the rows of `table` that `filter` matches (every row without one),
/// run before those rows are deleted in the same transaction.
pub(crate) fn delete_matching_terms<'a>(
    backend: Backend,
    table: &'static TableDef,
    filter: Option<&'a crate::column::Expr>,
) -> Statement<'a> {
    let q = |ident: &str| backend.quoted(ident);
    let sql = format!(
        "DELETE FROM {} WHERE {} = ? AND {} IN (SELECT {} FROM {}",
        q(TERMS_TABLE),
        q("tbl"),
        q("row_id"),
        q(table.primary_key().name),
        q(table.name),
    );
    let mut stmt = Statement::text(sql, vec![Value::Text(table.name.into())]);
    super::dml::where_clause(backend, filter, &mut stmt);
    stmt.sql.to_mut().push(')');
    stmt
}

/// `DELETE` of every term of `table` (when the table is dropped).
pub(crate) fn delete_table_terms(backend: Backend, table: &'static TableDef) -> Statement<'static> {
    let sql = format!(
        "DELETE FROM {} WHERE {} = ?",
        backend.quoted(TERMS_TABLE),
        backend.quoted("tbl"),
    );
    Statement::text(sql, vec![Value::Text(table.name.into())])
}

/// The `INSERT`s of `terms` (term and weight) for one row of `table`, [`TERMS_PER_INSERT`] at a
/// time; none when there are no terms.
pub(crate) fn insert_row_terms<'a>(
    backend: Backend,
    table: &'static TableDef,
    row_id: i64,
    terms: &'a BTreeMap<String, u32>,
) -> Vec<Statement<'a>> {
    let head = format!(
        "INSERT INTO {} ({}, {}, {}, {}) VALUES ",
        backend.quoted(TERMS_TABLE),
        backend.quoted("tbl"),
        backend.quoted("row_id"),
        backend.quoted("term"),
        backend.quoted("weight"),
    );
    let terms: Vec<_> = terms.iter().collect();
    terms
        .chunks(TERMS_PER_INSERT)
        .map(|chunk| {
            let mut sql = String::with_capacity(head.len() + chunk.len() * 14);
            sql.push_str(&head);
            let mut params = Vec::with_capacity(chunk.len() * 4);
            for (i, (term, weight)) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 {
                    "(?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?)"
                });
                params.extend([
                    Value::Text(table.name.into()),
                    Value::Int(row_id),
                    Value::Text(term.as_str().into()),
                    Value::Int(i64::from(**weight)),
                ]);
            }
            Statement::text(sql, params)
        })
        .collect()
}

/// The `SELECT` of the rows of `table` that have any of `terms` (not empty), best first: most
/// distinct terms, then the highest sum of their weights, then the highest primary key; among
/// each term's newest [`term_window`] rows (see [`SEARCH_WINDOW`]).
///
/// The ranking runs on the term table alone and only the page's rows are read from the table:
/// each term's window is read backwards along the `(tbl, term, row_id)` index, the windows are
/// grouped by row, the groups are ordered and cut to the page, and the page is joined to the
/// table. (Terms of rows deleted by raw SQL therefore take places on a page that the join then
/// drops: such a page is short.)
pub(crate) fn search<'a>(
    backend: Backend,
    table: &'static TableDef,
    terms: &'a [String],
    limit: Option<u64>,
    offset: Option<u64>,
) -> Statement<'a> {
    debug_assert!(!terms.is_empty());
    let q = |ident: &str| backend.quoted(ident);
    let (row_id, pk, table_name) = (q("row_id"), q(table.primary_key().name), q(table.name));
    let mut sql = String::from("SELECT ");
    for (i, column) in table.columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("t.");
        backend.quote(column.name, &mut sql);
    }
    sql.push_str(&format!(
        " FROM {table_name} t JOIN (SELECT m.{row_id}, m.hits, m.tf FROM (SELECT {row_id}, \
         COUNT(*) AS hits, SUM({weight}) AS tf FROM (",
        weight = q("weight"),
    ));
    let window = term_window(terms.len());
    for i in 0..terms.len() {
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        sql.push_str(&format!(
            "SELECT {row_id}, {weight} FROM (SELECT {row_id}, {weight} FROM {terms_table} \
             WHERE {tbl} = ? AND {term} = ? ORDER BY {row_id} DESC LIMIT {window}) w{i}",
            weight = q("weight"),
            terms_table = q(TERMS_TABLE),
            tbl = q("tbl"),
            term = q("term"),
        ));
    }
    sql.push_str(&format!(
        ") w GROUP BY {row_id}) m ORDER BY m.hits DESC, m.tf DESC, m.{row_id} DESC"
    ));
    let mut params = Vec::with_capacity(2 * terms.len() + 2);
    for term in terms {
        params.push(Value::Text(table.name.into()));
        params.push(Value::Text(term.as_str().into()));
    }
    if limit.is_some() || offset.is_some() {
        // Both dialects need a LIMIT before an OFFSET; "no limit" is the largest one.
        let as_int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        sql.push_str(" LIMIT ?");
        params.push(limit.map_or(Value::Int(i64::MAX), as_int));
        if let Some(offset) = offset {
            sql.push_str(" OFFSET ?");
            params.push(as_int(offset));
        }
    }
    sql.push_str(&format!(
        ") p ON t.{pk} = p.{row_id} ORDER BY p.hits DESC, p.tf DESC, p.{row_id} DESC"
    ));
    let mut stmt = Statement::fixed(table, sql.into());
    stmt.params = params;
    stmt.columns_in_model_order = true;
    stmt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_term(text, |t| {
            out.push(t.to_owned());
            true
        });
        out
    }

    #[test]
    fn words_are_lower_cased_runs_of_letters_and_digits() {
        assert_eq!(
            terms("Sunset over the LAKE, 2024-06-01!"),
            ["sunset", "over", "the", "lake", "2024", "06", "01"]
        );
        assert_eq!(terms("Ünïcode ÉTÉ straße"), ["ünïcode", "été", "straße"]);
        assert_eq!(terms("snake_case"), ["snake", "case"]);
    }

    #[test]
    fn cjk_runs_give_overlapping_pairs() {
        assert_eq!(terms("大家你好啊"), ["大家", "家你", "你好", "好啊"]);
        assert_eq!(terms("你好"), ["你好"]);
        assert_eq!(terms("こんにちは"), ["こん", "んに", "にち", "ちは"]);
        assert_eq!(terms("안녕하세요"), ["안녕", "녕하", "하세", "세요"]);
    }

    #[test]
    fn a_lone_cjk_character_is_a_term_of_its_own() {
        assert_eq!(terms("好"), ["好"]);
        assert_eq!(terms("a 好 b"), ["a", "好", "b"]);
        assert_eq!(terms("好，你好"), ["好", "你好"]);
    }

    #[test]
    fn scripts_split_where_they_meet() {
        assert_eq!(
            terms("iPhone手机壳2代"),
            ["iphone", "手机", "机壳", "2", "代"]
        );
        assert_eq!(terms("用Rust写ORM"), ["用", "rust", "写", "orm"]);
    }

    #[test]
    fn blank_and_punctuation_give_nothing() {
        assert!(terms("").is_empty());
        assert!(terms("  \t\n ").is_empty());
        assert!(terms("!!! ,,, ... —— 。，、").is_empty());
    }

    #[test]
    fn long_words_are_cut_at_the_limit() {
        let long = "a".repeat(1000);
        assert_eq!(terms(&long), ["a".repeat(MAX_TERM_CHARS)]);
        let wide = "é".repeat(MAX_TERM_CHARS + 1);
        assert_eq!(terms(&wide)[0].chars().count(), MAX_TERM_CHARS);
    }

    #[test]
    fn the_callback_stops_the_scan() {
        let mut seen = 0;
        for_each_term("one two three 大家你好", |_| {
            seen += 1;
            seen < 2
        });
        assert_eq!(seen, 2);
    }

    #[test]
    fn row_terms_count_repeats_across_texts() {
        let counted = row_terms(["Lake lake", "the LAKE 你好", "你好"]);
        assert_eq!(counted.get("lake"), Some(&3));
        assert_eq!(counted.get("你好"), Some(&2));
        assert_eq!(counted.get("the"), Some(&1));
        assert_eq!(counted.len(), 3);
    }

    #[test]
    fn query_terms_are_distinct_and_capped() {
        assert_eq!(query_terms("Lake sunset LAKE"), ["lake", "sunset"]);
        let hostile: String = (0..10_000).map(|i| format!("w{i} ")).collect();
        let capped = query_terms(&hostile);
        assert_eq!(capped.len(), MAX_QUERY_TERMS);
        assert_eq!(capped[0], "w0");
        assert_eq!(
            capped[MAX_QUERY_TERMS - 1],
            format!("w{}", MAX_QUERY_TERMS - 1)
        );
        assert!(query_terms(" ,. ").is_empty());
    }

    #[test]
    fn searches_bind_every_value() {
        static TABLE: TableDef = TableDef {
            name: "post",
            columns: &[
                crate::table::ColumnDef::required("id", crate::value::SqlType::BigInt),
                crate::table::ColumnDef::required("title", crate::value::SqlType::Text),
            ],
            primary_key: 0,
            indexes: &[],
        };
        let terms = ["lake".to_owned(), "sunset".to_owned()];
        let stmt = search(Backend::Sqlite, &TABLE, &terms, Some(10), Some(20));
        assert_eq!(
            stmt.sql,
            "SELECT t.\"id\", t.\"title\" FROM \"post\" t JOIN (SELECT m.\"row_id\", m.hits, m.tf \
             FROM (SELECT \"row_id\", COUNT(*) AS hits, SUM(\"weight\") AS tf FROM (\
             SELECT \"row_id\", \"weight\" FROM (SELECT \"row_id\", \"weight\" FROM \"mini_orm_terms\" \
             WHERE \"tbl\" = ? AND \"term\" = ? ORDER BY \"row_id\" DESC LIMIT 2048) w0 UNION ALL \
             SELECT \"row_id\", \"weight\" FROM (SELECT \"row_id\", \"weight\" FROM \"mini_orm_terms\" \
             WHERE \"tbl\" = ? AND \"term\" = ? ORDER BY \"row_id\" DESC LIMIT 2048) w1\
             ) w GROUP BY \"row_id\") m ORDER BY m.hits DESC, m.tf DESC, m.\"row_id\" DESC LIMIT ? OFFSET ?\
             ) p ON t.\"id\" = p.\"row_id\" ORDER BY p.hits DESC, p.tf DESC, p.\"row_id\" DESC"
        );
        assert_eq!(stmt.params.len(), 6);
        assert_eq!(term_window(1), SEARCH_WINDOW);
        assert_eq!(term_window(32), 256, "never below the least");
        let two = row_terms(["a b"]);
        let inserts = insert_row_terms(Backend::MySql, &TABLE, 7, &two);
        assert_eq!(
            inserts[0].sql,
            "INSERT INTO `mini_orm_terms` (`tbl`, `row_id`, `term`, `weight`) VALUES (?, ?, ?, ?), (?, ?, ?, ?)"
        );
        let many = row_terms([(0..1001)
            .map(|i| format!("w{i} "))
            .collect::<String>()
            .as_str()]);
        assert_eq!(insert_row_terms(Backend::Sqlite, &TABLE, 7, &many).len(), 3);
    }
}
