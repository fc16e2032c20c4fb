//! Records every authenticated API request (who, what, status, duration) without slowing it:
//! the request only hands a record to a channel; a background task writes them in batches,
//! one transaction per batch, and moves keys' `last_used_at` at most once a minute. When the
//! server stops, the channel closes and the task writes what is left before it ends.

use super::auth::Attribution;
use crate::db::schema::{api_keys, api_requests};
use crate::db::{Db, DbError, write_transaction};
use crate::domain::now_ms;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use diesel::prelude::*;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct Record {
    pub attribution: Attribution,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_ms: i32,
    pub at: i64,
}

/// The sending side, kept in the app's data.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

const QUEUE: usize = 100_000;
const BATCH: usize = 1_000;
const LINGER: Duration = Duration::from_millis(200);
const LAST_USED_EVERY_MS: i64 = 60_000;

impl Recorder {
    /// Starts the writer; it ends (after writing everything) once every `Recorder` is dropped.
    pub fn start(db: Db) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { tx }, tokio::spawn(write_batches(db, rx)))
    }

    fn record(&self, record: Record) {
        if self.tx.try_send(record).is_err() {
            tracing::warn!("request records are arriving faster than they are written: one was dropped");
        }
    }
}

async fn write_batches(db: Db, mut rx: mpsc::Receiver<Record>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(record)) => batch.push(record),
                _ => break,
            }
        }
        let count = batch.len();
        if let Err(e) = db.run(move |conn| write(conn, &batch)).await {
            tracing::error!(error = %e, count, "could not write request records");
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
struct NewRequest<'a> {
    account_id: i64,
    user_id: Option<i64>,
    key_id: Option<i64>,
    method: &'a str,
    path: &'a str,
    status: i32,
    duration_ms: i32,
    created_at: i64,
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
        }
    }
}

fn write(conn: &mut crate::db::DbConnection, batch: &[Record]) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        // A few hundred rows per statement, on the backend's own connection: MultiConnection
        // has no multi-row insert (see `on_backend!`). 9 values a row stays well under both
        // backends' limit on bound values.
        let rows: Vec<NewRequest<'_>> = batch.iter().map(NewRequest::from).collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            crate::on_backend!(&mut *conn, |c| diesel::insert_into(api_requests::table).values(chunk).execute(c))?;
        }
        let now = now_ms();
        let mut keys: Vec<i64> = batch.iter().filter_map(|r| r.attribution.key_id).collect();
        keys.sort_unstable();
        keys.dedup();
        if !keys.is_empty() {
            diesel::update(
                api_keys::table
                    .filter(api_keys::id.eq_any(&keys))
                    .filter(api_keys::last_used_at.is_null().or(api_keys::last_used_at.lt(now - LAST_USED_EVERY_MS))),
            )
            .set(api_keys::last_used_at.eq(now))
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
    let attribution = res.request().extensions().get::<Attribution>().copied();
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
