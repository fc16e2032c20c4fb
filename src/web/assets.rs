//! Static files, compiled into the binary so the server runs from anywhere. Each is served
//! under a URL carrying a hash of its content, so it can be cached for a year and still
//! change the moment a new build ships.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", body: include_bytes!("../../static/app.css") },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx.min.js"),
    },
    Asset { name: "favicon.svg", content_type: "image/svg+xml", body: include_bytes!("../../static/favicon.svg") },
];

static VERSIONS: LazyLock<Vec<String>> =
    LazyLock::new(|| ASSETS.iter().map(|a| hex::encode(&Sha256::digest(a.body)[..6])).collect());

/// Every file's URL, in `ASSETS`' order: made once, as every page's head names them all.
static URLS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS.iter().zip(VERSIONS.iter()).map(|(a, version)| format!("/static/{}?v={version}", a.name)).collect()
});

/// The URL of a static file, with its content hash.
///
/// # Panics
/// When there is no such file (a page naming a file that is not compiled in).
pub fn url(name: &str) -> &'static str {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => &URLS[i],
        None => panic!("no static file named {name}"),
    }
}

pub async fn serve(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some(i) = ASSETS.iter().position(|a| a.name == name.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    let asset = &ASSETS[i];
    let etag = format!("\"{}\"", VERSIONS[i]);
    let versioned = req.query_string().contains(&format!("v={}", VERSIONS[i]));
    let cache = if versioned { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    let not_modified =
        req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut response = if not_modified { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_TYPE, asset.content_type));
    if not_modified { response.finish() } else { response.body(asset.body) }
}
