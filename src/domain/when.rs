//! Times as people read them: one format everywhere ("3 Dec 2026, 09:20 UTC"), with the
//! ISO 8601 form for `<time datetime>`, CSV, JSON and the CLI.

/// A time for display: ISO 8601 for `<time datetime>` and a UTC text that app.js replaces
/// with the viewer's local time.
#[derive(Debug, Clone)]
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
