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

use super::accounts::Account;
use super::audit::{self, Action, Actor};
use super::outbox;
use crate::db::schema::{
    accounts, billing_profiles, invoice_lines, invoice_numbers, invoices, ledger_entries, memberships, spend_alerts,
    usage_events, users, webhook_events,
};
use crate::db::{DbConnection, is_unique_violation, write_transaction};
use crate::domain::money::{self, Month};
use crate::domain::{InvoiceKind, InvoiceStatus, LedgerKind, Role, new_id, now_ms};
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

/// Days a credit invoice gives for the transfer.
const PAYMENT_TERMS_DAYS: i64 = 14;
pub const ALERT_THRESHOLDS: [i32; 2] = [80, 100];

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
    if super::accounts::lock_for_change(conn, account_id)?.0 { Err(BillingError::Archived) } else { Ok(()) }
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

/// Sets (or with `None` removes) the monthly spend limit.
pub fn set_limit(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    limit: Option<i64>,
) -> Result<(), BillingError> {
    write_transaction(conn, |conn| {
        ensure_writable(conn, account.id)?;
        let mut p = profile(conn, account.id)?;
        let old = p.monthly_limit;
        p.monthly_limit = limit;
        store_profile(conn, account.id, &p)?;
        // A hard limit raised (or removed) lifts the team's flag; one lowered under this
        // month's spend sets it.
        let hard = p.hard_limit;
        let month = Month::of_ms(now_ms());
        let spent = super::usage::total(conn, account.id, month.start_ms(), month.end_ms())?;
        let blocked = hard && limit.is_some_and(|l| spent >= l);
        diesel::update(accounts::table.find(account.id))
            .set(accounts::spend_blocked_until.eq(blocked.then_some(month.end_ms())))
            .execute(conn)?;
        let show = |l: Option<i64>| l.map(money::usd).unwrap_or_else(|| "none".into());
        audit::record(
            conn,
            account.id,
            actor,
            Action::SpendLimitChanged,
            &account.name,
            &format!("{} → {}", show(old), show(limit)),
        )?;
        Ok(())
    })
}

/// Makes the monthly limit hard (every key and login token of the team is refused at
/// introspection once this month's spend reaches it) or warning-only (the default). The
/// team's flag is re-read at once: set when the month's spend is already over a hard limit,
/// cleared otherwise.
pub fn set_hard_limit(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    hard: bool,
) -> Result<super::Committed<()>, BillingError> {
    write_transaction(conn, |conn| {
        ensure_writable(conn, account.id)?;
        let p = profile(conn, account.id)?;
        store_profile(conn, account.id, &p)?;
        diesel::update(billing_profiles::table.find(account.id))
            .set(billing_profiles::hard_limit.eq(hard))
            .execute(conn)?;
        let month = Month::of_ms(now_ms());
        let blocked = hard
            && p.monthly_limit.is_some_and(|limit| {
                super::usage::total(conn, account.id, month.start_ms(), month.end_ms()).is_ok_and(|s| s >= limit)
            });
        diesel::update(accounts::table.find(account.id))
            .set(accounts::spend_blocked_until.eq(blocked.then_some(month.end_ms())))
            .execute(conn)?;
        let mode = if hard { "hard: calls stop at the limit" } else { "warning only" };
        audit::record(conn, account.id, actor, Action::SpendLimitChanged, &account.name, mode)?;
        Ok::<_, BillingError>(())
    })?;
    Ok(super::Committed::new((), [super::Change::Account { account_id: account.id }]))
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

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invoices)]
pub struct Invoice {
    pub id: i64,
    pub account_id: i64,
    pub number: String,
    pub kind: InvoiceKind,
    pub status: InvoiceStatus,
    pub period: Option<String>,
    pub currency: String,
    pub total: i64,
    pub issuer: String,
    pub payee: String,
    pub customer_name: String,
    pub customer_email: String,
    pub customer_address: String,
    pub customer_tax_id: String,
    pub issued_at: i64,
    pub due_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub paid_by: Option<String>,
}

