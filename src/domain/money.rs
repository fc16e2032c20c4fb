//! Money and calendar months. Amounts are integer micro-dollars (1 USD = 1,000,000): a
//! gateway's per-token price fits without rounding, and sums never drift like floats do.

use std::fmt;

pub const MICROS_PER_DOLLAR: i64 = 1_000_000;
const MICROS_PER_CENT: i64 = 10_000;

/// `micros` rounded to whole cents (half away from zero), still in micro-dollars.
pub fn round_to_cents(micros: i64) -> i64 {
    let cents = if micros >= 0 {
        micros.saturating_add(MICROS_PER_CENT / 2) / MICROS_PER_CENT
    } else {
        micros.saturating_sub(MICROS_PER_CENT / 2) / MICROS_PER_CENT
    };
    cents * MICROS_PER_CENT
}

/// The sum of amounts (or counts), added in 128 bits so no page or total overflows; one
/// beyond 64 bits (which ingestion never lets a team's usage reach) shows as the largest.
pub fn sum(values: impl IntoIterator<Item = i64>) -> i64 {
    let total: i128 = values.into_iter().map(i128::from).sum();
    total.clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

/// "$1,234.56" (rounded to cents), "-$3.00" for a negative amount.
pub fn usd(micros: i64) -> String {
    let cents = round_to_cents(micros) / MICROS_PER_CENT;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}${}.{:02}", group_thousands(cents / 100), cents % 100)
}

/// A unit price with as many decimals as it needs (at least two): "$0.000003", "$1.50".
pub fn unit_price(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let mut fraction = format!("{:06}", m % MICROS_PER_DOLLAR as u64);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{sign}${}.{fraction}", group_thousands(m / MICROS_PER_DOLLAR as u64))
}

/// A plain decimal for CSV cells: "1234.56" (cents), no currency sign or grouping.
pub fn decimal(micros: i64) -> String {
    let cents = round_to_cents(micros) / MICROS_PER_CENT;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("Enter an amount in dollars, such as 50 or 49.99.")]
    Invalid,
    #[error(
        "Write cents after a dot and nothing else between the digits but commas for thousands, such as 50.00 or 1,000.50."
    )]
    Ambiguous,
    #[error("The amount must be at least {}.", usd(*.0))]
    TooSmall(i64),
    #[error("The amount must be at most {}.", usd(*.0))]
    TooLarge(i64),
}

/// Dollars as a person types them ("50", "49.99", "$1,000") into micro-dollars, within
/// `min..=max` micro-dollars. A dot marks the cents; a comma (or a space) only groups
/// thousands, so a form another locale writes differently (`50,00`, `1.000,5`, `1.000`) is
/// refused with [`AmountError::Ambiguous`] rather than read as a different amount.
pub fn parse_usd(input: &str, min: i64, max: i64) -> Result<i64, AmountError> {
    let s = input.trim().trim_start_matches('$').trim_start();
    let (grouped, fraction) = s.split_once('.').unwrap_or((s, ""));
    if fraction.contains([',', ' ', '.']) || (fraction.len() == 3 && fraction.chars().all(|c| c.is_ascii_digit())) {
        return Err(AmountError::Ambiguous);
    }
    let groups: Vec<&str> = grouped.split([',', ' ']).collect();
    let well_grouped = groups.len() == 1
        || (groups[0].len() <= 3 && !groups[0].is_empty() && groups[1..].iter().all(|g| g.len() == 3));
    if !well_grouped && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit())) {
        return Err(AmountError::Ambiguous);
    }
    let whole: String = groups.concat();
    let whole = whole.as_str();
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > 2
        || whole.len() > 12
    {
        return Err(AmountError::Invalid);
    }
    let dollars: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| AmountError::Invalid)? };
    let cents: i64 =
        if fraction.is_empty() { 0 } else { format!("{fraction:0<2}").parse().map_err(|_| AmountError::Invalid)? };
    let micros = dollars
        .checked_mul(MICROS_PER_DOLLAR)
        .and_then(|d| d.checked_add(cents * MICROS_PER_CENT))
        .ok_or(AmountError::TooLarge(max))?;
    if micros < min {
        return Err(AmountError::TooSmall(min));
    }
    if micros > max {
        return Err(AmountError::TooLarge(max));
    }
    Ok(micros)
}

/// A calendar month in UTC, the period of a usage invoice and of a spend limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1–12
    pub month: u8,
}

