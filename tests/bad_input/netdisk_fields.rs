//! The netdisk protocol's fields (section 3): every api, and the `api`/`data` envelope, with each
//! field given every bad value: all the cases on in-memory SQLite, and those whose value reaches
//! the database on the SQLite file and MySQL.

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use serde_json::json;

use crate::Result;
use crate::connection::Door;
use crate::contract::{Codes, Kind, Outcome, PASSWORD, field, nd, netdisk, stored, text};
use crate::matrix::{Fixture, RequestType, Scope, content, report, run_matrix, server};
use crate::mutations::Limit;
use crate::stored::{Effect, Stored};

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

/// Every netdisk case (on one backend).
async fn netdisk_bad_input(t: &TestDb) -> Result {
    netdisk_matrix(t, Scope::Full).await
}

/// The netdisk cases that reach the database (on the other backends).
async fn netdisk_bad_input_reaching_the_database(t: &TestDb) -> Result {
    netdisk_matrix(t, Scope::Database).await
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

backend_tests!(on [sqlite_memory]: netdisk_bad_input);
backend_tests!(on [sqlite_file, mysql]: netdisk_bad_input_reaching_the_database);
