//! Refusing cross-site writes (CSRF). A request that changes something (any method but `GET`,
//! `HEAD` and `OPTIONS`) and may carry the session cookie must come from one of the site's own
//! pages: its `Origin` names this host, or, without `Origin`, `Sec-Fetch-Site` says
//! `same-origin`. Anything else, a request with neither included, is refused with 403. A
//! request authenticated by `Authorization: Bearer` alone (a script, an app) carries no
//! ambient credential, so it needs no origin.

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
    if safe || is_bearer_only(request.headers()) || is_same_origin(request.headers()) {
        return next.run(request).await;
    }
    (
        StatusCode::FORBIDDEN,
        "refused: this request does not come from this site's own pages",
    )
        .into_response()
}

fn is_bearer_only(headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(SESSION_COOKIE));
    bearer && !cookie
}

fn is_same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        Some(Ok(origin)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host)),
        Some(Err(_)) => false,
        None => headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin"),
    }
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
    fn a_bearer_token_alone_needs_no_origin_but_a_cookie_does() {
        assert!(is_bearer_only(&headers(&[("authorization", "Bearer abc")])));
        let both = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "netdisk_session=abc"),
        ]);
        assert!(!is_bearer_only(&both));
        assert!(!is_bearer_only(&headers(&[(
            "cookie",
            "netdisk_session=abc"
        )])));
    }
}
