//! The personal netdisk: my files, uploading several at once (by picking or dropping them,
//! each with its own progress, through the resumable upload API), and deleting. Only ever the
//! caller's own files: the services look every file up by its owner too.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::super::App;
use super::super::auth::Member;
use super::super::failure;
use super::{Nav, human_size, render, see};
use crate::models::UserFile;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/files", get(files_page))
        .route("/files/{id}/delete", post(delete))
}

/// A file as the list shows it.
struct FileRow {
    id: i64,
    name: String,
    size: String,
    upload_time: String,
}

impl From<UserFile> for FileRow {
    fn from(file: UserFile) -> Self {
        FileRow {
            id: file.id,
            name: file.name,
            size: human_size(file.size as u64),
            upload_time: file.upload_time,
        }
    }
}

#[derive(Template)]
#[template(path = "files.html")]
struct FilesPage {
    nav: Nav,
    files: Vec<FileRow>,
    max_bytes: u64,
}

async fn files_page(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "files");
    match app.netdisk.files().list(&caller).await {
        Ok(files) => render(&FilesPage {
            nav,
            files: files.into_iter().map(FileRow::from).collect(),
            max_bytes: app.netdisk.config().max_file_bytes,
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

async fn delete(State(app): State<App>, Member(caller): Member, Path(id): Path<i64>) -> Response {
    match app.netdisk.files().delete(&caller, id).await {
        Ok(()) => see("/files"),
        Err(error) => failure::page(error, Some(Nav::of(&caller, "files"))),
    }
}
