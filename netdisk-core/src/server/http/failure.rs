//! A service's error as an HTTP answer: a status that says what happened, and a body a person
//! (an error page) or a program (`{"error": code, "message": text}`) can read. The codes are
//! the services' own ([`ServiceError::code`]), as at the TCP doors.

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::pages::{Nav, render};
use crate::ServiceError;

/// The status that answers `error`.
pub(super) fn status(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ServiceError::NotLoggedIn | ServiceError::WrongCredentials => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::Locked { .. } | ServiceError::TooFast { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Integrity { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::NotYet { .. } => StatusCode::TOO_EARLY,
        ServiceError::Mail(_) | ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn log(error: &ServiceError) {
    if error.is_unexpected() {
        tracing::error!(error = %error, source = ?std::error::Error::source(error), "request failed");
    }
}

/// `Retry-After` for an error that passes with time.
fn retry_after(error: &ServiceError) -> Option<HeaderValue> {
    match error {
        ServiceError::NotYet { wait_secs } => Some(HeaderValue::from(*wait_secs)),
        ServiceError::TooFast { retry_after_ms } => {
            Some(HeaderValue::from(retry_after_ms.div_ceil(1000)))
        }
        ServiceError::Unavailable(_) => Some(HeaderValue::from_static("5")),
        _ => None,
    }
}

/// `error` as the API's JSON answer.
pub(super) fn api(error: ServiceError) -> Response {
    log(&error);
    let body = json!({ "error": error.code(), "message": error.to_string() });
    with_retry_after(&error, (status(&error), Json(body)).into_response())
}

/// `response` with the `Retry-After` of `error`, if it passes with time.
pub(super) fn with_retry_after(error: &ServiceError, mut response: Response) -> Response {
    if let Some(after) = retry_after(error) {
        response.headers_mut().insert(header::RETRY_AFTER, after);
    }
    response
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    message: String,
}

/// `error` as a page, with the navigation for `nav` when known.
pub(super) fn page(error: ServiceError, nav: Option<Nav>) -> Response {
    log(&error);
    let status = status(&error);
    let page = ErrorPage {
        nav: nav.unwrap_or_default(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        message: error.to_string(),
    };
    with_retry_after(&error, (status, render(&page)).into_response())
}