impl Invoice {
    /// "Usage, October 2026" or "Prepaid credits".
    pub fn title(&self) -> String {
        match self.period.as_deref().and_then(|p| p.parse::<Month>().ok()) {
            Some(month) => format!("Usage, {}", month.label()),
            None => "Prepaid credits".into(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invoice_lines)]
pub struct Line {
    pub position: i32,
    pub description: String,
    pub quantity: i64,
    pub unit: String,
    pub unit_price: i64,
    pub amount: i64,
}

/// The team's invoices, newest first.
pub fn invoices(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<Invoice>> {
    invoices::table
        .filter(invoices::account_id.eq(account_id))
        .order((invoices::issued_at.desc(), invoices::number.desc()))
        .select(Invoice::as_select())
        .load(conn)
}

/// One of the team's invoices with its lines (another team's id is `None`).
pub fn invoice(conn: &mut DbConnection, account_id: i64, id: i64) -> QueryResult<Option<(Invoice, Vec<Line>)>> {
    let Some(invoice) = invoices::table
        .filter(invoices::id.eq(id))
        .filter(invoices::account_id.eq(account_id))
        .select(Invoice::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let lines = invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(invoice.id))
        .order(invoice_lines::position)
        .select(Line::as_select())
        .load(conn)?;
    Ok(Some((invoice, lines)))
}

/// The next number of `year`, inside the caller's transaction: a rolled-back invoice gives
/// its number back, so the numbers have no gaps.
fn next_number(conn: &mut DbConnection, year: i32) -> QueryResult<String> {
    // One statement, so two first invoices of a year on PostgreSQL cannot both insert.
    diesel::sql_query(format!(
        "INSERT INTO invoice_numbers (year, last) VALUES ({year}, 1) \
         ON CONFLICT (year) DO UPDATE SET last = invoice_numbers.last + 1"
    ))
    .execute(conn)?;
    let last: i64 = invoice_numbers::table.find(year).select(invoice_numbers::last).first(conn)?;
    Ok(format!("TD-{year}-{last:06}"))
}

struct NewInvoice<'a> {
    account: &'a Account,
    kind: InvoiceKind,
    status: InvoiceStatus,
    period: Option<String>,
    lines: Vec<Line>,
    issuer: &'a Issuer,
    issued_at: i64,
    due_at: Option<i64>,
    paid_at: Option<i64>,
    paid_by: Option<&'a str>,
    created_by: Option<i64>,
}

/// Writes an invoice and its lines with the customer details of now; returns (id, number).
fn issue(conn: &mut DbConnection, new: NewInvoice<'_>) -> QueryResult<(i64, String)> {
    let p = profile(conn, new.account.id)?;
    let year = Month::of_ms(new.issued_at).year;
    let number = next_number(conn, year)?;
    let id = new_id();
    let total = crate::domain::money::sum(new.lines.iter().map(|l| l.amount));
    diesel::insert_into(invoices::table)
        .values((
            invoices::id.eq(id),
            invoices::account_id.eq(new.account.id),
            invoices::number.eq(&number),
            invoices::kind.eq(new.kind),
            invoices::status.eq(new.status),
            invoices::period.eq(&new.period),
            invoices::currency.eq("USD"),
            invoices::total.eq(total),
            invoices::issuer.eq(new.issuer.printed()),
            invoices::payee.eq(&new.issuer.payee),
            invoices::customer_name.eq(if p.legal_name.is_empty() { &new.account.name } else { &p.legal_name }),
            invoices::customer_email.eq(&p.billing_email),
            invoices::customer_address.eq(&p.address),
            invoices::customer_tax_id.eq(&p.tax_id),
            invoices::issued_at.eq(new.issued_at),
            invoices::due_at.eq(new.due_at),
            invoices::paid_at.eq(new.paid_at),
            invoices::paid_by.eq(new.paid_by),
            invoices::created_by.eq(new.created_by),
        ))
        .execute(conn)?;
    for line in &new.lines {
        diesel::insert_into(invoice_lines::table)
            .values((
                invoice_lines::id.eq(new_id()),
                invoice_lines::invoice_id.eq(id),
                invoice_lines::position.eq(line.position),
                invoice_lines::description.eq(&line.description),
                invoice_lines::quantity.eq(line.quantity),
                invoice_lines::unit.eq(&line.unit),
                invoice_lines::unit_price.eq(line.unit_price),
                invoice_lines::amount.eq(line.amount),
            ))
            .execute(conn)?;
    }
    Ok((id, number))
}

/// Orders `amount` micro-dollars of credits: an open invoice to pay by bank transfer.
pub fn buy_credits(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    amount: i64,
    issuer: &Issuer,
) -> Result<(i64, String), BillingError> {
    write_transaction(conn, |conn| {
        ensure_writable(conn, account.id)?;
        let now = now_ms();
        let line = Line {
            position: 1,
            description: "Prepaid credits".into(),
            quantity: 1,
            unit: "purchase".into(),
            unit_price: amount,
            amount,
        };
        let (id, number) = issue(
            conn,
            NewInvoice {
                account,
                kind: InvoiceKind::Credits,
                status: InvoiceStatus::Open,
                period: None,
                lines: vec![line],
                issuer,
                issued_at: now,
                due_at: Some(now + PAYMENT_TERMS_DAYS * 24 * 3600 * 1000),
                paid_at: None,
                paid_by: None,
                created_by: (actor.id != Actor::NOT_A_USER).then_some(actor.id),
            },
        )?;
        audit::record(conn, account.id, actor, Action::CreditsOrdered, &number, &money::usd(amount))?;
        Ok((id, number))
    })
}

/// Cancels an open credit invoice the team no longer means to pay.
pub fn void(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    invoice_id: i64,
) -> Result<String, BillingError> {
    write_transaction(conn, |conn| {
        let (invoice, _) = invoice(conn, account.id, invoice_id)?.ok_or(BillingError::NotFound)?;
        if invoice.kind != InvoiceKind::Credits || invoice.status != InvoiceStatus::Open {
            return Err(BillingError::NotCancellable);
        }
        let n = diesel::update(invoices::table.find(invoice.id).filter(invoices::status.eq(InvoiceStatus::Open)))
            .set((invoices::status.eq(InvoiceStatus::Void), invoices::voided_at.eq(now_ms())))
            .execute(conn)?;
        if n != 1 {
            return Err(BillingError::NotCancellable);
        }
        audit::record(conn, account.id, actor, Action::InvoiceVoided, &invoice.number, &money::usd(invoice.total))?;
        Ok(invoice.number)
    })
}

/// What marking an invoice paid did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub number: String,
    pub account_id: i64,
    /// Credits added to the balance (0 for a usage invoice).
    pub credited: i64,
}

/// Marks an open invoice paid, in the caller's transaction; a credit invoice adds its credits.
/// `amount`, when the payer says how much arrived, must match the total.
fn settle(conn: &mut DbConnection, number: &str, amount: Option<i64>, paid_by: &str) -> Result<Paid, BillingError> {
    let invoice: Invoice = invoices::table
        .filter(invoices::number.eq(number.trim()))
        .select(Invoice::as_select())
        .first(conn)
        .optional()?
        .ok_or(BillingError::NotFound)?;
    match invoice.status {
        InvoiceStatus::Paid => return Err(BillingError::AlreadyPaid(invoice.number)),
        InvoiceStatus::Void => return Err(BillingError::Void(invoice.number)),
        InvoiceStatus::Open => {}
    }
    if let Some(paid) = amount
        && paid != invoice.total
    {
        return Err(BillingError::WrongAmount {
            number: invoice.number,
            paid: money::usd(paid),
            due: money::usd(invoice.total),
        });
    }
    let now = now_ms();
    let n = diesel::update(invoices::table.find(invoice.id).filter(invoices::status.eq(InvoiceStatus::Open)))
        .set((invoices::status.eq(InvoiceStatus::Paid), invoices::paid_at.eq(now), invoices::paid_by.eq(paid_by)))
        .execute(conn)?;
    if n != 1 {
        return Err(BillingError::AlreadyPaid(invoice.number));
    }
    let credited = if invoice.kind == InvoiceKind::Credits { invoice.total } else { 0 };
    if credited > 0 {
        diesel::insert_into(ledger_entries::table)
            .values((
                ledger_entries::id.eq(new_id()),
                ledger_entries::account_id.eq(invoice.account_id),
                ledger_entries::kind.eq(LedgerKind::Purchase),
                ledger_entries::amount.eq(credited),
                ledger_entries::description.eq(format!("Credits bought with invoice {}", invoice.number)),
                ledger_entries::invoice_id.eq(invoice.id),
                ledger_entries::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    let actor = Actor { id: Actor::NOT_A_USER, name: paid_by.to_owned() };
    audit::record(conn, invoice.account_id, &actor, Action::InvoicePaid, &invoice.number, &money::usd(invoice.total))?;
    Ok(Paid { number: invoice.number, account_id: invoice.account_id, credited })
}

/// An operator records a bank transfer (`teamdeck billing mark-paid`).
pub fn mark_paid(conn: &mut DbConnection, number: &str) -> Result<Paid, BillingError> {
    write_transaction(conn, |conn| settle(conn, number, None, "Operator (bank transfer)"))
}

/// A payment provider's event (signature already verified): processed once per event id.
pub fn webhook_paid(
    conn: &mut DbConnection,
    event_id: &str,
    number: &str,
    amount: Option<i64>,
) -> Result<Paid, BillingError> {
    let result = write_transaction(conn, |conn| {
        let seen = webhook_events::table.find(event_id).count().get_result::<i64>(conn)?;
        if seen > 0 {
            return Err(BillingError::Replayed);
        }
        diesel::insert_into(webhook_events::table)
            .values((webhook_events::id.eq(event_id), webhook_events::received_at.eq(now_ms())))
            .execute(conn)?;
        settle(conn, number, amount, &format!("Payment provider (event {event_id})"))
    });
    match result {
        Err(BillingError::Db(e)) if is_unique_violation(&e) => Err(BillingError::Replayed),
        other => other,
    }
}

/// Issues the usage invoice of `month` for every team that used something then and has none
/// yet. Safe to run again, and on several instances at once: returns the numbers it issued.
pub fn close_month(conn: &mut DbConnection, month: Month, issuer: &Issuer) -> QueryResult<Vec<String>> {
    let period = month.to_string();
    let with_usage: Vec<i64> = usage_events::table
        .filter(usage_events::at.ge(month.start_ms()))
        .filter(usage_events::at.lt(month.end_ms()))
        .select(usage_events::account_id)
        .distinct()
        .load(conn)?;
    let invoiced: Vec<i64> =
        invoices::table.filter(invoices::period.eq(&period)).select(invoices::account_id).load(conn)?;
    let mut issued = Vec::new();
    for account_id in with_usage.into_iter().filter(|a| !invoiced.contains(a)) {
        let result = write_transaction(conn, |conn| {
            // PostgreSQL: a batch of usage being recorded for the account finishes first, or
            // waits and then refuses the closed month (see `usage::ingest`).
            if let DbConnection::Postgres(pg) = conn {
                accounts::table.find(account_id).select(accounts::id).for_update().first::<i64>(pg)?;
            }
            let exists = invoices::table
                .filter(invoices::account_id.eq(account_id))
                .filter(invoices::period.eq(&period))
                .count()
                .get_result::<i64>(conn)?;
            if exists > 0 {
                return Ok(None);
            }
            let account: Account = accounts::table.find(account_id).select(Account::as_select()).first(conn)?;
            let rows: Vec<(String, String, i64, i64, i64)> = usage_events::table
                .filter(usage_events::account_id.eq(account_id))
                .filter(usage_events::at.ge(month.start_ms()))
                .filter(usage_events::at.lt(month.end_ms()))
                .group_by((usage_events::product, usage_events::unit, usage_events::unit_price))
                .select((
                    usage_events::product,
                    usage_events::unit,
                    usage_events::unit_price,
                    sql::<BigInt>("CAST(SUM(quantity) AS BIGINT)"),
                    sql::<BigInt>("CAST(SUM(amount) AS BIGINT)"),
                ))
                .order((usage_events::product, usage_events::unit, usage_events::unit_price))
                .load(conn)?;
            let lines = rows
                .into_iter()
                .enumerate()
                .map(|(i, (product, unit, unit_price, quantity, amount))| Line {
                    position: i as i32 + 1,
                    description: product,
                    quantity,
                    unit,
                    unit_price,
                    amount: money::round_to_cents(amount),
                })
                .collect();
            let now = now_ms();
            let (_, number) = issue(
                conn,
                NewInvoice {
                    account: &account,
                    kind: InvoiceKind::Usage,
                    status: InvoiceStatus::Paid,
                    period: Some(period.clone()),
                    lines,
                    issuer,
                    issued_at: now,
                    due_at: None,
                    paid_at: Some(now),
                    paid_by: Some("Prepaid credits"),
                    created_by: None,
                },
            )?;
            Ok(Some(number))
        });
        match result {
            Ok(Some(number)) => issued.push(number),
            Ok(None) => {}
            // Another instance issued it first.
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(issued)
}

/// Closes every month that ended at least `grace_ms` ago, back to `months_back` months: the
/// background job's pass (the grace lets gateways report the last calls of a month). Returns
/// the invoice numbers issued.
pub fn close_due_months(
    conn: &mut DbConnection,
    now: i64,
    months_back: u32,
    grace_ms: i64,
    issuer: &Issuer,
) -> QueryResult<Vec<String>> {
    let mut month = Month::of_ms(now);
    let mut issued = Vec::new();
    for _ in 0..months_back {
        month = month.previous();
        if now >= month.end_ms() + grace_ms {
            issued.extend(close_month(conn, month, issuer)?);
        }
    }
    Ok(issued)
}

/// After usage was recorded for `account_ids`: queues one email per threshold (80 %, 100 %
/// of the monthly limit) the month's spend crossed, to admins, billing members and the
/// billing email. Returns how many teams got an alert.
pub fn queue_spend_alerts(
    conn: &mut DbConnection,
    account_ids: &[i64],
    now: i64,
    base_url: &str,
) -> QueryResult<usize> {
    let limits: Vec<(i64, i64)> = billing_profiles::table
        .filter(billing_profiles::account_id.eq_any(account_ids))
        .filter(billing_profiles::monthly_limit.is_not_null())
        .select((billing_profiles::account_id, billing_profiles::monthly_limit.assume_not_null()))
        .load(conn)?;
    let month = Month::of_ms(now);
    let mut alerted = 0;
    for (account_id, limit) in limits {
        if limit <= 0 {
            continue;
        }
        let spent = super::usage::total(conn, account_id, month.start_ms(), month.end_ms())?;
        let Some(&threshold) =
            ALERT_THRESHOLDS.iter().rev().find(|&&t| i128::from(spent) * 100 >= i128::from(limit) * i128::from(t))
        else {
            continue;
        };
        let already: i64 = spend_alerts::table
            .filter(spend_alerts::account_id.eq(account_id))
            .filter(spend_alerts::period.eq(month.to_string()))
            .filter(spend_alerts::threshold.ge(threshold))
            .count()
            .get_result(conn)?;
        if already > 0 {
            continue;
        }
        for t in ALERT_THRESHOLDS.iter().filter(|&&t| t <= threshold) {
            let exists: i64 = spend_alerts::table.find((account_id, month.to_string(), *t)).count().get_result(conn)?;
            if exists == 0 {
                diesel::insert_into(spend_alerts::table)
                    .values((
                        spend_alerts::account_id.eq(account_id),
                        spend_alerts::period.eq(month.to_string()),
                        spend_alerts::threshold.eq(*t),
                        spend_alerts::sent_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        let account: Account = accounts::table.find(account_id).select(Account::as_select()).first(conn)?;
        let billing_email = profile(conn, account_id)?.billing_email;
        let mut to: Vec<String> = memberships::table
            .inner_join(users::table)
            .filter(memberships::account_id.eq(account_id))
            .filter(memberships::role.eq_any([Role::Admin, Role::Billing]))
            .select(users::email)
            .load(conn)?;
        if !billing_email.is_empty() && !to.iter().any(|e| e.eq_ignore_ascii_case(&billing_email)) {
            to.push(billing_email);
        }
        let composed = super::emails::spend_alert(&super::emails::SpendAlertEmail {
            team: &account.name,
            personal: account.is_personal(),
            percent: threshold,
            spent: &money::usd(spent),
            limit: &money::usd(limit),
            month: &month.label(),
            link: &format!("{base_url}/a/{}/usage", account.slug),
        })
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        outbox::enqueue_to_each(conn, to, &composed)?;
        alerted += 1;
    }
    Ok(alerted)
}
