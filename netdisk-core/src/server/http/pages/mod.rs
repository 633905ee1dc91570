//! The pages: rendered on the server from askama templates (`netdisk-core/templates/`, checked
//! when the crate compiles; every value is HTML-escaped), with forms that post back here and a
//! little JavaScript (`assets/app.js`, `assets/photos.js`) where a page must be live: the movie
//! player's countdown, uploads with progress, and notices arriving while a page is open.

mod accounts;
mod admin;
mod email;
mod files;
mod moderation;
mod movies;
mod notices;
mod photos;
pub(super) mod search;
mod social;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use super::App;
use crate::{Caller, UserType};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/movies") }))
        .merge(accounts::routes())
        .merge(email::routes())
        .merge(movies::routes())
        .merge(notices::routes())
        .merge(files::routes())
        .merge(admin::routes())
        .merge(photos::routes())
        .merge(social::routes())
        .merge(search::routes())
        .merge(moderation::routes())
}

/// The navigation bar's view of who is looking and where.
#[derive(Debug, Clone, Default)]
pub(super) struct Nav {
    /// The logged-in person, if any.
    pub user: Option<NavUser>,
    /// Which section the page is in (`movies`, `notices`, ...), to mark it.
    pub here: &'static str,
}

/// The logged-in person, as the navigation shows them.
#[derive(Debug, Clone)]
pub(super) struct NavUser {
    pub name: String,
    pub is_admin: bool,
}

impl Nav {
    /// The navigation of `caller` in section `here`.
    pub(super) fn of(caller: &Caller, here: &'static str) -> Nav {
        Nav {
            user: Some(NavUser {
                name: caller.name().to_owned(),
                is_admin: caller.user_type() == UserType::Admin,
            }),
            here,
        }
    }

    /// The navigation of someone not logged in.
    pub(super) fn anonymous(here: &'static str) -> Nav {
        Nav { user: None, here }
    }
}

/// A template as an HTML response (a 500 if it cannot render, which the types make unlikely).
pub(super) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// `bytes` for people: `512 B`, `1.5 KB`, `3.2 MB`, `1.1 GB`.
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// After a form post: see the page at `to` (303, so that reloading does not post again).
pub(super) fn see(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(5 << 20), "5.0 MB");
        assert_eq!(human_size(3 << 30), "3.0 GB");
    }
}
