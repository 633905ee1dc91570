//! Search on the photo site, in Chinese and English alike: photos by their description and
//! tags (mini-orm's full-text search: words and CJK character pairs, the photos with more of
//! the query's terms first, then the newest), people by name and tags by name (names that are
//! the query first, then those that start with it, then those that hold it, case aside; tags
//! are lowercase, and a query for them is lowercased). Pages of
//! [`SEARCH_PAGE`].

use mini_orm::Model;
use serde::Serialize;

use super::{PhotoView, Photos};
use crate::error::Result;
use crate::models::{Photo, PhotoTag, Tag, User};

/// Results on a page of a search.
pub const SEARCH_PAGE: u64 = 24;
/// Longest query, in characters (a longer one is cut).
const MAX_QUERY_CHARS: usize = 100;

/// A tag found by a search, with how many photos carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagFound {
    /// The tag.
    pub name: String,
    /// How many photos carry it.
    pub photos: u64,
}

fn clean(query: &str) -> String {
    query.trim().chars().take(MAX_QUERY_CHARS).collect()
}

/// Where `name` ranks for `query` (lower is better): the query itself, a prefix, inside.
fn closeness(name: &str, query: &str) -> u8 {
    let (name, query) = (name.to_lowercase(), query.to_lowercase());
    if name == query {
        0
    } else if name.starts_with(&query) {
        1
    } else {
        2
    }
}

impl Photos {
    /// The photos whose description or tags match `query`, best first: page `page` (from 0).
    pub async fn search_photos(&self, query: &str, page: u64) -> Result<Vec<PhotoView>> {
        let found = Photo::search(&clean(query))
            .limit(SEARCH_PAGE)
            .offset(page.saturating_mul(SEARCH_PAGE))
            .all(self.db())
            .await?;
        self.views(found).await
    }

    /// The names of the people whose name holds `query`, whatever its case (`alice` finds
    /// `Alice`, although names are case-sensitive at login), best first: page `page`.
    pub async fn search_people(&self, query: &str, page: u64) -> Result<Vec<String>> {
        let query = clean(query);
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = User::query()
            .filter(User::NAME.contains_ignoring_case(&query))
            .all(self.db())
            .await?
            .into_iter()
            .map(|user| user.name)
            .collect();
        names.sort_by(|a, b| {
            closeness(a, &query)
                .cmp(&closeness(b, &query))
                .then(a.cmp(b))
        });
        Ok(paged(names, page))
    }

    /// The tags whose name holds `query`, best first, with their photo counts: page `page`.
    pub async fn search_tags(&self, query: &str, page: u64) -> Result<Vec<TagFound>> {
        let query = clean(query).trim_start_matches('#').to_lowercase();
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut tags = Tag::query()
            .filter(Tag::NAME.contains(&query))
            .all(self.db())
            .await?;
        tags.sort_by(|a, b| {
            let rank = |t: &Tag| closeness(&t.name, &query);
            rank(a).cmp(&rank(b)).then(a.name.cmp(&b.name))
        });
        let mut found = Vec::new();
        for tag in paged(tags, page) {
            let photos = PhotoTag::query()
                .filter(PhotoTag::TAG_ID.eq(tag.id))
                .count(self.db())
                .await?;
            found.push(TagFound {
                name: tag.name,
                photos,
            });
        }
        Ok(found)
    }
}

fn paged<T>(items: Vec<T>, page: u64) -> Vec<T> {
    let skip = usize::try_from(page.saturating_mul(SEARCH_PAGE)).unwrap_or(usize::MAX);
    items
        .into_iter()
        .skip(skip)
        .take(SEARCH_PAGE as usize)
        .collect()
}
