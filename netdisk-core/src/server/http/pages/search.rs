//! Searching the photo site: `/search?q=...&what=photos|people|tags&page=N`, a tab for each,
//! in Chinese or English; the results ranked by the service.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::super::App;
use super::super::auth::{QUERY_VALUE, Visitor};
use super::super::failure;
use super::photos::Tile;
use super::{Nav, render};
use crate::{SEARCH_PAGE, TagFound};

pub(super) fn routes() -> Router<App> {
    Router::new().route("/search", get(search))
}

/// A search's query string, on the page and the API alike.
#[derive(Deserialize)]
pub(in crate::server::http) struct SearchQuery {
    /// What to look for.
    #[serde(default)]
    pub q: String,
    /// `photos` (the default), `people` or `tags`.
    pub what: Option<String>,
    /// Which page, from 0.
    pub page: Option<u64>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    nav: Nav,
    q: String,
    what: &'static str,
    page: u64,
    tiles: Vec<Tile>,
    people: Vec<String>,
    tags: Vec<TagFound>,
    more: bool,
}

impl SearchPage {
    /// The address of `what`'s results, page `page`.
    fn link(&self, what: &str, page: u64) -> String {
        let q = percent_encoding::utf8_percent_encode(&self.q, QUERY_VALUE);
        format!("/search?q={q}&what={what}&page={page}")
    }

    /// The address of a person's or a tag's page.
    fn encoded(&self, name: &str) -> String {
        percent_encoding::utf8_percent_encode(name, QUERY_VALUE).to_string()
    }
}

async fn search(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Query(query): Query<SearchQuery>,
) -> Response {
    let nav = visitor
        .as_ref()
        .map_or_else(|| Nav::anonymous("photos"), |c| Nav::of(c, "photos"));
    let photos = app.netdisk.photos();
    let page = query.page.unwrap_or(0).min(10_000);
    let mut found = SearchPage {
        nav,
        q: query.q.clone(),
        what: "photos",
        page,
        tiles: Vec::new(),
        people: Vec::new(),
        tags: Vec::new(),
        more: false,
    };
    let counted = match query.what.as_deref() {
        Some("people") => {
            found.what = "people";
            photos.search_people(&query.q, page).await.map(|people| {
                found.people = people;
                found.people.len()
            })
        }
        Some("tags") => {
            found.what = "tags";
            photos.search_tags(&query.q, page).await.map(|tags| {
                found.tags = tags;
                found.tags.len()
            })
        }
        _ => photos.search_photos(&query.q, page).await.map(|views| {
            found.tiles = views.iter().map(Tile::from).collect();
            found.tiles.len()
        }),
    };
    match counted {
        Ok(count) => {
            found.more = count as u64 == SEARCH_PAGE;
            render(&found)
        }
        Err(error) => failure::page(error, Some(found.nav)),
    }
}
