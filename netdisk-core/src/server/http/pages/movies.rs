//! The movies: the catalogue with its filters, search and pages; a movie's page with its
//! player; buying VIP; a user's download records; deleting a movie (admins).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::super::App;
use super::super::auth::Member;
use super::super::failure;
use super::{Nav, human_size, render, see};
use crate::{MovieKind, MovieQuery, MovieSummary, RecordView, UserType};

/// Movies on one page of the catalogue.
const PAGE_SIZE: u64 = 24;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/movies", get(catalogue))
        .route("/movies/{id}", get(movie_page))
        .route("/movies/{id}/delete", post(delete))
        .route("/records", get(records))
        .route("/vip", post(buy_vip))
}

#[derive(Deserialize, Default)]
struct CatalogueQuery {
    kind: Option<String>,
    q: Option<String>,
    page: Option<u64>,
}

#[derive(Template)]
#[template(path = "movies.html")]
struct CataloguePage {
    nav: Nav,
    movies: Vec<MovieSummary>,
    kind: &'static str,
    q: String,
    page: u64,
    pages: u64,
    total: u64,
    is_vip: bool,
    is_admin: bool,
}

impl CataloguePage {
    /// The address of page `page` with the same filters.
    fn link(&self, page: u64) -> String {
        let q = percent_encoding::utf8_percent_encode(&self.q, super::super::auth::QUERY_VALUE);
        format!("/movies?kind={}&q={q}&page={page}", self.kind)
    }

    /// The address of filter `kind` with the same search.
    fn filter_link(&self, kind: &str) -> String {
        let q = percent_encoding::utf8_percent_encode(&self.q, super::super::auth::QUERY_VALUE);
        format!("/movies?kind={kind}&q={q}")
    }
}

async fn catalogue(
    State(app): State<App>,
    Member(caller): Member,
    Query(query): Query<CatalogueQuery>,
) -> Response {
    let nav = Nav::of(&caller, "movies");
    let (kind, kind_name) = match query.kind.as_deref() {
        Some("free") => (MovieKind::Free, "free"),
        Some("charged") => (MovieKind::Charged, "charged"),
        _ => (MovieKind::All, "all"),
    };
    let q = query.q.unwrap_or_default();
    let page = query.page.unwrap_or(1).clamp(1, u64::MAX / PAGE_SIZE);
    let movies = app.netdisk.movies();
    let listed = movies
        .list(
            &caller,
            MovieQuery {
                kind: Some(kind),
                keyword: Some(q.trim()),
                offset: Some((page - 1) * PAGE_SIZE),
                limit: Some(PAGE_SIZE),
            },
        )
        .await;
    let profile = app.netdisk.accounts().profile(&caller).await;
    let (list, profile) = match (listed, profile) {
        (Ok(list), Ok(profile)) => (list, profile),
        (Err(error), _) | (_, Err(error)) => return failure::page(error, Some(nav)),
    };
    render(&CataloguePage {
        movies: list.movies.clone(),
        kind: kind_name,
        q,
        page,
        pages: list.total.div_ceil(PAGE_SIZE).max(1),
        total: list.total,
        is_vip: profile.is_vip,
        is_admin: profile.user_type == UserType::Admin,
        nav,
    })
}

#[derive(Template)]
#[template(path = "movie.html")]
struct MoviePage {
    nav: Nav,
    id: i64,
    name: String,
    is_free: bool,
    size: String,
    upload_time: String,
    is_admin: bool,
    wait_secs: u64,
    price: i64,
}

async fn movie_page(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
) -> Response {
    let nav = Nav::of(&caller, "movies");
    let movie = match app.netdisk.movies().get(&caller, id).await {
        Ok(movie) => movie,
        Err(error) => return failure::page(error, Some(nav)),
    };
    let (wait_secs, price) = match app.netdisk.movies().terms(&caller, &movie).await {
        Ok(terms) => terms,
        Err(error) => return failure::page(error, Some(nav)),
    };
    render(&MoviePage {
        nav,
        id: movie.id,
        name: movie.name,
        is_free: movie.is_free,
        size: human_size(movie.size as u64),
        upload_time: movie.upload_time,
        is_admin: caller.user_type() == UserType::Admin,
        wait_secs,
        price,
    })
}

async fn delete(State(app): State<App>, Member(caller): Member, Path(id): Path<i64>) -> Response {
    match app.netdisk.movies().delete(&caller, id).await {
        Ok(()) => see("/movies"),
        Err(error) => failure::page(error, Some(Nav::of(&caller, "movies"))),
    }
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage {
    nav: Nav,
    records: Vec<RecordView>,
}

async fn records(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "records");
    match app.netdisk.movies().records(&caller, None, Some(200)).await {
        Ok(records) => render(&RecordsPage {
            nav,
            records: records.to_vec(),
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

async fn buy_vip(State(app): State<App>, Member(caller): Member) -> Response {
    match app.netdisk.accounts().buy_vip(&caller).await {
        Ok(_) => see("/movies"),
        Err(error) => failure::page(error, Some(Nav::of(&caller, "movies"))),
    }
}
