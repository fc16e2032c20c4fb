//! What the browser pages (`web`) and the JSON API (`api`) share: the error enum, the route
//! table with each route's declared access, and the facts about this deployment ([`Site`]).
//! Neither of them imports the other; both import this.

pub mod error;
pub mod forwarded;
pub mod metrics;
pub mod routes;
pub mod site;

pub use error::AppError;
pub use forwarded::TrustedProxies;
pub use routes::{Access, RouteSpec, RouteTable};
pub use site::Site;

/// Whether `path` belongs to the JSON API (JSON errors, no session, no CSRF token).
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// The address of the client that sent `req`: the socket's peer, or the client a trusted
/// proxy names (see [`forwarded`]). Everything that counts or shows a client's address asks
/// here.
pub fn client_address(req: &actix_web::HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else { return String::new() };
    match req.app_data::<actix_web::web::Data<Site>>() {
        Some(site) => site.proxies.client(peer, req.headers()),
        None => peer.to_canonical(),
    }
    .to_string()
}
