//! The bad values: what each field is given in turn (missing, `null`, the wrong type, empty, a
//! megabyte of text, SQL, LIKE wildcards, paths, a NUL byte, control characters, a numeric
//! string, text at and just over the field's length limit, numbers unused, negative, at and past
//! the integer limits, fractions and exponents), and how a request is made of them.

use serde_json::{Value, json};

/// Stands for a number one past `u64::MAX`, which `serde_json::Value` cannot hold: replaced in
/// the request's text.
const OVER_U64: &str = "\u{1}over-u64";
/// A character of four UTF-8 bytes, to tell character limits from byte limits.
const WIDE: char = '🎬';

/// What replaces a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mutation {
    Missing,
    Null,
    Bool,
    Array,
    Object,
    Empty,
    /// 1 000 000 characters: over every text limit, under the 1 MiB frame limit.
    Huge,
    Sql,
    SqlOr,
    Wildcards,
    DotDot,
    Absolute,
    Nul,
    Control,
    NumericString,
    /// The field's limit in wide characters (bytes, for a byte limit).
    AtMax,
    /// One over the limit.
    OverMax,
    /// 900 001: a number that is no id, an offset past every end, and a wrong upload size.
    Unused,
    Negative,
    MinI64,
    MaxI64,
    MaxU64,
    OverU64,
    Fraction,
    Exponent,
}

impl Mutation {
    pub(crate) const ALL: [Mutation; 25] = [
        Mutation::Missing,
        Mutation::Null,
        Mutation::Bool,
        Mutation::Array,
        Mutation::Object,
        Mutation::Empty,
        Mutation::Huge,
        Mutation::Sql,
        Mutation::SqlOr,
        Mutation::Wildcards,
        Mutation::DotDot,
        Mutation::Absolute,
        Mutation::Nul,
        Mutation::Control,
        Mutation::NumericString,
        Mutation::AtMax,
        Mutation::OverMax,
        Mutation::Unused,
        Mutation::Negative,
        Mutation::MinI64,
        Mutation::MaxI64,
        Mutation::MaxU64,
        Mutation::OverU64,
        Mutation::Fraction,
        Mutation::Exponent,
    ];

    /// The value put in the field (`None`: the field is removed). `limit` is the field's text
    /// limit, for `AtMax`/`OverMax`.
    pub(crate) fn value(self, limit: Option<Limit>) -> Option<Value> {
        let wide = |n: usize| WIDE.to_string().repeat(n);
        let at_max = |limit: Limit| match limit {
            Limit::Chars(n) => wide(n),
            Limit::Bytes(n) => wide(n / WIDE.len_utf8()) + &"x".repeat(n % WIDE.len_utf8()),
        };
        let value = match self {
            Mutation::Missing => return None,
            Mutation::Null => Value::Null,
            Mutation::Bool => json!(true),
            Mutation::Array => json!(["x"]),
            Mutation::Object => json!({"x": 1}),
            Mutation::Empty => json!(""),
            Mutation::Huge => json!("x".repeat(1_000_000)),
            Mutation::Sql => json!("'; DROP TABLE user_info; --"),
            Mutation::SqlOr => json!("' OR '1'='1"),
            Mutation::Wildcards => json!("%_"),
            Mutation::DotDot => json!("../../etc/passwd"),
            Mutation::Absolute => json!("/etc/passwd"),
            Mutation::Nul => json!("a\u{0}b"),
            Mutation::Control => json!("a\u{1}\u{7f}\nb"),
            Mutation::NumericString => json!("1"),
            Mutation::AtMax => json!(at_max(limit?)),
            Mutation::OverMax => json!(at_max(limit?) + "x"),
            Mutation::Unused => json!(900_001),
            Mutation::Negative => json!(-1),
            Mutation::MinI64 => json!(i64::MIN),
            Mutation::MaxI64 => json!(i64::MAX),
            Mutation::MaxU64 => json!(u64::MAX),
            Mutation::OverU64 => json!(OVER_U64),
            Mutation::Fraction => json!(1.5),
            Mutation::Exponent => json!(1e300),
        };
        Some(value)
    }

    /// Whether the value is a JSON string.
    pub(crate) fn is_string(self) -> bool {
        use Mutation::*;
        matches!(
            self,
            Empty
                | Huge
                | Sql
                | SqlOr
                | Wildcards
                | DotDot
                | Absolute
                | Nul
                | Control
                | NumericString
                | AtMax
                | OverMax
        )
    }

    /// Whether the value is absent to serde (missing or `null`).
    pub(crate) fn is_absent(self) -> bool {
        matches!(self, Mutation::Missing | Mutation::Null)
    }
}

/// A text field's length limit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    Chars(usize),
    Bytes(usize),
}

/// `request` with `field` (a key, or `data.<key>`) set to `value`, or removed.
pub(crate) fn mutate(mut request: Value, field: &str, value: Option<Value>) -> Value {
    let (object, key) = match field.split_once('.') {
        Some((outer, key)) => (&mut request[outer], key),
        None => (&mut request, field),
    };
    let object = object
        .as_object_mut()
        .expect("the template has the field's object");
    match value {
        Some(value) => object.insert(key.to_owned(), value),
        None => object.remove(key),
    };
    request
}

/// The request's text, with [`OVER_U64`] turned into the number it stands for.
pub(crate) fn encode(request: &Value) -> String {
    let marker = serde_json::to_string(OVER_U64).unwrap();
    request.to_string().replace(&marker, "18446744073709551616")
}
