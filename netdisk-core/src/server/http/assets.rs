//! The site's CSS, JavaScript and icon, compiled into the binary from `netdisk-core/assets/`
//! and served under `/assets/`: the pages need nothing from any other host.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::App;

/// Every asset: its name under `/assets/`, its type, its bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/app.js"),
    ),
    (
        "photos.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/photos.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../../assets/icon.svg"),
    ),
    (
        "spark-md5.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/vendor/spark-md5.min.js"),
    ),
];

pub(super) fn routes() -> Router<App> {
    Router::new().route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
