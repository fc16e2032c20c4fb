//! Who may call what: every route is registered through [`RouteTable`] with the access it
//! needs, and [`enforce`] checks it before the handler runs (before the body is read):
//! a route that declared nothing is refused (deny by default); `SignedIn` needs a user;
//! `Team(p)` needs a member of the account in `/a/{slug}/…` whose live role allows `p`
//! (404 for non-members, 403 for a role without `p`). The extractors then hand over what
//! was loaded, and `Authorized<P>` refuses to run when `P` is not the declared permission.

use super::error::AppError;
use super::extract::{SignedIn, TeamContext, resolve_team};
use crate::auth::session;
use crate::domain::Permission;
use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, Handler, HttpMessage, Responder};
use std::collections::HashMap;
use std::sync::Arc;

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in pages, health checks, static files).
    Public,
    /// A signed-in user; no account involved.
    SignedIn,
    /// A member of the account named by `{slug}` whose live role allows the permission.
    Team(Permission),
    /// The JSON API: a team key or login token in the `Authorization` header, verified by
    /// the `ApiCaller` extractor (which answers 401 without one); never the session.
    Api,
}

/// One registered route: method, path pattern and what it requires.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Registers a route's handler at the given path (its own, or the part after its scope).
type Register = Box<dyn Fn(&mut ServiceConfig, &'static str)>;

/// Where every account's pages live; `enforce` reads the slug from this position because
/// middleware runs before the router fills in the path's parameters.
const TEAM_PREFIX: &str = "/a/{slug}";

/// Routes under these prefixes are registered in one scope per prefix: the router then
/// matches the prefix once and tries only the routes inside, instead of every route's
/// pattern in turn (each a regular expression once it has a parameter; a whoami call went
/// through some fifty of them). A scope takes the place of its first route in the table.
const SCOPES: [&str; 2] = [TEAM_PREFIX, "/api/v1"];

/// The scope `path` is registered in, if any.
fn scope_of(path: &str) -> Option<&'static str> {
    SCOPES
        .into_iter()
        .find(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// The only way routes get into the app: each with its declared access.
#[derive(Default)]
pub struct RouteTable {
    entries: Vec<(RouteSpec, Register)>,
}

impl RouteTable {
    pub fn add<F, Args>(&mut self, method: Method, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        assert!(
            !matches!(access, Access::Team(_)) || path.starts_with(TEAM_PREFIX),
            "team routes live under {TEAM_PREFIX}: {path}"
        );
        let route_method = method.clone();
        self.entries.push((
            RouteSpec { method, path, access },
            Box::new(move |cfg, at| {
                cfg.route(at, web::method(route_method.clone()).to(handler.clone()));
            }),
        ));
        self
    }

    pub fn get<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, access, handler)
    }

    pub fn delete<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::DELETE, path, access, handler)
    }

    pub fn post<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::POST, path, access, handler)
    }

    pub fn put<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::PUT, path, access, handler)
    }

    pub fn specs(&self) -> Vec<RouteSpec> {
        self.entries.iter().map(|(spec, _)| spec.clone()).collect()
    }

    /// Registers every route, and the declarations [`enforce`] reads.
    pub fn configure(&self, cfg: &mut ServiceConfig) {
        let declared: HashMap<(Method, &'static str), Access> =
            self.entries.iter().map(|(s, _)| ((s.method.clone(), s.path), s.access)).collect();
        cfg.app_data(web::Data::new(Declared(Arc::new(declared))));
        // In the table's order, which is the order the router tries them in.
        let mut scopes_done = Vec::new();
        for (spec, register) in &self.entries {
            let Some(prefix) = scope_of(spec.path) else {
                register(cfg, spec.path);
                continue;
            };
            if scopes_done.contains(&prefix) {
                continue;
            }
            scopes_done.push(prefix);
            cfg.service(web::scope(prefix).configure(|inner| {
                for (spec, register) in &self.entries {
                    if scope_of(spec.path) == Some(prefix) {
                        register(inner, &spec.path[prefix.len()..]);
                    }
                }
            }));
        }
    }
}

#[derive(Clone)]
struct Declared(Arc<HashMap<(Method, &'static str), Access>>);

/// The route pattern of a request, matched once and then kept in its extensions: matching
/// tries the routes' regular expressions one by one, and both the request's log span and
/// [`enforce`] need it. Do not call while holding the request's extensions.
#[derive(Clone)]
struct RoutePattern(Option<String>);

pub fn route_pattern(req: &actix_web::HttpRequest) -> Option<String> {
    if let Some(RoutePattern(pattern)) = req.extensions().get::<RoutePattern>() {
        return pattern.clone();
    }
    let pattern = req.match_pattern();
    req.extensions_mut().insert(RoutePattern(pattern.clone()));
    pattern
}

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
    let declared = req.app_data::<web::Data<Declared>>().map(|d| d.0.clone());
    // HEAD is answered by the GET route.
    let method = if req.method() == Method::HEAD { Method::GET } else { req.method().clone() };
    let access = declared.as_ref().and_then(|d| d.get(&(method, pattern.as_str())).copied());
    let Some(access) = access else {
        let other_method_declared = declared.is_some_and(|d| d.keys().any(|(_, p)| *p == pattern));
        if other_method_declared {
            return pass(req, next).await; // the router answers 405
        }
        tracing::error!(%pattern, "route registered without a declared access: refused");
        return Ok(req.error_response(AppError::NotFound).map_into_right_body());
    };
    if !matches!(access, Access::Public | Access::Api) {
        if session::user_id(&req.get_session()).is_none() {
            return Ok(req.error_response(AppError::SignInRequired).map_into_right_body());
        }
        let loaded = match SignedIn::load(req.request()).await {
            Ok(signed_in) => signed_in,
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
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
