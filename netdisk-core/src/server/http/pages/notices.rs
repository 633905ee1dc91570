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
use crate::{NoticeSubscription, NoticeView, UserType};

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

/// `GET /notices/events`: every notice released from now on, as an SSE event `notice` whose
/// data is the notice as JSON. It ends when the server shuts down (the browser reconnects).
async fn notice_events(State(app): State<App>, ApiCaller(_): ApiCaller) -> Response {
    match app.netdisk.notices().subscribe().await {
        Ok(subscription) => Sse::new(events(subscription, app.shutdown.clone()))
            .keep_alive(KeepAlive::default())
            .into_response(),
        Err(error) => failure::api(error),
    }
}

/// The subscription's notices as events, until shutdown or a failed subscription.
fn events(
    subscription: NoticeSubscription,
    shutdown: crate::server::Shutdown,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (subscription, shutdown),
        |(mut subscription, mut shutdown)| async move {
            if *shutdown.borrow() {
                return None;
            }
            let notice = tokio::select! {
                _ = shutdown.changed() => return None,
                notice = subscription.next() => notice.ok()?,
            };
            let event = Event::default().event("notice").json_data(&notice).ok()?;
            Some((Ok(event), (subscription, shutdown)))
        },
    )
}
