//! Who is calling: a browser's session → the user with every account they belong to and
//! their live role in each; `Authorization: Key …` → a working team key and its team;
//! `Authorization: Bearer …` → a member's login token; and, for the platform's gateways, what
//! any such credential is worth now ([`Identity::introspect`]). Handlers reach it through the
//! extractors of `web` and `api`; a write that changes who may call with what goes through
//! [`Identity::commit`], which hands the service's [`Change`]s to it after the commit.
//!
//! **Freshness.** Every answer reflects every change committed before the request arrived on
//! this instance, and a change made elsewhere (another instance, `psql`) within the
//! notification delay — about 10 ms, never later than 1 s. How: the signed-in user, their
//! accounts and roles, and login tokens are read from the database for every request, after
//! it arrived (batched: requests queue their lookup and a thread of the lookup's own answers
//! everything queued with one trip to the database). Only working team keys and
//! introspection answers are kept in memory, each stamped with a change count (the epoch) read
//! before the database was asked; this instance's own changes move the count after they
//! commit, and so does every notification the listener hears (PostgreSQL triggers notify on
//! every change to keys, teams, memberships, login tokens and users, whoever makes it). Keys
//! are answered from memory only while the listener is *live*: it has proved within the last
//! second, by a ping through the database, that it would have heard a change. SQLite cannot
//! hear another process's commit, so there every key is read from the database. Introspection
//! answers are an exception the gateways agreed to: without a live listener they may be
//! reused for their configured TTL (`TEAMDECK_INTROSPECT_CACHE_SECONDS`), and a gateway is
//! told to keep one only for what is left of it.
//!
//! **Key guardrails** (`service::keys::guards`) are checked after the cache, on every call,
//! from what the kept answer already holds: the key's expiry and a rotated secret's grace
//! against the clock, its allowlist against the caller's address, and the spend flags. A
//! spend cap (or a team's hard limit) reached is written as a flag on the key (the team) row
//! by the usage ingestion that reached it, `spend_capped_until` (`spend_blocked_until`): the
//! end of that month, so the month turning lifts it without a write, and raising the cap
//! clears it. On PostgreSQL writing the flag notifies every instance like any other key
//! change, so introspection everywhere refuses within the notification delay; where the
//! listener is not live (SQLite, or the listener down) another instance still serves its kept
//! answer for at most the introspection TTL, after which it reads the flag.

mod batch;
mod cache;
mod introspect;
mod listener;
mod lookups;

pub use batch::LOOKUP_APPLICATION;
pub use introspect::{Grant, Introspection};
pub use listener::LISTENER_APPLICATION;

use crate::db::{Db, DbConnection, DbError};
use crate::domain::Clock;
use crate::service::accounts::AccountMembership;
use crate::service::keys::Found;
use crate::service::keys::guards::{self, Refusal};
use crate::service::sessions::{self, BrowserSession, Lifetimes, Origin};
use crate::service::tokens::{self, LoginToken};
use crate::service::users::User;
use crate::service::{Change, Committed};
use batch::Batcher;
use cache::{CredentialCache, Epoch, cache_key};
use listener::Changes;
use std::sync::Arc;
use std::time::Duration;

/// A signed-in person: the user and every account they belong to, with their live role in
/// each (the personal account first, then teams by name).
#[derive(Debug, Clone)]
pub struct Person {
    pub user: User,
    pub accounts: Vec<AccountMembership>,
}

/// How [`Identity`] runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Threads (each with its own connection) per lookup.
    pub lookup_threads: usize,
    /// How long an introspection answer may be reused (0: never).
    pub introspect_ttl: Duration,
    /// How long a browser session lasts.
    pub sessions: Lifetimes,
    pub clock: Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lookup_threads: 1,
            introspect_ttl: Duration::from_secs(5),
            sessions: Lifetimes::default(),
            clock: Clock::default(),
        }
    }
}

/// A signed-in browser: its session and the person it signs in.
#[derive(Debug, Clone)]
pub struct Visit {
    pub session: BrowserSession,
    pub person: Person,
}

