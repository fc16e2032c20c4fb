//! Hears the changes any process makes to keys and teams, so that what this process keeps in
//! memory about them can be trusted no longer than it should be.
//!
//! On PostgreSQL, triggers on `api_keys` and `accounts` send a notification on
//! [`CHANNEL`] when a change commits (migration `credential_changes`), whichever instance or
//! tool made it. A thread of its own `LISTEN`s on a connection of its own and calls the
//! callback for each one. The listener is *live* while it has proved, recently, that it
//! would have heard a change: its connection answered a query within [`LIVE_FOR`] and its
//! notifications were read within [`READ_WITHIN`]. A cache may answer only while it is live.
//!
//! Each time the listener (re)connects it calls the callback once after `LISTEN` took
//! effect, since changes made while it was not listening were never heard. SQLite has no way
//! to hear another process's commit without asking the database, so there the listener is
//! never live.

use super::{Backend, ConnectionManager, Db};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The channel the triggers notify.
pub const CHANNEL: &str = "teamdeck_credentials";

/// How the listener's connection names itself to PostgreSQL (`pg_stat_activity`).
pub const LISTENER_APPLICATION: &str = "teamdeck-changes";

/// How often the listener reads what has arrived: the delay, on top of the network's, after
/// which a change made elsewhere is heard.
const POLL: Duration = Duration::from_millis(2);
/// How often the listener's connection is asked a query, to prove it is still there (a
/// connection that silently died would deliver nothing and report no error).
const HEARTBEAT: Duration = Duration::from_millis(500);
/// The listener stops being live this long after its connection last answered.
pub const LIVE_FOR: Duration = Duration::from_secs(2);
/// … or this long after it last read its notifications (its thread was held up).
const READ_WITHIN: Duration = Duration::from_millis(100);
/// The wait before connecting again after a failure.
const RECONNECT: Duration = Duration::from_millis(250);

/// Times are milliseconds since `started`, plus one (0: never).
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
        if db.manager.backend() != Backend::Postgres {
            return Ok(Self::none());
        }
        let state = Arc::new(State { started: Instant::now(), answered: AtomicU64::new(0), read: AtomicU64::new(0) });
        let (manager, weak) = (db.manager.clone(), Arc::downgrade(&state));
        std::thread::Builder::new().name("teamdeck-changes".into()).spawn(move || run(&manager, &weak, &changed))?;
        Ok(Self { state: Some(state) })
    }

    /// False on SQLite: the listener is never live there, so nothing is worth keeping.
    pub fn can_listen(&self) -> bool {
        self.state.is_some()
    }

    /// True while every change committed more than a few milliseconds ago has been heard.
    pub fn is_live(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.within(&s.answered, LIVE_FOR) && s.within(&s.read, READ_WITHIN))
    }
}

fn run(manager: &ConnectionManager, state: &Weak<State>, changed: &dyn Fn()) {
    while state.strong_count() > 0 {
        match listen(manager, state, changed) {
            Ok(()) => return, // no one is asking any more
            Err(e) => {
                if let Some(state) = state.upgrade() {
                    state.forget();
                }
                // Whatever happened meanwhile was not heard.
                changed();
                tracing::warn!(error = %e, "the listener for key and team changes lost its connection; reconnecting");
                std::thread::sleep(RECONNECT);
            }
        }
    }
}

/// Listens until the last [`Changes`] is dropped (`Ok`) or the connection fails.
fn listen(manager: &ConnectionManager, state: &Weak<State>, changed: &dyn Fn()) -> anyhow::Result<()> {
    use diesel::connection::SimpleConnection;
    use r2d2::ManageConnection;
    let super::DbConnection::Postgres(mut conn) = manager.connect()? else {
        anyhow::bail!("the listener needs PostgreSQL");
    };
    conn.batch_execute(&format!("SET application_name = '{LISTENER_APPLICATION}'; LISTEN {CHANNEL}"))?;
    changed();
    let mut heartbeat = Instant::now();
    if let Some(state) = state.upgrade() {
        state.answered.store(state.now(), Ordering::SeqCst);
    }
    loop {
        let Some(state) = state.upgrade() else { return Ok(()) };
        if heartbeat.elapsed() >= HEARTBEAT {
            conn.batch_execute("SELECT 1")?;
            heartbeat = Instant::now();
            state.answered.store(state.now(), Ordering::SeqCst);
        }
        let mut heard = false;
        for notification in conn.notifications_iter() {
            notification?;
            heard = true;
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
