//! Notices: the list, newest first; releasing one (admins); and the live stream that shows a
//! new notice on every open page at once (Server-Sent Events on the `notices` topic, so a
//! notice released through any server process sharing the database arrives).

use std::convert::Infallible;

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use serde::Deserialize;

use super::super::App;
use super::super::auth::{ApiCaller, Member};
use super::super::failure;
use super::{Nav, render, see};
use crate::{NoticeSubscription, NoticeView, NotificationSubscription, UserType};

/// Notices the page lists.
const LISTED: u64 = 100;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/notices", get(notices_page).post(release))
        .route("/notices/events", get(notice_events))
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesPage {
    nav: Nav,
    notices: Vec<NoticeView>,
    is_admin: bool,
}

async fn notices_page(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "notices");
    match app
        .netdisk
        .notices()
        .list(&caller, None, Some(LISTED))
        .await
    {
        Ok(notices) => render(&NoticesPage {
            nav,
            notices: notices.to_vec(),
            is_admin: caller.user_type() == UserType::Admin,
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

#[derive(Deserialize)]
struct ReleaseForm {
    title: String,
    content: String,
}

async fn release(
    State(app): State<App>,
    Member(caller): Member,
    Form(form): Form<ReleaseForm>,
) -> Response {
    let published = app
        .netdisk
        .notices()
        .publish(&caller, &form.title, &form.content)
        .await;
    match published {
        Ok(_) => see("/notices"),
        Err(error) => failure::page(error, Some(Nav::of(&caller, "notices"))),
    }
}

/// `GET /notices/events`: what is new for the one asking, from now on: every notice released,
/// as an SSE event `notice`, and each of their own notifications (a new follower, a comment, a
/// photo collected), as an event `notification`; the data is the notice or notification as
/// JSON. One stream per page carries both, so a page holds one connection. It ends when the
/// server shuts down (the browser reconnects).
async fn notice_events(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    let notices = match app.netdisk.notices().subscribe().await {
        Ok(subscription) => subscription,
        Err(error) => return failure::api(error),
    };
    let notifications = match app.netdisk.social().live_notifications(&caller).await {
        Ok(subscription) => subscription,
        Err(error) => return failure::api(error),
    };
    let live = Live {
        notices,
        notifications,
        shutdown: app.shutdown.clone(),
    };
    Sse::new(events(live))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What one page's event stream follows.
struct Live {
    notices: NoticeSubscription,
    notifications: NotificationSubscription,
    shutdown: crate::server::Shutdown,
}

/// The notices and notifications as events, until shutdown or a failed subscription.
fn events(live: Live) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(live, |mut live| async move {
        if *live.shutdown.borrow() {
            return None;
        }
        let event = tokio::select! {
            _ = live.shutdown.changed() => return None,
            notice = live.notices.next() => {
                Event::default().event("notice").json_data(&notice.ok()?).ok()?
            }
            told = live.notifications.next() => {
                Event::default().event("notification").json_data(&told.ok()?).ok()?
            }
        };
        Some((Ok(event), live))
    })
}
