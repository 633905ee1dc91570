//! The photo site's JSON API: upload a photo (`POST /api/photos`, the picture as the body,
//! whatever its declared type: the service checks the content), look at one, change its
//! description and tags, delete it, report it; a person's photos, a tag's, Explore; and an
//! account's role (administrators). Every photo comes with the addresses of its pictures.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::super::App;
use super::super::auth::ApiCaller;
use super::super::content::picture_url;
use super::super::failure;
use super::super::pages::search::SearchQuery;
use super::{answer, done, ok};
use crate::{PhotoPage, PhotoView, Result, Role, ServiceError};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/photos", post(upload))
        .route("/photos/{id}", get(photo).patch(describe).delete(delete))
        .route("/photos/{id}/tags", post(add_tags))
        .route("/photos/{id}/tags/{tag}", axum::routing::delete(remove_tag))
        .route("/photos/{id}/reports", post(report))
        .route("/people/{name}/photos", get(by_person))
        .route("/tags/{name}/photos", get(tagged))
        .route("/explore", get(explore))
        .route("/search", get(search))
        .route("/admin/users/{name}/role", put(set_role))
}

/// The addresses of a photo's page and pictures.
#[derive(Serialize)]
struct Urls {
    page: String,
    original: String,
    medium: String,
    small: String,
}

/// A photo, with its addresses.
#[derive(Serialize)]
struct PhotoJson {
    #[serde(flatten)]
    photo: PhotoView,
    urls: Urls,
}

impl From<PhotoView> for PhotoJson {
    fn from(photo: PhotoView) -> PhotoJson {
        let urls = Urls {
            page: format!("/photos/{}", photo.id),
            original: picture_url(photo.id, &photo.original),
            medium: picture_url(photo.id, &photo.medium),
            small: picture_url(photo.id, &photo.small),
        };
        PhotoJson { photo, urls }
    }
}

/// A page of photos, with their addresses.
#[derive(Serialize)]
struct PageJson {
    photos: Vec<PhotoJson>,
    next: Option<i64>,
}

/// A page of photos as JSON, or its error.
pub(super) fn page_json(page: Result<PhotoPage>) -> Response {
    ok(page.map(|page| PageJson {
        photos: page.photos.into_iter().map(PhotoJson::from).collect(),
        next: page.next,
    }))
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(default)]
    description: String,
}

async fn upload(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<UploadQuery>,
    picture: Bytes,
) -> Response {
    let photos = app.netdisk.photos();
    let uploaded = match photos.upload(&caller, picture, &query.description).await {
        Ok(id) => photos.photo(id).await,
        Err(error) => Err(error),
    };
    answer(StatusCode::CREATED, uploaded.map(PhotoJson::from))
}

async fn photo(State(app): State<App>, Path(id): Path<i64>) -> Response {
    ok(app.netdisk.photos().photo(id).await.map(PhotoJson::from))
}

#[derive(Deserialize)]
struct Description {
    description: String,
}

async fn describe(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    Json(body): Json<Description>,
) -> Response {
    done(
        app.netdisk
            .photos()
            .describe(&caller, id, &body.description)
            .await,
    )
}

async fn delete(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    done(app.netdisk.photos().delete(&caller, id).await)
}

#[derive(Deserialize)]
struct Tags {
    /// One tag or several, separated by spaces or commas.
    tags: String,
}

async fn add_tags(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    Json(body): Json<Tags>,
) -> Response {
    let tags = app.netdisk.photos().add_tags(&caller, id, &body.tags).await;
    ok(tags.map(|tags| json!({ "tags": tags })))
}

async fn remove_tag(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path((id, tag)): Path<(i64, String)>,
) -> Response {
    let tags = app.netdisk.photos().remove_tag(&caller, id, &tag).await;
    ok(tags.map(|tags| json!({ "tags": tags })))
}

/// Why something is reported (may be empty).
#[derive(Deserialize)]
pub(super) struct Reason {
    #[serde(default)]
    pub reason: String,
}

async fn report(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    Json(body): Json<Reason>,
) -> Response {
    done(app.netdisk.photos().report(&caller, id, &body.reason).await)
}

/// A page of a newest-first list: below `before` (the last page's `next`), at most `limit`.
#[derive(Deserialize)]
pub(super) struct Keyset {
    pub before: Option<i64>,
    pub limit: Option<u64>,
}

async fn by_person(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(paging): Query<Keyset>,
) -> Response {
    let limit = paging.limit.unwrap_or(crate::MAX_PHOTO_PAGE);
    page_json(
        app.netdisk
            .photos()
            .by_person(&name, paging.before, limit)
            .await,
    )
}

async fn tagged(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(paging): Query<Keyset>,
) -> Response {
    let limit = paging.limit.unwrap_or(crate::MAX_PHOTO_PAGE);
    page_json(
        app.netdisk
            .photos()
            .tagged(&name, paging.before, limit)
            .await,
    )
}

#[derive(Deserialize)]
struct ExploreQuery {
    count: Option<u64>,
}

async fn explore(State(app): State<App>, Query(query): Query<ExploreQuery>) -> Response {
    let count = query.count.unwrap_or(24);
    let photos = app.netdisk.photos().explore(count).await;
    ok(photos.map(|photos| photos.into_iter().map(PhotoJson::from).collect::<Vec<_>>()))
}

/// `{"photos": [...]}`, `{"people": [...]}` or `{"tags": [{"name","photos"}]}`, a page of
/// [`SEARCH_PAGE`](crate::SEARCH_PAGE) at most.
async fn search(State(app): State<App>, Query(query): Query<SearchQuery>) -> Response {
    let photos = app.netdisk.photos();
    let page = query.page.unwrap_or(0);
    match query.what.as_deref() {
        Some("people") => ok(photos
            .search_people(&query.q, page)
            .await
            .map(|people| json!({ "people": people }))),
        Some("tags") => ok(photos
            .search_tags(&query.q, page)
            .await
            .map(|tags| json!({ "tags": tags }))),
        _ => {
            let found = photos.search_photos(&query.q, page).await;
            ok(found.map(|views| json!({ "photos": views.into_iter().map(PhotoJson::from).collect::<Vec<_>>() })))
        }
    }
}

#[derive(Deserialize)]
struct NewRole {
    role: String,
}

async fn set_role(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(name): Path<String>,
    Json(body): Json<NewRole>,
) -> Response {
    let Some(role) = Role::parse(&body.role) else {
        let refused = ServiceError::bad_request("role is locked, user or moderator");
        return failure::api(refused);
    };
    done(app.netdisk.accounts().set_role(&caller, &name, role).await)
}
