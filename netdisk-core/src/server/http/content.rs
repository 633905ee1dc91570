//! The bytes of movies being watched, of personal files and of photos, with ranges (see
//! `ranged`): `/viewings/{token}/content` (a viewing the movie page started; `?download=1`
//! saves it as a file) and `/files/{id}/content` need the owner's session; a photo's pictures,
//! `/photos/{id}/{kind}/{sha256}` ([`picture_url`]), are anyone's, and immutable: the address
//! names the bytes' hash, so browsers and proxies keep them for a year without asking again.

use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::App;
use super::auth::ApiCaller;
use super::failure;
use super::ranged::{self, Caching, Disposition};
use super::sendfile::Regions;
use crate::PictureRef;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/viewings/{token}/content", get(viewing_content))
        .route("/files/{id}/content", get(file_content))
        .route("/photos/{id}/{kind}/{sha256}", get(picture))
}

/// The address of one of photo `id`'s pictures.
pub(super) fn picture_url(id: i64, picture: &PictureRef) -> String {
    format!("/photos/{id}/{}/{}", picture.kind, picture.sha256)
}

/// One of a photo's pictures, by the address [`picture_url`] gives.
async fn picture(
    State(app): State<App>,
    Path((id, kind, sha256)): Path<(i64, String, String)>,
    Extension(regions): Extension<Regions>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let photos = app.netdisk.photos();
    let (content, format) = match photos.picture(id, &kind, &sha256).await {
        Ok(found) => found,
        Err(error) => return failure::api(error),
    };
    let extension = match format {
        crate::PictureFormat::Jpeg => "jpg",
        crate::PictureFormat::Png => "png",
        crate::PictureFormat::Webp => "webp",
    };
    let name = format!("photo-{id}-{kind}.{extension}");
    ranged::serve(
        &regions,
        &method,
        &headers,
        &content,
        &name,
        Disposition::Inline,
        Caching::Immutable,
    )
    .unwrap_or_else(failure::api)
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
    Extension(regions): Extension<Regions>,
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
    ranged::serve(
        &regions,
        &method,
        &headers,
        &watched.content,
        name,
        disposition,
        Caching::Revalidate,
    )
    .unwrap_or_else(failure::api)
}

/// One of the caller's files.
async fn file_content(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    Extension(regions): Extension<Regions>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let (file, content) = match app.netdisk.files().content(&caller, id).await {
        Ok(found) => found,
        Err(error) => return failure::api(error),
    };
    ranged::serve(
        &regions,
        &method,
        &headers,
        &content,
        &file.name,
        Disposition::Attachment,
        Caching::Revalidate,
    )
    .unwrap_or_else(failure::api)
}
