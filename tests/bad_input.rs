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

mod support;

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests, raw};
use netdisk_core::models::{Blob, DownloadRecord, Movie, Notice, Session, User, UserFile};
use serde_json::{Value, json};
use support::{Client, TestServer, md5_hex};

type Result = mini_orm::Result<()>;

/// Largest upload in these tests' configuration (movies and files alike).
const MAX_UPLOAD: u64 = 1_000_000;
/// Stands for a number one past `u64::MAX`, which `serde_json::Value` cannot hold: replaced in
/// the request's text.
const OVER_U64: &str = "\u{1}over-u64";
/// A character of four UTF-8 bytes, to tell character limits from byte limits.
const WIDE: char = '🎬';

/// What replaces a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
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
    const ALL: [Mutation; 25] = [
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
    fn value(self, limit: Option<Limit>) -> Option<Value> {
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
    fn is_string(self) -> bool {
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
    fn is_absent(self) -> bool {
        matches!(self, Mutation::Missing | Mutation::Null)
    }
}

/// A text field's length limit.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Chars(usize),
    Bytes(usize),
}

/// The answer a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Youku: `flag: true`.
    Ok,
    /// Youku: `flag: false` with this code.
    Code(&'static str),
    /// Youku: `flag: false` with this code, then the server closes the connection.
    CodeThenClose(&'static str),
    /// Netdisk: this final code, after a `99999` go-ahead or not.
    Nd { code: i64, go_ahead: bool },
}

impl Outcome {
    /// Whether the request was accepted.
    fn succeeded(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Nd { code: 1, .. })
    }
}

/// The Youku codes of the contract (section 2).
const CODES: [&str; 10] = [
    "bad_request",
    "not_logged_in",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "locked",
    "integrity",
    "unavailable",
    "internal",
];

/// Netdisk's final code `code`, without a go-ahead.
const fn nd(code: i64) -> Outcome {
    Outcome::Nd {
        code,
        go_ahead: false,
    }
}

const BAD_REQUEST: Outcome = Outcome::Code("bad_request");
const NOT_LOGGED_IN: Outcome = Outcome::Code("not_logged_in");

/// The outcomes a request's contract gives to its classes of input.
#[derive(Debug, Clone, Copy)]
struct Codes {
    /// Accepted.
    ok: Outcome,
    /// A field missing or of the wrong type.
    malformed: Outcome,
    /// A field of the right type that the rules refuse (empty, too long, control characters).
    invalid: Outcome,
    /// An upload over the size limit.
    too_large: Outcome,
}

const YOUKU: Codes = Codes {
    ok: Outcome::Ok,
    malformed: BAD_REQUEST,
    invalid: BAD_REQUEST,
    too_large: Outcome::CodeThenClose("too_large"),
};

/// A netdisk api's codes: `bad` for bad parameters; success is 1.
const fn netdisk(bad: i64) -> Codes {
    Codes {
        ok: nd(1),
        malformed: nd(bad),
        invalid: nd(bad),
        too_large: nd(bad),
    }
}

/// What a field accepts, and so which answer each mutation gets.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Checked text: `1..=limit` (or `0..=`), control characters refused unless allowed.
    Text {
        limit: Limit,
        empty_ok: bool,
        control_ok: bool,
    },
    /// Any string is well-formed and gets this answer (a wrong password, an unknown session,
    /// a value outside a fixed set); anything else is malformed.
    Opaque(Outcome),
    /// An optional string any value of which is accepted (a search keyword).
    OptionalText,
    /// Every mutation gets this answer.
    Any(Outcome),
    /// An `i64` id: any in-range number is simply not found.
    Id,
    /// An upload's `u64` size: a wrong size under the limit gets `under_limit`, a huge one
    /// `too_large`.
    Size { under_limit: Outcome },
    /// An optional `u64` (offset or limit): one past the end of what it pages gets `past_end`.
    Page { past_end: Outcome },
    /// `0`/`1` or a boolean.
    Flag,
}

/// One field of a request.
#[derive(Debug, Clone, Copy)]
struct Field {
    /// The key (netdisk data fields are under `data`).
    name: &'static str,
    kind: Kind,
    /// Where an accepted value is stored, to check it was stored exactly.
    stored: Option<Stored>,
}

