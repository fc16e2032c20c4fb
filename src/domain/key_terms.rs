//! The terms a team key is given: when it expires, how long a rotated secret keeps working,
//! and from which addresses it may be used. Each parses what a person or a program typed
//! (the keys form, the API, `teamdeck keys create --expires 90d --allow 10.0.0.0/8`).

use ipnet::IpNet;
use std::net::IpAddr;

const HOUR_MS: i64 = 3600 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// When a new key stops working: after 30, 90 or 365 days (or any whole number of days up to
/// ten years), at the start of a date (UTC), or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    Days(i64),
    /// Milliseconds since the epoch of the date's midnight, UTC.
    On(i64),
}

impl Expiry {
    /// `never` (or empty), `30d`/`30` (days), or an ISO date `2027-01-31`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        if text.is_empty() || text == "never" {
            return Ok(Expiry::Never);
        }
        let days = text.strip_suffix('d').unwrap_or(&text);
        if let Ok(days) = days.parse::<i64>() {
            return if (1..=3650).contains(&days) {
                Ok(Expiry::Days(days))
            } else {
                Err("The expiry must be between 1 and 3650 days.".into())
            };
        }
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(&text, format).map_err(|_| {
            format!("“{text}” is not an expiry: use 30d, 90d, 365d, a date such as 2027-01-31, or never.")
        })?;
        let at = date.midnight().assume_utc().unix_timestamp() * 1000;
        Ok(Expiry::On(at))
    }

    /// The time the key stops working, for a key created at `now`; a date in the past is
    /// refused.
    pub fn at(self, now: i64) -> Result<Option<i64>, String> {
        match self {
            Expiry::Never => Ok(None),
            Expiry::Days(days) => Ok(Some(now + days * DAY_MS)),
            Expiry::On(at) if at <= now => Err("The expiry date must be in the future.".into()),
            Expiry::On(at) if at > now + 3650 * DAY_MS => Err("The expiry must be within ten years.".into()),
            Expiry::On(at) => Ok(Some(at)),
        }
    }
}

/// How long a rotated key's old secret keeps working: one hour to seven days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grace(i64);

impl Grace {
    pub const MIN_MS: i64 = HOUR_MS;
    pub const MAX_MS: i64 = 7 * DAY_MS;

    /// `24h`, `3d` (a number alone is hours).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        let (number, unit) = match text.strip_suffix('d') {
            Some(n) => (n, DAY_MS),
            None => (text.strip_suffix('h').unwrap_or(&text), HOUR_MS),
        };
        let ms = number
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .ok_or_else(|| format!("“{text}” is not a grace period: use hours or days, such as 24h or 3d."))?;
        if !(Self::MIN_MS..=Self::MAX_MS).contains(&ms) {
            return Err("The grace period must be between 1 hour and 7 days.".into());
        }
        Ok(Grace(ms))
    }

    pub fn ms(self) -> i64 {
        self.0
    }
}

/// The addresses a key may be used from: up to 50 CIDR ranges (IPv4 and IPv6; a bare
/// address is its own range). Empty: anywhere. Stored as the ranges separated by spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Allowlist {
    nets: Vec<IpNet>,
    /// The ranges as stored (what `Display` writes).
    text: String,
}

impl Allowlist {
    pub const MAX: usize = 50;

    /// Ranges separated by spaces, commas or new lines.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for part in text.split(|c: char| c.is_whitespace() || c == ',').filter(|p| !p.is_empty()) {
            let net = part.parse::<IpNet>().or_else(|_| part.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                format!("“{part}” is not an address range: use CIDR such as 10.0.0.0/8 or 2001:db8::/32.")
            })?;
            let net = net.trunc();
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        if nets.len() > Self::MAX {
            return Err(format!("A key takes at most {} address ranges; this list has {}.", Self::MAX, nets.len()));
        }
        let text = nets.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
        Ok(Allowlist { nets, text })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn ranges(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether `client` (an address as `http::client_address` or a gateway writes it) may
    /// use the key: always with an empty list; never with an address that does not parse.
    pub fn allows(&self, client: Option<&str>) -> bool {
        if self.nets.is_empty() {
            return true;
        }
        let Some(ip) = client.and_then(|c| c.trim().parse::<IpAddr>().ok()) else { return false };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

impl std::fmt::Display for Allowlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for Allowlist
where
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
        <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(&self.text, out)
    }
}

impl<DB: diesel::backend::Backend> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for Allowlist
where
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
        let stored = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(value)?;
        Ok(Allowlist::parse(&stored)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_parse_as_people_write_them() {
        assert_eq!(Expiry::parse("90d"), Ok(Expiry::Days(90)));
        assert_eq!(Expiry::parse(" never "), Ok(Expiry::Never));
        assert_eq!(Expiry::parse("30"), Ok(Expiry::Days(30)));
        assert!(matches!(Expiry::parse("2027-01-31"), Ok(Expiry::On(_))));
        assert!(Expiry::parse("soon").is_err());
        assert!(Expiry::parse("0d").is_err());
        assert!(Expiry::On(1000).at(2000).is_err(), "a date in the past");
    }

    #[test]
    fn a_grace_is_one_hour_to_seven_days() {
        assert_eq!(Grace::parse("24h").map(Grace::ms), Ok(24 * HOUR_MS));
        assert_eq!(Grace::parse("7d").map(Grace::ms), Ok(7 * DAY_MS));
        assert!(Grace::parse("30m").is_err());
        assert!(Grace::parse("8d").is_err());
        assert!(Grace::parse("0h").is_err());
    }

    #[test]
    fn an_allowlist_takes_v4_and_v6_ranges_and_checks_addresses() {
        let list = Allowlist::parse("10.0.0.0/8, 2001:db8::/32\n192.0.2.7").unwrap();
        assert_eq!(list.to_string(), "10.0.0.0/8 2001:db8::/32 192.0.2.7/32");
        assert!(list.allows(Some("10.1.2.3")));
        assert!(list.allows(Some("::ffff:10.1.2.3")), "an IPv4-mapped address is its IPv4 address");
        assert!(list.allows(Some("2001:db8::1")));
        assert!(list.allows(Some("192.0.2.7")));
        assert!(!list.allows(Some("192.0.2.8")));
        assert!(!list.allows(Some("2001:db9::1")));
        assert!(!list.allows(None));
        assert!(Allowlist::default().allows(None));
        assert!(Allowlist::parse("10.0.0.0/33").is_err());
        let many: Vec<String> = (0..51).map(|i| format!("10.0.{i}.0/24")).collect();
        assert!(Allowlist::parse(&many.join(" ")).is_err());
    }
}
