//! Small response helpers shared by the handlers.

use super::error::AppError;
use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;

/// A page with a status other than 200 (a form shown again with its errors, say).
pub fn page_with_status(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    let body = template.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// `response` (a form shown again, saying when to try again) with its `Retry-After`.
pub fn retry_after(mut response: HttpResponse, seconds: u64) -> HttpResponse {
    response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    response
}

/// After a successful form post: 303 to the page that shows the result.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// A local path to go to after sign-in, or "" when `next` is missing or points elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/a/acme/members?page=2")), "/a/acme/members?page=2");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", "/a\r\nX: y"] {
            assert_eq!(safe_next(Some(bad)), "", "{bad}");
        }
        assert_eq!(safe_next(None), "");
    }
}

/// Toasts for htmx responses: appended to `#toasts` by an out-of-band swap.
pub mod toast {
    use askama::Template;

    #[derive(Template)]
    #[template(path = "partials/toast.html")]
    struct Toast<'a> {
        class: &'a str,
        message: &'a str,
    }

    /// `fragment` followed by a toast that htmx moves into `#toasts`.
    pub fn with(fragment: String, success: bool, message: &str) -> String {
        let class = if success { "toast--success" } else { "toast--error" };
        let toast = Toast { class, message }.render().unwrap_or_default();
        format!("{fragment}\n<div id=\"toasts\" hx-swap-oob=\"beforeend\">{toast}</div>")
    }
}

/// An HTML fragment for htmx (200).
pub fn fragment(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}