/// A field whose accepted values are not checked in a table.
const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        stored: None,
    }
}

/// A field whose accepted values must be stored exactly as sent, in `column`.
const fn stored(name: &'static str, kind: Kind, column: Stored) -> Field {
    Field {
        name,
        kind,
        stored: Some(column),
    }
}

/// A name or title: 1 to `chars` characters, no control characters.
const fn text(chars: usize) -> Kind {
    Kind::Text {
        limit: Limit::Chars(chars),
        empty_ok: false,
        control_ok: false,
    }
}

const PASSWORD: Kind = Kind::Text {
    limit: Limit::Bytes(1024),
    empty_ok: false,
    control_ok: true,
};

/// A column holding client text.
#[derive(Debug, Clone, Copy)]
enum Stored {
    UserName,
    RealName,
    Phone,
    Address,
    MovieName,
    NoticeTitle,
    NoticeContent,
    FileName,
}

impl Stored {
    /// Rows whose column is exactly `text`.
    async fn rows_with(self, t: &TestDb, text: &str) -> mini_orm::Result<u64> {
        let db = &t.db;
        let text = text.to_owned();
        match self {
            Stored::UserName => User::query().filter(User::NAME.eq(text)).count(db).await,
            Stored::RealName => {
                let filter = User::REAL_NAME.eq(text);
                User::query().filter(filter).count(db).await
            }
            Stored::Phone => {
                let filter = User::PHONE.eq(text);
                User::query().filter(filter).count(db).await
            }
            Stored::Address => {
                let filter = User::ADDRESS.eq(text);
                User::query().filter(filter).count(db).await
            }
            Stored::MovieName => Movie::query().filter(Movie::NAME.eq(text)).count(db).await,
            Stored::NoticeTitle => {
                let filter = Notice::TITLE.eq(text);
                Notice::query().filter(filter).count(db).await
            }
            Stored::NoticeContent => {
                let filter = Notice::CONTENT.eq(text);
                Notice::query().filter(filter).count(db).await
            }
            Stored::FileName => {
                let filter = UserFile::NAME.eq(text);
                UserFile::query().filter(filter).count(db).await
            }
        }
    }
}

/// What an accepted request adds: rows per table, and files in the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Nothing,
    Account,
    Movie,
    Notice,
    File,
    DownloadRecord,
}

/// One request type: its valid form for case `n`, its fields, and its contract.
struct RequestType {
    name: &'static str,
    /// The valid request; `n` makes names and contents unique to the case.
    template: fn(&Fixture, usize) -> Value,
    fields: Vec<Field>,
    codes: Codes,
    effect: Effect,
}

/// What the templates refer to: sessions, and things that exist.
struct Fixture {
    admin: String,
    user: String,
    movie_id: i64,
    file_id: i64,
    /// Netdisk: the account the case connection is logged in as, its file, and that file's size.
    nd_user: &'static str,
    nd_file: &'static str,
    nd_file_size: usize,
}

/// The bytes uploaded by case `n`.
fn content(n: usize) -> Vec<u8> {
    format!("the content of case {n}; ").repeat(4).into_bytes()
}

const SESSION: Field = Field {
    name: "session",
    kind: Kind::Opaque(NOT_LOGGED_IN),
    stored: None,
};
const OFFSET: Field = field(
    "offset",
    Kind::Page {
        past_end: Outcome::Ok,
    },
);
const LIMIT: Field = field(
    "limit",
    Kind::Page {
        past_end: Outcome::Ok,
    },
);

