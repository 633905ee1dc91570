//! Stored bytes over HTTP, the way video players and download managers expect: `Range` (one
//! range: 206 with `Content-Range`; none satisfiable: 416), `HEAD`, a strong `ETag` made of the
//! content's digest, `If-None-Match` (304), `If-Range` (a range only while the content is the one
//! the client has; tower-http's `ServeFile` ignores it), `Accept-Ranges`, and a
//! `Content-Disposition` whose filename is safe whatever the name holds. A `Range` this door
//! does not serve (malformed, in another unit, or several ranges, which could overlap) is
//! ignored, as HTTP allows: the answer is the whole content. The bytes go from the stored file
//! to the socket with `sendfile` (`sendfile`), so memory does not grow with the file's size or
//! the number of readers.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::sendfile::{self, Regions};
use crate::{ServiceError, StoredContent};

/// How the browser should treat the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Disposition {
    /// Show them (a video in the page).
    Inline,
    /// Save them as a file.
    Attachment,
}

/// How long browsers and proxies may keep the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Caching {
    /// Only the one who asked, and only after asking again (`If-None-Match`): a movie or a file,
    /// whose address stays while its content may not.
    Revalidate,
    /// Anyone, for a year, without asking again: the address names the content's hash.
    Immutable,
}

impl Caching {
    fn header(self) -> &'static str {
        match self {
            Caching::Revalidate => "private, no-cache",
            Caching::Immutable => "public, max-age=31536000, immutable",
        }
    }
}

/// What a request asks of the content, decided from its headers alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// 304: the client has this content already.
    NotModified,
    /// 200 with everything.
    Whole,
    /// 206 with bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// 416: the range starts past the end.
    Unsatisfiable,
}

/// Decides the answer for content of `size` bytes with entity tag `etag`.
fn decide(headers: &HeaderMap, size: u64, etag: &str) -> Answer {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(tags) = text(header::IF_NONE_MATCH)
        && tags
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == etag)
    {
        return Answer::NotModified;
    }
    let Some(range) = text(header::RANGE) else {
        return Answer::Whole;
    };
    // If-Range with a date, or a tag of other content: the client's copy is stale.
    if text(header::IF_RANGE).is_some_and(|tag| tag.trim() != etag) {
        return Answer::Whole;
    }
    match parse_range(range, size) {
        Some(Some((start, end))) => Answer::Part { start, end },
        Some(None) => Answer::Unsatisfiable,
        None => Answer::Whole,
    }
}

/// One `bytes=` range against content of `size` bytes: `None` when this door does not serve
/// it (ignored), `Some(None)` when it is unsatisfiable, else the inclusive bounds.
fn parse_range(range: &str, size: u64) -> Option<Option<(u64, u64)>> {
    let spec = range.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => {
            let suffix = number(last)?;
            if suffix == 0 || size == 0 {
                return Some(None);
            }
            Some(Some((size.saturating_sub(suffix), size - 1)))
        }
        // bytes=N-: from N to the end.
        (false, true) => {
            let start = number(first)?;
            Some((start < size).then(|| (start, size - 1)))
        }
        (false, false) => {
            let (start, end) = (number(first)?, number(last)?);
            if end < start {
                return None;
            }
            Some((start < size).then(|| (start, end.min(size - 1))))
        }
        (true, true) => None,
    }
}

/// A `Content-Disposition` for `name`: an ASCII fallback with anything unsafe replaced, and
/// the exact name percent-encoded in `filename*` (RFC 6266). No path separator survives in
/// either.
fn content_disposition(disposition: Disposition, name: &str) -> HeaderValue {
    let kind = match disposition {
        Disposition::Inline => "inline",
        Disposition::Attachment => "attachment",
    };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    let value = format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{exact}");
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// Answers `method` with `headers` from `content`, named `name`, to be shown or saved as
/// `disposition` says and cached as `caching` says; the bytes go out on the connection that
/// `regions` belongs to.
pub(super) fn serve(
    regions: &Regions,
    method: &Method,
    headers: &HeaderMap,
    content: &StoredContent,
    name: &str,
    disposition: Disposition,
    caching: Caching,
) -> Result<Response, ServiceError> {
    let size = content.size();
    let etag = format!("\"{}\"", content.digest());
    let answer = decide(headers, size, &etag);
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let mut response = Response::builder()
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, caching.header());
    let (status, start, len) = match answer {
        Answer::NotModified => {
            return Ok(finish(
                response.status(StatusCode::NOT_MODIFIED),
                Body::empty(),
            ));
        }
        Answer::Unsatisfiable => {
            let response = response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"));
            return Ok(finish(response, Body::empty()));
        }
        Answer::Whole => (StatusCode::OK, 0, size),
        Answer::Part { start, end } => {
            response =
                response.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
    };
    response = response
        .status(status)
        .header(header::CONTENT_TYPE, mime.as_ref())
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            content_disposition(disposition, name),
        );
    let body = if method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        sendfile::body(regions, content.open_file()?, start, len)
    };
    Ok(finish(response, body))
}

