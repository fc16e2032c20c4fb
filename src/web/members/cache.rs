//! Rendered members tables, kept for reuse while nothing on them has changed, and shared by
//! every viewer of the team whose role gives them the same controls.
//!
//! The members page is the heaviest page a team has: fifty rows read, decoded and rendered
//! into some 50 KB of HTML for every view. What it shows changes only when a membership, an
//! invitation or a member's name or email does, and triggers count each such change in the
//! account's `members_version` (migration `members_version`). The version comes with the
//! viewer's live role, which `access::enforce` reads from the database for every request
//! anyway, so a page rendered at the same version is still exact: it is reused without
//! touching the database again. Nothing here is needed by another instance; each keeps its
//! own, and a change made anywhere moves the version they all read.
//!
//! A rendering is kept under what it shows ([`PageKey`]: the account, its version, name and
//! slug, what the viewer's role lets them do, the search and the page asked for), not under
//! who asked. The two parts that belong to one viewer are filled in as it is sent
//! ([`Spliced::fill`]): their session's CSRF token, which the kept HTML holds only as a
//! marker (random for each process, never sent), and their own row, which says "(you)" and
//! has no Remove button, rendered afresh from the row's kept data. An entry with pending
//! invitations also stops being used when the first of them expires. The cache holds at most
//! [`MAX_ENTRIES`] renderings and [`MAX_BYTES`] (HTML and keys), dropping the oldest first.

use super::MemberRow;
use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Display, Write as _};
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex};

pub const MAX_ENTRIES: usize = 256;
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Stands for the viewer's CSRF token in kept HTML: 32 random letters and digits, drawn once
/// per process. HTML escaping leaves it as it is, and nothing a person types can be it
/// without knowing it.
pub fn csrf_marker() -> &'static str {
    static MARKER: LazyLock<String> = LazyLock::new(|| {
        use rand::Rng;
        rand::thread_rng().sample_iter(rand::distributions::Alphanumeric).take(32).map(char::from).collect()
    });
    &MARKER
}

/// Everything a members table and invitations section are rendered from besides the data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub account_id: i64,
    pub members_version: i64,
    pub slug: String,
    pub team: String,
    pub can: [bool; 4],
    pub q: String,
    pub after: (Option<String>, Option<i64>),
}

impl PageKey {
    fn size(&self) -> usize {
        self.slug.len() + self.team.len() + self.q.len() + self.after.0.as_ref().map_or(0, String::len)
    }
}

/// HTML rendered for no one in particular: where the CSRF token goes, and where each
/// member's row is (to put the viewer's own row in its place).
#[derive(Debug, Default)]
pub struct Spliced {
    html: String,
    /// Offsets in `html` where the token goes, in order.
    csrf_at: Vec<usize>,
    rows: Vec<(Range<usize>, MemberRow)>,
}

impl Spliced {
    /// Takes `html` rendered with [`csrf_marker`] for the token and `rows` (whose
    /// `<tr id="member-…">` it finds) as they were rendered for someone else.
    pub fn new(rendered: &str, rows: Vec<MemberRow>) -> Self {
        let marker = csrf_marker();
        let mut html = String::with_capacity(rendered.len());
        let mut csrf_at = Vec::new();
        for (n, piece) in rendered.split(marker).enumerate() {
            if n > 0 {
                csrf_at.push(html.len());
            }
            html.push_str(piece);
        }
        let rows = rows
            .into_iter()
            .filter_map(|row| {
                let start = html.find(&format!("<tr id=\"member-{}\">", row.id))?;
                let end = start + html[start..].find("</tr>")? + "</tr>".len();
                Some((start..end, row))
            })
            .collect();
        Self { html, csrf_at, rows }
    }

    /// The kept data of `user_id`'s row, if they are on this page.
    pub fn row_of(&self, user_id: i64) -> Option<&MemberRow> {
        self.rows.iter().find(|(_, row)| row.id == user_id).map(|(_, row)| row)
    }

    /// The HTML for one viewer: `csrf` in each place, and `own_row` (their row rendered for
    /// them, see [`Spliced::row_of`]) in place of `user_id`'s row.
    pub fn fill<'a>(&'a self, csrf: &'a str, own_row: Option<(i64, &'a str)>) -> Filled<'a> {
        let replaced = own_row.and_then(|(id, html)| {
            let (range, _) = self.rows.iter().find(|(_, row)| row.id == id)?;
            Some((range.clone(), html))
        });
        Filled { spliced: self, csrf, replaced }
    }

    fn size(&self) -> usize {
        self.html.len()
            + self.csrf_at.len() * std::mem::size_of::<usize>()
            + self.rows.iter().map(|(_, row)| row.name.len() + row.email.len() + 96).sum::<usize>()
    }
}