/// The Youku protocol's request types (section 2), and `type` itself.
fn youku_requests() -> Vec<RequestType> {
    let youku = |name, template, fields, effect| RequestType {
        name,
        template,
        fields,
        codes: YOUKU,
        effect,
    };
    vec![
        youku(
            "type",
            |f, _| json!({"type": "check_notice", "session": f.user}),
            vec![field("type", Kind::Any(BAD_REQUEST))],
            Effect::Nothing,
        ),
        youku(
            "register",
            |_, n| json!({"type": "register", "name": format!("new{n}"), "password": format!("pw{n}"), "user_type": "user"}),
            vec![
                stored("name", text(32), Stored::UserName),
                field("password", PASSWORD),
                field("user_type", Kind::Opaque(BAD_REQUEST)),
            ],
            Effect::Account,
        ),
        youku(
            "login",
            |_, _| json!({"type": "login", "name": "alice", "password": md5_hex(b"alice"), "user_type": "user"}),
            vec![
                field("name", Kind::Opaque(NOT_LOGGED_IN)),
                field("password", Kind::Opaque(NOT_LOGGED_IN)),
                field("user_type", Kind::Opaque(BAD_REQUEST)),
            ],
            Effect::Nothing,
        ),
        youku(
            "logout",
            |f, _| json!({"type": "logout", "session": f.user}),
            vec![SESSION],
            Effect::Nothing,
        ),
        youku(
            "check_movie",
            |f, n| json!({"type": "check_movie", "session": f.admin, "file_md5": md5_hex(&content(n))}),
            vec![SESSION, field("file_md5", Kind::Opaque(BAD_REQUEST))],
            Effect::Nothing,
        ),
        youku(
            "upload_movie",
            |f, n| {
                let bytes = content(n);
                json!({"type": "upload_movie", "session": f.admin, "file_name": format!("movie{n}"),
                       "file_size": bytes.len(), "file_md5": md5_hex(&bytes), "is_free": 0})
            },
            vec![
                SESSION,
                stored("file_name", text(255), Stored::MovieName),
                field(
                    "file_size",
                    Kind::Size {
                        under_limit: Outcome::Code("integrity"),
                    },
                ),
                field("file_md5", Kind::Opaque(BAD_REQUEST)),
                field("is_free", Kind::Flag),
            ],
            Effect::Movie,
        ),
        youku(
            "get_movie_list",
            |f, _| json!({"type": "get_movie_list", "session": f.user, "movie_type": "all", "keyword": "movie", "offset": 0, "limit": 10}),
            vec![
                SESSION,
                field("movie_type", Kind::Opaque(BAD_REQUEST)),
                field("keyword", Kind::OptionalText),
                OFFSET,
                LIMIT,
            ],
            Effect::Nothing,
        ),
        youku(
            "delete_movie",
            |f, _| json!({"type": "delete_movie", "session": f.admin, "delete_movie_id": f.movie_id}),
            vec![SESSION, field("delete_movie_id", Kind::Id)],
            Effect::Nothing,
        ),
        youku(
            "release_notice",
            |f, n| json!({"type": "release_notice", "session": f.admin, "title": format!("title{n}"), "content": "news"}),
            vec![
                SESSION,
                stored("title", text(255), Stored::NoticeTitle),
                stored(
                    "content",
                    Kind::Text {
                        limit: Limit::Chars(65_536),
                        empty_ok: true,
                        control_ok: true,
                    },
                    Stored::NoticeContent,
                ),
            ],
            Effect::Notice,
        ),
        youku(
            "check_notice",
            |f, _| json!({"type": "check_notice", "session": f.user, "offset": 0, "limit": 10}),
            vec![SESSION, OFFSET, LIMIT],
            Effect::Nothing,
        ),
        youku(
            "buy_vip",
            |f, _| json!({"type": "buy_vip", "session": f.user}),
            vec![SESSION],
            Effect::Nothing,
        ),
        youku(
            "download_movie",
            |f, _| json!({"type": "download_movie", "session": f.user, "movie_id": f.movie_id, "offset": 0}),
            vec![
                SESSION,
                field("movie_id", Kind::Id),
                field(
                    "offset",
                    Kind::Page {
                        past_end: BAD_REQUEST,
                    },
                ),
            ],
            Effect::DownloadRecord,
        ),
        youku(
            "check_download_record",
            |f, _| json!({"type": "check_download_record", "session": f.user, "offset": 0, "limit": 10}),
            vec![SESSION, OFFSET, LIMIT],
            Effect::Nothing,
        ),
        youku(
            "upload_file",
            |f, n| {
                let bytes = content(n);
                json!({"type": "upload_file", "session": f.user, "file_name": format!("file{n}"),
                       "file_size": bytes.len(), "file_md5": md5_hex(&bytes)})
            },
            vec![
                SESSION,
                stored("file_name", text(255), Stored::FileName),
                field(
                    "file_size",
                    Kind::Size {
                        under_limit: Outcome::Code("integrity"),
                    },
                ),
                field("file_md5", Kind::Opaque(BAD_REQUEST)),
            ],
            Effect::File,
        ),
        youku(
            "list_files",
            |f, _| json!({"type": "list_files", "session": f.user}),
            vec![SESSION],
            Effect::Nothing,
        ),
        youku(
            "download_file",
            |f, _| json!({"type": "download_file", "session": f.user, "file_id": f.file_id, "offset": 0}),
            vec![
                SESSION,
                field("file_id", Kind::Id),
                field(
                    "offset",
                    Kind::Page {
                        past_end: BAD_REQUEST,
                    },
                ),
            ],
            Effect::Nothing,
        ),
        youku(
            "delete_file",
            |f, _| json!({"type": "delete_file", "session": f.user, "file_id": f.file_id}),
            vec![SESSION, field("file_id", Kind::Id)],
            Effect::Nothing,
        ),
        youku(
            "subscribe",
            |f, _| json!({"type": "subscribe", "session": f.user}),
            vec![SESSION],
            Effect::Nothing,
        ),
    ]
}

