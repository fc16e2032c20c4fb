//! The route table: every route of the site is registered through [`RouteTable`] with the
//! access it declares ([`Access`]); `web::access::enforce` refuses a request before any
//! handler runs when the caller does not have it, and a route that declared nothing.

use crate::domain::Permission;
use actix_web::http::Method;
use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, Handler, HttpMessage, HttpResponse, Responder, Route};
use std::collections::HashMap;
use std::sync::Arc;

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in pages, health checks, static files).
    Public,
    /// A signed-in user; no account involved.
    SignedIn,
    /// A signed-in user whose email address is verified (creating a team, which invitations
    /// then go out from).
    Verified,
    /// A member of the account named by `{slug}` whose live role allows the permission.
    Team(Permission),
    /// The JSON API: a team key or login token in the `Authorization` header, verified by
    /// the `ApiCaller` extractor (which answers 401 without one); never the session.
    Api,
}

impl Access {
    /// Whether the route is refused to a person whose email address is not verified yet.
    pub fn needs_verified_address(self) -> bool {
        match self {
            Access::Verified => true,
            Access::Team(permission) => permission.needs_verified_address(),
            Access::Public | Access::SignedIn | Access::Api => false,
        }
    }
}

/// One registered route: method, path pattern and what it requires.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Makes a route's handler for one method (a resource holds one per method of its path).
type Register = Box<dyn Fn(Method) -> Route>;

/// Where every account's pages live; `enforce` reads the slug from this position because
/// middleware runs before the router fills in the path's parameters.
pub const TEAM_PREFIX: &str = "/a/{slug}";

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
        self.entries.push((
            RouteSpec { method, path, access },
            Box::new(move |method| web::method(method).to(handler.clone())),
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
        // In the table's order, which is the order the router tries them in; a path's
        // resource takes the place of its first route.
        let mut done: Vec<&'static str> = Vec::new();
        for (spec, _) in &self.entries {
            let Some(prefix) = scope_of(spec.path) else {
                if !done.contains(&spec.path) {
                    done.push(spec.path);
                    self.register_resource(cfg, spec.path, spec.path);
                }
                continue;
            };
            if done.contains(&prefix) {
                continue;
            }
            done.push(prefix);
            cfg.service(web::scope(prefix).configure(|inner| {
                let mut paths: Vec<&'static str> = Vec::new();
                for (spec, _) in &self.entries {
                    if scope_of(spec.path) == Some(prefix) && !paths.contains(&spec.path) {
                        paths.push(spec.path);
                        self.register_resource(inner, spec.path, &spec.path[prefix.len()..]);
                    }
                }
            }));
        }
    }

    /// One resource for `path`, holding every method declared for it: `HEAD` is answered by
    /// the `GET` handler (the server sends no body), and any other method gets 405 with
    /// `Allow` naming those there are.
    fn register_resource(&self, cfg: &mut ServiceConfig, path: &'static str, at: &'static str) {
        let mut allow: Vec<Method> = Vec::new();
        let mut resource = web::resource(at);
        for (spec, make) in self.entries.iter().filter(|(spec, _)| spec.path == path) {
            if allow.contains(&spec.method) {
                continue; // registered twice: the first one serves
            }
            resource = resource.route(make(spec.method.clone()));
            allow.push(spec.method.clone());
            if spec.method == Method::GET {
                resource = resource.route(make(Method::HEAD));
                allow.push(Method::HEAD);
            }
        }
        let allow = allow.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
        resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, allow)).finish() }
        }));
        cfg.service(resource);
    }
}

/// The declarations of the routes, for [`Declared::access`].
#[derive(Clone)]
pub struct Declared(Arc<HashMap<(Method, &'static str), Access>>);

impl Declared {
    /// The access `pattern` declared for `method` (HEAD is answered by the GET route):
    /// `Err(true)` when another method of it is declared (the router answers 405), `Err(false)`
    /// when nothing is.
    pub fn access(&self, method: &Method, pattern: &str) -> Result<Access, bool> {
        let method = if *method == Method::HEAD { Method::GET } else { method.clone() };
        match self.0.get(&(method, pattern)) {
            Some(access) => Ok(*access),
            None => Err(self.0.keys().any(|(_, p)| *p == pattern)),
        }
    }
}

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
