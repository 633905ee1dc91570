//! The bytes of movies being watched and of personal files, with ranges (see `ranged`):
//! `/viewings/{token}/content` (a viewing the movie page started; `?download=1` saves it as a
//! file) and `/files/{id}/content`. Both need the owner's session.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::App;
use super::auth::ApiCaller;
use super::failure;
use super::ranged::{self, Disposition};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/viewings/{token}/content", get(viewing_content))
        .route("/files/{id}/content", get(file_content))
}

#[derive(Deserialize)]
struct ContentQuery {
    download: Option<u8>,
}

/// A viewing's bytes: refused until its wait is over; its first read writes its download
/// record.
async fn viewing_content(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(token): Path<String>,
    Query(query): Query<ContentQuery>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let movies = app.netdisk.movies();
    let watched = match movies.watch(&caller, &token).await {
        Ok(watched) => watched,
        Err(error) => return failure::api(error),
    };
    if ranged::reads_bytes(&method, &headers, &watched.content)
        && let Err(error) = watched.record(movies).await
    {
        return failure::api(error);
    }
    let disposition = match query.download {
        Some(1) => Disposition::Attachment,
        _ => Disposition::Inline,
    };
    let name = &watched.movie.name;
    ranged::serve(&method, &headers, &watched.content, name, disposition)
        .await
        .unwrap_or_else(failure::api)
}

/// One of the caller's files.
async fn file_content(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let (file, content) = match app.netdisk.files().content(&caller, id).await {
        Ok(found) => found,
        Err(error) => return failure::api(error),
    };
    ranged::serve(
        &method,
        &headers,
        &content,
        &file.name,
        Disposition::Attachment,
    )
    .await
    .unwrap_or_else(failure::api)
}
