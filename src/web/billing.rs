//! The billing page (`/a/{slug}/billing`, admins and billing): credit balance and ledger,
//! buying credits (an invoice paid by bank transfer) and the monthly spend limit (in
//! [`credits`]), billing details (in [`details`]), and the invoices with their printable
//! pages and CSV (in [`invoice`]).
//!
//! Every form re-renders the whole page with 422 when what was typed is wrong, keeping the
//! typed values and saving nothing; an archived team's page is read-only.

mod credits;
mod details;
mod invoice;

pub use credits::{buy_credits, set_limit};
pub use details::save_details;
pub use invoice::{cancel_invoice, invoice, invoice_csv};

use super::error::AppError;
use super::extract::{Authorized, need};
use super::layout::Layout;
use super::render::page_with_status;
use crate::db::Db;
use crate::domain::When;
use crate::domain::money::{self, Month};
use crate::domain::{InvoiceStatus, Permission, now_ms};
use crate::http::Site;
use crate::service::billing::{self, BillingError, Invoice, LedgerEntry, Profile};
use crate::service::usage;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

const LEDGER_ROWS: i64 = 20;

/// A form field as the page shows it: its value and what is wrong with it.
#[derive(Default)]
pub struct Field {
    pub value: String,
    pub error: Option<String>,
}

impl Field {
    fn new(value: impl Into<String>) -> Self {
        Self { value: value.into(), error: None }
    }

    fn wrong(value: String, error: impl Into<String>) -> Self {
        Self { value, error: Some(error.into()) }
    }
}

/// The values of the page's forms: the stored ones, or what was just typed.
pub struct Forms {
    pub amount: Field,
    pub limit: Field,
    pub details: DetailFields,
}

#[derive(Default)]
pub struct DetailFields {
    pub billing_email: Field,
    pub legal_name: Field,
    pub address: Field,
    pub tax_id: Field,
}

pub struct LimitView {
    pub amount: String,
    pub percent: i64,
    /// `percent`, at most 100: the bar's value.
    pub meter: i64,
}

pub struct InvoiceRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub issued: Day,
    pub total: String,
    pub status: InvoiceStatus,
    pub status_label: &'static str,
}

pub struct LedgerRow {
    pub at: When,
    pub description: String,
    pub invoice_id: Option<i64>,
    pub amount: String,
    pub credit: bool,
}

/// A calendar day for invoices: the UTC date is the date on the document.
pub struct Day {
    pub iso: String,
    pub text: String,
}

impl Day {
    pub fn from_ms(ms: i64) -> Self {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Self {
            iso: t.format(time::macros::format_description!("[year]-[month]-[day]")).unwrap_or_default(),
            text: t
                .format(time::macros::format_description!("[day padding:none] [month repr:short] [year]"))
                .unwrap_or_default(),
        }
    }
}

/// "Open", "Paid", "Void": the words of an invoice's status pill.
pub fn status_label(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Open => "Open",
        InvoiceStatus::Paid => "Paid",
        InvoiceStatus::Void => "Void",
    }
}

#[derive(Template)]
#[template(path = "billing/page.html")]
struct BillingPage {
    layout: Layout,
    base: String,
    team: String,
    can_manage: bool,
    archived: bool,
    low_balance: bool,
    balance: String,
    month: String,
    spent: String,
    limit: Option<LimitView>,
    /// The monthly limit stops calls (at introspection) instead of only warning.
    hard_limit: bool,
    invoices: Vec<InvoiceRow>,
    ledger: Vec<LedgerRow>,
    forms: Forms,
    min_purchase: String,
    max_purchase: String,
}

/// What the page shows, read in one trip to the database.
struct Snapshot {
    balance: i64,
    month: Month,
    spent: i64,
    profile: Profile,
    invoices: Vec<Invoice>,
    ledger: Vec<LedgerEntry>,
}

