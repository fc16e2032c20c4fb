//! A team's deployed apps: Teamdeck records what should run and who deployed it; the
//! platform's runtime runs it and reports back (`runtime.rs`).
//!
//! Each deploy adds a revision (numbered 1, 2, … per app) and makes it the one that should
//! run; the first deploy of a name creates the app, and deploying a deleted app's name brings
//! it back with its history. A client-chosen deployment id makes a deploy idempotent: sent
//! again with the same configuration it answers the revision it made; with another
//! configuration it is refused. The secrets a revision lists must be the team's.
//!
//! Every change the runtime must act on gives the app the next `change_seq` (the runtime's
//! cursor), taken from one counter row under its lock, so numbers become visible in order.
//! Changes lock the team's row first, like every change to a team.

pub mod runtime;
mod signal;

pub use signal::AppSignal;

use super::audit::{self, Action, Actor};
use crate::db::schema::{app_change_counter, app_revisions, apps, secrets};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{AppConfig, AppName, AppStatus, new_id, now_ms};
use diesel::prelude::*;

/// At most this many apps per team (deleted ones not counted).
pub const MAX_PER_TEAM: i64 = 100;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = apps)]
pub struct App {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    pub current_revision: i32,
    pub change_seq: i64,
    pub status: AppStatus,
    pub status_message: String,
    pub instances: i32,
    pub endpoint: Option<String>,
    pub status_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = app_revisions)]
pub struct Revision {
    pub id: i64,
    pub app_id: i64,
    pub number: i32,
    pub deployment_id: String,
    pub image: String,
    pub command: Option<String>,
    pub machine_type: String,
    pub min_instances: i32,
    pub max_instances: i32,
    pub env: String,
    pub public: bool,
    pub rollback_of: Option<i32>,
    pub deployed_by: Option<i64>,
    /// A member's name or "team key NAME", as it was at the deploy.
    pub deployed_by_name: String,
    pub created_at: i64,
    pub status: AppStatus,
    pub status_message: String,
    pub instances: i32,
    pub endpoint: Option<String>,
    pub status_at: i64,
}

impl Revision {
    pub fn config(&self) -> AppConfig {
        AppConfig {
            image: self.image.clone(),
            command: self.command.clone(),
            machine_type: self.machine_type.clone(),
            min_instances: self.min_instances,
            max_instances: self.max_instances,
            env: self.env_names(),
            public: self.public,
        }
    }

    /// The names of the secrets the revision receives.
    pub fn env_names(&self) -> Vec<String> {
        self.env.split_whitespace().map(str::to_owned).collect()
    }
}

/// An app with the revision that should run.
#[derive(Debug, Clone)]
pub struct AppListing {
    pub app: App,
    pub revision: Revision,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("This team is archived: its apps can no longer change.")]
    Archived,
    #[error("That app does not exist or was deleted.")]
    NotFound,
    #[error("That revision does not exist.")]
    NoSuchRevision,
    #[error("The team has no secret named {0}: add it on the Secrets page (or `teamdeck secrets set`) first.")]
    UnknownSecrets(String),
    #[error("This deployment id was used for another configuration: choose a new one for a new deploy.")]
    DeploymentIdReused,
    #[error("A deployment id is 1 to 128 letters, digits, '-', '_', '.' or ':'.")]
    BadDeploymentId,
    #[error("A team can run at most {MAX_PER_TEAM} apps. Delete one it no longer needs first.")]
    TooMany,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// What [`deploy`] did: a new revision, or the one this deployment id made before.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub created: bool,
    pub app: App,
    pub revision: Revision,
}

/// Checks a client-chosen deployment id.
pub fn check_deployment_id(id: &str) -> Result<(), AppError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok { Ok(()) } else { Err(AppError::BadDeploymentId) }
}

