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
        push_digits(&mut text, u16::from(day), if day < 10 { 1 } else { 2 });
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

/// How long before `now` the time `ms` was, in words: "just now", "1 minute ago",
/// "3 hours ago", "2 days ago" (whole units, rounded down).
pub fn time_ago(ms: i64, now: i64) -> String {
    let seconds = (now - ms).max(0) / 1000;
    let (n, unit) = match seconds {
        s if s < 60 => return "just now".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
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
        assert_eq!(When::from_ms(1_796_290_800_000).text, "3 Dec 2026, 09:40 UTC", "no leading zero on the day");
    }

    #[test]
    fn relative_times_read_as_words() {
        let now = 1_795_800_000_000;
        assert_eq!(time_ago(now - 20_000, now), "just now");
        assert_eq!(time_ago(now + 5_000, now), "just now", "a clock a little ahead");
        assert_eq!(time_ago(now - 61_000, now), "1 minute ago");
        assert_eq!(time_ago(now - 9 * 60_000 - 59_000, now), "9 minutes ago");
        assert_eq!(time_ago(now - 2 * 3_600_000, now), "2 hours ago");
        assert_eq!(time_ago(now - 3 * 86_400_000, now), "3 days ago");
    }

    #[test]
    fn hand_written_times_match_the_time_crate() {
        let reference = |ms: i64| {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
            let iso = t.format(&time::format_description::well_known::Rfc3339).unwrap();
            let text = t
                .format(time::macros::format_description!(
                    "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
                ))
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