/// [`Spliced`] HTML filled in for one viewer, written straight into the page.
pub struct Filled<'a> {
    spliced: &'a Spliced,
    csrf: &'a str,
    replaced: Option<(Range<usize>, &'a str)>,
}

impl Display for Filled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let html = &self.spliced.html;
        let mut at = 0;
        let mut pending = self.replaced.clone();
        for &offset in &self.spliced.csrf_at {
            if let Some((range, own)) = &pending {
                if range.contains(&offset) {
                    continue; // the own row carries its own token
                }
                if range.start <= offset {
                    f.write_str(&html[at..range.start])?;
                    f.write_str(own)?;
                    at = range.end;
                    pending = None;
                }
            }
            f.write_str(&html[at..offset])?;
            f.write_str(self.csrf)?;
            at = offset;
        }
        if let Some((range, own)) = pending {
            f.write_str(&html[at..range.start])?;
            f.write_str(own)?;
            at = range.end;
        }
        f.write_str(&html[at..])
    }
}

impl Filled<'_> {
    /// About how long it is (to size a buffer up front).
    pub fn len(&self) -> usize {
        self.spliced.html.len()
            + self.spliced.csrf_at.len() * self.csrf.len()
            + self.replaced.as_ref().map_or(0, |r| r.1.len())
    }

    /// As a string (an htmx fragment), sized up front.
    pub fn into_string(self) -> String {
        let mut out = String::with_capacity(self.len());
        let _ = write!(out, "{self}");
        out
    }
}

/// A members table and invitations section as rendered.
#[derive(Debug)]
pub struct Rendered {
    pub table: Spliced,
    pub invites: Spliced,
    /// When the first pending invitation shown expires (it is then shown as expired).
    pub valid_until: i64,
}

impl Rendered {
    fn size(&self) -> usize {
        self.table.size() + self.invites.size()
    }
}

/// What an entry takes, key included (a search can be long).
fn entry_size(key: &PageKey, rendered: &Rendered) -> usize {
    key.size() + rendered.size()
}

#[derive(Default)]
pub struct MembersCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<PageKey, Arc<Rendered>>,
    order: VecDeque<PageKey>,
    bytes: usize,
}

impl MembersCache {
    /// The rendering for `key`, if one is kept and still shows the page as it is at `now`.
    pub fn get(&self, key: &PageKey, now: i64) -> Option<Arc<Rendered>> {
        let entries = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.map.get(key).filter(|r| now < r.valid_until).cloned()
    }

