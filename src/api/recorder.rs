//! Records every authenticated API request (who, what, status, duration) without slowing it:
//! the request only appends a record to a buffer; a background task writes them in batches,
//! one transaction per batch, and moves keys' `last_used_at` at most once a minute. When the
//! server stops, the last recorder handle goes and the task writes what is left before it ends.
//!
//! A batch that could not be written (the database is away) goes back to the front of the
//! buffer and is tried again after a backoff (0.1 s, doubling, at most 5 s). The buffer holds
//! at most [`QUEUE`] records: only when it is full are records dropped, and each drop is
//! counted ([`Recorder::dropped`]) and logged with the count so far.

use super::auth::Attribution;
use crate::db::schema::{api_keys, api_requests};
use crate::db::{Db, DbError, write_transaction};
use crate::domain::now_ms;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use diesel::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Record {
    pub attribution: Attribution,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_ms: i32,
    pub at: i64,
}

/// The sending side, kept in the app's data. A request only appends its record to a shared
/// buffer: the writer is woken once per batch (by the first record after a write, and when
/// the buffer fills), not once per request. Waking it for every record cost a thread switch
/// per API call, about a tenth of a whoami's CPU.
#[derive(Clone)]
pub struct Recorder {
    handle: Arc<Handle>,
}

/// What the recorders and the writer share.
struct Shared {
    buffer: Mutex<Vec<Record>>,
    /// Where the queue's length and the drops are reported (`/metrics`).
    metrics: web::Data<crate::http::metrics::Metrics>,
    wake: Notify,
    closed: AtomicBool,
    /// Records dropped because the buffer was full, since the start.
    dropped: AtomicU64,
    /// When a drop was last logged (ms): at most one line a second says how many so far.
    dropped_logged_at: AtomicI64,
}

impl Shared {
    fn count_dropped(&self, n: usize) {
        let total = self.dropped.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.metrics.records_dropped.store(total, Ordering::Relaxed);
        let now = now_ms();
        let last = self.dropped_logged_at.load(Ordering::Relaxed);
        if now - last >= 1_000
            && self.dropped_logged_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(
                dropped = n,
                dropped_total = total,
                "request records dropped: the buffer of unwritten records is full"
            );
        }
    }

    /// Puts records that could not be written back before those queued since, keeping at
    /// most [`QUEUE`]: the newest beyond it are dropped and counted.
    fn put_back(&self, mut unwritten: Vec<Record>) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        unwritten.append(&mut buffer);
        let over = unwritten.len().saturating_sub(QUEUE);
        unwritten.truncate(QUEUE);
        *buffer = unwritten;
        drop(buffer);
        if over > 0 {
            self.count_dropped(over);
        }
    }
}

/// Held by every clone of the [`Recorder`]; when the last one goes, the writer is told to
/// write what is left and stop.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

/// Records the buffer holds at most, written or waiting for the database to come back.
pub const QUEUE: usize = 100_000;
const BATCH: usize = 1_000;
const LINGER: Duration = Duration::from_millis(200);
const LAST_USED_EVERY_MS: i64 = 60_000;

impl Recorder {
    /// Starts the writer; it ends (after writing everything) once every `Recorder` is dropped.
    pub fn start(db: Db, metrics: web::Data<crate::http::metrics::Metrics>) -> (Self, tokio::task::JoinHandle<()>) {
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Vec::new()),
            metrics,
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            dropped_logged_at: AtomicI64::new(0),
        });
        let handle = Arc::new(Handle(shared.clone()));
        (Self { handle }, tokio::spawn(write_batches(db, shared)))
    }

    fn record(&self, record: Record) {
        let shared = &self.handle.0;
        let queued = {
            let mut buffer = shared.buffer.lock().unwrap_or_else(|e| e.into_inner());
            if buffer.len() >= QUEUE {
                drop(buffer);
                shared.count_dropped(1);
                return;
            }
            buffer.push(record);
            buffer.len()
        };
        shared.metrics.records_queued.store(queued as u64, Ordering::Relaxed);
        if queued == 1 || queued == BATCH {
            shared.wake.notify_one();
        }
    }

    /// Records waiting to be written.
    pub fn queued(&self) -> usize {
        self.handle.0.buffer.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Records dropped since the start because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.handle.0.dropped.load(Ordering::Relaxed)
    }
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// After the server stopped, how long unwritten records are retried before they are given up.
const LAST_TRIES: Duration = Duration::from_secs(8);

