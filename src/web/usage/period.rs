//! The period of the usage tables and CSV: two UTC dates typed as YYYY-MM-DD, both included.
//! A missing date takes its default (the current month up to today); a wrong one is reported
//! on its field with what was typed, never turned into something else.

use crate::service::usage;
use time::{Date, Duration};

/// The longest period the tables and the CSV cover.
pub const MAX_DAYS: i64 = 366;
/// The Julian day number of 1970-01-01, to count days since the epoch.
const EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// Days since the epoch of `date` (the `day` of `usage::daily`).
pub fn day_number(date: Date) -> i64 {
    i64::from(date.to_julian_day()) - EPOCH_JULIAN_DAY
}

/// The UTC date of day number `day`.
pub fn date_of(day: i64) -> Date {
    i32::try_from(day + EPOCH_JULIAN_DAY).ok().and_then(|j| Date::from_julian_day(j).ok()).unwrap_or(Date::MIN)
}

/// The UTC date that holds `ms`.
pub fn date_of_ms(ms: i64) -> Date {
    date_of(ms.div_euclid(usage::day_ms(1)))
}

/// "2026-11-07", the form of the date inputs, links and CSV.
pub fn iso(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// "7 Nov 2026".
pub fn long(date: Date) -> String {
    date.format(time::macros::format_description!("[day padding:none] [month repr:short] [year]")).unwrap_or_default()
}

/// "7 Nov".
pub fn short(date: Date) -> String {
    date.format(time::macros::format_description!("[day padding:none] [month repr:short]")).unwrap_or_default()
}

/// A date as typed: exactly YYYY-MM-DD, a real day, in years 1970 to 9999.
pub fn parse_date(typed: &str) -> Option<Date> {
    let s = typed.trim();
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |part: &str| part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse::<u16>().ok()).flatten();
    let (year, month, day) = (number(&s[..4])?, number(&s[5..7])?, number(&s[8..])?);
    if year < 1970 {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::from(year), month, u8::try_from(day).ok()?).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    /// Included.
    pub to: Date,
}

/// What is wrong with a typed period, said on the field it concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodError {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl std::fmt::Display for PeriodError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<&str> = self.from.iter().chain(&self.to).map(String::as_str).collect();
        f.write_str(&messages.join(" "))
    }
}

fn not_a_date(field: &str, typed: &str) -> String {
    let article = if field.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("“{typed}” is not {article} {field} date: write it as YYYY-MM-DD, such as 2026-11-01.")
}

impl Period {
    /// From the first of this month to today.
    pub fn this_month(today: Date) -> Self {
        Period { from: today.replace_day(1).unwrap_or(today), to: today }
    }

    /// The whole previous calendar month.
    pub fn last_month(today: Date) -> Self {
        let last = today.replace_day(1).unwrap_or(today).previous_day().unwrap_or(today);
        Period { from: last.replace_day(1).unwrap_or(last), to: last }
    }

    /// The `days` days up to and including today.
    pub fn last_days(today: Date, days: i64) -> Self {
        Period { from: today.saturating_sub(Duration::days(days - 1)), to: today }
    }

    /// The period typed in the form; a date left out takes its default: `to` today, `from`
    /// the first day of `to`'s month.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Date) -> Result<Self, PeriodError> {
        fn typed(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let (from, to) = (typed(from), typed(to));
        let to_date = match to {
            None => Ok(today),
            Some(t) => parse_date(t).ok_or_else(|| not_a_date("end", t)),
        };
        let from_date = match from {
            None => Ok(to_date.as_ref().map(|t| Period::this_month(*t).from).unwrap_or(today)),
            Some(f) => parse_date(f).ok_or_else(|| not_a_date("start", f)),
        };
        let (from, to) = match (from_date, to_date) {
            (Ok(from), Ok(to)) => (from, to),
            (from, to) => return Err(PeriodError { from: from.err(), to: to.err() }),
        };
        if from > to {
            return Err(PeriodError {
                from: Some(format!(
                    "The start, {}, is after the end, {}: choose a start on or before the end.",
                    iso(from),
                    iso(to)
                )),
                to: None,
            });
        }
        let period = Period { from, to };
        if period.days() > MAX_DAYS {
            let latest = from.saturating_add(Duration::days(MAX_DAYS - 1));
            return Err(PeriodError {
                from: None,
                to: Some(format!(
                    "A period covers at most {MAX_DAYS} days; {} to {} is {} days. Choose an end on or before {}.",
                    iso(from),
                    iso(to),
                    period.days(),
                    iso(latest)
                )),
            });
        }
        Ok(period)
    }

