//! Lookups that every request makes (the signed-in user and their accounts, a presented API
//! key), answered together: requests queue their key, and a thread of the batcher's own
//! takes everything queued at once and answers it with one trip to the database. A lookup
//! still reads the database after its request arrived (a revoked key or a changed role is
//! seen at once); what is shared is the trip. Under load a trip serves many requests, which
//! on PostgreSQL saves a network round trip and a server process wake-up for each of them,
//! and on SQLite a read transaction and a thread hand-off; when requests are sparse a batch
//! holds one and costs what [`Db::run`] would.
//!
//! A load function answers a batch in the order of its keys, one value per key.

use crate::db::{ConnectionManager, Db, DbConnection, DbError};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// At most this many lookups go into one trip.
const MAX_BATCH: usize = 64;

/// How long a request waits for its lookup before it gets an error (the pool's checkout
/// timeout).
const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Answers a batch: one value per key, in the keys' order.
type LoadFn<K, V> = fn(&mut DbConnection, &[K]) -> diesel::QueryResult<Vec<V>>;

struct Job<K, V> {
    key: K,
    reply: oneshot::Sender<Result<V, DbError>>,
}

/// The requests' side of a batcher; cheap to clone. Its thread ends when the last clone is
/// dropped.
pub struct Batcher<K, V> {
    jobs: Sender<Job<K, V>>,
}

impl<K, V> Clone for Batcher<K, V> {
    fn clone(&self) -> Self {
        Self { jobs: self.jobs.clone() }
    }
}

impl<K: Send + 'static, V: Send + 'static> Batcher<K, V> {
    /// Starts the batcher's `threads` threads, named `name`, answering with `load`, each on a
    /// connection of its own to `db`. With more than one, a thread gathers the next batch
    /// while another waits on the database with the last (PostgreSQL on another host).
    pub fn start(name: &str, db: &Db, threads: usize, load: LoadFn<K, V>) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..threads.max(1) {
            let (manager, queue) = (db.manager().clone(), queue.clone());
            std::thread::Builder::new().name(name.to_owned()).spawn(move || serve(&manager, &queue, load))?;
        }
        Ok(Self { jobs })
    }

    /// The value for `key`, read after this call (in the next trip to the database). Gives
    /// up after [`WAIT`], as a checkout from the pool would, when the database does not answer.
    pub async fn get(&self, key: K) -> Result<V, DbError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { key, reply }).map_err(|_| DbError::Blocking)?;
        match tokio::time::timeout(WAIT, answer).await {
            Ok(answered) => answered.map_err(|_| DbError::Blocking)?,
            Err(_) => Err(DbError::TimedOut),
        }
    }
}

fn serve<K, V>(manager: &ConnectionManager, queue: &Mutex<Receiver<Job<K, V>>>, load: LoadFn<K, V>) {
    let mut conn = None;
    let mut keys = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    loop {
        // Sleeps only while nothing is queued; then takes whatever has gathered meanwhile.
        // Lookups whose request stopped waiting (timed out, or the client left) are skipped.
        {
            let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            let Ok(first) = queue.recv() else { return };
            let mut next = Some(first);
            while let Some(job) = next.take() {
                if !job.reply.is_closed() {
                    keys.push(job.key);
                    replies.push(job.reply);
                }
                if keys.len() < MAX_BATCH {
                    next = queue.try_recv().ok();
                }
            }
        }
        if keys.is_empty() {
            continue;
        }
        let answered = answer(manager, &mut conn, load, &keys);
        keys.clear();
        match answered {
            Ok(values) => {
                for (reply, value) in replies.drain(..).zip(values) {
                    let _ = reply.send(Ok(value)); // the request may have gone away
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, count = replies.len(), "a batched lookup failed");
                let e = Arc::new(e);
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(DbError::Batched(e.clone())));
                }
            }
        }
    }
}

