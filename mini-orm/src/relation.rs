//! [`Relation`]: a foreign key (`#[field(references = Model)]`) seen from the API, loading the
//! rows on the other side of it for a whole page at once.
//!
//! For `Photo { #[field(references = User)] author_id: i64, .. }` the derive makes
//! `Photo::AUTHOR_ID_REF: Relation<Photo, User>`. Then
//!
//! - `Photo::AUTHOR_ID_REF.load(&photos, &db)` reads the authors of a page of photos with one
//!   `SELECT … FROM user WHERE id IN (…)` over the distinct keys, and
//! - `Photo::AUTHOR_ID_REF.children_of(&user_ids, &db)` reads the photos of a page of users with
//!   one `SELECT … FROM photo WHERE author_id IN (…) ORDER BY id`,
//!
//! instead of one query per row. A list of keys longer than one statement's parameter limit
//! is split into several queries (32 766 keys each). The parent type is part of the relation's
//! type, so loading the rows of a model the column does not reference does not compile.

use std::collections::HashMap;
use std::marker::PhantomData;

use crate::column::{Column, Expr, Filter};
use crate::error::Result;
use crate::exec::{self, Executor};
use crate::model::Model;
use crate::sql::dml::MAX_PARAMS;
use crate::value::Value;

/// The foreign key of model `M` (the child) to model `P` (the parent), made by
/// `#[derive(Model)]` as `<COLUMN>_REF` for each `#[field(references = P)]` field.
///
/// ```
/// # use mini_orm::{Db, Model};
/// #[derive(Model, Debug)]
/// struct Author { #[field(primary_key)] id: i64, name: String }
///
/// #[derive(Model, Debug)]
/// struct Photo {
///     #[field(primary_key)]
///     id: i64,
///     #[field(references = Author, on_delete = "cascade")]
///     author_id: i64,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// let db = Db::connect("sqlite::memory:").await?;
/// db.create_table::<Author>().await?; // the referenced table first
/// db.create_table::<Photo>().await?;
/// let mut ann = Author { id: 0, name: "ann".into() };
/// ann.save(&db).await?;
/// let mut photo = Photo { id: 0, author_id: ann.id };
/// photo.save(&db).await?;
///
/// let photos = Photo::query().all(&db).await?;
/// let authors = Photo::AUTHOR_ID_REF.load(&photos, &db).await?; // one query
/// assert_eq!(authors[&photos[0].author_id].name, "ann");
/// let by_author = Photo::AUTHOR_ID_REF.children_of([ann.id], &db).await?; // one query
/// assert_eq!(by_author[&ann.id].len(), 1);
/// # Ok(())
/// # }
/// ```
pub struct Relation<M, P> {
    column: &'static str,
    key: fn(&M) -> Value<'_>,
    _marker: PhantomData<fn() -> P>,
}

impl<M, P> Clone for Relation<M, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, P> Copy for Relation<M, P> {}

impl<M, P> std::fmt::Debug for Relation<M, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relation({})", self.column)
    }
}

impl<M: Model, P: Model> Relation<M, P> {
    /// The relation of `column` of `M`, whose value in a row `key` reads (an integer, or
    /// `NULL` for a row that references nothing). Used by the derive.
    #[doc(hidden)]
    pub const fn new(column: &'static str, key: fn(&M) -> Value<'_>) -> Self {
        Relation {
            column,
            key,
            _marker: PhantomData,
        }
    }

    /// The referencing column of `M`.
    pub fn column(self) -> &'static str {
        self.column
    }

    /// The key `row` holds, `None` when it references nothing (`NULL`).
    pub fn key_of(self, row: &M) -> Option<i64> {
        match (self.key)(row) {
            Value::Int(key) => Some(key),
            _ => None,
        }
    }

    /// The parents of `rows` (those they reference; rows holding `NULL` reference none), by
    /// primary key: one `SELECT … WHERE id IN (…)` over the distinct keys, none when there
    /// are no keys.
    pub async fn load(self, rows: &[M], exec: impl Executor) -> Result<HashMap<i64, P>> {
        Self::parents(rows.iter().filter_map(|row| self.key_of(row)), exec).await
    }

    /// The rows of `P` with these primary keys, by key (the same query as
    /// [`Relation::load`], from the keys themselves).
    pub async fn parents(
        keys: impl IntoIterator<Item = i64>,
        exec: impl Executor,
    ) -> Result<HashMap<i64, P>> {
        let column = P::TABLE.primary_key().name;
        let parents: Vec<P> = fetch_in(column, distinct(keys), exec).await?;
        Ok(parents.into_iter().map(|p| (p.primary_key(), p)).collect())
    }

    /// The rows of `M` that reference each of `parent_keys`, by parent key, each list in
    /// primary key order: one `SELECT … WHERE column IN (…) ORDER BY id` over the distinct
    /// keys. A parent without children is absent from the map.
    pub async fn children_of(
        self,
        parent_keys: impl IntoIterator<Item = i64>,
        exec: impl Executor,
    ) -> Result<HashMap<i64, Vec<M>>> {
        let children: Vec<M> = fetch_in(self.column, distinct(parent_keys), exec).await?;
        let mut by_parent: HashMap<i64, Vec<M>> = HashMap::new();
        for child in children {
            if let Some(key) = self.key_of(&child) {
                by_parent.entry(key).or_default().push(child);
            }
        }
        Ok(by_parent)
    }
}

/// The keys without repeats, in their first order.
fn distinct(keys: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter().filter(|k| seen.insert(*k)).collect()
}

/// The rows of `R` whose `column` is among `keys`, ordered by primary key: one query per
/// [`MAX_PARAMS`] keys, none for no keys.
async fn fetch_in<R: Model>(
    column: &'static str,
    keys: Vec<i64>,
    exec: impl Executor,
) -> Result<Vec<R>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let key = Column::<R, i64>::new(R::TABLE.primary_key().name);
    let queries: Vec<_> = keys
        .chunks(MAX_PARAMS)
        .map(|chunk| {
            R::query()
                .filter(Filter::new(Expr::In {
                    column,
                    values: chunk.iter().map(|k| Value::Int(*k)).collect(),
                    negated: false,
                }))
                .order_by(key.asc())
        })
        .collect();
    let backend = exec.backend();
    let statements = queries.iter().map(|q| q.statement(backend)).collect();
    let mut rows: Vec<R> = exec::fetch_each(exec, statements).await?;
    if queries.len() > 1 {
        rows.sort_by_key(|r| r.primary_key());
    }
    Ok(rows)
}
