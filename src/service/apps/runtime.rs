//! What the platform's runtime reads and reports: the apps changed since its cursor with what
//! should run, a revision's environment (the team's secrets it lists, opened), and status
//! reports.
//!
//! Reports are idempotent by the runtime's report id and ordered within a revision (a report
//! that would move it back is kept and changes nothing, see [`AppStatus::may_become`]); a
//! report for a revision that is no longer the app's current one is kept in the history and
//! updates that revision, never the app's status.

use super::{App, AppError, Revision};
use crate::db::schema::{accounts, app_revisions, app_status_reports, apps};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{AppStatus, new_id, now_ms};
use crate::service::secrets::{self, Sealer};
use diesel::prelude::*;

/// What the runtime should do with an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desired {
    /// Run the current revision.
    Running,
    /// The team is archived: stop it (its record stays).
    Stopped,
    /// The app was deleted: remove it.
    Deleted,
}

impl Desired {
    pub fn as_str(self) -> &'static str {
        match self {
            Desired::Running => "running",
            Desired::Stopped => "stopped",
            Desired::Deleted => "deleted",
        }
    }
}

/// An app as the runtime sees it.
#[derive(Debug, Clone)]
pub struct DesiredApp {
    pub app: App,
    pub team: String,
    pub desired: Desired,
    pub revision: Revision,
}

/// At most this many apps per answer; the runtime asks again from the returned cursor.
pub const PAGE: i64 = 100;

/// The apps changed after `cursor`, in the order of their changes.
pub fn changes(conn: &mut DbConnection, cursor: i64) -> QueryResult<Vec<DesiredApp>> {
    let rows: Vec<(App, Revision, String, Option<i64>)> = apps::table
        .inner_join(accounts::table)
        .inner_join(
            app_revisions::table
                .on(app_revisions::app_id.eq(apps::id).and(app_revisions::number.eq(apps::current_revision))),
        )
        .filter(apps::change_seq.gt(cursor))
        .order(apps::change_seq.asc())
        .limit(PAGE)
        .select((App::as_select(), Revision::as_select(), accounts::slug, accounts::archived_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(app, revision, team, archived_at)| {
            let desired = if app.deleted_at.is_some() {
                Desired::Deleted
            } else if archived_at.is_some() {
                Desired::Stopped
            } else {
                Desired::Running
            };
            DesiredApp { app, team, desired, revision }
        })
        .collect())
}

/// A revision's environment: the values of the secrets it lists, and the names it lists that
/// the team no longer has.
#[derive(Debug)]
pub struct Environment {
    pub values: Vec<(String, String)>,
    pub missing: Vec<String>,
}

/// The environment of revision `number` of the app, while it should run (not for a deleted
/// app or an archived team's).
pub fn environment(
    conn: &mut DbConnection,
    sealer: &Sealer,
    app_id: i64,
    number: i32,
) -> Result<Environment, AppError> {
    let (app, archived_at): (App, Option<i64>) = apps::table
        .inner_join(accounts::table)
        .filter(apps::id.eq(app_id))
        .select((App::as_select(), accounts::archived_at))
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    if app.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    if archived_at.is_some() {
        return Err(AppError::Archived);
    }
    let revision = revision(conn, app_id, number)?;
    let listed = revision.env_names();
    let values: Vec<(String, String)> =
        secrets::values(conn, sealer, app.account_id)?.into_iter().filter(|(name, _)| listed.contains(name)).collect();
    let missing = listed.into_iter().filter(|n| !values.iter().any(|(v, _)| v == n)).collect();
    Ok(Environment { values, missing })
}

fn revision(conn: &mut DbConnection, app_id: i64, number: i32) -> Result<Revision, AppError> {
    app_revisions::table
        .filter(app_revisions::app_id.eq(app_id))
        .filter(app_revisions::number.eq(number))
        .select(Revision::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NoSuchRevision)
}

