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
    /// Written by hand rather than with `time`'s formatters or `format!`: a page of 50
    /// members formats 100 of these, and both were a visible share of the page's CPU.
    /// Same output as RFC 3339 (the fraction only when there is one, trailing zeros cut).
    pub fn from_ms(ms: i64) -> Self {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let (year, month, day) = t.to_calendar_date();
        let (hour, minute, second, milli) = t.to_hms_milli();
        let year = year.clamp(0, 9999) as u16;
        let mut iso = String::with_capacity(24);
        push_digits(&mut iso, year, 4);
        iso.push('-');
        push_digits(&mut iso, u16::from(u8::from(month)), 2);
        iso.push('-');
        push_digits(&mut iso, u16::from(day), 2);
        iso.push('T');
        push_digits(&mut iso, u16::from(hour), 2);
        iso.push(':');
        push_digits(&mut iso, u16::from(minute), 2);
        iso.push(':');
        push_digits(&mut iso, u16::from(second), 2);
        if milli != 0 {
            iso.push('.');
            let (mut fraction, mut width) = (milli, 3);
            while fraction % 10 == 0 {
                fraction /= 10;
                width -= 1;
            }
            push_digits(&mut iso, fraction, width);
        }
        iso.push('Z');
        let mut text = String::with_capacity(24);
        push_digits(&mut text, u16::from(day), 2);
        text.push(' ');
        text.push_str(MONTHS[usize::from(u8::from(month)) - 1]);
        text.push(' ');
        push_digits(&mut text, year, 4);
        text.push_str(", ");
        push_digits(&mut text, u16::from(hour), 2);
        text.push(':');
        push_digits(&mut text, u16::from(minute), 2);
        text.push_str(" UTC");
        Self { iso, text }
    }
}

/// Appends `n` as exactly `width` decimal digits, zero-padded (the `{:0width$}` of
/// `format!` without its formatting machinery, which cost more than the page's query).
fn push_digits(out: &mut String, n: u16, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (n / 10_u16.pow(place) % 10) as u8));
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
