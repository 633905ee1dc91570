//! Who is asking: the session token comes from `Authorization: Bearer <token>` (the API) or
//! from the session cookie the login page sets (HttpOnly, SameSite=Lax, and Secure when the
//! request came over TLS through a proxy that says so). Sessions are the services' own
//! (`Accounts::authenticate`): one account and one kind of session at every door.
//!
//! The extractors: [`Member`] for pages (no session: off to the login page, and back after),
//! [`ApiCaller`] for the API and content (no session: 401), [`Visitor`] where anyone may look.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::App;
use super::failure;
use super::log::LoggedUser;
use crate::{Caller, ServiceError};

/// The session cookie's name.
pub(super) const SESSION_COOKIE: &str = "netdisk_session";

/// The session token a request carries, if any: the bearer token first, then the cookie.
pub(super) fn session_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    bearer.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value)
    })
}

/// The `Set-Cookie` value that starts a browser session with `token`.
pub(super) fn session_cookie(token: &str, headers: &HeaderMap) -> String {
    let secure = if came_over_tls(headers) {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

/// The `Set-Cookie` value that ends a browser session.
pub(super) fn expired_cookie(headers: &HeaderMap) -> String {
    let secure = if came_over_tls(headers) {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// Whether a TLS-terminating proxy in front says the browser used https.
fn came_over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The caller behind the request's session, noted for the log line.
async fn authenticate(parts: &Parts, app: &App) -> crate::Result<Caller> {
    let token = session_token(&parts.headers).ok_or(ServiceError::NotLoggedIn)?;
    let caller = app.netdisk.accounts().authenticate(token).await?;
    if let Some(user) = parts.extensions.get::<LoggedUser>() {
        user.set(caller.name());
    }
    Ok(caller)
}

/// A logged-in caller, on a page.
pub(super) struct Member(pub Caller);

impl FromRequestParts<App> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        match authenticate(parts, app).await {
            Ok(caller) => Ok(Member(caller)),
            Err(ServiceError::NotLoggedIn) => {
                let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let next = percent_encoding::utf8_percent_encode(here, QUERY_VALUE);
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
            Err(error) => Err(failure::page(error, None)),
        }
    }
}

/// A logged-in caller, on the API or a content address.
pub(super) struct ApiCaller(pub Caller);

impl FromRequestParts<App> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        authenticate(parts, app)
            .await
            .map(ApiCaller)
            .map_err(failure::api)
    }
}

/// Whoever is asking, logged in or not.
pub(super) struct Visitor(pub Option<Caller>);

impl FromRequestParts<App> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        match authenticate(parts, app).await {
            Ok(caller) => Ok(Visitor(Some(caller))),
            Err(ServiceError::NotLoggedIn) => Ok(Visitor(None)),
            Err(error) => Err(failure::page(error, None)),
        }
    }
}

/// What must be escaped in a query value.
pub(super) const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Where to go after logging in: `next` when it is a path on this site, else the movie list.
/// Anything that could leave the site (`//host`, `/\host`, a scheme, control characters) is
/// refused.
pub(super) fn safe_next(next: Option<&str>) -> &str {
    const HOME: &str = "/movies";
    let Some(next) = next else { return HOME };
    let on_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if on_site { next } else { HOME }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next(Some("/movies/3?x=1")), "/movies/3?x=1");
        assert_eq!(safe_next(Some("/files")), "/files");
        for outside in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/\tevil",
            "/x\\..\\y",
            "",
        ] {
            assert_eq!(safe_next(Some(outside)), "/movies", "{outside:?}");
        }
        assert_eq!(safe_next(None), "/movies");
    }

    #[test]
    fn the_bearer_token_comes_before_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; netdisk_session=c00k1e"),
        );
        assert_eq!(session_token(&headers), Some("c00k1e"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer b3ar3r"),
        );
        assert_eq!(session_token(&headers), Some("b3ar3r"));
    }

    #[test]
    fn the_cookie_is_http_only_same_site_and_secure_behind_tls() {
        let mut headers = HeaderMap::new();
        let cookie = session_cookie("t", &headers);
        assert_eq!(cookie, "netdisk_session=t; Path=/; HttpOnly; SameSite=Lax");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(session_cookie("t", &headers).ends_with("; Secure"));
    }
}
