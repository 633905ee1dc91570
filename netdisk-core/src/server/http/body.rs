//! Request bodies in whole: every body is read into memory up to a size limit and within a
//! deadline for the whole body (an upload chunk's and a photo's limits are larger than a form's), so a client
//! sending one byte at a time, or more than the route takes, is answered (408, 413) instead of
//! holding the connection.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};

/// A route group's limits on request bodies.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    /// Largest body, in bytes.
    pub max: usize,
    /// Longest time from the body's first byte to its last.
    pub deadline: Duration,
}

/// The limits of forms and JSON requests, and of upload chunks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Every request but a chunk.
    pub forms: Limit,
    /// `PATCH /api/uploads/{token}`.
    pub chunks: Limit,
    /// `POST /api/photos`: a whole picture.
    pub photos: Limit,
}

/// Reads the request's body whole within its limit, then hands the request on.
pub(super) async fn buffer(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let limit = match *request.method() {
        Method::PATCH if path.starts_with("/api/uploads/") => limits.chunks,
        Method::POST if path == "/api/photos" => limits.photos,
        _ => limits.forms,
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.max as u64) {
        return too_large(limit.max);
    }
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, limit.max).collect();
    let bytes = match tokio::time::timeout(limit.deadline, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            return too_large(limit.max);
        }
        Ok(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
                .into_response();
        }
        Err(_) => {
            let message = format!(
                "the request body did not arrive within {} s",
                limit.deadline.as_secs()
            );
            return (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                message,
            )
                .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large(max: usize) -> Response {
    let message = format!("the request body is over the limit of {max} bytes");
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONNECTION, "close")],
        message,
    )
        .into_response()
}
