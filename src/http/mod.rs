//! What the browser pages (`web`) and the JSON API (`api`) share: the error enum, the route
//! table with each route's declared access, and the facts about this deployment ([`Site`]).
//! Neither of them imports the other; both import this.

pub mod error;
pub mod routes;
pub mod site;

pub use error::AppError;
pub use routes::{Access, RouteSpec, RouteTable};
pub use site::Site;

/// Whether `path` belongs to the JSON API (JSON errors, no session, no CSRF token).
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// The address of the client that sent `req`: the socket's peer.
pub fn client_address(req: &actix_web::HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}
