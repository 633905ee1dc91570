//! The one log line of each HTTP request, in the shape of the TCP doors' lines: protocol, the
//! route, the account it acted as, the status and the time to the response head. Never a
//! password, a token or a cookie.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The account a request acted as, filled in by authentication for the log line.
#[derive(Debug, Clone, Default)]
pub(super) struct LoggedUser(Arc<OnceLock<String>>);

impl LoggedUser {
    /// Notes who the request acts as.
    pub(super) fn set(&self, name: &str) {
        let _ = self.0.set(name.to_owned());
    }
}

/// Writes the line once the response head is ready.
pub(super) async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let user = LoggedUser::default();
    request.extensions_mut().insert(user.clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", |path| path.as_str())
        .to_owned();
    let kind = format!("{} {route}", request.method());
    let response = next.run(request).await;
    let micros = started.elapsed().as_micros() as u64;
    let outcome = response.status().as_u16();
    let user = user.0.get().map_or("-", String::as_str);
    tracing::info!(
        protocol = "http",
        r#type = kind,
        user,
        outcome,
        micros,
        "request"
    );
    response
}