/// The netdisk protocol's apis (section 3), and the `api`/`data` envelope.
fn netdisk_requests() -> Vec<RequestType> {
    let request = |name, template, fields, codes, effect| RequestType {
        name,
        template,
        fields,
        codes,
        effect,
    };
    const PROFILE: Kind = Kind::Text {
        limit: Limit::Chars(255),
        empty_ok: true,
        control_ok: false,
    };
    vec![
        request(
            "api",
            |f, _| json!({"api": "check", "data": {"username": f.nd_user}}),
            vec![field("api", Kind::Any(nd(0)))],
            netdisk(3),
            Effect::Nothing,
        ),
        request(
            "register",
            |_, n| {
                json!({"api": "register", "data": {"username": format!("nd{n}"), "password": format!("pw{n}"),
                          "real_name": "Real", "phone": "123", "address": "Street 1"}})
            },
            vec![
                field("data", Kind::Any(nd(2))),
                stored("data.username", text(32), Stored::UserName),
                field("data.password", PASSWORD),
                stored("data.real_name", PROFILE, Stored::RealName),
                stored("data.phone", PROFILE, Stored::Phone),
                stored("data.address", PROFILE, Stored::Address),
            ],
            netdisk(2),
            Effect::Account,
        ),
        request(
            "login",
            |f, _| json!({"api": "login", "data": {"username": f.nd_user, "password": "pw"}}),
            vec![
                field("data", Kind::Any(nd(3))),
                field("data.username", Kind::Opaque(nd(2))),
                field("data.password", Kind::Opaque(nd(2))),
            ],
            netdisk(3),
            Effect::Nothing,
        ),
        request(
            "download",
            |f, _| {
                json!({"api": "download", "data": {"username": f.nd_user, "file_name": f.nd_file,
                          "file_size": f.nd_file_size}})
            },
            vec![
                field("data", Kind::Any(nd(2))),
                field("data.username", Kind::Opaque(nd(3))),
                field("data.file_name", Kind::Opaque(nd(4))),
                field("data.file_size", Kind::Any(nd(2))),
            ],
            netdisk(2),
            Effect::Nothing,
        ),
        request(
            "check",
            |f, _| json!({"api": "check", "data": {"username": f.nd_user}}),
            vec![
                field("data", Kind::Any(nd(3))),
                field("data.username", Kind::Any(nd(3))),
            ],
            netdisk(3),
            Effect::Nothing,
        ),
        request(
            "upload",
            |f, n| {
                json!({"api": "upload", "data": {"username": f.nd_user, "file_name": format!("nd-file{n}"),
                          "file_size": content(n).len()}})
            },
            vec![
                field("data", Kind::Any(nd(3))),
                field("data.username", Kind::Any(nd(3))),
                stored("data.file_name", text(255), Stored::FileName),
                field(
                    "data.file_size",
                    Kind::Size {
                        under_limit: Outcome::Nd {
                            code: 1,
                            go_ahead: true,
                        },
                    },
                ),
            ],
            Codes {
                ok: Outcome::Nd {
                    code: 1,
                    go_ahead: true,
                },
                ..netdisk(3)
            },
            Effect::File,
        ),
    ]
}

