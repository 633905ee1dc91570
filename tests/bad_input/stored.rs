//! What requests store: the rows of every table and the files in the data directory change only
//! as an accepted request stores, and accepted text is stored exactly as it was sent.

use mini_orm::testing::TestDb;
use mini_orm::{Model, raw};
use netdisk_core::models::{Blob, DownloadRecord, Movie, Notice, Session, User, UserFile};

use crate::support::TestServer;

/// A column holding client text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stored {
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
    pub(crate) async fn rows_with(self, t: &TestDb, text: &str) -> mini_orm::Result<u64> {
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
pub(crate) enum Effect {
    Nothing,
    Account,
    Movie,
    Notice,
    File,
    DownloadRecord,
}

/// Rows per table, and files in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counts {
    rows: Vec<(String, i64)>,
    data_files: usize,
}

impl Counts {
    /// The counts now, in one query over every table.
    pub(crate) async fn take(t: &TestDb, server: &TestServer) -> Counts {
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
    pub(crate) fn after(&self, effect: Effect) -> Counts {
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
