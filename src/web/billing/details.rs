//! Billing details: the customer block of invoices issued from now on.

use super::{DetailFields, Field, Typed, refusal, render};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::EmailAddress;
use crate::http::Site;
use crate::service::billing::{self, Details};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::render::see_other;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

const MAX_NAME_CHARS: usize = 200;
const MAX_TAX_ID_CHARS: usize = 100;
const MAX_ADDRESS_CHARS: usize = 1000;

#[derive(Deserialize)]
pub struct DetailsForm {
    #[serde(default)]
    billing_email: String,
    #[serde(default)]
    legal_name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    tax_id: String,
}

/// One line of text, at most `max` characters.
fn one_line(typed: &str, what: &str, max: usize) -> Result<String, String> {
    let value = typed.trim();
    if value.chars().any(char::is_control) {
        return Err(format!("The {what} must fit on one line."));
    }
    if value.chars().count() > max {
        return Err(format!("The {what} can be at most {max} characters long."));
    }
    Ok(value.to_owned())
}

/// The details as typed, or each field with what is wrong with it.
fn parse_details(form: DetailsForm) -> Result<Details, Box<DetailFields>> {
    let email = match form.billing_email.trim() {
        "" => Ok(String::new()),
        typed => EmailAddress::parse(typed).map(|e| e.as_typed().to_owned()).map_err(|e| e.to_string()),
    };
    let legal_name = one_line(&form.legal_name, "legal name", MAX_NAME_CHARS);
    let tax_id = one_line(&form.tax_id, "tax ID", MAX_TAX_ID_CHARS);
    let address_lines: Vec<&str> = form.address.lines().map(str::trim_end).collect();
    let address = address_lines.join("\n").trim().to_owned();
    let address = if address.chars().any(|c| c.is_control() && c != '\n') {
        Err("The address can hold only text and line breaks.".to_owned())
    } else if address.chars().count() > MAX_ADDRESS_CHARS {
        Err(format!("The address can be at most {MAX_ADDRESS_CHARS} characters long."))
    } else {
        Ok(address)
    };
    match (email, legal_name, address, tax_id) {
        (Ok(billing_email), Ok(legal_name), Ok(address), Ok(tax_id)) => {
            Ok(Details { billing_email, legal_name, address, tax_id })
        }
        (email, legal_name, address, tax_id) => {
            let field = |typed: String, checked: Result<String, String>| Field { value: typed, error: checked.err() };
            Err(Box::new(DetailFields {
                billing_email: field(form.billing_email, email),
                legal_name: field(form.legal_name, legal_name),
                address: field(form.address, address),
                tax_id: field(form.tax_id, tax_id),
            }))
        }
    }
}

/// Saves the details printed on invoices issued from now on.
#[tracing::instrument(name = "save billing details", skip_all, fields(account_id = auth.account.id))]
pub async fn save_details(
    auth: Authorized<need::ManageBilling>,
    form: web::Form<DetailsForm>,
    db: web::Data<Db>,
    site: web::Data<Site>,
) -> Result<HttpResponse, AppError> {
    let details = match parse_details(form.into_inner()) {
        Ok(details) => details,
        Err(fields) => {
            return render(&auth, &db, &site, Typed::Details(*fields), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (account, actor) = (auth.account.clone(), auth.actor());
    let saved = db.run(move |conn| Ok::<_, AppError>(billing::save_details(conn, &account, &actor, &details))).await?;
    saved.map_err(|e| refusal(&auth.account.name, e))?;
    session::push_flash(
        &auth.signed_in.session,
        Flash::success("Billing details saved. Invoices issued from now on use them; earlier invoices keep theirs."),
    );
    Ok(see_other(&format!("{}/billing", auth.base_path())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(email: &str, name: &str, address: &str, tax_id: &str) -> DetailsForm {
        DetailsForm {
            billing_email: email.into(),
            legal_name: name.into(),
            address: address.into(),
            tax_id: tax_id.into(),
        }
    }

    #[test]
    fn details_are_trimmed_and_keep_the_address_lines() {
        let d = parse_details(form(" ap@acme.example ", " Acme Ltd ", "1 Main St  \r\nSpringfield\r\n", "GB123"))
            .ok()
            .unwrap();
        assert_eq!(d.billing_email, "ap@acme.example");
        assert_eq!(d.legal_name, "Acme Ltd");
        assert_eq!(d.address, "1 Main St\nSpringfield");
        assert_eq!(d.tax_id, "GB123");
        assert!(parse_details(form("", "", "", "")).is_ok(), "every field may be left empty");
    }

    #[test]
    fn wrong_details_say_which_field_is_wrong_and_keep_what_was_typed() {
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        let Err(fields) = parse_details(form("not-an-email", &long, "fine", "GB\n1")) else { panic!("refused") };
        assert_eq!(fields.billing_email.value, "not-an-email");
        assert!(fields.billing_email.error.is_some());
        assert!(fields.legal_name.error.as_deref().unwrap().contains("200 characters"));
        assert!(fields.address.error.is_none());
        assert!(fields.tax_id.error.as_deref().unwrap().contains("one line"));
    }
}