/// The answer the contract gives to `mutation` in a field of `kind`.
fn expected(kind: Kind, mutation: Mutation, codes: Codes) -> Outcome {
    use Mutation::*;
    let malformed = codes.malformed;
    match kind {
        Kind::Any(outcome) => outcome,
        Kind::Text {
            empty_ok,
            control_ok,
            ..
        } => match mutation {
            Empty if !empty_ok => codes.invalid,
            Huge | OverMax => codes.invalid,
            Nul | Control if !control_ok => codes.invalid,
            _ if mutation.is_string() => codes.ok,
            _ => malformed,
        },
        Kind::Opaque(outcome) if mutation.is_string() => outcome,
        Kind::Opaque(_) => malformed,
        Kind::OptionalText if mutation.is_string() || mutation.is_absent() => codes.ok,
        Kind::OptionalText => malformed,
        Kind::Id => match mutation {
            Unused | Negative | MinI64 | MaxI64 => Outcome::Code("not_found"),
            _ => malformed,
        },
        Kind::Size { under_limit } => match mutation {
            Unused => under_limit,
            MaxI64 | MaxU64 => codes.too_large,
            _ => malformed,
        },
        Kind::Page { past_end } => match mutation {
            Missing | Null => codes.ok,
            Unused | MaxI64 | MaxU64 => past_end,
            _ => malformed,
        },
        Kind::Flag => match mutation {
            Bool => codes.ok,
            _ => malformed,
        },
    }
}

/// The length limit of a text field, for `AtMax`/`OverMax` (which apply to those only).
fn limit_of(kind: Kind) -> Option<Limit> {
    match kind {
        Kind::Text { limit, .. } => Some(limit),
        _ => None,
    }
}

/// `request` with `field` (a key, or `data.<key>`) set to `value`, or removed.
fn mutate(mut request: Value, field: &str, value: Option<Value>) -> Value {
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
fn encode(request: &Value) -> String {
    let marker = serde_json::to_string(OVER_U64).unwrap();
    request.to_string().replace(&marker, "18446744073709551616")
}

/// Rows per table, and files in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counts {
    rows: Vec<(String, i64)>,
    data_files: usize,
}

impl Counts {
    /// The counts now, in one query over every table.
    async fn take(t: &TestDb, server: &TestServer) -> Counts {
        let tables = [
            User::TABLE.name,
            Session::TABLE.name,
            Movie::TABLE.name,
            Notice::TABLE.name,
            DownloadRecord::TABLE.name,
            UserFile::TABLE.name,
            Blob::TABLE.name,
        ];
        let sql = tables
            .iter()
            .map(|table| format!("SELECT '{table}', COUNT(*) FROM `{table}`"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut rows: Vec<(String, i64)> = raw(sql)
            .fetch_all(&t.db)
            .await
            .expect("every table is still there");
        rows.sort();
        Counts {
            rows,
            data_files: server.stored_files(),
        }
    }

    /// These counts after `effect`.
    fn after(&self, effect: Effect) -> Counts {
        let mut next = self.clone();
        let mut add = |table: &str| {
            let row = next.rows.iter_mut().find(|(t, _)| t == table).unwrap();
            row.1 += 1;
        };
        match effect {
            Effect::Nothing => {}
            Effect::Account => add(User::TABLE.name),
            Effect::Notice => add(Notice::TABLE.name),
            Effect::DownloadRecord => add(DownloadRecord::TABLE.name),
            Effect::Movie | Effect::File => {
                add(if effect == Effect::Movie {
                    Movie::TABLE.name
                } else {
                    UserFile::TABLE.name
                });
                add(Blob::TABLE.name);
                next.data_files += 1;
            }
        }
        next
    }
}

/// One protocol's connection to the server under test, reopened when a case closes it.
struct Door<'s> {
    server: &'s TestServer,
    youku: bool,
    client: Client,
}

impl Door<'_> {
    /// A fresh connection (logged in as the fixture's netdisk account on the netdisk door).
    async fn reconnect(&mut self, fixture: &Fixture) {
        self.client = if self.youku {
            self.server.youku().await
        } else {
            let mut client = self.server.netdisk_client().await;
            let login =
                json!({"api": "login", "data": {"username": fixture.nd_user, "password": "pw"}});
            assert_eq!(client.call(login).await["code"], 1);
            client
        };
        // An upload is a frame, then its bytes in a second write: without this, each waits
        // for the frame's delayed acknowledgement.
        self.client.stream.set_nodelay(true).unwrap();
    }