    /// Keeps a rendering, replacing any under the same key and dropping the oldest ones
    /// beyond the limits. Renderings of an account's older versions are never asked for
    /// again; they age out the same way.
    pub fn put(&self, key: PageKey, rendered: Rendered) -> Arc<Rendered> {
        let rendered = Arc::new(rendered);
        if rendered.size() > MAX_BYTES / 4 {
            return rendered;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entries = &mut *entries;
        entries.bytes += entry_size(&key, &rendered);
        if let Some(old) = entries.map.insert(key.clone(), rendered.clone()) {
            entries.bytes -= entry_size(&key, &old);
            entries.order.retain(|k| *k != key);
        }
        entries.order.push_back(key);
        while entries.order.len() > MAX_ENTRIES || entries.bytes > MAX_BYTES {
            let Some(oldest) = entries.order.pop_front() else { break };
            if let Some(old) = entries.map.remove(&oldest) {
                entries.bytes -= entry_size(&oldest, &old);
            }
        }
        rendered
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, When};

    fn key(version: i64) -> PageKey {
        PageKey {
            account_id: 1,
            members_version: version,
            slug: "acme".into(),
            team: "Acme".into(),
            can: [true, true, true, false],
            q: String::new(),
            after: (None, None),
        }
    }

    fn rendered(table: &str, valid_until: i64) -> Rendered {
        Rendered { table: Spliced::new(table, Vec::new()), invites: Spliced::default(), valid_until }
    }

    fn html(rendered: &Rendered) -> String {
        rendered.table.fill("token", None).into_string()
    }

    fn member(id: i64, name: &str) -> MemberRow {
        MemberRow {
            id,
            name: name.into(),
            email: format!("{name}@example.com"),
            role: Role::Developer,
            joined: When::from_ms(0),
            is_you: false,
        }
    }

    #[test]
    fn the_token_and_the_viewers_own_row_are_filled_in_for_each_viewer() {
        let m = csrf_marker();
        let table = format!(
            "<form><input value=\"{m}\"></form><tbody>\
             <tr id=\"member-1\"><td>Ada</td><input value=\"{m}\"></tr>\
             <tr id=\"member-2\"><td>Bob</td><input value=\"{m}\"></tr></tbody><i>{m}</i>"
        );
        let spliced = Spliced::new(&table, vec![member(1, "Ada"), member(2, "Bob"), member(3, "Cy")]);
        assert_eq!(spliced.row_of(2).map(|r| r.name.as_str()), Some("Bob"));
        assert!(spliced.row_of(3).is_none(), "not on the page");
        assert_eq!(
            spliced.fill("T", None).into_string(),
            "<form><input value=\"T\"></form><tbody><tr id=\"member-1\"><td>Ada</td><input value=\"T\"></tr>\
             <tr id=\"member-2\"><td>Bob</td><input value=\"T\"></tr></tbody><i>T</i>"
        );
        let own = "<tr id=\"member-2\"><td>Bob (you)</td><input value=\"T\"></tr>";
        assert_eq!(
            spliced.fill("T", Some((2, own))).into_string(),
            format!(
                "<form><input value=\"T\"></form><tbody><tr id=\"member-1\"><td>Ada</td><input value=\"T\"></tr>\
                 {own}</tbody><i>T</i>"
            )
        );
        // The last row, with no token after it; and a viewer not on the page.
        let plain = Spliced::new("<tr id=\"member-1\"><td>Ada</td></tr>", vec![member(1, "Ada")]);
        assert_eq!(plain.fill("T", Some((1, "<tr>me</tr>"))).into_string(), "<tr>me</tr>");
        assert_eq!(plain.fill("T", Some((9, "<tr>me</tr>"))).into_string(), "<tr id=\"member-1\"><td>Ada</td></tr>");
        assert!(!spliced.fill("T", None).into_string().contains(m), "the marker never leaves");
    }

    #[test]
    fn a_rendering_is_found_only_under_its_own_version_and_rights() {
        let cache = MembersCache::default();
        cache.put(key(3), rendered("v3", i64::MAX));
        assert_eq!(cache.get(&key(3), 0).map(|r| html(&r)).as_deref(), Some("v3"));
        assert!(cache.get(&key(4), 0).is_none(), "a newer version is a miss");
        assert!(
            cache.get(&PageKey { can: [false, true, true, false], ..key(3) }, 0).is_none(),
            "other rights are a miss"
        );
        assert!(cache.get(&PageKey { q: "bob".into(), ..key(3) }, 0).is_none(), "another search is a miss");
    }

    #[test]
    fn a_rendering_is_not_used_once_an_invitation_on_it_has_expired() {
        let cache = MembersCache::default();
        cache.put(key(1), rendered("with an invitation", 1_000));
        assert!(cache.get(&key(1), 999).is_some());
        assert!(cache.get(&key(1), 1_000).is_none());
    }

    #[test]
    fn the_cache_keeps_at_most_its_limits_dropping_the_oldest_first() {
        let cache = MembersCache::default();
        for version in 0..(MAX_ENTRIES as i64 + 10) {
            cache.put(key(version), rendered("row", i64::MAX));
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        assert!(cache.get(&key(0), 0).is_none(), "the oldest went first");
        assert!(cache.get(&key(MAX_ENTRIES as i64 + 9), 0).is_some());

        let big = "x".repeat(MAX_BYTES / 5);
        for version in 0..6 {
            cache.put(key(1_000 + version), rendered(&big, i64::MAX));
        }
        let kept = cache.inner.lock().unwrap().bytes;
        assert!(kept <= MAX_BYTES, "kept {kept} bytes");
        assert!(cache.get(&key(1_005), 0).is_some());
    }

    #[test]
    fn putting_the_same_key_again_replaces_it_without_counting_it_twice() {
        let cache = MembersCache::default();
        cache.put(key(1), rendered("first", i64::MAX));
        cache.put(key(1), rendered("second", i64::MAX));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.inner.lock().unwrap().bytes, key(1).size() + "second".len());
        assert_eq!(cache.inner.lock().unwrap().order.len(), 1);
    }
}
