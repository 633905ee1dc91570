//! Resumable uploads over HTTP, in the manner of tus: `POST /api/uploads` announces the upload
//! (what it becomes, its name, size and MD5) and gets a token; each `PATCH
//! /api/uploads/{token}` carries the next chunk (at most `CHUNK_LIMIT` bytes, within
//! `stall_timeout_secs`) with
//! `Upload-Offset: <where it starts>`; `GET /api/uploads/{token}` says how much arrived (where
//! to go on after a cut connection); `DELETE` gives up. The chunk that completes the upload
//! answers with the new movie's or file's id. The rules are the services' (`Uploads`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::super::App;
use super::super::auth::ApiCaller;
use super::super::failure;
use super::{answer, done, ok};
use crate::{Appended, NewUpload, ServiceError, UploadKind};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/uploads", post(begin))
        .route("/uploads/{token}", get(status).patch(append).delete(cancel))
}

#[derive(Deserialize)]
struct Announced {
    /// `movie` or `file`.
    kind: String,
    name: String,
    size: u64,
    md5: Option<String>,
    #[serde(default)]
    is_free: bool,
}

async fn begin(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Json(body): Json<Announced>,
) -> Response {
    let kind = match body.kind.as_str() {
        "movie" => UploadKind::Movie {
            is_free: body.is_free,
        },
        "file" => UploadKind::File,
        _ => return failure::api(ServiceError::BadRequest("kind is movie or file".into())),
    };
    let upload = NewUpload {
        kind,
        name: &body.name,
        size: body.size,
        md5: body.md5.as_deref(),
    };
    answer(
        StatusCode::CREATED,
        app.netdisk.uploads().begin(&caller, upload).await,
    )
}

async fn status(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(token): Path<String>,
) -> Response {
    ok(app.netdisk.uploads().status(&caller, &token).await)
}

async fn append(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(token): Path<String>,
    headers: HeaderMap,
    chunk: Bytes,
) -> Response {
    let offset = headers
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(offset) = offset else {
        let refused =
            ServiceError::BadRequest("Upload-Offset must give the chunk's first byte".into());
        return failure::api(refused);
    };
    match app
        .netdisk
        .uploads()
        .append(&caller, &token, offset, &chunk)
        .await
    {
        Ok(Appended::Partial(progress)) => (StatusCode::OK, Json(progress)).into_response(),
        Ok(Appended::Complete(id)) => {
            (StatusCode::OK, Json(json!({ "complete": true, "id": id }))).into_response()
        }
        Err(error) => failure::api(error),
    }
}

async fn cancel(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(token): Path<String>,
) -> Response {
    done(app.netdisk.uploads().cancel(&caller, &token).await)
}
