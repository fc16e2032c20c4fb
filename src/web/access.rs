//! Who may call what: every route is registered through `http::RouteTable` with the access
//! it needs, and [`enforce`] checks it before the handler runs (before the body is read):
//! a route that declared nothing is refused (deny by default); `SignedIn` needs a user;
//! `Team(p)` needs a member of the account in `/a/{slug}/…` whose live role allows `p`
//! (404 for non-members, 403 for a role without `p`). `Verified`, and a `Team(p)` whose `p`
//! sends mail in the team's name, also need a verified email address (403, with a page that
//! says so and offers a new link). The extractors then hand over what was loaded, and
//! `Authorized<P>` refuses to run when `P` is not the declared permission.

use super::error::AppError;
use super::extract::{SignedIn, TeamContext, resolve_team};
use crate::auth::session;
use crate::http::Access;
use crate::http::routes::{Declared, route_pattern};
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

/// Refuses before any handler runs: undeclared routes (404, logged as a bug) and, for
/// anything but `Public`, callers without a session. Leaves the declared access in the
/// request's extensions for the extractors.
pub async fn enforce<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(pattern) = route_pattern(req.request()) else {
        return pass(req, next).await; // no route: the router answers 404
    };
    let declared = req.app_data::<web::Data<Declared>>().map(|d| d.access(req.method(), &pattern));
    let Some(Ok(access)) = declared else {
        if declared == Some(Err(true)) {
            return pass(req, next).await; // the router answers 405
        }
        tracing::error!(%pattern, "route registered without a declared access: refused");
        return Ok(req.error_response(AppError::NotFound).map_into_right_body());
    };
    if !matches!(access, Access::Public | Access::Api) {
        let loaded = match SignedIn::load(req.request()).await {
            Ok(signed_in) => signed_in,
            Err(e) => return Ok(signed_out(req, e)),
        };
        if let Access::Team(permission) = access {
            let slug = req.path().split('/').nth(2).unwrap_or_default();
            match resolve_team(&loaded, slug, permission) {
                Ok(membership) => {
                    req.extensions_mut().insert(TeamContext(membership));
                }
                Err(e) => return Ok(req.error_response(e).map_into_right_body()),
            }
        }
        // After the role: a non-member still gets 404 and a developer 403.
        if access.needs_verified_address() && !loaded.user.is_verified() {
            return Ok(super::verify::refuse_unverified(req, &loaded).map_into_right_body());
        }
        req.extensions_mut().insert(loaded);
    }
    req.extensions_mut().insert(access);
    pass(req, next).await
}

/// Hands the request on (for middleware that may also answer by itself).
pub async fn pass<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// Refuses with `e`; a session cookie that no longer signs anyone in is dropped with it.
fn signed_out<B>(req: ServiceRequest, e: AppError) -> ServiceResponse<EitherBody<B>> {
    let https = req.app_data::<web::Data<crate::http::Site>>().is_some_and(|s| s.https);
    let dead_cookie = matches!(e, AppError::SignInRequired) && session::presented_token(req.request(), https).is_some();
    let mut res = req.error_response(e);
    if dead_cookie {
        let _ = res.response_mut().add_cookie(&session::signed_out_cookie(https));
    }
    res.map_into_right_body()
}