async fn write_batches(db: Db, shared: Arc<Shared>) {
    let take = || std::mem::take(&mut *shared.buffer.lock().unwrap_or_else(|e| e.into_inner()));
    let full = || shared.buffer.lock().unwrap_or_else(|e| e.into_inner()).len() >= BATCH;
    let mut backoff: Option<Duration> = None;
    let mut closed_at: Option<Instant> = None;
    loop {
        let closed = shared.closed.load(Ordering::Acquire);
        if closed && closed_at.is_none() {
            closed_at = Some(Instant::now());
        }
        if let Some(delay) = backoff {
            tokio::time::sleep(delay).await;
        } else if !closed {
            // Wait for a first record, then linger so a batch gathers, unless it fills first.
            shared.wake.notified().await;
            let deadline = tokio::time::Instant::now() + LINGER;
            while !full() && !shared.closed.load(Ordering::Acquire) {
                if tokio::time::timeout_at(deadline, shared.wake.notified()).await.is_err() {
                    break;
                }
            }
        }
        let mut records = take();
        shared.metrics.records_queued.store(records.len() as u64, Ordering::Relaxed);
        let mut failed = false;
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(BATCH));
            let batch = Arc::new(std::mem::replace(&mut records, rest));
            let count = batch.len();
            let writing = batch.clone();
            if let Err(e) = db.run(move |conn| write(conn, &writing)).await {
                tracing::error!(error = %e, count, "could not write request records; they are kept and tried again");
                let mut unwritten = Arc::try_unwrap(batch).unwrap_or_else(|b| (*b).clone());
                unwritten.append(&mut records);
                shared.put_back(unwritten);
                failed = true;
                break;
            }
        }
        backoff = failed.then(|| backoff.map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF)));
        if closed && (!failed || closed_at.is_some_and(|at| at.elapsed() >= LAST_TRIES)) {
            let lost = take().len();
            if lost > 0 {
                shared.count_dropped(lost);
            }
            return;
        }
    }
}

const ROWS_PER_INSERT: usize = 500;

/// A request record as inserted: without an id, which the database assigns in the order
/// written (SQLite: max(rowid) + 1; PostgreSQL: an identity that starts past the ids already
/// there). Rows then go to the right edge of the table and its primary key, so a batch
/// writes a few pages; random ids spread each batch over a page per row, and the commit
/// that wrote them took a third of the server's CPU under a whoami load.
#[derive(Insertable)]
#[diesel(table_name = api_requests)]
#[diesel(treat_none_as_default_value = false)] // the same columns in every row, for COPY
struct NewRequest<'a> {
    account_id: i64,
    user_id: Option<i64>,
    key_id: Option<i64>,
    method: &'a str,
    path: &'a str,
    status: i32,
    duration_ms: i32,
    created_at: i64,
    old_secret: bool,
}

impl<'a> From<&'a Record> for NewRequest<'a> {
    fn from(r: &'a Record) -> Self {
        Self {
            account_id: r.attribution.account_id,
            user_id: r.attribution.user_id,
            key_id: r.attribution.key_id,
            method: &r.method,
            path: &r.path,
            status: r.status,
            duration_ms: r.duration_ms,
            created_at: r.at,
            old_secret: r.attribution.old_secret,
        }
    }
}

fn write(conn: &mut crate::db::DbConnection, batch: &[Record]) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        // MultiConnection has no multi-row insert, so each backend's own connection: COPY on
        // PostgreSQL (a multi-row INSERT was parsed and planned anew for every batch); on
        // SQLite a few hundred rows per statement (9 values a row stays well under its limit
        // on bound values).
        let rows: Vec<NewRequest<'_>> = batch.iter().map(NewRequest::from).collect();
        match &mut *conn {
            crate::db::DbConnection::Postgres(c) => {
                diesel::copy_from(api_requests::table).from_insertable(&rows).execute(c)?;
            }
            crate::db::DbConnection::Sqlite(c) => {
                for chunk in rows.chunks(ROWS_PER_INSERT) {
                    diesel::insert_into(api_requests::table).values(chunk).execute(c)?;
                }
            }
        }
        // Each key's latest call in the batch, with the address it came from.
        let now = now_ms();
        let mut last: Vec<(i64, Option<&str>)> = Vec::new();
        for r in batch.iter().rev() {
            if let Some(key_id) = r.attribution.key_id
                && !last.iter().any(|(k, _)| *k == key_id)
            {
                last.push((key_id, r.attribution.client.as_deref()));
            }
        }
        for (key_id, client) in last {
            diesel::update(
                api_keys::table
                    .filter(api_keys::id.eq(key_id))
                    .filter(api_keys::last_used_at.is_null().or(api_keys::last_used_at.lt(now - LAST_USED_EVERY_MS))),
            )
            .set((api_keys::last_used_at.eq(now), api_keys::last_used_ip.eq(client)))
            .execute(conn)?;
        }
        Ok::<_, DbError>(())
    })
}

/// Middleware: after an API response, hands its record to the recorder when the caller was
/// identified (the credential extractor left an [`Attribution`]).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !req.path().starts_with("/api/") {
        return next.call(req).await;
    }
    let started = Instant::now();
    let (method, path) = (req.method().to_string(), req.path().to_owned());
    let recorder = req.app_data::<web::Data<Recorder>>().cloned();
    let res = next.call(req).await?;
    let attribution = res.request().extensions().get::<Attribution>().cloned();
    // A secret's name is not for everyone who sees the team's requests (billing members
    // see those, not the secrets): its calls are recorded with `{secret}` in its place.
    let path = match (res.request().match_info().get("secret"), path.rsplit_once('/')) {
        (Some(_), Some((head, _))) => format!("{head}/{{secret}}"),
        _ => path,
    };
    if let (Some(attribution), Some(recorder)) = (attribution, recorder) {
        recorder.record(Record {
            attribution,
            method,
            path,
            status: i32::from(res.status().as_u16()),
            duration_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
            at: now_ms(),
        });
    }
    Ok(res)
}
