//! Hears the changes any process makes to keys and teams, so that what this process keeps in
//! memory about them can be trusted no longer than it should be.
//!
//! On PostgreSQL, triggers on `api_keys`, `accounts`, `memberships`, `login_tokens` and
//! `users` send a notification on [`CHANNEL`] when a change commits (migrations
//! `credential_changes` and `member_changes`), whichever instance or tool made it. A thread
//! of its own `LISTEN`s on a connection of its own and calls the callback for each one. The listener is *live* while it has proved, recently, that it
//! would have heard a change: every [`HEARTBEAT`] it sends a notification of its own (a
//! ping with a random payload), and it is live only while a ping sent within [`LIVE_FOR`]
//! came back to it and it read its notifications within [`READ_WITHIN`]. A pooler that does
//! not pass notifications on, or a connection that silently died, so never counts as live.
//! At each connect it also checks that all five triggers exist and are enabled.
//! A cache may answer only while the listener is live: a change made elsewhere is heard
//! within about 10 ms of its commit, and at worst (the connection silently lost) the cache
//! stops answering within [`LIVE_FOR`].
//!
//! Each time the listener (re)connects it calls the callback once after `LISTEN` took
//! effect, since changes made while it was not listening were never heard. SQLite has no way
//! to hear another process's commit without asking the database, so there the listener is
//! never live.

use crate::db::{Backend, ConnectionManager, Db};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The channel the triggers notify.
pub const CHANNEL: &str = "teamdeck_credentials";

/// How the listener's connection names itself to PostgreSQL (`pg_stat_activity`).
pub const LISTENER_APPLICATION: &str = "teamdeck-changes";

/// How often the listener reads what has arrived: the delay, on top of the network's, after
/// which a change made elsewhere is heard. Each read wakes the thread (some 20 µs of CPU on
/// a virtual machine): every 2 ms that was 1 % of a core.
const POLL: Duration = Duration::from_millis(10);
/// How often the listener sends itself a ping through the database.
const HEARTBEAT: Duration = Duration::from_millis(250);
/// The listener stops being live this long after sending the last ping that came back.
pub const LIVE_FOR: Duration = Duration::from_secs(1);
/// … or this long after it last read its notifications (its thread was held up).
const READ_WITHIN: Duration = Duration::from_millis(100);
/// The wait before connecting again after a failure.
const RECONNECT: Duration = Duration::from_secs(1);
/// The triggers that notify (`migrations/postgres/…_credential_changes`, `…_member_changes`).
const TRIGGERS: [&str; 5] = [
    "api_keys_credentials_changed",
    "accounts_credentials_changed",
    "memberships_credentials_changed",
    "login_tokens_credentials_changed",
    "users_credentials_changed",
];
/// Pings carry this prefix (and a random number); the triggers' notifications are empty.
const PING: &str = "ping:";

/// Times are milliseconds since `started`, plus one (0: never). `answered`: when the last
/// ping that came back was sent; `read`: when notifications were last read.
struct State {
    started: Instant,
    answered: AtomicU64,
    read: AtomicU64,
}

impl State {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    fn within(&self, at: &AtomicU64, bound: Duration) -> bool {
        let at = at.load(Ordering::SeqCst);
        at != 0 && self.now().saturating_sub(at) < bound.as_millis() as u64
    }

    fn forget(&self) {
        self.answered.store(0, Ordering::SeqCst);
        self.read.store(0, Ordering::SeqCst);
    }
}

/// The requests' side of the listener; cheap to clone. Its thread ends (within a poll) when
/// the last clone is dropped.
#[derive(Clone)]
pub struct Changes {
    state: Option<Arc<State>>,
}

impl Changes {
    /// A listener that is never live (SQLite).
    pub fn none() -> Self {
        Self { state: None }
    }