    /// Sends `request` (with the raw bytes an upload announces, as a client would) and reads
    /// the answer, and any bytes that follow it.
    async fn exchange(
        &mut self,
        request: &Value,
        n: usize,
    ) -> std::result::Result<Outcome, String> {
        let c = &mut self.client;
        c.send_bytes(encode(request).as_bytes()).await;
        let file_size = request
            .get("file_size")
            .or_else(|| request["data"].get("file_size"))
            .and_then(Value::as_u64);
        let bytes_for = |size: u64| {
            let mut bytes = content(n);
            bytes.resize(size as usize, b'.');
            bytes
        };
        if self.youku {
            let uploads = matches!(
                request["type"].as_str(),
                Some("upload_movie" | "upload_file")
            );
            if let Some(size) = file_size.filter(|&s| uploads && s <= MAX_UPLOAD) {
                c.send_raw(&bytes_for(size)).await;
            }
            let answer = c.recv().await.ok_or("no answer")?;
            if answer["flag"] == true {
                if let Some(size) = answer["file_size"].as_u64() {
                    c.recv_raw(size as usize).await;
                }
                return Ok(Outcome::Ok);
            }
            let code = answer["code"].as_str().unwrap_or_default();
            let code = *CODES
                .iter()
                .find(|known| **known == code)
                .ok_or(format!("not one of the contract's codes: {answer}"))?;
            if code == "too_large" {
                return Ok(if c.closed().await {
                    Outcome::CodeThenClose(code)
                } else {
                    Outcome::Code(code)
                });
            }
            Ok(Outcome::Code(code))
        } else {
            let answer = c.recv().await.ok_or("no answer")?;
            let code = answer["code"]
                .as_i64()
                .ok_or(format!("no code: {answer}"))?;
            if code != 99999 {
                return Ok(nd(code));
            }
            let size = file_size.ok_or("a go-ahead without a usable file_size")?;
            if request["api"] == "download" {
                c.recv_raw(size as usize).await;
                c.send(&json!("ok")).await;
            } else {
                c.send_raw(&bytes_for(size)).await;
            }
            let last = c.recv().await.ok_or("no answer after the go-ahead")?;
            let code = last["code"].as_i64().ok_or(format!("no code: {last}"))?;
            Ok(Outcome::Nd {
                code,
                go_ahead: true,
            })
        }
    }

    /// Whether the connection still answers a valid request.
    async fn still_serves(&mut self, fixture: &Fixture) -> bool {
        if self.youku {
            let check = json!({"type": "list_files", "session": fixture.user});
            self.client.send(&check).await;
            matches!(self.client.recv().await, Some(answer) if answer["flag"] == true)
        } else {
            let check = json!({"api": "check", "data": {"username": fixture.nd_user}});
            self.client.send(&check).await;
            matches!(self.client.recv().await, Some(answer) if answer["code"] == 1)
        }
    }
}

/// Every movie name, to check a keyword search against.
async fn movie_names(client: &mut Client, fixture: &Fixture) -> Vec<String> {
    let all = json!({"type": "get_movie_list", "session": fixture.user, "movie_type": "all"});
    let list = client.call(all).await;
    list["movie_list"]
        .as_array()
        .expect("a movie list")
        .iter()
        .map(|m| m[0].as_str().unwrap().to_owned())
        .collect()
}