/// Answers a batch on the thread's connection, made when there is none. The connection is
/// not pinged before each batch (that would be a second round trip); a batch that fails on
/// a connection kept from before is tried once more on a new one, so a connection the
/// server closed while idle costs no request an error. After any failure the connection is
/// dropped.
fn answer<K, V>(
    manager: &ConnectionManager,
    conn: &mut Option<DbConnection>,
    load: LoadFn<K, V>,
    keys: &[K],
) -> Result<Vec<V>, DbError> {
    loop {
        let kept = conn.is_some();
        if conn.is_none() {
            *conn = Some(connect(manager)?);
        }
        let Some(c) = conn.as_mut() else { unreachable!("connected above") };
        // A panic in a load fails its batch, not the thread (which no one would restart).
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(c, keys)))
            .unwrap_or_else(|_| Err(diesel::result::Error::QueryBuilderError("a batched lookup panicked".into())));
        match loaded {
            Ok(values) if values.len() == keys.len() => return Ok(values),
            Ok(values) => {
                return Err(DbError::Query(diesel::result::Error::QueryBuilderError(
                    format!("a batch of {} lookups came back with {} answers", keys.len(), values.len()).into(),
                )));
            }
            Err(e) => {
                *conn = None;
                if !kept {
                    return Err(e.into());
                }
                tracing::warn!(error = ?e, "a lookup failed on a kept connection; trying a new one");
            }
        }
    }
}

/// How the lookup threads' connections name themselves to PostgreSQL (`pg_stat_activity`).
pub const LOOKUP_APPLICATION: &str = "teamdeck-lookups";

/// A connection for a lookup thread. On PostgreSQL its statements use generic plans: they
/// are lookups by primary or unique key whose best plan does not depend on the values, and
/// planning them anew for every batch (what `plan_cache_mode = auto` chose for `= ANY($1)`)
/// was more than half of the database's CPU on the members page.
fn connect(manager: &ConnectionManager) -> Result<DbConnection, DbError> {
    use diesel::connection::SimpleConnection;
    use r2d2::ManageConnection;
    let mut conn = manager.connect()?;
    if let DbConnection::Postgres(c) = &mut conn {
        // Both are niceties: a server that refuses them (older than 12, or a pooler in
        // between) still answers the lookups.
        let settings =
            format!("SET application_name = '{LOOKUP_APPLICATION}'; SET plan_cache_mode = force_generic_plan");
        if let Err(e) = c.batch_execute(&settings) {
            tracing::warn!(error = ?e, "the lookup connection kept its default settings");
        }
    }
    Ok(conn)
}

