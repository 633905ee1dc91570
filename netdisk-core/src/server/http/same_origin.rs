//! Refusing cross-site writes (CSRF). A request that changes something (any method but `GET`,
//! `HEAD` and `OPTIONS`) must come from one of the site's own pages (its `Origin` names this
//! host, or, without `Origin`, `Sec-Fetch-Site` says `same-origin`) when another site could
//! have made a browser send it: when it carries the session cookie, or when its body is one a
//! plain HTML form can send (`application/x-www-form-urlencoded`, `multipart/form-data`,
//! `text/plain`: a login form posted from elsewhere). Anything else is refused with 403, a
//! request with no origin information included. A script or an app sending JSON or bytes with
//! `Authorization: Bearer` and no cookie carries no ambient credential, and a browser would not
//! send such a request across sites without a CORS permission this door never grants: it needs
//! no origin.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::SESSION_COOKIE;

/// Refuses a cross-site or origin-less write; passes everything else on.
pub(super) async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    let forgeable = carries_session_cookie(headers) || is_form_like(headers);
    if safe || !forgeable || is_same_origin(headers) {
        return next.run(request).await;
    }
    (
        StatusCode::FORBIDDEN,
        "refused: this request does not come from this site's own pages",
    )
        .into_response()
}

fn carries_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(SESSION_COOKIE))
}

/// Whether the body's type is one a cross-site HTML form can send (a "simple" request in CORS
/// terms). A request without a body type carries no form, so no credentials to log in with.
fn is_form_like(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = content_type
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain" | ""
    )
}

fn is_same_origin(headers: &HeaderMap) -> bool {
    origin_names_host(headers).unwrap_or_else(|| {
        headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin")
    })
}

/// Whether the request's `Origin` names this host (`None`: no `Origin` was sent).
pub(super) fn origin_names_host(headers: &HeaderMap) -> Option<bool> {
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    Some(match (origin.to_str(), host) {
        (Ok(origin), Some(host)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_this_hosts_origin_is_same_origin() {
        let host = ("host", "127.0.0.1:5000");
        assert!(is_same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:5000")
        ])));
        assert!(is_same_origin(&headers(&[
            host,
            ("origin", "https://127.0.0.1:5000")
        ])));
        assert!(!is_same_origin(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!is_same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:5000.evil")
        ])));
        assert!(!is_same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!is_same_origin(&headers(&[host])));
        assert!(is_same_origin(&headers(&[
            host,
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(!is_same_origin(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!is_same_origin(&headers(&[(
            "origin",
            "http://127.0.0.1:5000"
        )])));
    }

    #[test]
    fn only_a_cookie_or_a_form_body_can_be_forged() {
        assert!(!carries_session_cookie(&headers(&[(
            "authorization",
            "Bearer abc"
        )])));
        assert!(carries_session_cookie(&headers(&[(
            "cookie",
            "a=1; netdisk_session=abc"
        )])));
        assert!(!is_form_like(&headers(&[])));
        assert!(is_form_like(&headers(&[(
            "content-type",
            "text/plain;charset=UTF-8"
        )])));
        assert!(is_form_like(&headers(&[(
            "content-type",
            "application/x-www-form-urlencoded"
        )])));
        assert!(is_form_like(&headers(&[(
            "content-type",
            "Multipart/Form-Data; boundary=x"
        )])));
        assert!(!is_form_like(&headers(&[(
            "content-type",
            "application/json"
        )])));
        assert!(!is_form_like(&headers(&[(
            "content-type",
            "application/offset+octet-stream"
        )])));
    }
}