/// Which cases a run tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
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
async fn run_matrix(
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

/// A search for `keyword` matches the names that contain it literally (no wildcards, no SQL).
async fn check_keyword(
    door: &mut Door<'_>,
    fixture: &Fixture,
    keyword: &str,
    search: &Value,
    case: &str,
) -> Option<String> {
    let names = movie_names(&mut door.client, fixture).await;
    let matching = names.iter().filter(|name| name.contains(keyword)).count();
    let mut search = search.clone();
    search["limit"] = json!(1000);
    let total = door.client.call(search).await["total"].clone();
    (total != json!(matching))
        .then(|| format!("{case}: total {total}, but {matching} names contain the keyword"))
}

/// Reports the mismatches, if any, as one failure.
fn report(protocol: &str, failures: &[String], cases: usize) {
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
async fn server(t: &TestDb) -> TestServer {
    TestServer::start_with(t, |c| {
        c.max_movie_bytes = MAX_UPLOAD;
        c.max_file_bytes = MAX_UPLOAD;
        c.lockout_threshold = u32::MAX;
    })
    .await
}

/// Sends `request` (an `upload_movie` or `upload_file` without its size and MD5) with `bytes`,
/// and returns the new id.
async fn upload(c: &mut Client, mut request: Value, bytes: &[u8]) -> i64 {
    request["file_size"] = json!(bytes.len());
    request["file_md5"] = json!(md5_hex(bytes));
    c.send(&request).await;
    c.send_raw(bytes).await;
    let answer = c.recv().await.unwrap();
    answer["movie_id"]
        .as_i64()
        .or(answer["file_id"].as_i64())
        .unwrap_or_else(|| panic!("{answer}"))
}

/// Every Youku case (on one backend).
async fn youku_bad_input(t: &TestDb) -> Result {
    youku_matrix(t, Scope::Full).await
}

/// The Youku cases that reach the database (on the other backends).
async fn youku_bad_input_reaching_the_database(t: &TestDb) -> Result {
    youku_matrix(t, Scope::Database).await
}

/// Every netdisk case (on one backend).
async fn netdisk_bad_input(t: &TestDb) -> Result {
    netdisk_matrix(t, Scope::Full).await
}

/// The netdisk cases that reach the database (on the other backends).
async fn netdisk_bad_input_reaching_the_database(t: &TestDb) -> Result {
    netdisk_matrix(t, Scope::Database).await
}

/// The Youku cases in `scope`, after setting up two accounts, a movie and a file.
async fn youku_matrix(t: &TestDb, scope: Scope) -> Result {
    let server = server(t).await;
    let mut c = server.youku().await;
    let admin = c.login_as("root", "admin").await;
    let user = c.login_as("alice", "user").await;
    let film = vec![7u8; 1000];
    let movie =
        json!({"type": "upload_movie", "session": admin, "file_name": "film.mp4", "is_free": 0});
    let movie_id = upload(&mut c, movie, &film).await;
    let file = json!({"type": "upload_file", "session": user, "file_name": "diary.txt"});
    let file_id = upload(&mut c, file, b"dear diary").await;
    let fixture = Fixture {
        admin,
        user,
        movie_id,
        file_id,
        nd_user: "",
        nd_file: "",
        nd_file_size: 0,
    };
    let mut door = Door {
        server: &server,
        youku: true,
        client: c,
    };
    door.reconnect(&fixture).await;
    let (failures, cases) = run_matrix(t, &mut door, &fixture, &youku_requests(), scope).await;
    report("youku", &failures, cases);
    Ok(())
}

/// The netdisk cases in `scope`, on a connection logged in to an account with one file.
async fn netdisk_matrix(t: &TestDb, scope: Scope) -> Result {
    let server = server(t).await;
    let mut c = server.netdisk_client().await;
    let profile = json!({"username": "nd_user", "password": "pw", "real_name": "Real", "phone": "12345", "address": "here"});
    let registered = c.call(json!({"api": "register", "data": profile})).await;
    assert_eq!(registered["code"], 1, "{registered}");
    let bytes = b"stored bytes";
    let fixture = Fixture {
        admin: String::new(),
        user: String::new(),
        movie_id: 0,
        file_id: 0,
        nd_user: "nd_user",
        nd_file: "stored.txt",
        nd_file_size: bytes.len(),
    };
    let mut door = Door {
        server: &server,
        youku: false,
        client: c,
    };
    door.reconnect(&fixture).await;
    let upload = json!({"api": "upload", "data": {"username": "nd_user", "file_name": fixture.nd_file, "file_size": bytes.len()}});
    assert_eq!(door.client.call(upload).await["code"], 99999);
    door.client.send_raw(bytes).await;
    assert_eq!(door.client.recv().await.unwrap()["code"], 1);
    let (failures, cases) = run_matrix(t, &mut door, &fixture, &netdisk_requests(), scope).await;
    report("netdisk", &failures, cases);
    Ok(())
}

backend_tests!(on [sqlite_memory]: youku_bad_input, netdisk_bad_input);
backend_tests!(
    on [sqlite_file, mysql]: youku_bad_input_reaching_the_database,
    netdisk_bad_input_reaching_the_database
);