/// Deploys `config` as the app `name` of the team (see the module doc).
pub fn deploy(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    name: &AppName,
    deployment_id: &str,
    config: &AppConfig,
) -> Result<Deployed, AppError> {
    check_deployment_id(deployment_id)?;
    write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(AppError::Archived);
        }
        let existing = find_any(conn, account_id, name.as_str())?;
        if let Some(app) = &existing {
            let earlier = app_revisions::table
                .filter(app_revisions::app_id.eq(app.id))
                .filter(app_revisions::deployment_id.eq(deployment_id))
                .select(Revision::as_select())
                .first(conn)
                .optional()?;
            if let Some(revision) = earlier {
                if revision.config() != *config {
                    return Err(AppError::DeploymentIdReused);
                }
                return Ok(Deployed { created: false, app: app.clone(), revision });
            }
        }
        let known: Vec<String> = secrets::table
            .filter(secrets::account_id.eq(account_id))
            .filter(secrets::name.eq_any(&config.env))
            .select(secrets::name)
            .load(conn)?;
        if let Some(missing) = config.env.iter().find(|n| !known.contains(n)) {
            return Err(AppError::UnknownSecrets(missing.clone()));
        }
        if existing.as_ref().is_none_or(|a| a.deleted_at.is_some()) {
            let count: i64 = apps::table
                .filter(apps::account_id.eq(account_id))
                .filter(apps::deleted_at.is_null())
                .count()
                .get_result(conn)?;
            if count >= MAX_PER_TEAM {
                return Err(AppError::TooMany);
            }
        }
        let app_id = match &existing {
            Some(app) => app.id,
            None => {
                let id = new_id();
                let now = now_ms();
                diesel::insert_into(apps::table)
                    .values((
                        apps::id.eq(id),
                        apps::account_id.eq(account_id),
                        apps::name.eq(name.as_str()),
                        apps::created_at.eq(now),
                        apps::current_revision.eq(0),
                        apps::change_seq.eq(0),
                        apps::status.eq(AppStatus::Queued),
                        apps::status_message.eq(""),
                        apps::instances.eq(0),
                        apps::status_at.eq(now),
                    ))
                    .execute(conn)?;
                id
            }
        };
        let revision = add_revision(conn, app_id, actor, deployment_id, config, None)?;
        audit::record(
            conn,
            account_id,
            actor,
            Action::AppDeployed,
            name.as_str(),
            &format!("revision {}", revision.number),
        )?;
        let app = apps::table.find(app_id).select(App::as_select()).first(conn)?;
        Ok(Deployed { created: true, app, revision })
    })
}

/// Adds the next revision of the app and makes it the one that should run (the app is
/// brought back if it was deleted).
fn add_revision(
    conn: &mut DbConnection,
    app_id: i64,
    actor: &Actor,
    deployment_id: &str,
    config: &AppConfig,
    rollback_of: Option<i32>,
) -> Result<Revision, AppError> {
    let last: Option<i32> = app_revisions::table
        .filter(app_revisions::app_id.eq(app_id))
        .select(diesel::dsl::max(app_revisions::number))
        .first(conn)?;
    let number = last.unwrap_or(0) + 1;
    let now = now_ms();
    let id = new_id();
    let by = (actor.id != Actor::NOT_A_USER).then_some(actor.id);
    diesel::insert_into(app_revisions::table)
        .values((
            app_revisions::id.eq(id),
            app_revisions::app_id.eq(app_id),
            app_revisions::number.eq(number),
            app_revisions::deployment_id.eq(deployment_id),
            app_revisions::image.eq(&config.image),
            app_revisions::command.eq(&config.command),
            app_revisions::machine_type.eq(&config.machine_type),
            app_revisions::min_instances.eq(config.min_instances),
            app_revisions::max_instances.eq(config.max_instances),
            app_revisions::env.eq(config.env.join(" ")),
            app_revisions::public.eq(config.public),
            app_revisions::rollback_of.eq(rollback_of),
            app_revisions::deployed_by.eq(by),
            app_revisions::deployed_by_name.eq(&actor.name),
            app_revisions::created_at.eq(now),
            app_revisions::status.eq(AppStatus::Queued),
            app_revisions::status_message.eq(""),
            app_revisions::instances.eq(0),
            app_revisions::status_at.eq(now),
        ))
        .execute(conn)?;
    let seq = next_change(conn)?;
    diesel::update(apps::table.find(app_id))
        .set((
            apps::deleted_at.eq(None::<i64>),
            apps::current_revision.eq(number),
            apps::change_seq.eq(seq),
            apps::status.eq(AppStatus::Queued),
            apps::status_message.eq(""),
            apps::status_at.eq(now),
        ))
        .execute(conn)?;
    Ok(app_revisions::table.find(id).select(Revision::as_select()).first(conn)?)
}

/// The next number of the runtime's cursor. The counter's row stays locked until the
/// transaction ends (PostgreSQL; SQLite's writers are one at a time anyway), so a number is
/// never visible before a smaller one.
pub(crate) fn next_change(conn: &mut DbConnection) -> QueryResult<i64> {
    use app_change_counter::dsl::{app_change_counter as counter, last};
    diesel::update(counter.find(1)).set(last.eq(last + 1)).execute(conn)?;
    counter.find(1).select(last).first(conn)
}

