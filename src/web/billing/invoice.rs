//! One invoice: its printable page, its lines as CSV, and cancelling an open credits
//! invoice. An invoice shows the issuer and customer details it was issued with; another
//! team's invoice does not exist here (404).

use super::{Day, refusal, status_label};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::money;
use crate::domain::{InvoiceKind, InvoiceStatus, Permission};
use crate::service::billing::{self, BillingError, Invoice, Line};
use crate::web::csv_export::{Cell, CsvExport};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::{page_with_status, see_other};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub struct LineRow {
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub unit_price: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "billing/invoice.html")]
struct InvoicePage {
    layout: Layout,
    base: String,
    invoice: Invoice,
    title: String,
    status_label: &'static str,
    issued: Day,
    due: Option<Day>,
    paid: Option<Day>,
    voided: Option<Day>,
    /// An open credits invoice: the team still has to transfer the money.
    awaiting_payment: bool,
    can_cancel: bool,
    lines: Vec<LineRow>,
    total: String,
}

/// The `{invoice_id}` of the path: a number, else it names no invoice (404, as an unknown
/// number does).
fn invoice_id(path: web::Path<(String, String)>) -> Result<i64, AppError> {
    path.into_inner().1.parse().map_err(|_| AppError::NotFound)
}

async fn find(db: &Db, account_id: i64, id: i64) -> Result<(Invoice, Vec<Line>), AppError> {
    let found = db.query(move |conn| billing::invoice(conn, account_id, id)).await?;
    found.ok_or(AppError::NotFound)
}

/// 1234567 → "1,234,567".
fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub async fn invoice(
    auth: Authorized<need::ViewBilling>,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (invoice, lines) = find(&db, auth.account.id, invoice_id(path)?).await?;
    let awaiting_payment = invoice.kind == InvoiceKind::Credits && invoice.status == InvoiceStatus::Open;
    let page = InvoicePage {
        layout: Layout::for_account(&auth, format!("Invoice {}", invoice.number), "/billing"),
        base: auth.base_path(),
        title: invoice.title(),
        status_label: status_label(invoice.status),
        issued: Day::from_ms(invoice.issued_at),
        due: invoice.due_at.filter(|_| awaiting_payment).map(Day::from_ms),
        paid: invoice.paid_at.map(Day::from_ms),
        voided: invoice.voided_at.map(Day::from_ms),
        awaiting_payment,
        can_cancel: awaiting_payment && auth.role.allows(Permission::ManageBilling) && !auth.account.is_archived(),
        lines: lines
            .into_iter()
            .map(|l| LineRow {
                quantity: count(l.quantity),
                unit_price: money::unit_price(l.unit_price),
                amount: money::usd(l.amount),
                description: l.description,
                unit: l.unit,
            })
            .collect(),
        total: money::usd(invoice.total),
        invoice,
    };
    page_with_status(StatusCode::OK, &page)
}

/// A unit price as a CSV number: up to six decimals, no sign or grouping ("0.000003").
fn plain_unit_price(micros: i64) -> String {
    money::unit_price(micros).replace(['$', ','], "")
}

fn lines_csv(invoice: &Invoice, lines: &[Line]) -> CsvExport {
    let mut out =
        CsvExport::new(&["invoice", "position", "description", "quantity", "unit", "unit_price_usd", "amount_usd"]);
    for line in lines {
        out.row([
            Cell::Text(&invoice.number),
            Cell::Number(line.position.to_string()),
            Cell::Text(&line.description),
            Cell::Number(line.quantity.to_string()),
            Cell::Text(&line.unit),
            Cell::Number(plain_unit_price(line.unit_price)),
            Cell::Number(money::decimal(line.amount)),
        ]);
    }
    out
}

pub async fn invoice_csv(
    auth: Authorized<need::ViewBilling>,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (invoice, lines) = find(&db, auth.account.id, invoice_id(path)?).await?;
    // Invoice numbers are ours ("TD-2026-000001"), safe in a header.
    let filename = invoice.number.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    Ok(lines_csv(&invoice, &lines).download(&format!("{filename}.csv")))
}

/// Cancels an open credits invoice the team no longer means to pay.
#[tracing::instrument(name = "cancel invoice", skip_all, fields(account_id = auth.account.id))]
pub async fn cancel_invoice(
    auth: Authorized<need::ManageBilling>,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let id = invoice_id(path)?;
    let (account, actor) = (auth.account.clone(), auth.actor());
    let voided = db.run(move |conn| Ok::<_, AppError>(billing::void(conn, &account, &actor, id))).await?;
    match voided {
        Ok(number) => {
            session::push_flash(
                &auth.signed_in.session,
                Flash::success(format!("Invoice {number} cancelled. Nothing is owed on it; do not pay it.")),
            );
            Ok(see_other(&format!("{}/billing", auth.base_path())))
        }
        Err(BillingError::NotCancellable) => {
            session::push_flash(
                &auth.signed_in.session,
                Flash::error(
                    "This invoice can no longer be cancelled: only an open credits invoice can be, and this one is \
                     paid, cancelled already, or a usage invoice.",
                ),
            );
            Ok(see_other(&format!("{}/billing/invoices/{id}", auth.base_path())))
        }
        Err(e) => Err(refusal(&auth.account.name, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_unit_prices_print_plainly() {
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(count(-1_000), "-1,000");
        assert_eq!(plain_unit_price(3), "0.000003");
        assert_eq!(plain_unit_price(1_234_500_000), "1234.50");
    }
}
