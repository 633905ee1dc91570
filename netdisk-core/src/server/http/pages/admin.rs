//! The administrator's page: uploading a movie (resumable, with a progress bar, speed and time
//! left; the page computes the whole file's MD5, which the upload checks as the Youku door
//! does). Deleting movies is on each movie's page, releasing notices on the notices page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::super::App;
use super::super::auth::Member;
use super::super::failure;
use super::{Nav, render};
use crate::{ServiceError, UserType};

pub(super) fn routes() -> Router<App> {
    Router::new().route("/admin", get(admin_page))
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    max_bytes: u64,
}

async fn admin_page(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "admin");
    if caller.user_type() != UserType::Admin {
        let refused = ServiceError::Forbidden("this page is for administrators");
        return failure::page(refused, Some(nav));
    }
    render(&AdminPage {
        nav,
        max_bytes: app.netdisk.config().max_movie_bytes,
    })
}
