//! The moderators' dashboard (`/admin/reports`): how many people, photos, comments and reports
//! there are, and the reported photos and comments, the most reported first, each with its
//! reasons and a delete button. Reporting a comment is here too. Moderators and administrators
//! only; roles, locks and blocks are on the accounts page (`admin`).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::super::App;
use super::super::auth::Member;
use super::super::content::picture_url;
use super::super::failure;
use super::{Nav, render, see};
use crate::{ReportedComment, ReportedPhoto, Reports, SiteCounts};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/admin/reports", get(dashboard))
        .route("/comments/{id}/report", post(report_comment))
}

#[derive(Template)]
#[template(path = "admin_reports.html")]
struct Dashboard {
    nav: Nav,
    counts: SiteCounts,
    photos: Vec<(ReportedPhoto, String)>,
    comments: Vec<ReportedComment>,
}

async fn dashboard(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "reports");
    match app.netdisk.social().reports(&caller).await {
        Ok(Reports {
            counts,
            photos,
            comments,
        }) => render(&Dashboard {
            nav,
            counts,
            photos: photos
                .into_iter()
                .map(|r| {
                    let small = picture_url(r.photo.id, &r.photo.small);
                    (r, small)
                })
                .collect(),
            comments,
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

#[derive(Deserialize)]
struct Reason {
    #[serde(default)]
    reason: String,
    /// The photo the comment is on, to go back to.
    photo: i64,
}

async fn report_comment(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<Reason>,
) -> Response {
    match app
        .netdisk
        .social()
        .report_comment(&caller, id, &form.reason)
        .await
    {
        Ok(()) => see(&format!("/photos/{}?reported=1#comments", form.photo)),
        Err(error) => failure::page(error, Some(Nav::of(&caller, "photos"))),
    }
}