    /// How many days it covers, both ends included.
    pub fn days(self) -> i64 {
        day_number(self.to) - day_number(self.from) + 1
    }

    /// The first millisecond of the period.
    pub fn start_ms(self) -> i64 {
        usage::day_ms(day_number(self.from))
    }

    /// The first millisecond after the period.
    pub fn end_ms(self) -> i64 {
        usage::day_ms(day_number(self.to) + 1)
    }

    /// "from=2026-11-01&to=2026-11-27", for links to the same period.
    pub fn query(self) -> String {
        format!("from={}&to={}", iso(self.from), iso(self.to))
    }

    /// "1 Nov – 27 Nov 2026", "7 Nov 2026", "1 Dec 2025 – 27 Jan 2026".
    pub fn label(self) -> String {
        if self.from == self.to {
            long(self.from)
        } else if self.from.year() == self.to.year() {
            format!("{} – {}", short(self.from), long(self.to))
        } else {
            format!("{} – {}", long(self.from), long(self.to))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 27);

    #[test]
    fn dates_are_read_only_as_yyyy_mm_dd() {
        assert_eq!(parse_date(" 2026-02-28 "), Some(date!(2026 - 02 - 28)));
        for bad in ["2026-02-30", "2026-13-01", "26-11-01", "2026/11/01", "2026-1-01", "+026-11-01", "1969-12-31", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_count_from_the_epoch() {
        assert_eq!(day_number(date!(1970 - 01 - 02)), 1);
        assert_eq!(date_of(day_number(TODAY)), TODAY);
        assert_eq!(date_of_ms(usage::day_ms(day_number(TODAY)) + 5_000), TODAY);
    }

    #[test]
    fn the_default_period_is_this_month_to_today() {
        let period = Period::parse(None, Some(""), TODAY).unwrap();
        assert_eq!(period, Period { from: date!(2026 - 11 - 01), to: TODAY });
        assert_eq!(period.days(), 27);
        assert_eq!(period.end_ms() - period.start_ms(), 27 * usage::day_ms(1));
        assert_eq!(period.label(), "1 Nov – 27 Nov 2026");
        assert_eq!(period.query(), "from=2026-11-01&to=2026-11-27");
        let only_to = Period::parse(None, Some("2026-10-15"), TODAY).unwrap();
        assert_eq!(only_to.from, date!(2026 - 10 - 01));
    }

    #[test]
    fn quick_periods_have_calendar_bounds() {
        assert_eq!(
            Period::last_month(date!(2026 - 01 - 10)),
            Period { from: date!(2025 - 12 - 01), to: date!(2025 - 12 - 31) }
        );
        assert_eq!(Period::last_days(TODAY, 30).from, date!(2026 - 10 - 29));
        assert_eq!(Period::last_days(TODAY, 30).days(), 30);
    }

    #[test]
    fn wrong_periods_say_what_was_typed_and_on_which_field() {
        let e = Period::parse(Some("2026-11-31"), None, TODAY).unwrap_err();
        assert!(e.from.unwrap().contains("“2026-11-31” is not a start date"));
        let e = Period::parse(Some("2026-11-01"), Some("soon"), TODAY).unwrap_err();
        assert!(e.to.unwrap().contains("“soon” is not an end date"), "an end, not a end");
        let e = Period::parse(Some("soon"), Some("later"), TODAY).unwrap_err();
        assert!(e.from.is_some() && e.to.unwrap().contains("“later”"));
        let e = Period::parse(Some("2026-11-20"), Some("2026-11-05"), TODAY).unwrap_err();
        assert!(e.from.unwrap().contains("after the end") && e.to.is_none());
        let e = Period::parse(Some("2025-01-01"), Some("2026-11-27"), TODAY).unwrap_err();
        assert!(e.to.unwrap().contains("at most 366 days"));
        assert!(Period::parse(Some("2025-11-27"), Some("2026-11-27"), TODAY).is_ok(), "366 days fit");
    }
}
