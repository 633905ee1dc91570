//! The Youku protocol's fields (section 2): every request type, and `type` itself, with each
//! field given every bad value: all the cases on in-memory SQLite, and those whose value reaches
//! the database on the SQLite file and MySQL.

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use serde_json::{Value, json};

use crate::Result;
use crate::connection::Door;
use crate::contract::{
    BAD_REQUEST, Field, Kind, NOT_LOGGED_IN, Outcome, PASSWORD, YOUKU, field, stored, text,
};
use crate::matrix::{Fixture, RequestType, Scope, content, report, run_matrix, server};
use crate::mutations::Limit;
use crate::stored::{Effect, Stored};
use crate::support::{Client, md5_hex};

const SESSION: Field = Field {
    name: "session",
    kind: Kind::Token(NOT_LOGGED_IN),
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

backend_tests!(on [sqlite_memory]: youku_bad_input);
backend_tests!(on [sqlite_file, mysql]: youku_bad_input_reaching_the_database);
