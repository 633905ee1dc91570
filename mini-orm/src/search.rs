//! Full-text search over a model's `#[field(searchable)]` fields: [`Model::search`] (or
//! [`search`]) starts a [`Search`], which ranks the matching rows and pages them; and the
//! upkeep of the index, which [`Model`]'s writes run in the same transaction as the row.
//!
//! The same design runs on both backends, Chinese included: words and CJK character pairs in a
//! term table, ranked by how many of the query's terms a row has. The SQL layer
//! (`sql/search.rs`) describes it and says why neither FTS5 nor InnoDB `FULLTEXT` would do.
//!
//! What keeps the index: [`Model::save`], [`Model::update`], [`Model::delete`],
//! [`Model::insert_all`] and [`Select::delete`](crate::Select::delete) (rows' terms are
//! replaced or removed in the transaction that writes the rows, the caller's or one of their
//! own), [`Db::create_table`](crate::Db::create_table) (creates the term table) and
//! [`Db::drop_table`](crate::Db::drop_table) (removes the table's terms). Bulk updates through
//! [`Select::update`](crate::Select::update), and raw SQL, do not: rows deleted by raw SQL never
//! show in results (a search joins the model's table; a page may then hold fewer rows than its
//! limit), and rows whose searchable text is changed that way are found by their old words
//! until they are saved through [`Model::update`].

use std::marker::PhantomData;

use crate::error::Result;
use crate::exec::{self, Executor, Transaction};
use crate::model::Model;
use crate::sql::search as sql;

/// A search of `M`'s rows, started by [`Model::search`]: the rows that have any of the query's
/// terms, those with the most distinct terms first, then those where they occur most often,
/// then the newest (highest primary key). Every row by default; [`Search::limit`] and
/// [`Search::offset`] page them. A search costs the same however common its words are: each
/// term brings its newest rows, 4 096 in all (at least 256 a term), so a word in more rows
/// than that finds its best matches among its newest.
///
/// ```
/// # use mini_orm::{Db, Model};
/// #[derive(Model)]
/// struct Post {
///     #[field(primary_key)]
///     id: i64,
///     #[field(searchable)]
///     title: String,
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// # let db = Db::connect("sqlite::memory:").await?;
/// db.create_table::<Post>().await?; // and the term table
/// for title in ["Sunset over the lake", "大家你好啊", "A lake"] {
///     Post { id: 0, title: title.into() }.save(&db).await?; // the row and its terms
/// }
/// let found = Post::search("lake SUNSET").limit(10).all(&db).await?;
/// assert_eq!(found[0].title, "Sunset over the lake"); // both words, then only one
/// assert_eq!(found.len(), 2);
/// assert_eq!(Post::search("你好").all(&db).await?[0].title, "大家你好啊");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a search does nothing until it is run with `all`"]
pub struct Search<M> {
    terms: Vec<String>,
    limit: Option<u64>,
    offset: Option<u64>,
    model: PhantomData<fn() -> M>,
}

/// The search of `M`'s rows for `query`, as [`Model::search`].
pub fn search<M: Model>(query: &str) -> Search<M> {
    const {
        assert!(
            !M::SEARCHABLE.is_empty(),
            "this model has no `#[field(searchable)]` field to search"
        );
    }
    Search {
        terms: sql::query_terms(query),
        limit: None,
        offset: None,
        model: PhantomData,
    }
}

impl<M: Model> Search<M> {
    /// Returns at most `n` rows.
    pub fn limit(self, n: u64) -> Self {
        Search {
            limit: Some(n),
            ..self
        }
    }

    /// Skips the first `n` rows of the ranking.
    pub fn offset(self, n: u64) -> Self {
        Search {
            offset: Some(n),
            ..self
        }
    }

    /// The terms the query was split into: its words, lower-cased, and the pairs of its CJK
    /// characters, at most 32, each at most 64 characters (so hostile input costs bounded work).
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The matching rows, best first. A query without terms (blank, or only punctuation) finds
    /// nothing, without asking the database.
    pub async fn all(self, exec: impl Executor) -> Result<Vec<M>> {
        if self.terms.is_empty() {
            return Ok(Vec::new());
        }
        let stmt = sql::search(
            exec.backend(),
            M::TABLE,
            &self.terms,
            self.limit,
            self.offset,
        );
        exec::fetch(exec, stmt).await
    }
}

/// Replaces the terms of `row` (whose primary key is `id`) in the index, inside `tx`.
pub(crate) async fn index_row<M: Model>(tx: &mut Transaction, row: &M, id: i64) -> Result<()> {
    unindex_row::<M>(&mut *tx, id).await?;
    let mut texts = Vec::with_capacity(M::SEARCHABLE.len());
    row.push_search_texts(&mut texts);
    let terms = sql::row_terms(texts);
    let statements = sql::insert_row_terms(tx.backend(), M::TABLE, id, &terms);
    exec::execute_all(tx, statements).await?;
    Ok(())
}

/// Removes the terms of the row of `M` whose primary key is `id`.
pub(crate) async fn unindex_row<M: Model>(tx: &mut Transaction, id: i64) -> Result<()> {
    let stmt = sql::delete_row_terms(tx.backend(), M::TABLE, id);
    exec::execute(tx, stmt).await?;
    Ok(())
}
