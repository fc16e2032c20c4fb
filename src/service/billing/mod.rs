//! Credits, invoices, billing details and spend alerts.
//!
//! - The balance is the sum of an append-only ledger: purchases (+), usage debits (−, written
//!   by `usage::ingest` with the events), adjustments.
//! - Buying credits issues an open invoice payable by bank transfer; the credits are added in
//!   the transaction that marks it paid (operator command or payment webhook), at most once.
//! - A closed month gets one usage invoice per team (a unique index on (team, period)), each
//!   written with its lines and its number in one transaction: numbers have no gaps, and a
//!   restart leaves no half invoice.
//! - An invoice keeps the issuer and customer details it was issued with.
//!
//! `invoices` issues, settles and cancels invoices; `limits` holds the monthly spend limit
//! (warning-only or hard) and its alerts.

mod invoices;
mod limits;

pub use invoices::*;
pub use limits::*;

use super::accounts::Account;
use super::audit::{self, Action, Actor};
use crate::db::schema::{billing_profiles, ledger_entries};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{LedgerKind, now_ms};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// Who issues invoices and where transfers go: from the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct Issuer {
    pub name: String,
    pub address: String,
    pub tax_id: String,
    /// Bank transfer details printed on credit invoices.
    pub payee: String,
}

impl Issuer {
    /// The issuer block as printed on an invoice.
    fn printed(&self) -> String {
        let mut lines = vec![self.name.clone()];
        lines.extend(self.address.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned));
        if !self.tax_id.trim().is_empty() {
            lines.push(format!("Tax ID: {}", self.tax_id.trim()));
        }
        lines.join("\n")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("This team is archived and read-only.")]
    Archived,
    #[error("There is no such invoice.")]
    NotFound,
    #[error("Invoice {0} is already paid.")]
    AlreadyPaid(String),
    #[error("Invoice {0} was cancelled; it cannot be paid.")]
    Void(String),
    #[error("Only an open credit invoice can be cancelled.")]
    NotCancellable,
    #[error("The payment of {paid} does not match invoice {number}, which is for {due}.")]
    WrongAmount { number: String, paid: String, due: String },
    #[error("This webhook event was already processed.")]
    Replayed,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Billing details as the team entered them (empty strings until then).
#[derive(Debug, Clone, Default, Queryable, Selectable)]
#[diesel(table_name = billing_profiles)]
pub struct Profile {
    pub billing_email: String,
    pub legal_name: String,
    pub address: String,
    pub tax_id: String,
    pub monthly_limit: Option<i64>,
    /// Calls stop at the limit (at introspection) instead of only warning.
    pub hard_limit: bool,
}

pub fn profile(conn: &mut DbConnection, account_id: i64) -> QueryResult<Profile> {
    Ok(billing_profiles::table
        .find(account_id)
        .select(Profile::as_select())
        .first(conn)
        .optional()?
        .unwrap_or_default())
}

/// Writes the profile row: an update, or the first insert (under the write lock).
fn store_profile(conn: &mut DbConnection, account_id: i64, p: &Profile) -> QueryResult<()> {
    let now = now_ms();
    let updated = diesel::update(billing_profiles::table.find(account_id))
        .set((
            billing_profiles::billing_email.eq(&p.billing_email),
            billing_profiles::legal_name.eq(&p.legal_name),
            billing_profiles::address.eq(&p.address),
            billing_profiles::tax_id.eq(&p.tax_id),
            billing_profiles::monthly_limit.eq(p.monthly_limit),
            billing_profiles::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(billing_profiles::table)
            .values((
                billing_profiles::account_id.eq(account_id),
                billing_profiles::billing_email.eq(&p.billing_email),
                billing_profiles::legal_name.eq(&p.legal_name),
                billing_profiles::address.eq(&p.address),
                billing_profiles::tax_id.eq(&p.tax_id),
                billing_profiles::monthly_limit.eq(p.monthly_limit),
                billing_profiles::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn ensure_writable(conn: &mut DbConnection, account_id: i64) -> Result<(), BillingError> {
    if crate::service::accounts::lock_for_change(conn, account_id)?.0 { Err(BillingError::Archived) } else { Ok(()) }
}

/// New billing details, used on invoices issued from now on.
pub struct Details {
    pub billing_email: String,
    pub legal_name: String,
    pub address: String,
    pub tax_id: String,
}

pub fn save_details(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    d: &Details,
) -> Result<(), BillingError> {
    write_transaction(conn, |conn| {
        ensure_writable(conn, account.id)?;
        let mut p = profile(conn, account.id)?;
        p.billing_email = d.billing_email.clone();
        p.legal_name = d.legal_name.clone();
        p.address = d.address.clone();
        p.tax_id = d.tax_id.clone();
        store_profile(conn, account.id, &p)?;
        let shown = if p.legal_name.is_empty() { account.name.clone() } else { p.legal_name.clone() };
        audit::record(conn, account.id, actor, Action::BillingDetailsChanged, &shown, &p.billing_email)?;
        Ok(())
    })
}

/// The credit balance: the sum of the ledger.
pub fn balance(conn: &mut DbConnection, account_id: i64) -> QueryResult<i64> {
    ledger_entries::table
        .filter(ledger_entries::account_id.eq(account_id))
        .select(sql::<BigInt>("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"))
        .first(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: i64,
    pub kind: LedgerKind,
    pub amount: i64,
    pub description: String,
    pub invoice_id: Option<i64>,
    pub created_at: i64,
}

/// The latest `limit` ledger entries, newest first.
pub fn ledger(conn: &mut DbConnection, account_id: i64, limit: i64) -> QueryResult<Vec<LedgerEntry>> {
    ledger_entries::table
        .filter(ledger_entries::account_id.eq(account_id))
        .order((ledger_entries::created_at.desc(), ledger_entries::id.desc()))
        .limit(limit)
        .select(LedgerEntry::as_select())
        .load(conn)
}
