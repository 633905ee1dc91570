//! Migrations: applied in order and recorded once, re-runs that apply nothing, an old filled
//! database upgraded without losing a row, two pools racing on one database, models that
//! disagree with their table, and lists that are refused.

// The derive makes a column constant per field; these models use only some.
#![allow(dead_code)]

use std::sync::Arc;

use mini_orm::testing::TestDb;
use mini_orm::{
    Db, Error, HISTORY_TABLE, Migration, Migrations, Model, Result, Step, backend_tests, raw,
};
use tokio::sync::Barrier;

/// The `member` table as the last release made it.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "member")]
struct OldMember {
    #[field(primary_key)]
    id: i64,
    #[field(unique, max_len = 32)]
    name: String,
    score: i64,
}

/// The `member` table as this release wants it: two new columns with defaults, a new index.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "member")]
struct Member {
    #[field(primary_key)]
    id: i64,
    #[field(unique, max_len = 32)]
    name: String,
    score: i64,
    #[field(default = 5, index)]
    level: i64,
    #[field(default = "none", max_len = 16)]
    note: String,
}

/// A table this release adds.
#[derive(Model, Debug, Clone, PartialEq)]
struct Badge {
    #[field(primary_key)]
    id: i64,
    member_id: i64,
    #[field(max_len = 64)]
    label: String,
}

/// A model that disagrees with the table [`make_typed_table`] makes.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "typed")]
struct Typed {
    #[field(primary_key)]
    id: i64,
    count: i64,
    label: String,
    extra: Option<String>,
}

const CREATE_LOG: Step = Step::Raw {
    sqlite: "CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT NOT NULL)",
    mysql: "CREATE TABLE log (id BIGINT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(64) NOT NULL)",
};

fn log(what: &'static str) -> Step {
    let sql: &'static str = Box::leak(format!("INSERT INTO log (what) VALUES ('{what}')").into());
    Step::Raw {
        sqlite: sql,
        mysql: sql,
    }
}

fn migration(version: u32, name: &'static str, steps: Vec<Step>) -> Migration {
    Migration {
        version,
        name,
        steps,
    }
}

/// Three versions: the log table, then one row each.
fn logging_migrations() -> Vec<Migration> {
    vec![
        migration(1, "log table", vec![CREATE_LOG]),
        migration(2, "first", vec![log("v2")]),
        migration(3, "second", vec![log("v3a"), log("v3b")]),
    ]
}

async fn logged(db: &Db) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = raw("SELECT what FROM log ORDER BY id")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|(w,)| w).collect())
}

async fn history(db: &Db) -> Result<Vec<(i64, String)>> {
    raw(format!(
        "SELECT version, name FROM {HISTORY_TABLE} ORDER BY version"
    ))
    .fetch_all(db)
    .await
}

async fn migrations_apply_in_order_and_are_recorded(t: &TestDb) -> Result<()> {
    let report = Migrations::new(logging_migrations()).run(&t.db).await?;
    assert_eq!(report.applied, [1, 2, 3]);
    assert!(report.already_applied.is_empty());
    assert_eq!(logged(&t.db).await?, ["v2", "v3a", "v3b"]);
    assert_eq!(
        history(&t.db).await?,
        [
            (1, "log table".to_owned()),
            (2, "first".to_owned()),
            (3, "second".to_owned())
        ]
    );
    Ok(())
}

async fn a_second_run_applies_only_new_versions(t: &TestDb) -> Result<()> {
    Migrations::new(logging_migrations()).run(&t.db).await?;
    let again = Migrations::new(logging_migrations()).run(&t.db).await?;
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.already_applied, [1, 2, 3]);
    assert_eq!(logged(&t.db).await?, ["v2", "v3a", "v3b"]);

    let mut longer = logging_migrations();
    longer.push(migration(7, "later", vec![log("v7")]));
    let report = Migrations::new(longer).run(&t.db).await?;
    assert_eq!(report.applied, [7]);
    assert_eq!(logged(&t.db).await?, ["v2", "v3a", "v3b", "v7"]);
    assert_eq!(history(&t.db).await?.len(), 4);
    Ok(())
}

/// This release's list: the first version creates today's tables (a no-op on a database of
/// the last release, which has `member`), the second adds what the last release lacked.
fn release_migrations() -> Migrations {
    Migrations::new(vec![
        migration(1, "members", vec![Step::CreateTable(Member::TABLE)]),
        migration(
            2,
            "levels, notes, badges",
            vec![
                Step::AddColumn {
                    table: Member::TABLE,
                    column: "level",
                },
                Step::AddColumn {
                    table: Member::TABLE,
                    column: "note",
                },
                Step::AddIndex {
                    table: Member::TABLE,
                    columns: &["level"],
                },
                Step::CreateTable(Badge::TABLE),
            ],
        ),
    ])
    .check::<Member>()
    .check::<Badge>()
}