async fn snapshot(db: &Db, account_id: i64) -> Result<Snapshot, AppError> {
    let month = Month::of_ms(now_ms());
    let snapshot = db
        .query(move |conn| {
            Ok(Snapshot {
                balance: billing::balance(conn, account_id)?,
                month,
                spent: usage::total(conn, account_id, month.start_ms(), month.end_ms())?,
                profile: billing::profile(conn, account_id)?,
                invoices: billing::invoices(conn, account_id)?,
                ledger: billing::ledger(conn, account_id, LEDGER_ROWS)?,
            })
        })
        .await?;
    Ok(snapshot)
}

/// Dollars as a form field shows them: "500" or "49.99".
fn dollars_input(micros: i64) -> String {
    let decimal = money::decimal(micros);
    decimal.strip_suffix(".00").map(str::to_owned).unwrap_or(decimal)
}

/// What was typed into one of the forms, with what is wrong with it.
enum Typed {
    Nothing,
    Amount(Field),
    Limit(Field),
    Details(DetailFields),
}

async fn render<P>(
    auth: &Authorized<P>,
    db: &Db,
    site: &Site,
    typed: Typed,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let s = snapshot(db, auth.account.id).await?;
    let archived = auth.account.is_archived();
    let mut forms = Forms {
        amount: Field::default(),
        limit: Field::new(s.profile.monthly_limit.map(dollars_input).unwrap_or_default()),
        details: DetailFields {
            billing_email: Field::new(s.profile.billing_email),
            legal_name: Field::new(s.profile.legal_name),
            address: Field::new(s.profile.address),
            tax_id: Field::new(s.profile.tax_id),
        },
    };
    match typed {
        Typed::Nothing => {}
        Typed::Amount(f) => forms.amount = f,
        Typed::Limit(f) => forms.limit = f,
        Typed::Details(d) => forms.details = d,
    }
    let limit = s.profile.monthly_limit.filter(|l| *l > 0).map(|l| {
        let percent = (i128::from(s.spent.max(0)) * 100 / i128::from(l)).min(i128::from(i64::MAX)) as i64;
        LimitView { amount: money::usd(l), percent, meter: percent.min(100) }
    });
    let page = BillingPage {
        layout: Layout::for_account(auth, "Billing", "/billing"),
        base: auth.base_path(),
        team: auth.account.name.clone(),
        can_manage: auth.role.allows(Permission::ManageBilling) && !archived,
        archived,
        low_balance: !archived && s.balance < site.low_balance,
        balance: money::usd(s.balance),
        month: s.month.label(),
        spent: money::usd(s.spent),
        limit,
        hard_limit: s.profile.hard_limit,
        invoices: s
            .invoices
            .iter()
            .map(|i| InvoiceRow {
                id: i.id,
                number: i.number.clone(),
                title: i.title(),
                issued: Day::from_ms(i.issued_at),
                total: money::usd(i.total),
                status: i.status,
                status_label: status_label(i.status),
            })
            .collect(),
        ledger: s
            .ledger
            .into_iter()
            .map(|e| LedgerRow {
                at: When::from_ms(e.created_at),
                amount: if e.amount > 0 { format!("+{}", money::usd(e.amount)) } else { money::usd(e.amount) },
                credit: e.amount > 0,
                description: e.description,
                invoice_id: e.invoice_id,
            })
            .collect(),
        forms,
        min_purchase: money::usd(credits::MIN_PURCHASE),
        max_purchase: money::usd(credits::MAX_PURCHASE),
    };
    page_with_status(status, &page)
}

pub async fn show(
    auth: Authorized<need::ViewBilling>,
    db: web::Data<Db>,
    site: web::Data<Site>,
) -> Result<HttpResponse, AppError> {
    render(&auth, &db, &site, Typed::Nothing, StatusCode::OK).await
}

/// What the service refused, as the web layer says it.
fn refusal(team: &str, e: BillingError) -> AppError {
    match e {
        BillingError::Db(e) => AppError::internal(e),
        BillingError::NotFound => AppError::NotFound,
        BillingError::Archived => AppError::Forbidden(format!("{team} is archived: its billing is read-only.")),
        other => AppError::Conflict(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_show_as_plain_dollars_in_their_field() {
        assert_eq!(dollars_input(500 * money::MICROS_PER_DOLLAR), "500");
        assert_eq!(dollars_input(49_990_000), "49.99");
    }
}
