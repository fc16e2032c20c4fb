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

/// A CSV cell a spreadsheet will not run: text that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return gets a leading apostrophe (OWASP's advice on CSV injection).
pub fn csv_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}

/// A time for display: ISO 8601 for `<time datetime>` and a UTC text that app.js replaces
/// with the viewer's local time.
pub struct When {
    pub iso: String,
    pub text: String,
}

impl When {
    /// Written by hand rather than with `time`'s formatters: a page of 50 members formats
    /// 100 of these, and the generic formatters were a visible share of the page's CPU.
    /// Same output as RFC 3339 (the fraction only when there is one, trailing zeros cut).
    pub fn from_ms(ms: i64) -> Self {
        use std::fmt::Write;
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let (year, month, day) = t.to_calendar_date();
        let (hour, minute, second, milli) = t.to_hms_milli();
        let month_number = u8::from(month);
        let mut iso = String::with_capacity(24);
        let _ = write!(iso, "{year:04}-{month_number:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
        if milli != 0 {
            let fraction = format!("{milli:03}");
            let _ = write!(iso, ".{}", fraction.trim_end_matches('0'));
        }
        iso.push('Z');
        let text = format!("{day:02} {} {year}, {hour:02}:{minute:02} UTC", MONTHS[usize::from(month_number) - 1]);
        Self { iso, text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_never_start_a_formula() {
        for evil in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(evil).starts_with('\''), "{evil:?}");
        }
        assert_eq!(csv_cell("GPT run"), "GPT run");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/a/acme/members?page=2")), "/a/acme/members?page=2");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", "/a\r\nX: y"] {
            assert_eq!(safe_next(Some(bad)), "", "{bad}");
        }
        assert_eq!(safe_next(None), "");
    }

    #[test]
    fn times_render_in_utc() {
        let when = When::from_ms(1_795_800_000_000);
        assert_eq!(when.iso, "2026-11-27T17:20:00Z");
        assert_eq!(when.text, "27 Nov 2026, 17:20 UTC");
    }

    #[test]
    fn hand_written_times_match_the_time_crate() {
        let reference = |ms: i64| {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
            let iso = t.format(&time::format_description::well_known::Rfc3339).unwrap();
            let text = t
                .format(time::macros::format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC"))
                .unwrap();
            (iso, text)
        };
        let mut ms = 0_i64;
        for step in [1, 7, 10, 100, 999, 86_399_999, 2_678_400_000, 31_622_400_123] {
            for _ in 0..40 {
                ms += step;
                let when = When::from_ms(ms);
                assert_eq!((when.iso, when.text), reference(ms), "{ms}");
            }
        }
        for ms in [0, 1_795_800_000_000, 1_795_800_000_120, 1_795_800_000_005, 253_402_300_799_999] {
            let when = When::from_ms(ms);
            assert_eq!((when.iso, when.text), reference(ms), "{ms}");
        }
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
