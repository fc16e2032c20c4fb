//! Buying credits (an open invoice paid by bank transfer) and the monthly spend limit.

use super::{Field, Typed, refusal, render};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::money::{self, AmountError, MICROS_PER_DOLLAR};
use crate::http::Site;
use crate::service::billing;
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::render::see_other;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

pub(super) const MIN_PURCHASE: i64 = 5 * MICROS_PER_DOLLAR;
pub(super) const MAX_PURCHASE: i64 = 100_000 * MICROS_PER_DOLLAR;
const MIN_LIMIT: i64 = MICROS_PER_DOLLAR;
const MAX_LIMIT: i64 = 10_000_000 * MICROS_PER_DOLLAR;

#[derive(Deserialize)]
pub struct CreditsForm {
    #[serde(default)]
    amount: String,
}

/// Issues an open credits invoice and shows it: the team pays it by bank transfer.
#[tracing::instrument(name = "buy credits", skip_all, fields(account_id = auth.account.id))]
pub async fn buy_credits(
    auth: Authorized<need::ManageBilling>,
    form: web::Form<CreditsForm>,
    db: web::Data<Db>,
    site: web::Data<Site>,
) -> Result<HttpResponse, AppError> {
    let typed = form.into_inner().amount;
    let amount = match money::parse_usd(&typed, MIN_PURCHASE, MAX_PURCHASE) {
        Ok(amount) => amount,
        Err(e) => {
            let typed = Typed::Amount(Field::wrong(typed, e.to_string()));
            return render(&auth, &db, &site, typed, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (account, actor, issuer) = (auth.account.clone(), auth.actor(), site.issuer.clone());
    let issued =
        db.run(move |conn| Ok::<_, AppError>(billing::buy_credits(conn, &account, &actor, amount, &issuer))).await?;
    let (id, number) = issued.map_err(|e| refusal(&auth.account.name, e))?;
    session::push_flash(
        &auth.signed_in.session,
        Flash::success(format!(
            "Invoice {number} for {} issued. Pay it by bank transfer to the account below, with {number} as the \
             reference; the credits are added to your balance when the payment arrives.",
            money::usd(amount)
        )),
    );
    Ok(see_other(&format!("{}/billing/invoices/{id}", auth.base_path())))
}

#[derive(Deserialize)]
pub struct LimitForm {
    #[serde(default)]
    limit: String,
    /// The "stop calls at the limit" checkbox.
    #[serde(default)]
    hard: Option<String>,
}

/// Sets the monthly spend limit, or removes it when the field is left empty.
#[tracing::instrument(name = "set spend limit", skip_all, fields(account_id = auth.account.id))]
pub async fn set_limit(
    auth: Authorized<need::ManageBilling>,
    form: web::Form<LimitForm>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    identity: web::Data<crate::identity::Identity>,
) -> Result<HttpResponse, AppError> {
    let LimitForm { limit: typed, hard } = form.into_inner();
    let hard = hard.is_some();
    let limit = if typed.trim().is_empty() {
        None
    } else {
        match money::parse_usd(&typed, MIN_LIMIT, MAX_LIMIT) {
            Ok(limit) => Some(limit),
            Err(e) => {
                let message = match e {
                    AmountError::Invalid => {
                        "Enter the limit in dollars, such as 500, or leave the field empty for no limit.".to_owned()
                    }
                    AmountError::TooSmall(min) => {
                        format!("The limit must be at least {}; leave the field empty for no limit.", money::usd(min))
                    }
                    AmountError::TooLarge(max) => format!("The limit can be at most {}.", money::usd(max)),
                    AmountError::Ambiguous => e.to_string(),
                };
                let typed = Typed::Limit(Field::wrong(typed, message));
                return render(&auth, &db, &site, typed, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        }
    };
    let (account, actor) = (auth.account.clone(), auth.actor());
    let saved = identity
        .commit(move |conn| {
            billing::set_limit(conn, &account, &actor, limit)?;
            billing::set_hard_limit(conn, &account, &actor, hard)
        })
        .await?;
    saved.map_err(|e| refusal(&auth.account.name, e))?;
    let message = match limit {
        Some(l) => format!(
            "Monthly spend limit set to {}. Admins and billing members get an email at 80 % and 100 % of it.",
            money::usd(l)
        ),
        None => "Monthly spend limit removed: no spend alerts will be sent.".to_owned(),
    };
    session::push_flash(&auth.signed_in.session, Flash::success(message));
    Ok(see_other(&format!("{}/billing", auth.base_path())))
}
