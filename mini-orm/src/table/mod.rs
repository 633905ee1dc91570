//! The table description that every layer above reads: [`TableDef`] and its columns and
//! indexes, the [`Table`] trait that `#[derive(Model)]` implements, and ([`row`]) the rows a
//! driver returns and [`FromRow`], which reads them.

pub(crate) mod row;

use crate::value::{SqlType, Value};
use row::FromRow;

/// A table: its name, its columns in declaration order, and its indexes.
#[derive(Debug)]
pub struct TableDef {
    /// The table name.
    pub name: &'static str,
    /// Every column, the primary key included, in the order of the struct's fields.
    pub columns: &'static [ColumnDef],
    /// Position of the primary key in `columns`.
    pub primary_key: usize,
    /// Unique and plain indexes, from field and model attributes.
    pub indexes: &'static [IndexDef],
}

impl TableDef {
    /// The primary key column.
    pub fn primary_key(&self) -> &ColumnDef {
        &self.columns[self.primary_key]
    }

    /// The columns an insert or an update writes: every column but the primary key.
    pub fn value_columns(&self) -> impl Iterator<Item = &ColumnDef> {
        self.columns
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != self.primary_key)
            .map(|(_, c)| c)
    }
}

/// One column of a [`TableDef`].
#[derive(Debug)]
pub struct ColumnDef {
    /// The column name.
    pub name: &'static str,
    /// The column type.
    pub sql_type: SqlType,
    /// Whether `NULL` is allowed (the field is an `Option`).
    pub nullable: bool,
    /// For text: the maximum length in characters (`VARCHAR(n)` on MySQL, checked before writing
    /// on both backends).
    pub max_len: Option<u32>,
    /// The column's `DEFAULT`, used by the schema for rows inserted without this column.
    pub default: Option<DefaultValue>,
    /// The table this column points into (`#[field(references = Model)]`): a foreign key to
    /// that table's primary key.
    pub references: Option<ForeignKey>,
}

impl ColumnDef {
    /// A `NOT NULL` column with no length limit, default or foreign key, for the tables the crate
    /// defines by hand (change a field with struct update syntax: `ColumnDef { max_len: Some(255),
    /// ..ColumnDef::required("name", SqlType::Text) }`).
    pub(crate) const fn required(name: &'static str, sql_type: SqlType) -> ColumnDef {
        ColumnDef {
            name,
            sql_type,
            nullable: false,
            max_len: None,
            default: None,
            references: None,
        }
    }
}

/// A foreign key: the column holds the primary key of a row of another table (or of its own),
/// which must exist; what happens to this row when that one is deleted is [`OnDelete`].
#[derive(Debug, Clone, Copy)]
pub struct ForeignKey {
    /// The referenced table. A function rather than the table itself, so that a model can
    /// reference itself, or two models each other, without a cycle between their constants.
    pub parent: fn() -> &'static TableDef,
    /// What deleting the referenced row does to the rows that reference it.
    pub on_delete: OnDelete,
}

impl ForeignKey {
    /// The referenced table.
    pub fn table(&self) -> &'static TableDef {
        (self.parent)()
    }

    /// The referenced column: the primary key of [`ForeignKey::table`].
    pub fn column(&self) -> &'static str {
        self.table().primary_key().name
    }
}

/// What deleting a referenced row does to the rows that reference it (`ON DELETE ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The delete is refused while rows reference the row ([`Error::ForeignKeyViolation`](
    /// crate::Error::ForeignKeyViolation)); the default.
    Restrict,
    /// The rows that reference it are deleted too.
    Cascade,
    /// The referencing column of those rows is set to `NULL` (only for an `Option<i64>` field).
    SetNull,
}

impl OnDelete {
    /// The SQL action, the same on both backends: `RESTRICT`, `CASCADE` or `SET NULL`.
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }
}

/// A literal column default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(&'static str),
}

/// An index over one or more columns.
#[derive(Debug)]
pub struct IndexDef {
    /// The indexed columns, in order.
    pub columns: &'static [&'static str],
    /// Whether the index is a unique constraint.
    pub unique: bool,
}

impl IndexDef {
    /// The name the schema gives this index in `table`: `<table>_<columns>_key` for unique
    /// indexes and `<table>_<columns>_idx` for the others, shortened with a hash to fit the
    /// 64 characters MySQL allows.
    pub fn name(&self, table: &str) -> String {
        const MAX: usize = 64;
        let suffix = if self.unique { "key" } else { "idx" };
        let name = format!("{table}_{}_{suffix}", self.columns.join("_"));
        if name.len() <= MAX {
            return name;
        }
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut cut = MAX - 18;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}_{hash:016x}", &name[..cut])
    }
}

/// A struct whose values are the rows of a table: what `#[derive(Model)]` implements, and all
/// that the statements and the drivers need to know of a model. The operations on rows
/// ([`Model`](crate::Model)) come with it.
pub trait Table: FromRow + Sync + 'static {
    /// The table this model maps to (also [`Model::TABLE`](crate::Model::TABLE), the name to
    /// use outside the crate).
    const DEF: &'static TableDef;

    /// The primary key's value.
    fn primary_key(&self) -> i64;

    /// Sets the primary key (done by [`Model::save`](crate::Model::save) with the generated
    /// key).
    fn set_primary_key(&mut self, id: i64);

    /// Appends the values of every column but the primary key, in [`TableDef::value_columns`]
    /// order, borrowing this row's text and bytes.
    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>);

    /// The columns marked `#[field(searchable)]`, whose words the search index holds (see
    /// [`Model::search`](crate::Model::search)); empty for a model without any.
    const SEARCHABLE: &'static [&'static str] = &[];

    /// Appends the text of each [`Table::SEARCHABLE`] column of this row, in that order,
    /// leaving out those that are `NULL`.
    fn push_search_texts<'a>(&'a self, out: &mut Vec<&'a str>) {
        let _ = out;
    }

    /// The values of every column but the primary key, in [`TableDef::value_columns`] order.
    fn values(&self) -> Vec<Value<'_>> {
        let mut values = Vec::with_capacity(Self::DEF.columns.len());
        self.push_values(&mut values);
        values
    }
}

/// The field types `#[field(searchable)]` accepts: their text, if any (used by the derive).
#[doc(hidden)]
pub trait SearchText {
    /// The text to index, `None` for a `NULL`.
    fn search_text(&self) -> Option<&str>;
}

impl SearchText for String {
    fn search_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl SearchText for Option<String> {
    fn search_text(&self) -> Option<&str> {
        self.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_fit_mysql_limit_and_stay_distinct() {
        let short = IndexDef {
            columns: &["name"],
            unique: true,
        };
        assert_eq!(short.name("user_info"), "user_info_name_key");
        let long_a = IndexDef {
            columns: &["a_very_long_column_name_number_one", "x"],
            unique: false,
        };
        let long_b = IndexDef {
            columns: &["a_very_long_column_name_number_one", "y"],
            unique: false,
        };
        let table = "a_table_with_a_rather_long_name";
        assert!(long_a.name(table).len() <= 64);
        assert_ne!(long_a.name(table), long_b.name(table));
    }
}