/// How long a working key is answered from memory at most. It bounds how old the key's
/// `last_used_at` in a whoami answer may be (the request recorder moves it once a minute).
const KEY_TTL: Duration = Duration::from_secs(60);
const MAX_KEPT: usize = 100_000;

/// The answer to "who is calling"; cheap to clone. Its threads end when the last clone is
/// dropped.
#[derive(Clone)]
pub struct Identity(Arc<Inner>);

struct Inner {
    db: Db,
    people: Batcher<i64, Option<Person>>,
    sessions: Batcher<String, Option<(BrowserSession, Person)>>,
    lifetimes: Lifetimes,
    clock: Clock,
    keys: Batcher<String, Option<Found>>,
    working_keys: CredentialCache<Found>,
    introspections: CredentialCache<Arc<Introspection>>,
    epoch: Epoch,
    listener: Changes,
}

impl Identity {
    /// Starts the lookup threads and, on PostgreSQL, the listener for changes.
    pub fn start(db: &Db, settings: &Settings) -> std::io::Result<Self> {
        let epoch = Epoch::default();
        let heard = epoch.clone();
        Ok(Self(Arc::new(Inner {
            db: db.clone(),
            people: Batcher::start("teamdeck-users", db, settings.lookup_threads, lookups::people)?,
            sessions: Batcher::start("teamdeck-sessions", db, settings.lookup_threads, lookups::sessions_batch)?,
            lifetimes: settings.sessions,
            clock: settings.clock.clone(),
            keys: Batcher::start("teamdeck-keys", db, settings.lookup_threads, lookups::team_keys)?,
            working_keys: CredentialCache::new(KEY_TTL, MAX_KEPT, epoch.clone()),
            introspections: CredentialCache::new(settings.introspect_ttl, MAX_KEPT, epoch.clone()),
            listener: Changes::listen(db, move || heard.bump())?,
            epoch,
        })))
    }

    /// The browser signed in by the session token `token` (from its cookie): `None` for a
    /// token that is malformed, unknown, revoked, idle too long or past its end, or whose user
    /// is gone. Notes that the session was used, at most once a minute, after answering.
    pub async fn visit(&self, token: &str) -> Result<Option<Visit>, DbError> {
        let Some(hash) = sessions::token_hash(token) else { return Ok(None) };
        let Some((session, person)) = self.0.sessions.get(hash).await? else { return Ok(None) };
        let now = self.0.clock.now_ms();
        if !session.is_live(now, &self.0.lifetimes) {
            return Ok(None);
        }
        if session.seen_long_ago(now) {
            let (db, id) = (self.0.db.clone(), session.id);
            tokio::spawn(async move {
                if let Err(e) = db.query(move |conn| sessions::seen(conn, id, now)).await {
                    tracing::warn!(error = ?e, "could not note that a session was used");
                }
            });
        }
        Ok(Some(Visit { session, person }))
    }

    /// Starts a session for `user_id` signing in from `origin`: the token for its cookie.
    pub async fn start_session(&self, user_id: i64, origin: Origin) -> Result<String, DbError> {
        self.start_session_after(user_id, origin, false, |_| Ok(())).await
    }