/// The response `builder` makes with `body` (a 500 if a header were invalid, which the values
/// above never are).
fn finish(builder: axum::http::response::Builder, body: Body) -> Response {
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Whether a request reads bytes (and so counts as watching), rather than only asking about
/// them.
pub(super) fn reads_bytes(method: &Method, headers: &HeaderMap, content: &StoredContent) -> bool {
    if method == Method::HEAD {
        return false;
    }
    let etag = format!("\"{}\"", content.digest());
    !matches!(
        decide(headers, content.size(), &etag),
        Answer::NotModified | Answer::Unsatisfiable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const TAG: &str = "\"0123456789abcdef0123456789abcdef\"";

    #[test]
    fn ranges_are_read_as_http_says() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some(Some((0, 99))));
        assert_eq!(parse_range("bytes=900-", 1000), Some(Some((900, 999))));
        assert_eq!(parse_range("bytes=-100", 1000), Some(Some((900, 999))));
        assert_eq!(parse_range("bytes=-5000", 1000), Some(Some((0, 999))));
        assert_eq!(parse_range("bytes=990-5000", 1000), Some(Some((990, 999))));
        assert_eq!(parse_range("bytes=1000-", 1000), Some(None));
        assert_eq!(parse_range("bytes=1000-1001", 1000), Some(None));
        assert_eq!(parse_range("bytes=-0", 1000), Some(None));
        assert_eq!(parse_range("bytes=0-", 0), Some(None));
    }

    #[test]
    fn ranges_this_door_does_not_serve_are_ignored() {
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,0-1,0-1",
            "bytes=0-10,5-20",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1-2-3",
            "bytes= 0x10-20",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse_range(ignored, 1000), None, "{ignored}");
        }
    }

    #[test]
    fn conditions_decide_between_304_200_206_and_416() {
        assert_eq!(decide(&with(&[]), 10, TAG), Answer::Whole);
        let matching = with(&[(
            "if-none-match",
            "\"x\", \"0123456789abcdef0123456789abcdef\"",
        )]);
        assert_eq!(decide(&matching, 10, TAG), Answer::NotModified);
        assert_eq!(
            decide(&with(&[("if-none-match", "*")]), 10, TAG),
            Answer::NotModified
        );
        let range = with(&[("range", "bytes=2-3")]);
        assert_eq!(decide(&range, 10, TAG), Answer::Part { start: 2, end: 3 });
        let same = with(&[("range", "bytes=2-3"), ("if-range", TAG)]);
        assert_eq!(decide(&same, 10, TAG), Answer::Part { start: 2, end: 3 });
        let stale = with(&[("range", "bytes=2-3"), ("if-range", "\"other\"")]);
        assert_eq!(decide(&stale, 10, TAG), Answer::Whole);
        let dated = with(&[
            ("range", "bytes=2-3"),
            ("if-range", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        assert_eq!(decide(&dated, 10, TAG), Answer::Whole);
        assert_eq!(
            decide(&with(&[("range", "bytes=10-")]), 10, TAG),
            Answer::Unsatisfiable
        );
    }

    #[test]
    fn the_filename_is_safe_whatever_the_name() {
        let header = content_disposition(Disposition::Attachment, "a\"b\\c;d%e\r\nf 日本.mp4");
        let text = header.to_str().unwrap();
        assert_eq!(
            text,
            "attachment; filename=\"a_b_c_d_e__f __.mp4\"; \
             filename*=UTF-8''a%22b%5Cc%3Bd%25e%0D%0Af%20%E6%97%A5%E6%9C%AC%2Emp4"
        );
        let inline = content_disposition(Disposition::Inline, "clip.webm");
        assert!(
            inline
                .to_str()
                .unwrap()
                .starts_with("inline; filename=\"clip.webm\"")
        );
    }
}
