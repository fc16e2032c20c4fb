//! Invoices: credit purchases payable by transfer, monthly usage invoices, settlement (operator
//! or payment webhook, at most once) and cancellation. Numbers have no gaps: each is taken in
//! the transaction that writes its invoice.

use super::{BillingError, Issuer, ensure_writable, profile};
use crate::db::schema::{
    accounts, invoice_lines, invoice_numbers, invoices, ledger_entries, usage_events, webhook_events,
};
use crate::db::{DbConnection, is_unique_violation, write_transaction};
use crate::domain::money::{self, Month};
use crate::domain::{InvoiceKind, InvoiceStatus, LedgerKind, new_id, now_ms};
use crate::service::accounts::Account;
use crate::service::audit::{self, Action, Actor};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// Days a credit invoice gives for the transfer.
const PAYMENT_TERMS_DAYS: i64 = 14;

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
