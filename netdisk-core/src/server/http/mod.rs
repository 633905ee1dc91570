//! The HTTP door (default 127.0.0.1:5000): the video site and the netdisk in a web browser,
//! and a small JSON API under `/api/` for scripts and apps, on the same services, accounts and
//! sessions as the TCP doors.
//!
//! - `pages`: server-rendered pages (askama templates in `netdisk-core/templates/`) and their
//!   form posts; `chat`: the chat rooms' pages and WebSocket; `api`: the JSON API (described
//!   in `docs/http-api.md`);
//! - `auth`: who is asking (the session cookie, or `Authorization: Bearer` for the API);
//!   `same_origin`: refusing cross-site writes; `failure`: a service error as a page or JSON;
//! - `ranged`: movie and file bytes with `Range`, `ETag`, `If-Range` and friends, sent from
//!   the file to the socket by `sendfile`;
//! - `assets`: the CSS, JavaScript and icons, compiled into the binary (nothing is fetched
//!   from elsewhere at run time); `avatars`: identicons made from account names.
//!
//! Each accepted connection is served by hyper with the door's one router: request headers
//! must arrive within `frame_timeout_secs` and a body within its route's limit and timeout; a
//! shutdown lets requests in flight finish and ends live streams (`/notices/events`).

mod api;
mod assets;
mod auth;
mod avatars;
mod body;
mod chat;
mod content;
mod failure;
mod log;
mod pages;
mod ranged;
mod same_origin;
mod sendfile;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tower::Service as _;

use super::connection::Limits;
use super::door::{Door, ServeConnection, Served, Shutdown, loopback};
use crate::Netdisk;

/// The HTTP door.
pub const DOOR: Door = Door {
    name: "http",
    default_addr: loopback(5000),
    open,
};

/// Largest body of a form or a JSON request.
const FORM_LIMIT: usize = 64 * 1024;
/// What hyper buffers per connection, reading a request or queueing a response's bytes (a
/// file body's bytes never pass through it: see `sendfile`).
const WRITE_QUEUE: usize = 128 * 1024;

/// Largest chunk of a resumable upload.
pub const CHUNK_LIMIT: usize = 8 << 20;

/// What every handler gets (see [`AppState`]): one `Arc`, since axum clones it for every
/// handler and middleware a request passes (cloning the services themselves, an `Arc` each,
/// was 4 % of the door's CPU serving ranges).
#[derive(Clone)]
struct App(Arc<AppState>);

/// The services, the limits, and the shutdown signal live streams end on.
struct AppState {
    netdisk: Netdisk,
    limits: Limits,
    shutdown: Shutdown,
}

impl std::ops::Deref for App {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

fn open(netdisk: Netdisk, limits: Limits, shutdown: Shutdown) -> ServeConnection {
    let app = App(Arc::new(AppState {
        netdisk,
        limits,
        shutdown: shutdown.clone(),
    }));
    let router = router(app);
    Arc::new(move |stream: TcpStream| -> Served {
        Box::pin(serve_connection(
            router.clone(),
            stream,
            limits,
            shutdown.clone(),
        ))
    })
}

/// Every route, with the limits and checks all of them share: a form or JSON body must come
/// whole within `frame_timeout`, an upload chunk or a photo within `stall_timeout`.
fn router(app: App) -> Router {
    let bodies = body::Limits {
        forms: body::Limit {
            max: FORM_LIMIT,
            deadline: app.limits.frame_timeout,
        },
        chunks: body::Limit {
            max: CHUNK_LIMIT,
            deadline: app.limits.stall_timeout,
        },
        photos: body::Limit {
            max: usize::try_from(app.netdisk.config().photo_max_bytes).unwrap_or(usize::MAX),
            deadline: app.limits.stall_timeout,
        },
    };
    Router::new()
        .merge(pages::routes())
        .merge(content::routes())
        .merge(chat::routes())
        .nest("/api", api::routes())
        .merge(assets::routes())
        .merge(avatars::routes())
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(bodies, body::buffer))
        .layer(axum::middleware::from_fn(same_origin::refuse_cross_site))
        .layer(axum::middleware::from_fn(log::log_request))
        .with_state(app)
}

/// Serves HTTP/1.1 on one connection until the client closes it, a request's headers take
/// longer than `frame_timeout`, or the server shuts down (requests in flight finish first).
async fn serve_connection(
    router: Router,
    stream: TcpStream,
    limits: Limits,
    mut shutdown: Shutdown,
) {
    // Every request carries a hold on its connection; a WebSocket keeps its hold while it is
    // open, so that the connection (its slot among `max_connections`, the shutdown's wait)
    // lasts as long as the socket, not only until the upgrade.
    let (hold, mut released) = tokio::sync::mpsc::channel::<()>(1);
    let hold = ConnectionHold { _held: hold };
    let regions = sendfile::Regions::default();
    let socket = sendfile::Socket::new(stream, regions.clone());
    let service =
        TowerToHyperService::new(tower::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(hold.clone());
            request.extensions_mut().insert(regions.clone());
            router.clone().call(request)
        }));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.frame_timeout.max(Duration::from_millis(1)))
        .max_buf_size(WRITE_QUEUE)
        // Body frames reach the socket as they are, never copied into hyper's buffer: how a
        // file body's placeholders are recognised (see `sendfile`).
        .writev(true);
    let connection = http
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    {
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => {}
            _ = shutdown.changed() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    }
    // The service (and its hold) went with the connection; what holds it now is an upgraded
    // socket. `recv` answers `None` once every hold is dropped.
    let _ = released.recv().await;
}

/// Keeps the connection's slot among the listener's `max_connections` taken while it lives
/// (a request's extension; an upgraded WebSocket keeps it for its lifetime).
#[derive(Clone)]
pub(super) struct ConnectionHold {
    /// Never sent on: its being dropped is the message.
    _held: tokio::sync::mpsc::Sender<()>,
}