/// Answers a batch one key at a time with a query that is prepared once and kept (SQLite,
/// where an `IN (…)` list is prepared again for every size), inside one read transaction
/// when there are several, so they share its lock.
pub fn one_by_one<K, V>(
    conn: &mut DbConnection,
    keys: &[K],
    mut one: impl FnMut(&mut DbConnection, &K) -> diesel::QueryResult<V>,
) -> diesel::QueryResult<Vec<V>> {
    use diesel::Connection;
    match keys {
        [key] => Ok(vec![one(conn, key)?]),
        _ => conn.transaction(|conn| keys.iter().map(|key| one(conn, key)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    use tokio::task::JoinHandle;

    fn sqlite(dir: &tempfile::TempDir) -> Db {
        Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()), 2).unwrap()
    }

    #[derive(QueryableByName)]
    struct Doubled {
        #[diesel(sql_type = BigInt)]
        v: i64,
    }

    /// Sizes of the batches the test loads saw, and a gate the first batch waits at.
    static SIZES: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    static GATE: Mutex<Option<std::sync::mpsc::Receiver<()>>> = Mutex::new(None);

    /// Doubles each key in the database; key 13 fails the whole batch, and 77 panics.
    fn doubled(conn: &mut DbConnection, keys: &[i64]) -> diesel::QueryResult<Vec<i64>> {
        let gate = GATE.lock().unwrap().take();
        if let Some(gate) = gate {
            gate.recv().unwrap();
        }
        SIZES.lock().unwrap().push(keys.len());
        if keys.contains(&13) {
            return Err(diesel::result::Error::NotFound);
        }
        assert!(!keys.contains(&77), "77 makes the load panic");
        keys.iter()
            .map(|k| {
                diesel::sql_query("SELECT ? * 2 AS v").bind::<BigInt, _>(k).get_result::<Doubled>(conn).map(|d| d.v)
            })
            .collect()
    }

    /// Holds the batcher's next trip at the gate until the returned sender is used, once a
    /// lookup of `key` has reached it.
    async fn hold_a_trip(batcher: &Batcher<i64, i64>, key: i64) -> (std::sync::mpsc::Sender<()>, JoinHandle<i64>) {
        let (open, gate) = std::sync::mpsc::channel();
        *GATE.lock().unwrap() = Some(gate);
        let held = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.get(key).await.unwrap() }
        });
        while GATE.lock().unwrap().is_some() {
            tokio::task::yield_now().await;
        }
        (open, held)
    }

    fn lookups(batcher: &Batcher<i64, i64>, keys: std::ops::Range<i64>) -> Vec<JoinHandle<Result<i64, DbError>>> {
        keys.map(|k| {
            let batcher = batcher.clone();
            tokio::spawn(async move { batcher.get(k).await })
        })
        .collect()
    }

    /// One test, so the statics are not shared between tests running side by side.
    #[tokio::test]
    async fn lookups_queued_during_a_trip_share_the_next_one_and_each_gets_its_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let batcher = Batcher::start("test-batcher", &sqlite(&dir), 1, doubled).unwrap();

        // The first lookup holds its trip while 40 more queue behind it.
        let (open, first) = hold_a_trip(&batcher, 1).await;
        let rest = lookups(&batcher, 100..140);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        open.send(()).unwrap();
        assert_eq!(first.await.unwrap(), 2);
        for (k, task) in (100..140).zip(rest) {
            assert_eq!(task.await.unwrap().unwrap(), k * 2, "the answer for {k}");
        }
        assert_eq!(*SIZES.lock().unwrap(), vec![1, 40], "the 40 queued lookups went in one trip");

        // A failed trip fails each of its lookups, and the next trip works.
        let (open, held) = hold_a_trip(&batcher, 2).await;
        let failing = lookups(&batcher, 12..15);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        open.send(()).unwrap();
        assert_eq!(held.await.unwrap(), 4);
        for task in failing {
            let answer = task.await.unwrap();
            assert!(matches!(answer, Err(DbError::Batched(_))), "{answer:?}");
        }
        assert_eq!(batcher.get(21).await.unwrap(), 42);
        // The failed trip ran on a connection kept from before, so it was tried once more on
        // a new one (which failed too) before the lookups got their error.
        assert_eq!(*SIZES.lock().unwrap(), vec![1, 40, 1, 3, 3, 1]);

        // A load that panics fails its batch (tried twice, as above); the thread lives on.
        let panicked = batcher.get(77).await;
        assert!(matches!(panicked, Err(DbError::Batched(_))), "{panicked:?}");
        assert_eq!(batcher.get(22).await.unwrap(), 44);
        assert_eq!(*SIZES.lock().unwrap(), vec![1, 40, 1, 3, 3, 1, 1, 1, 1]);

        // A lookup whose request stopped waiting (timed out, or the client left) is skipped.
        let (open, held) = hold_a_trip(&batcher, 3).await;
        let (reply, answer) = oneshot::channel();
        batcher.jobs.send(Job { key: 30, reply }).unwrap();
        drop(answer);
        let waiting = lookups(&batcher, 31..32);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        open.send(()).unwrap();
        assert_eq!(held.await.unwrap(), 6);
        for task in waiting {
            assert_eq!(task.await.unwrap().unwrap(), 62);
        }
        assert_eq!(SIZES.lock().unwrap()[9..], [1, 1], "the trip after the held one had only 31 in it");
    }
}