impl Month {
    pub fn of_ms(ms: i64) -> Self {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Month { year: t.year(), month: u8::from(t.month()) }
    }

    /// The first millisecond of the month.
    pub fn start_ms(self) -> i64 {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        let date = time::Date::from_calendar_date(self.year, month, 1).unwrap_or(time::Date::MIN);
        (date.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// The first millisecond after the month.
    pub fn end_ms(self) -> i64 {
        self.next().start_ms()
    }

    pub fn next(self) -> Self {
        if self.month == 12 { Month { year: self.year + 1, month: 1 } } else { Month { month: self.month + 1, ..self } }
    }

    pub fn previous(self) -> Self {
        if self.month == 1 { Month { year: self.year - 1, month: 12 } } else { Month { month: self.month - 1, ..self } }
    }

    /// "October 2026".
    pub fn label(self) -> String {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        format!("{month} {}", self.year)
    }
}

/// "2026-10", the form stored in `invoices.period`.
impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for Month {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("“{s}” is not a month: write it as YYYY-MM, such as 2026-10.");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) || y.len() != 4 {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

/// The UTC day (00:00) that holds `ms`, in milliseconds.
pub fn day_start(ms: i64) -> i64 {
    const DAY: i64 = 24 * 3600 * 1000;
    ms.div_euclid(DAY) * DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_never_overflow() {
        assert_eq!(sum([i64::MAX, 1, 5]), i64::MAX);
        assert_eq!(sum([i64::MAX, -1]), i64::MAX - 1);
        assert_eq!(sum([i64::MIN, -1]), i64::MIN);
        assert_eq!(sum([]), 0);
    }

    #[test]
    fn amounts_print_as_dollars_and_cents() {
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(1_234_565_000), "$1,234.57");
        assert_eq!(usd(-3_000_000), "-$3.00");
        assert_eq!(usd(4_999), "$0.00");
        assert_eq!(usd(5_000), "$0.01");
        assert_eq!(usd(1_000_000_000_000), "$1,000,000.00");
        assert_eq!(unit_price(3), "$0.000003");
        assert_eq!(unit_price(1_500_000), "$1.50");
        assert_eq!(decimal(-12_345_678), "-12.35");
    }

    #[test]
    fn typed_dollars_parse_exactly() {
        let max = 100_000 * MICROS_PER_DOLLAR;
        assert_eq!(parse_usd("50", 0, max), Ok(50_000_000));
        assert_eq!(parse_usd(" $1,000.5 ", 0, max), Ok(1_000_500_000));
        assert_eq!(parse_usd("49.99", 0, max), Ok(49_990_000));
        assert_eq!(parse_usd(".5", 0, max), Ok(500_000));
        assert_eq!(parse_usd("12,345,678", 0, i64::MAX), Ok(12_345_678_000_000));
        assert_eq!(parse_usd("1 000", 0, max), Ok(1_000_000_000));
        for bad in ["", "abc", "-5", "1e3", ".", "1.2345"] {
            assert_eq!(parse_usd(bad, 0, max), Err(AmountError::Invalid), "{bad}");
        }
        for ambiguous in ["50,00", "1.000,5", "1.000", "1,00.50", "1,0000", "50,5", "1.234", ",500"] {
            assert_eq!(parse_usd(ambiguous, 0, max), Err(AmountError::Ambiguous), "{ambiguous}");
        }
        assert_eq!(parse_usd("4", 5_000_000, max), Err(AmountError::TooSmall(5_000_000)));
        assert_eq!(parse_usd("100001", 0, max), Err(AmountError::TooLarge(max)));
        assert_eq!(parse_usd("999999999999", 0, max), Err(AmountError::TooLarge(max)));
    }

    #[test]
    fn months_have_utc_bounds() {
        let oct: Month = "2026-10".parse().unwrap();
        assert_eq!(oct.to_string(), "2026-10");
        assert_eq!(oct.label(), "October 2026");
        assert_eq!(Month::of_ms(oct.start_ms()), oct);
        assert_eq!(Month::of_ms(oct.end_ms() - 1), oct);
        assert_eq!(Month::of_ms(oct.end_ms()), "2026-11".parse().unwrap());
        assert_eq!("2026-01".parse::<Month>().unwrap().previous().to_string(), "2025-12");
        assert_eq!("2026-12".parse::<Month>().unwrap().next().to_string(), "2027-01");
        assert!("2026-13".parse::<Month>().is_err());
        assert_eq!(day_start(oct.start_ms() + 5_000), oct.start_ms());
    }
}
