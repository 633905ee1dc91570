//! How rows are read back: a model's text and bytes are moved out of the driver's row where the
//! driver hands its values over (MySQL), and copied where it cannot (SQLite, whose values live
//! in the statement); reading a column whose value was moved out is an error.
#![allow(dead_code)] // the column constants, and what the failing decoders would build

use mini_orm::testing::{TestBackend, TestDb};
use mini_orm::{
    DecodeError, FieldType, FromRow, Model, Result, Row, RowValue, SqlType, Value, ValueRef,
    backend_tests, raw,
};

/// Text that remembers whether it was read from bytes the row handed over.
#[derive(Debug, Clone, PartialEq)]
struct Handed {
    text: String,
    moved: bool,
}

impl FieldType for Handed {
    type Inner = Handed;
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value<'_> {
        self.text.to_value()
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        Ok(Handed {
            text: String::from_value(value)?,
            moved: false,
        })
    }
    fn from_row_value(value: RowValue<'_>) -> Result<Self, DecodeError> {
        let moved = matches!(value, RowValue::Bytes(std::borrow::Cow::Owned(_)));
        Ok(Handed {
            text: String::from_row_value(value)?,
            moved,
        })
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Note {
    #[field(primary_key)]
    id: i64,
    body: Handed,
    tag: Option<String>,
}

/// Whether this backend's rows hand their values over.
fn moves(t: &TestDb) -> bool {
    t.backend == TestBackend::MySql
}

async fn models_and_tuples_take_their_text_out_of_mysql_rows(t: &TestDb) -> Result<()> {
    let db = &t.db;
    db.create_table::<Note>().await?;
    let mut note = Note {
        id: 0,
        body: Handed {
            text: "written once".into(),
            moved: false,
        },
        tag: Some("t".into()),
    };
    note.save(db).await?;

    let by_query = Note::query().all(db).await?;
    let by_key = Note::get(db, note.id).await?;
    let (by_tuple,): (Handed,) = raw("SELECT body FROM note").fetch_one(db).await?;
    for read in [&by_query[0].body, &by_key.body, &by_tuple] {
        assert_eq!(read.text, "written once");
        assert_eq!(read.moved, moves(t), "on {:?}", t.backend);
    }
    assert_eq!(by_key.tag.as_deref(), Some("t"));
    Ok(())
}

/// Takes the first column twice.
#[derive(Debug)]
struct TwiceTaken(String, String);

impl FromRow for TwiceTaken {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(TwiceTaken(row.take(0)?, row.take(0)?))
    }
}

/// Takes the first column, then reads it by `get`.
#[derive(Debug)]
struct TakenThenRead(String, String);

impl FromRow for TakenThenRead {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(TakenThenRead(row.take(0)?, row.get(0)?))
    }
}

/// Reads the first column by `get`, twice: a borrow leaves the value in the row.
#[derive(Debug)]
struct ReadTwice(String, String);

impl FromRow for ReadTwice {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(ReadTwice(row.get(0)?, row.get(0)?))
    }
}

async fn a_taken_value_is_gone_from_a_mysql_row(t: &TestDb) -> Result<()> {
    let db = &t.db;
    let sql = "SELECT 'abc' AS word";
    let read = raw(sql).fetch_one::<ReadTwice>(db).await?;
    assert_eq!((read.0.as_str(), read.1.as_str()), ("abc", "abc"));
    let twice = raw(sql).fetch_one::<TwiceTaken>(db).await;
    let then_read = raw(sql).fetch_one::<TakenThenRead>(db).await;
    if moves(t) {
        for error in [twice.unwrap_err(), then_read.unwrap_err()] {
            let message = error.to_string();
            assert!(message.contains("taken out of the row"), "{message}");
            assert!(message.contains("word"), "{message}");
        }
    } else {
        assert_eq!(twice?.1, "abc");
        assert_eq!(then_read?.1, "abc");
    }
    Ok(())
}

backend_tests!(
    models_and_tuples_take_their_text_out_of_mysql_rows,
    a_taken_value_is_gone_from_a_mysql_row
);