async fn indexes_of_member(db: &Db) -> Result<Vec<String>> {
    let sql = match db.backend() {
        mini_orm::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'member' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        mini_orm::Backend::MySql => {
            "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = \
             DATABASE() AND table_name = 'member' AND index_name <> 'PRIMARY' ORDER BY index_name"
        }
    };
    let rows: Vec<(String,)> = raw(sql).fetch_all(db).await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

async fn an_old_filled_database_gains_what_it_lacks_and_keeps_every_row(t: &TestDb) -> Result<()> {
    // The last release: `create_table` of its models, and rows in them.
    t.db.create_table::<OldMember>().await?;
    let mut old = Vec::new();
    for (i, name) in ["ann", "bob", "cy"].into_iter().enumerate() {
        let mut member = OldMember {
            id: 0,
            name: name.to_owned(),
            score: 10 * i as i64,
        };
        member.save(&t.db).await?;
        old.push(member);
    }
    assert!(matches!(
        t.db.check_schema::<Member>().await,
        Err(Error::SchemaMismatch { .. })
    ));

    let report = release_migrations().run(&t.db).await?;
    assert_eq!(report.applied, [1, 2]);

    let members = Member::query()
        .order_by(Member::ID.asc())
        .all(&t.db)
        .await?;
    let expected: Vec<Member> = old
        .iter()
        .map(|o| Member {
            id: o.id,
            name: o.name.clone(),
            score: o.score,
            level: 5,
            note: "none".to_owned(),
        })
        .collect();
    assert_eq!(members, expected);
    assert_eq!(
        indexes_of_member(&t.db).await?,
        ["member_level_idx", "member_name_key"]
    );
    let mut badge = Badge {
        id: 0,
        member_id: old[0].id,
        label: "first".to_owned(),
    };
    badge.save(&t.db).await?;
    assert_eq!(Badge::get(&t.db, badge.id).await?, badge);

    // A fresh database takes the same list: the later steps find their column and index there.
    let fresh = TestDb::open(t.backend).await.expect("a second database");
    let result = release_migrations().run(&fresh.db).await;
    let indexes = indexes_of_member(&fresh.db).await;
    fresh.finish().await;
    assert_eq!(result?.applied, [1, 2]);
    assert_eq!(indexes?, ["member_level_idx", "member_name_key"]);
    Ok(())
}

/// A step that takes a while (about a quarter of a second) and changes nothing, so that a
/// racing run finds the first one in the middle of a migration.
const SLOW: Step = Step::Raw {
    sqlite: "INSERT INTO log (what) SELECT 'never' FROM (WITH RECURSIVE c(x) AS \
             (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT x FROM c) \
             WHERE x < 0",
    mysql: "SELECT SLEEP(0.25)",
};

/// Two pools on one database (two processes starting at once) run the same list together:
/// each version is applied by exactly one of them, and each raw insert happens once. The
/// history table exists beforehand (as after any earlier run), so that the second run reads
/// the recorded versions while the first is inside its slow first migration, and must wait
/// for it and then see that version recorded. (Not on `sqlite::memory:`, whose database
/// belongs to one connection: a second pool would open another database.)
async fn two_pools_racing_apply_each_version_once(t: &TestDb) -> Result<()> {
    let list = || {
        Migrations::new(vec![
            migration(1, "log table", vec![CREATE_LOG, SLOW, log("v1")]),
            migration(2, "members", vec![Step::CreateTable(Member::TABLE)]),
            migration(3, "more", vec![log("v3")]),
        ])
    };
    let second = Db::connect(&t.url).await?;
    for _round in 0..2 {
        Migrations::new(Vec::new()).run(&t.db).await?;
        let barrier = Arc::new(Barrier::new(2));
        let runs: Vec<_> = [t.db.clone(), second.clone()]
            .into_iter()
            .map(|db| {
                let barrier = barrier.clone();
                let migrations = list();
                tokio::spawn(async move {
                    barrier.wait().await;
                    migrations.run(&db).await
                })
            })
            .collect();
        let mut applied = Vec::new();
        for run in runs {
            let report = run.await.expect("the run panicked")?;
            applied.extend(report.applied);
        }
        applied.sort_unstable();
        assert_eq!(applied, [1, 2, 3]);
        assert_eq!(logged(&t.db).await?, ["v1", "v3"]);
        assert_eq!(history(&t.db).await?.len(), 3);
        // Start the next round from an empty database.
        for table in ["log", "member", HISTORY_TABLE] {
            raw(format!("DROP TABLE {table}")).execute(&t.db).await?;
        }
    }
    second.close().await?;
    Ok(())
}

async fn make_typed_table(db: &Db) -> Result<()> {
    let sql = match db.backend() {
        mini_orm::Backend::Sqlite => {
            "CREATE TABLE typed (id INTEGER PRIMARY KEY AUTOINCREMENT, count TEXT NOT NULL, \
             label TEXT)"
        }
        mini_orm::Backend::MySql => {
            "CREATE TABLE typed (id BIGINT AUTO_INCREMENT PRIMARY KEY, count VARCHAR(10) NOT \
             NULL, label LONGTEXT NULL)"
        }
    };
    raw(sql).execute(db).await?;
    Ok(())
}

async fn a_model_that_disagrees_with_its_table_is_named_with_each_problem(
    t: &TestDb,
) -> Result<()> {
    make_typed_table(&t.db).await?;
    let error = t.db.check_schema::<Typed>().await.unwrap_err();
    let shown = error.to_string();
    let Error::SchemaMismatch { table, problems } = error else {
        panic!("expected a schema mismatch, got {error:?}");
    };
    assert_eq!(table, "typed");
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].starts_with("column `count` is "),
        "{problems:?}"
    );
    assert!(problems[0].ends_with(" in the database but an integer in the model"));
    assert_eq!(
        problems[1],
        "column `label` is nullable in the database but NOT NULL in the model"
    );
    assert_eq!(problems[2], "column `extra` is missing");
    assert!(shown.starts_with("table `typed` does not match its model: column `count`"));
    assert!(shown.contains("column `extra` is missing"), "{shown}");

    // A missing table, and a run of migrations that checks its models, say so too.
    match t.db.check_schema::<Badge>().await {
        Err(Error::SchemaMismatch { table, problems }) => {
            assert_eq!(table, "badge");
            assert_eq!(problems, ["table `badge` does not exist"]);
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
    let checked = Migrations::new(vec![migration(1, "log", vec![CREATE_LOG])]).check::<Typed>();
    match checked.run(&t.db).await {
        Err(Error::SchemaMismatch { table, .. }) => assert_eq!(table, "typed"),
        other => panic!("expected a schema mismatch, got {other:?}"),
    }

    // A table that matches passes, nullable columns and all.
    t.db.create_table::<Member>().await?;
    t.db.check_schema::<Member>().await?;
    Ok(())
}

async fn lists_out_of_order_or_naming_unknown_columns_are_refused_before_running(
    t: &TestDb,
) -> Result<()> {
    let refused = |list: Vec<Migration>| async move {
        match Migrations::new(list).run(&t.db).await {
            Err(Error::InvalidMigration(message)) => message,
            other => panic!("expected an invalid migration list, got {other:?}"),
        }
    };
    let message = refused(vec![
        migration(2, "log table", vec![CREATE_LOG]),
        migration(1, "first", vec![log("v1")]),
    ])
    .await;
    assert!(
        message.contains("version 1 (`first`) comes after version 2"),
        "{message}"
    );
    refused(vec![
        migration(1, "log table", vec![CREATE_LOG]),
        migration(1, "again", vec![log("v1")]),
    ])
    .await;
    refused(vec![migration(0, "zero", vec![CREATE_LOG])]).await;
    let add_column = |column| Step::AddColumn {
        table: Member::TABLE,
        column,
    };
    let bad_steps = [
        (add_column("levle"), "no column `levle`"),
        (add_column("score"), "NOT NULL without a default"),
        (
            Step::AddIndex {
                table: Member::TABLE,
                columns: &["note"],
            },
            "no index over (note)",
        ),
    ];
    for (step, expected) in bad_steps {
        let message = refused(vec![migration(1, "bad step", vec![step])]).await;
        assert!(message.contains(expected), "{message}");
    }

    // Nothing ran: not even the history table was created.
    let history = raw(format!("SELECT COUNT(*) FROM {HISTORY_TABLE}"))
        .fetch_all::<(i64,)>(&t.db)
        .await;
    assert!(history.is_err(), "{history:?}");
    Ok(())
}

backend_tests!(
    migrations_apply_in_order_and_are_recorded,
    a_second_run_applies_only_new_versions,
    an_old_filled_database_gains_what_it_lacks_and_keeps_every_row,
    a_model_that_disagrees_with_its_table_is_named_with_each_problem,
    lists_out_of_order_or_naming_unknown_columns_are_refused_before_running
);
backend_tests!(on [sqlite_file, mysql]: two_pools_racing_apply_each_version_once);
