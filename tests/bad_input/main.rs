//! Bad input over real sockets, driven from a table: for every request type of both protocols
//! (`../shared/PROTOCOL.md` sections 2 and 3, with `docs/protocol-notes.md`), each field in turn
//! is missing, `null`, of the wrong type, empty, huge (a 1 MB string; `i64`/`u64` extremes, a
//! number past `u64`, `1e300`), negative, SQL (`'; DROP TABLE user_info; --`, `' OR '1'='1`),
//! LIKE wildcards, a path (`../../etc/passwd`, `/etc/passwd`), a NUL byte, control characters,
//! and a multi-byte text at and just over the field's length limit.
//!
//! Each case must get the answer the contract gives (`bad_request`, or the specific code, or
//! success where the value is merely unusual text: "a name made of SQL, shell or path syntax is
//! just a name"); the same connection must then answer a valid request (except after
//! `too_large`, which closes it as the contract says); the rows of every table and the files in
//! the data directory must change only as an accepted request stores (text stored exactly as
//! given); and a keyword search must match names literally. Mismatches are collected and
//! reported together.
//!
//! The whole matrix runs on in-memory SQLite; on the SQLite file and MySQL backends, the cases
//! whose value reaches the database (text in text fields, numbers in number fields: the SQL,
//! length, path and control-character cases) run again, since those are what can differ between
//! backends. Shape errors are refused before any query. `cargo test -p tests --test bad_input`;
//! with `MINI_ORM_MYSQL_URL` set, on MySQL too. The matrix is fixed (no randomness), so there is
//! no long version.
//!
//! Each property has a module of its own: `contract` (the answer each value must get),
//! `connection` (the connection still serves afterwards), `stored` (rows and files change only
//! as accepted requests store, text exactly as sent) and `search` (keywords match literally),
//! over the bad values of `mutations`, for the fields of `youku_fields` and `netdisk_fields`,
//! run case by case by `matrix`.

#[path = "../support/mod.rs"]
mod support;

mod connection;
mod contract;
mod matrix;
mod mutations;
mod netdisk_fields;
mod search;
mod stored;
mod youku_fields;

type Result = mini_orm::Result<()>;
