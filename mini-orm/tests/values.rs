//! How field values reach a statement: a row's text and bytes are borrowed while its statement
//! runs (saving or updating a row copies none of them), and a value given to a filter or a raw
//! query is moved in, not copied.

mod support;

use std::borrow::Cow;

use mini_orm::{FieldType, Model, Table, Value};
use support::{Sample, User};

/// The address of the text or bytes a value holds, and whether it borrows them.
fn buffer(value: &Value<'_>) -> (*const u8, bool) {
    match value {
        Value::Text(Cow::Borrowed(text)) => (text.as_ptr(), true),
        Value::Text(Cow::Owned(text)) => (text.as_ptr(), false),
        Value::Blob(Cow::Borrowed(bytes)) => (bytes.as_ptr(), true),
        Value::Blob(Cow::Owned(bytes)) => (bytes.as_ptr(), false),
        other => panic!("expected text or bytes, got {other:?}"),
    }
}

#[test]
fn a_rows_values_borrow_its_text_and_bytes() {
    let sample = Sample {
        maybe_text: Some("maybe".into()),
        maybe_int: None,
        ..Sample::new(1, "label")
    };
    let values = sample.values();
    let columns: Vec<&str> = Sample::TABLE.value_columns().map(|c| c.name).collect();
    let at = |column: &str| &values[columns.iter().position(|c| *c == column).unwrap()];
    assert_eq!(buffer(at("label")), (sample.label.as_ptr(), true));
    assert_eq!(buffer(at("bytes")), (sample.bytes.as_ptr(), true));
    let maybe = sample.maybe_text.as_deref().unwrap();
    assert_eq!(buffer(at("maybe_text")), (maybe.as_ptr(), true));
    assert_eq!(*at("maybe_int"), Value::Null);
}

#[test]
fn push_values_appends_one_value_per_column_in_order() {
    let user = User::named("ann");
    let mut values = vec![Value::Int(-1)];
    user.push_values(&mut values);
    assert_eq!(values.len(), 1 + User::TABLE.value_columns().count());
    assert_eq!(values[0], Value::Int(-1));
    assert_eq!(values[1..], user.values()[..]);
}

#[test]
fn into_value_moves_owned_text_and_bytes() {
    let text = String::from("moved");
    let address = text.as_ptr();
    assert_eq!(buffer(&text.into_value()), (address, false));
    let bytes = vec![9_u8; 4];
    let address = bytes.as_ptr();
    assert_eq!(buffer(&bytes.into_value()), (address, false));
    let maybe = Some(String::from("inner"));
    let address = maybe.as_deref().unwrap().as_ptr();
    assert_eq!(buffer(&maybe.into_value()), (address, false));
    assert_eq!(None::<String>.into_value(), Value::Null);
}

#[test]
fn scalars_convert_the_same_borrowed_or_owned() {
    assert_eq!(7_i64.into_value(), 7_i64.to_value());
    assert_eq!((-3_i32).into_value(), Value::Int(-3));
    assert_eq!(true.into_value(), Value::Int(1));
    assert_eq!(1.5_f64.into_value(), Value::Float(1.5));
    assert_eq!(Some(2_i64).into_value(), Value::Int(2));
}

#[test]
fn into_owned_detaches_a_borrowed_value() {
    let text = String::from("kept");
    let owned: Value<'static> = text.to_value().into_owned();
    assert_eq!(owned, Value::Text(Cow::Owned("kept".into())));
    assert_ne!(buffer(&owned).0, text.as_ptr());
}