/// The app `name` of the team, deleted or not.
fn find_any(conn: &mut DbConnection, account_id: i64, name: &str) -> QueryResult<Option<App>> {
    apps::table
        .filter(apps::account_id.eq(account_id))
        .filter(apps::name.eq(name))
        .select(App::as_select())
        .first(conn)
        .optional()
}

/// The team's apps (not deleted) with the revision that should run, by name.
pub fn list(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<AppListing>> {
    listings(conn, account_id, None)
}

/// One of the team's apps (not deleted), with the revision that should run.
pub fn find(conn: &mut DbConnection, account_id: i64, name: &str) -> QueryResult<Option<AppListing>> {
    Ok(listings(conn, account_id, Some(name))?.pop())
}

fn listings(conn: &mut DbConnection, account_id: i64, only: Option<&str>) -> QueryResult<Vec<AppListing>> {
    let mut query = apps::table
        .inner_join(
            app_revisions::table
                .on(app_revisions::app_id.eq(apps::id).and(app_revisions::number.eq(apps::current_revision))),
        )
        .filter(apps::account_id.eq(account_id))
        .filter(apps::deleted_at.is_null())
        .order(apps::name.asc())
        .select((App::as_select(), Revision::as_select()))
        .into_boxed();
    if let Some(name) = only {
        query = query.filter(apps::name.eq(name));
    }
    let rows: Vec<(App, Revision)> = query.load(conn)?;
    Ok(rows.into_iter().map(|(app, revision)| AppListing { app, revision }).collect())
}

/// The app's revisions, newest first.
pub fn revisions(conn: &mut DbConnection, app_id: i64) -> QueryResult<Vec<Revision>> {
    app_revisions::table
        .filter(app_revisions::app_id.eq(app_id))
        .order(app_revisions::number.desc())
        .select(Revision::as_select())
        .load(conn)
}

/// Deploys again the configuration of revision `to` as a new revision (which records it as
/// a rollback).
pub fn rollback(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    name: &str,
    to: i32,
) -> Result<Deployed, AppError> {
    write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(AppError::Archived);
        }
        let app = find_any(conn, account_id, name)?.filter(|a| a.deleted_at.is_none()).ok_or(AppError::NotFound)?;
        let old = app_revisions::table
            .filter(app_revisions::app_id.eq(app.id))
            .filter(app_revisions::number.eq(to))
            .select(Revision::as_select())
            .first(conn)
            .optional()?
            .ok_or(AppError::NoSuchRevision)?;
        let deployment_id = format!("rollback-{:016x}", new_id());
        let revision = add_revision(conn, app.id, actor, &deployment_id, &old.config(), Some(to))?;
        let detail = format!("revision {} (the configuration of revision {to})", revision.number);
        audit::record(conn, account_id, actor, Action::AppRolledBack, name, &detail)?;
        let app = apps::table.find(app.id).select(App::as_select()).first(conn)?;
        Ok(Deployed { created: true, app, revision })
    })
}

/// Deletes the app: the runtime is told to remove it; its revisions stay for the record.
pub fn delete(conn: &mut DbConnection, account_id: i64, actor: &Actor, name: &str) -> Result<(), AppError> {
    write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(AppError::Archived);
        }
        let app = find_any(conn, account_id, name)?.filter(|a| a.deleted_at.is_none()).ok_or(AppError::NotFound)?;
        let seq = next_change(conn)?;
        diesel::update(apps::table.find(app.id))
            .set((apps::deleted_at.eq(Some(now_ms())), apps::change_seq.eq(seq)))
            .execute(conn)?;
        audit::record(conn, account_id, actor, Action::AppDeleted, name, "")?;
        Ok(())
    })
}

/// Tells the runtime to stop every app of a team being archived (inside the archiving
/// transaction, which holds the team's row).
pub fn stop_all(conn: &mut DbConnection, account_id: i64) -> QueryResult<usize> {
    let ids: Vec<i64> = apps::table
        .filter(apps::account_id.eq(account_id))
        .filter(apps::deleted_at.is_null())
        .select(apps::id)
        .load(conn)?;
    for id in &ids {
        let seq = next_change(conn)?;
        diesel::update(apps::table.find(id)).set(apps::change_seq.eq(seq)).execute(conn)?;
    }
    Ok(ids.len())
}