    /// Starts a session as [`Identity::start_session`] does, in one transaction with `first`,
    /// which runs before it (what a sign-in records beside its session); `second_factor` when
    /// the person passed one to sign in.
    pub async fn start_session_after<F>(
        &self,
        user_id: i64,
        origin: Origin,
        second_factor: bool,
        first: F,
    ) -> Result<String, DbError>
    where
        F: FnOnce(&mut DbConnection) -> diesel::QueryResult<()> + Send + 'static,
    {
        let (now, lifetimes) = (self.0.clock.now_ms(), self.0.lifetimes);
        let (token, _) = self
            .0
            .db
            .query(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    first(conn)?;
                    sessions::start(conn, user_id, &origin, now, &lifetimes, second_factor)
                })
            })
            .await?;
        Ok(token)
    }

    /// Ends the session of `token` (signing out), on every instance at its next request.
    pub async fn end_session(&self, token: String) -> Result<(), DbError> {
        let now = self.0.clock.now_ms();
        self.0.db.query(move |conn| sessions::revoke_token(conn, &token, now)).await?;
        Ok(())
    }

    /// How long sessions last, and now: for listing and ending a person's sessions.
    pub fn session_lifetimes(&self) -> (Lifetimes, i64) {
        (self.0.lifetimes, self.0.clock.now_ms())
    }

    /// The signed-in user `user_id` with their accounts, `None` once the user is gone.
    pub async fn person(&self, user_id: i64) -> Result<Option<Person>, DbError> {
        self.0.people.get(user_id).await
    }

    /// The key, its team, and whether the secret presented is a rotated-out one, when
    /// `presented` is a team key that may be used now from `client` (the caller's address);
    /// else why not.
    pub async fn team_key(&self, presented: String, client: Option<&str>) -> Result<Result<Found, Refusal>, DbError> {
        let Some(found) = self.found_key(presented).await? else { return Ok(Err(Refusal::Unknown)) };
        Ok(guards::check(&found, self.0.clock.now_ms(), client).map(|()| found))
    }

    async fn found_key(&self, presented: String) -> Result<Option<Found>, DbError> {
        let inner = &*self.0;
        if !inner.listener.can_listen() {
            return inner.keys.get(presented).await;
        }
        let kept_as = cache_key(&presented, None);
        if inner.listener.is_live()
            && let Some((found, _)) = inner.working_keys.get(&kept_as)
        {
            return Ok(Some(found));
        }
        let epoch = inner.working_keys.epoch();
        let found = inner.keys.get(presented).await?;
        if let Some(found) = found.as_ref().filter(|f| f.may_work()) {
            inner.working_keys.put(kept_as, epoch, found.clone());
        }
        Ok(found)
    }

    /// The login token `presented` and its user, when it works.
    pub async fn login_token(&self, presented: String) -> Result<Option<(LoginToken, User)>, DbError> {
        self.0.db.query(move |conn| tokens::verify(conn, &presented)).await
    }

    /// What `credential` (an `Authorization` value or a bare secret) is worth now, acting for
    /// `team` (a login token's chosen team; its personal account without one), called from
    /// `client` (the address the gateway saw), and for how long the answer may be reused.
    pub async fn introspect(
        &self,
        credential: String,
        team: Option<String>,
        client: Option<String>,
    ) -> Result<(Arc<Introspection>, Duration), DbError> {
        let kept = &self.0.introspections;
        let kept_as = cache_key(&credential, team.as_deref());
        let (answer, fresh_for) = match kept.get(&kept_as) {
            Some(kept) => kept,
            None => {
                let epoch = kept.epoch();
                let answer =
                    self.0.db.query(move |conn| introspect::introspect(conn, &credential, team.as_deref())).await?;
                let answer = Arc::new(answer);
                kept.put_active(kept_as, epoch, answer.clone());
                (answer, kept.ttl())
            }
        };
        let Introspection::Active(grant) = &*answer else { return Ok((answer, fresh_for)) };
        let now = self.0.clock.now_ms();
        match grant.check(now, client.as_deref()) {
            Err(refused) => Ok((Arc::new(Introspection::Inactive(refused.reason())), Duration::ZERO)),
            Ok(Some(change_at)) => {
                let until_change = Duration::from_millis(u64::try_from(change_at - now).unwrap_or(0));
                Ok((answer.clone(), fresh_for.min(until_change)))
            }
            Ok(None) => Ok((answer, fresh_for)),
        }
    }

    /// Runs a write on the database and, once it has committed, takes note of what it
    /// changed: the outer `Err` is the database's, the inner the service's.
    pub async fn commit<T, E, F>(&self, write: F) -> Result<Result<T, E>, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<Committed<T>, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let written = self.0.db.run(move |conn| Ok::<_, DbError>(write(conn))).await?;
        Ok(written.map(|committed| {
            self.heard(&committed.changed);
            committed.value
        }))
    }

    /// Takes note of committed changes: every answer kept in memory is stale from now on.
    pub fn heard(&self, changes: &[Change]) {
        if !changes.is_empty() {
            self.0.epoch.bump();
        }
    }

    /// Whether team keys may be answered from memory now (the listener is live).
    pub fn keys_from_memory(&self) -> bool {
        self.0.listener.is_live()
    }
}