    /// On PostgreSQL, starts the listener thread, calling `changed` for every change heard
    /// (and on each connect); on SQLite, [`Changes::none`].
    pub fn listen(db: &Db, changed: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        if db.manager().backend() != Backend::Postgres {
            return Ok(Self::none());
        }
        let state = Arc::new(State { started: Instant::now(), answered: AtomicU64::new(0), read: AtomicU64::new(0) });
        let (manager, weak) = (db.manager().clone(), Arc::downgrade(&state));
        std::thread::Builder::new().name("teamdeck-changes".into()).spawn(move || run(&manager, &weak, &changed))?;
        Ok(Self { state: Some(state) })
    }

    /// False on SQLite: the listener is never live there, so nothing is worth keeping.
    pub fn can_listen(&self) -> bool {
        self.state.is_some()
    }

    /// True while every change committed more than about 10 ms ago has been heard.
    pub fn is_live(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.within(&s.answered, LIVE_FOR) && s.within(&s.read, READ_WITHIN))
    }
}

fn run(manager: &ConnectionManager, state: &Weak<State>, changed: &dyn Fn()) {
    let mut failures = 0u32;
    while state.strong_count() > 0 {
        let started = Instant::now();
        match listen(manager, state, changed) {
            Ok(()) => return, // no one is asking any more
            Err(e) => {
                if let Some(state) = state.upgrade() {
                    state.forget();
                }
                // Whatever happened meanwhile was not heard.
                changed();
                // One line per outage, then one a minute while it lasts.
                failures = if started.elapsed() > RECONNECT * 2 { 0 } else { failures + 1 };
                if failures.is_multiple_of(60) {
                    tracing::warn!(error = %e, "the listener for key and team changes stopped; keys are read from the database until it listens again");
                }
                std::thread::sleep(RECONNECT);
            }
        }
    }
}

/// Listens until the last [`Changes`] is dropped (`Ok`) or the connection fails.
fn listen(manager: &ConnectionManager, state: &Weak<State>, changed: &dyn Fn()) -> anyhow::Result<()> {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use r2d2::ManageConnection;
    let crate::db::DbConnection::Postgres(mut conn) = manager.connect()? else {
        anyhow::bail!("the listener needs PostgreSQL");
    };
    conn.batch_execute(&format!("SET application_name = '{LISTENER_APPLICATION}'; LISTEN {CHANNEL}"))?;
    let names = TRIGGERS.map(|name| format!("'{name}'")).join(", ");
    let enabled: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "SELECT COUNT(*) FROM pg_trigger WHERE tgname IN ({names}) AND tgenabled <> 'D'"
    ))
    .get_result(&mut conn)?;
    if enabled != TRIGGERS.len() as i64 {
        anyhow::bail!("the triggers {TRIGGERS:?} are missing or disabled");
    }
    changed();
    // The ping in flight: its payload and when it was sent (in the state's clock).
    let mut ping: Option<(String, u64)> = None;
    let mut last_sent: Option<Instant> = None;
    loop {
        let Some(state) = state.upgrade() else { return Ok(()) };
        if last_sent.is_none_or(|at| at.elapsed() >= HEARTBEAT) {
            let payload = format!("{PING}{:016x}", rand::random::<u64>());
            let sent_at = state.now();
            conn.batch_execute(&format!("SELECT pg_notify('{CHANNEL}', '{payload}')"))?;
            // A ping that never came back is replaced: liveness runs out meanwhile.
            ping = Some((payload, sent_at));
            last_sent = Some(Instant::now());
        }
        let mut heard = false;
        for notification in conn.notifications_iter() {
            let notification = notification?;
            if !notification.payload.starts_with(PING) {
                heard = true;
            } else if let Some((payload, sent_at)) = &ping
                && *payload == notification.payload
            {
                // Everything committed before the ping was sent has been delivered by now.
                state.answered.store(*sent_at, Ordering::SeqCst);
                ping = None;
            }
        }
        if heard {
            changed();
        }
        // After the callback: an answer cached before it is already stale.
        state.read.store(state.now(), Ordering::SeqCst);
        drop(state);
        std::thread::sleep(POLL);
    }
}
