//! How the browser pages show an error ([`AppError`], shared with the API): the middleware
//! [`render_errors`] turns every error response outside `/api/` into what the person can
//! read: a full error page, or a toast fragment for htmx (retargeted to `#toasts`). A
//! signed-out visitor is sent to the sign-in page instead.
//!
//! Internal causes are logged with their chain and never shown.

pub use crate::http::error::AppError;
use actix_web::HttpResponse;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use askama::Template;

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Sign in required",
        403 => "No access",
        404 => "Page not found",
        405 => "Not allowed",
        413 => "Too large",
        429 => "Slow down",
        _ => "Something went wrong",
    }
}

#[derive(Template)]
#[template(path = "errors/page.html")]
struct ErrorPage<'a> {
    head: super::layout::Head,
    status: u16,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "errors/toast.html")]
struct ErrorToast<'a> {
    message: &'a str,
}

/// Gives every error response outside `/api/` its body (see the module doc). Responses that
/// already carry a body (a form re-rendered with its errors, say) pass through untouched.
pub async fn render_errors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    if crate::http::is_api(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    // Taken before the call: the router needs the request to itself (no clones held).
    let is_htmx = req.headers().get("HX-Request").is_some_and(|v| v == "true");
    let came_for = (req.method() == actix_web::http::Method::GET && req.path() != "/")
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
        .flatten();
    let res = next.call(req).await?.map_into_left_body();
    let app_error = res.response().error().and_then(|e| e.as_error::<AppError>());
    let Some(failure) = crate::http::error::Failure::of(&res, app_error) else { return Ok(res) };
    let status = res.status();
    if matches!(failure.app_error, Some(AppError::SignInRequired)) {
        let mut redirect = sign_in_redirect(came_for.as_deref(), is_htmx);
        // A session cookie that no longer signs anyone in is dropped on the way.
        for cookie in res.headers().get_all(header::SET_COOKIE) {
            redirect.headers_mut().append(header::SET_COOKIE, cookie.clone());
        }
        return Ok(res.into_response(redirect).map_into_right_body());
    }
    let message = failure.message(status);
    let mut builder = failure.builder(&res);
    let response = if is_htmx {
        let body = ErrorToast { message: &message }.render().unwrap_or_default();
        builder
            .insert_header(("HX-Retarget", "#toasts"))
            .insert_header(("HX-Reswap", "beforeend"))
            .content_type("text/html; charset=utf-8")
            .body(body)
    } else {
        let page =
            ErrorPage { head: super::layout::Head::new(title(status)), status: status.as_u16(), message: &message };
        builder.content_type("text/html; charset=utf-8").body(page.render().unwrap_or_default())
    };
    Ok(res.into_response(response).map_into_right_body())
}

/// To the sign-in page, coming back afterwards to the page that was asked for (not to a
/// form post).
fn sign_in_redirect(came_for: Option<&str>, is_htmx: bool) -> HttpResponse {
    let location = match came_for {
        Some(next) => format!("/login?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default()),
        None => String::from("/login"),
    };
    if is_htmx {
        HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish()
    } else {
        HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
    }
}