/// A status report of the runtime.
#[derive(Debug, Clone)]
pub struct StatusReport {
    /// Chosen by the runtime: the same id is recorded once.
    pub report_id: String,
    pub revision: i32,
    pub status: AppStatus,
    pub message: String,
    pub instances: i32,
    pub endpoint: Option<String>,
}

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Recorded, and the app's status is now the report's.
    Applied,
    /// Recorded; the app's status is unchanged (the revision was superseded, or the report
    /// would move the revision back).
    Kept,
    /// Already recorded under this report id.
    Duplicate,
}

/// Records a report (see the module doc).
pub fn report(conn: &mut DbConnection, app_id: i64, r: &StatusReport) -> Result<Reported, AppError> {
    write_transaction(conn, |conn| {
        let account_id: i64 =
            apps::table.find(app_id).select(apps::account_id).first(conn).optional()?.ok_or(AppError::NotFound)?;
        // The team's row, then the app's: the lock order of every change to a team.
        let _ = crate::service::accounts::lock_for_change(conn, account_id)?;
        let app = apps::table.find(app_id).select(App::as_select()).first(conn)?;
        let seen = app_status_reports::table
            .filter(app_status_reports::app_id.eq(app_id))
            .filter(app_status_reports::report_id.eq(&r.report_id))
            .count()
            .get_result::<i64>(conn)?;
        if seen > 0 {
            return Ok(Reported::Duplicate);
        }
        let revision = revision(conn, app_id, r.revision)?;
        let now = now_ms();
        let forward = revision.status.may_become(r.status);
        if forward {
            diesel::update(app_revisions::table.find(revision.id))
                .set((
                    app_revisions::status.eq(r.status),
                    app_revisions::status_message.eq(&r.message),
                    app_revisions::instances.eq(r.instances),
                    app_revisions::endpoint.eq(r.endpoint.as_ref().or(revision.endpoint.as_ref())),
                    app_revisions::status_at.eq(now),
                ))
                .execute(conn)?;
        }
        let applied = forward && app.deleted_at.is_none() && r.revision == app.current_revision;
        if applied {
            diesel::update(apps::table.find(app_id))
                .set((
                    apps::status.eq(r.status),
                    apps::status_message.eq(&r.message),
                    apps::instances.eq(r.instances),
                    apps::endpoint.eq(r.endpoint.as_ref().or(app.endpoint.as_ref())),
                    apps::status_at.eq(now),
                ))
                .execute(conn)?;
        }
        diesel::insert_into(app_status_reports::table)
            .values((
                app_status_reports::id.eq(new_id()),
                app_status_reports::app_id.eq(app_id),
                app_status_reports::revision.eq(r.revision),
                app_status_reports::report_id.eq(&r.report_id),
                app_status_reports::status.eq(r.status),
                app_status_reports::message.eq(&r.message),
                app_status_reports::instances.eq(r.instances),
                app_status_reports::endpoint.eq(&r.endpoint),
                app_status_reports::received_at.eq(now),
                app_status_reports::applied.eq(applied),
            ))
            .execute(conn)?;
        Ok(if applied { Reported::Applied } else { Reported::Kept })
    })
}

/// One report as the app's page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct ReportRow {
    pub revision: i32,
    pub status: AppStatus,
    pub message: String,
    pub instances: i32,
    pub received_at: i64,
    pub applied: bool,
}

/// The app's latest reports, newest first.
pub fn history(conn: &mut DbConnection, app_id: i64, limit: i64) -> QueryResult<Vec<ReportRow>> {
    app_status_reports::table
        .filter(app_status_reports::app_id.eq(app_id))
        .order((app_status_reports::received_at.desc(), app_status_reports::id.desc()))
        .limit(limit)
        .select((
            app_status_reports::revision,
            app_status_reports::status,
            app_status_reports::message,
            app_status_reports::instances,
            app_status_reports::received_at,
            app_status_reports::applied,
        ))
        .load(conn)
}
