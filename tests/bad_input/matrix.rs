//! The matrix that every property is checked through: each field of each request type with each
//! bad value, one case at a time on one connection, comparing the answer with the contract's,
//! the stored rows and files with what an accepted request stores, and a keyword search with the
//! names; mismatches are collected and reported together.

use mini_orm::testing::TestDb;
use serde_json::Value;

use crate::connection::Door;
use crate::contract::{Codes, Field, Kind, Outcome, expected, limit_of};
use crate::mutations::{Mutation, mutate};
use crate::search::check_keyword;
use crate::stored::{Counts, Effect};
use crate::support::TestServer;

/// Largest upload in these tests' configuration (movies and files alike).
pub(crate) const MAX_UPLOAD: u64 = 1_000_000;

/// One request type: its valid form for case `n`, its fields, and its contract.
pub(crate) struct RequestType {
    pub(crate) name: &'static str,
    /// The valid request; `n` makes names and contents unique to the case.
    pub(crate) template: fn(&Fixture, usize) -> Value,
    pub(crate) fields: Vec<Field>,
    pub(crate) codes: Codes,
    pub(crate) effect: Effect,
}

/// What the templates refer to: sessions, and things that exist.
pub(crate) struct Fixture {
    pub(crate) admin: String,
    pub(crate) user: String,
    pub(crate) movie_id: i64,
    pub(crate) file_id: i64,
    /// Netdisk: the account the case connection is logged in as, its file, and that file's size.
    pub(crate) nd_user: &'static str,
    pub(crate) nd_file: &'static str,
    pub(crate) nd_file_size: usize,
}

/// The bytes uploaded by case `n`.
pub(crate) fn content(n: usize) -> Vec<u8> {
    format!("the content of case {n}; ").repeat(4).into_bytes()
}

/// Which cases a run tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every field with every mutation.
    Full,
    /// The cases whose value can reach the database: text in text fields, numbers in number
    /// fields. Shape errors (missing, `null`, wrong types) are refused before any query, the
    /// same on every backend.
    Database,
}

impl Scope {
    /// Whether `mutation` of a field of `kind` is tried.
    fn includes(self, kind: Kind, mutation: Mutation) -> bool {
        let number = matches!(
            mutation,
            Mutation::Unused
                | Mutation::Negative
                | Mutation::MinI64
                | Mutation::MaxI64
                | Mutation::MaxU64
        );
        let numeric_field = matches!(
            kind,
            Kind::Id | Kind::Size { .. } | Kind::Page { .. } | Kind::Flag
        );
        match (self, kind) {
            // A number field's huge values are numbers; a megabyte of text there is only one
            // more wrong type, and costs a megabyte echoed in the error message.
            (Scope::Full, _) => !(numeric_field && mutation == Mutation::Huge),
            (Scope::Database, Kind::Any(_)) => false,
            (Scope::Database, Kind::Text { .. } | Kind::Opaque(_) | Kind::OptionalText) => {
                mutation.is_string()
            }
            (Scope::Database, _) => numeric_field && number,
        }
    }
}

/// Runs the cases of `requests` in `scope` through `door`, returning the mismatches and the
/// case count.
pub(crate) async fn run_matrix(
    t: &TestDb,
    door: &mut Door<'_>,
    fixture: &Fixture,
    requests: &[RequestType],
    scope: Scope,
) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut n = 0;
    for request in requests {
        for field in &request.fields {
            for mutation in Mutation::ALL {
                let limit = limit_of(field.kind);
                let boundless = matches!(mutation, Mutation::AtMax | Mutation::OverMax);
                if (boundless && limit.is_none()) || !scope.includes(field.kind, mutation) {
                    continue;
                }
                n += 1;
                let case = format!("{} {} {mutation:?}", request.name, field.name);
                let value = mutation.value(limit);
                let sent = mutate((request.template)(fixture, n), field.name, value.clone());
                let want = expected(field.kind, mutation, request.codes);
                let before = Counts::take(t, door.server).await;
                let got = match door.exchange(&sent, n).await {
                    Ok(got) => got,
                    Err(error) => {
                        failures.push(format!("{case}: {error}"));
                        door.reconnect(fixture).await;
                        continue;
                    }
                };
                if got != want {
                    failures.push(format!("{case}: expected {want:?}, got {got:?}"));
                }
                if matches!(got, Outcome::CodeThenClose(_)) {
                    door.reconnect(fixture).await;
                } else if !door.still_serves(fixture).await {
                    failures.push(format!("{case}: the connection no longer serves"));
                    door.reconnect(fixture).await;
                }
                let effect = if got.succeeded() {
                    request.effect
                } else {
                    Effect::Nothing
                };
                let after = Counts::take(t, door.server).await;
                if after != before.after(effect) {
                    failures.push(format!(
                        "{case}: stored {after:?}, expected {:?}",
                        before.after(effect)
                    ));
                }
                if let (Some(column), Some(Value::String(text)), true) =
                    (field.stored, &value, got.succeeded())
                {
                    let rows = column.rows_with(t, text).await.unwrap();
                    if rows != 1 {
                        failures.push(format!("{case}: {rows} rows hold the text as sent"));
                    }
                }
                if let (Some(Value::String(keyword)), Outcome::Ok, "keyword") =
                    (&value, got, field.name)
                {
                    failures.extend(check_keyword(door, fixture, keyword, &sent, &case).await);
                }
            }
        }
    }
    (failures, n)
}

/// Reports the mismatches, if any, as one failure.
pub(crate) fn report(protocol: &str, failures: &[String], cases: usize) {
    eprintln!("{protocol}: {cases} cases, {} mismatches", failures.len());
    assert!(
        failures.is_empty(),
        "{protocol}: {} of {cases} cases went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A server whose limits the matrices rely on: small upload limits, and no lockout (the login
/// cases fail many times in a row on purpose).
pub(crate) async fn server(t: &TestDb) -> TestServer {
    TestServer::start_with(t, |c| {
        c.max_movie_bytes = MAX_UPLOAD;
        c.max_file_bytes = MAX_UPLOAD;
        c.lockout_threshold = u32::MAX;
    })
    .await
}
