//! The audit log: append-only records of who did what in an account. Written inside the
//! transaction of the change it records; never holds a secret (no tokens, no keys).

use crate::db::DbConnection;
use crate::db::schema::audit_events;
use crate::domain::stored::stored_as_text;
use crate::domain::{new_id, now_ms};
use diesel::prelude::*;

/// Who did it, as recorded (the name is kept even if the user is later deleted).
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user, or [`Actor::NOT_A_USER`] for a team key acting through the API.
    pub id: i64,
    pub name: String,
}

impl Actor {
    pub const NOT_A_USER: i64 = 0;

    /// A team key acting through the API.
    pub fn team_key(name: &str) -> Self {
        Self { id: Self::NOT_A_USER, name: format!("team key {name}") }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Action {
    InviteSent,
    InviteResent,
    InviteCancelled,
    InviteAccepted,
    InviteDeclined,
    RoleChanged,
    MemberRemoved,
    MemberLeft,
    TeamRenamed,
    TeamArchived,
    KeyCreated,
    KeyDeleted,
    KeyRotated,
    KeyChanged,
    SecretAdded,
    SecretReplaced,
    SecretDeleted,
    AppDeployed,
    AppRolledBack,
    AppDeleted,
    BillingDetailsChanged,
    SpendLimitChanged,
    CreditsOrdered,
    InvoicePaid,
    InvoiceVoided,
}

impl Action {
    pub const ALL: [Action; 25] = [
        Action::InviteSent,
        Action::InviteResent,
        Action::InviteCancelled,
        Action::InviteAccepted,
        Action::InviteDeclined,
        Action::RoleChanged,
        Action::MemberRemoved,
        Action::MemberLeft,
        Action::TeamRenamed,
        Action::TeamArchived,
        Action::KeyCreated,
        Action::KeyDeleted,
        Action::KeyRotated,
        Action::KeyChanged,
        Action::SecretAdded,
        Action::SecretReplaced,
        Action::SecretDeleted,
        Action::AppDeployed,
        Action::AppRolledBack,
        Action::AppDeleted,
        Action::BillingDetailsChanged,
        Action::SpendLimitChanged,
        Action::CreditsOrdered,
        Action::InvoicePaid,
        Action::InvoiceVoided,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::InviteSent => "invite.sent",
            Action::InviteResent => "invite.resent",
            Action::InviteCancelled => "invite.cancelled",
            Action::InviteAccepted => "invite.accepted",
            Action::InviteDeclined => "invite.declined",
            Action::RoleChanged => "member.role_changed",
            Action::MemberRemoved => "member.removed",
            Action::MemberLeft => "member.left",
            Action::TeamRenamed => "team.renamed",
            Action::TeamArchived => "team.archived",
            Action::KeyCreated => "key.created",
            Action::KeyDeleted => "key.deleted",
            Action::KeyRotated => "key.rotated",
            Action::KeyChanged => "key.changed",
            Action::SecretAdded => "secret.added",
            Action::SecretReplaced => "secret.replaced",
            Action::SecretDeleted => "secret.deleted",
            Action::AppDeployed => "app.deployed",
            Action::AppRolledBack => "app.rolled_back",
            Action::AppDeleted => "app.deleted",
            Action::BillingDetailsChanged => "billing.details_changed",
            Action::SpendLimitChanged => "billing.limit_changed",
            Action::CreditsOrdered => "billing.credits_ordered",
            Action::InvoicePaid => "billing.invoice_paid",
            Action::InvoiceVoided => "billing.invoice_voided",
        }
    }

    /// In words, for the audit page.
    pub fn describe(self) -> &'static str {
        match self {
            Action::InviteSent => "sent an invite to",
            Action::InviteResent => "resent the invite to",
            Action::InviteCancelled => "cancelled the invite to",
            Action::InviteAccepted => "accepted the invite for",
            Action::InviteDeclined => "declined the invite for",
            Action::RoleChanged => "changed the role of",
            Action::MemberRemoved => "removed",
            Action::MemberLeft => "left the team:",
            Action::TeamRenamed => "renamed the team:",
            Action::TeamArchived => "archived the team",
            Action::KeyCreated => "created the API key",
            Action::KeyDeleted => "deleted the API key",
            Action::KeyRotated => "rotated the API key",
            Action::KeyChanged => "changed the limits of the API key",
            Action::SecretAdded => "added the secret",
            Action::SecretReplaced => "replaced the value of the secret",
            Action::SecretDeleted => "deleted the secret",
            Action::AppDeployed => "deployed the app",
            Action::AppRolledBack => "rolled back the app",
            Action::AppDeleted => "deleted the app",
            Action::BillingDetailsChanged => "changed the billing details:",
            Action::SpendLimitChanged => "changed the monthly spend limit:",
            Action::CreditsOrdered => "ordered credits with invoice",
            Action::InvoicePaid => "recorded the payment of invoice",
            Action::InvoiceVoided => "cancelled invoice",
        }
    }
}

stored_as_text!(Action, "audit action");

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewEvent<'a> {
    id: i64,
    account_id: i64,
    actor_id: Option<i64>,
    actor_name: &'a str,
    action: Action,
    subject: &'a str,
    detail: &'a str,
    created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub actor_name: String,
    pub action: Action,
    pub subject: String,
    pub detail: String,
    pub created_at: i64,
}

pub fn record(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    action: Action,
    subject: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(&NewEvent {
            id: new_id(),
            account_id,
            actor_id: (actor.id != Actor::NOT_A_USER).then_some(actor.id),
            actor_name: &actor.name,
            action,
            subject,
            detail,
            created_at: now_ms(),
        })
        .execute(conn)?;
    Ok(())
}

/// Newest first; `before` is the (time, id) of the last event of the previous page.
pub fn page(
    conn: &mut DbConnection,
    account_id: i64,
    before: Option<(i64, i64)>,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .select(AuditEvent::as_select())
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = before {
        query = query
            .filter(audit_events::created_at.lt(at).or(audit_events::created_at.eq(at).and(audit_events::id.lt(id))));
    }
    query.load(conn)
}

/// Whose invitations to count: a team's, or one person's in every team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitesBy {
    Team(i64),
    Person(i64),
}

/// How many invitations (sent or resent) `by` made since `since`.
pub fn invites_since(conn: &mut DbConnection, by: InvitesBy, since: i64) -> QueryResult<i64> {
    let query = audit_events::table
        .filter(audit_events::created_at.ge(since))
        .filter(audit_events::action.eq_any([Action::InviteSent, Action::InviteResent]))
        .into_boxed();
    let query = match by {
        InvitesBy::Team(account_id) => query.filter(audit_events::account_id.eq(account_id)),
        InvitesBy::Person(user_id) => query.filter(audit_events::actor_id.eq(user_id)),
    };
    query.count().get_result(conn)
}

/// When the `n`-th oldest (from 0) of the invitations `by` made since `since` was made.
pub fn nth_invite_since(conn: &mut DbConnection, by: InvitesBy, since: i64, n: i64) -> QueryResult<Option<i64>> {
    let query = audit_events::table
        .filter(audit_events::created_at.ge(since))
        .filter(audit_events::action.eq_any([Action::InviteSent, Action::InviteResent]))
        .select(audit_events::created_at)
        .order(audit_events::created_at)
        .offset(n)
        .into_boxed();
    let query = match by {
        InvitesBy::Team(account_id) => query.filter(audit_events::account_id.eq(account_id)),
        InvitesBy::Person(user_id) => query.filter(audit_events::actor_id.eq(user_id)),
    };
    query.first(conn).optional()
}
