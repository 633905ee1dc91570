//! Avatars made on the spot from an account name (identicons): a 5 × 5 grid, mirrored left to
//! right, its cells and colour taken from the name's SHA-256. No external service, nothing
//! stored, the same picture for the same name everywhere; the name itself never appears in
//! the picture.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::App;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/avatars/{name}", get(avatar))
}

async fn avatar(Path(name): Path<String>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        identicon(&name),
    )
        .into_response()
}

/// The identicon of `name`, as SVG.
pub(super) fn identicon(name: &str) -> String {
    let hash = Sha256::digest(name.as_bytes());
    let hue = u16::from_be_bytes([hash[0], hash[1]]) % 360;
    let mut cells = String::new();
    for row in 0..5 {
        for column in 0..3 {
            let bit = row * 3 + column;
            if hash[2 + bit / 8] >> (bit % 8) & 1 == 1 {
                for x in [column, 4 - column] {
                    cells.push_str(&format!(
                        "<rect x=\"{}\" y=\"{}\" width=\"1\" height=\"1\"/>",
                        x + 1,
                        row + 1
                    ));
                    if column == 2 {
                        break;
                    }
                }
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 7 7\" shape-rendering=\"crispEdges\">\
         <rect width=\"7\" height=\"7\" fill=\"hsl({hue},45%,92%)\"/>\
         <g fill=\"hsl({hue},55%,45%)\">{cells}</g></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::identicon;

    fn cells(svg: &str) -> Vec<(usize, usize)> {
        svg.split("<rect x=\"")
            .skip(1)
            .map(|rest| {
                let x: usize = rest.split('"').next().unwrap().parse().unwrap();
                let y: usize = rest
                    .split("y=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                (x, y)
            })
            .collect()
    }

    #[test]
    fn the_same_name_the_same_picture_mirrored() {
        let alice = identicon("alice");
        assert_eq!(alice, identicon("alice"));
        assert_ne!(alice, identicon("alicf"));
        let cells = cells(&alice);
        for (x, y) in &cells {
            assert!(cells.contains(&(6 - x, *y)), "({x}, {y}) has no mirror");
        }
    }

    #[test]
    fn the_name_never_appears_in_the_picture() {
        let svg = identicon("<script>alert(1)</script>");
        assert!(!svg.contains("script") && !svg.contains("alert"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
