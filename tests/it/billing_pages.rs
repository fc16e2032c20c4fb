//! The billing pages: buying credits, paying and cancelling credit invoices, the spend
//! limit, billing details on invoices, the printable invoice and its CSV, and who may do what.

use crate::helpers::{Browser, TestApp, csrf_token, location, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use teamdeck::domain::Role;
use teamdeck::service::billing::{self, BillingError, Paid};

const PAYEE: &str = "Teamdeck Ltd\nIBAN GB33 BUKB 2020 1555 5555 55\nBIC BUKBGB22";

async fn spawn_billing_app() -> TestApp {
    spawn_app_with(|s| {
        s.issuer.name = "Teamdeck Ltd".into();
        s.issuer.address = "1 Dock Road\\nLondon E1 1AA".into();
        s.issuer.payee = PAYEE.replace('\n', "\\n");
    })
    .await
}

/// Orders credits from the billing page as a person would.
async fn buy(browser: &Browser, slug: &str, amount: &str) -> reqwest::Response {
    browser.submit(&format!("/a/{slug}/billing"), &format!("/a/{slug}/billing/credits"), &[("amount", amount)]).await
}

/// Buys credits and returns the invoice page's path (where the purchase leads).
async fn bought(browser: &Browser, slug: &str, amount: &str) -> String {
    let response = buy(browser, slug, amount).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "buying {amount}");
    let path = location(&response);
    assert!(path.starts_with(&format!("/a/{slug}/billing/invoices/")), "{path}");
    path
}

fn number(n: u32) -> String {
    format!("TD-{}-{n:06}", time::OffsetDateTime::now_utc().year())
}

async fn mark_paid(app: &TestApp, number: &str) -> Result<Paid, BillingError> {
    let (db, number) = (app.db.clone(), number.to_owned());
    tokio::task::spawn_blocking(move || billing::mark_paid(&mut db.get().unwrap(), &number)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buying_credits_issues_an_open_invoice_that_says_how_to_pay_it() {
    let app = spawn_billing_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;

    let invoice = bought(&ada, &slug, "50").await;

    let page = ada.page(&invoice, StatusCode::OK).await;
    let number = number(1);
    assert!(page.contains(&format!("Invoice {number} for $50.00 issued.")), "a flash says what happened: {page}");
    assert!(page.contains(&format!("<h1>Invoice {number}</h1>")));
    assert!(page.contains("<span class=\"pill pill--open\">Open</span>"));
    assert!(page.contains("<td class=\"num\">$50.00</td></tr>"), "the total");
    assert!(page.contains("Prepaid credits") && page.contains("<td class=\"num\">$50.00</td>"), "the line");
    assert!(page.contains(PAYEE), "the bank details, line by line: {page}");
    assert!(page.contains("as the transfer reference") && page.contains(&number));
    assert!(page.contains("Teamdeck Ltd\n1 Dock Road\nLondon E1 1AA"), "the issuer block");
    assert!(page.contains("<dt>Due</dt>"), "a due date");
    assert!(page.contains("data-print") && page.contains("/lines.csv"), "print and CSV");
    assert!(page.contains(&format!("action=\"{invoice}/cancel\"")), "an admin may cancel it");
    let billing = ada.page(&format!("/a/{slug}/billing"), StatusCode::OK).await;
    assert!(billing.contains(&format!("<a href=\"{invoice}\">{number}</a>")), "listed with a link");
    assert!(billing.contains("<td class=\"num\">$50.00</td>") && billing.contains("pill--open"));
    assert!(billing.contains("<p class=\"stat__value\">$0.00</p>"), "nothing is credited before the payment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_credit_invoice_adds_to_the_balance_and_shows_as_paid() {
    let app = spawn_billing_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let invoice = bought(&ada, &slug, "49.99").await;

    let paid = mark_paid(&app, &number(1)).await.expect("an open invoice can be paid");

    assert_eq!(paid.credited, 49_990_000);
    let billing = ada.page(&format!("/a/{slug}/billing"), StatusCode::OK).await;
    assert!(billing.contains("<p class=\"stat__value\">$49.99</p>"), "the balance: {billing}");
    assert!(billing.contains(&format!("Credits bought with invoice {}", number(1))), "the ledger line");
    assert!(billing.contains("+$49.99"), "a credit is signed");
    assert!(billing.contains("pill--paid") && !billing.contains("pill--open"));
    assert!(!billing.contains("Your credit balance is"), "no low-balance banner over $10");
    let page = ada.page(&invoice, StatusCode::OK).await;
    assert!(page.contains("<span class=\"pill pill--paid\">Paid</span>"));
    assert!(page.contains("<dt>Paid by</dt><dd>Operator (bank transfer)</dd>"), "{page}");
    assert!(!page.contains("How to pay") && !page.contains("/cancel\""), "nothing left to pay or cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_amount_is_shown_again_with_what_to_fix_and_issues_no_invoice() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;

    for (typed, message) in [
        ("abc", "Enter an amount in dollars, such as 50 or 49.99."),
        ("1", "The amount must be at least $5.00."),
        ("-5", "Enter an amount in dollars, such as 50 or 49.99."),
        ("100000.01", "The amount must be at most $100,000.00."),
    ] {
        let response = buy(&ada, &slug, typed).await;

        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        let page = response.text().await.unwrap();
        assert!(page.contains(&format!("value=\"{typed}\"")), "the typed value is kept: {typed}");
        assert!(page.contains(&format!("<p class=\"field__error\" id=\"amount-error\">{message}</p>")), "{page}");
        assert!(
            page.contains("aria-describedby=\"amount-help amount-error\"") && page.contains("aria-invalid=\"true\"")
        );
    }
    assert_eq!(app.count_rows("invoices").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_details_go_on_the_next_invoice_while_earlier_invoices_keep_theirs() {
    let app = spawn_billing_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (billing, details) = (format!("/a/{slug}/billing"), format!("/a/{slug}/billing/details"));
    let first = bought(&ada, &slug, "20").await;

    let saved = ada
        .submit(
            &billing,
            &details,
            &[
                ("legal_name", "Acme Holdings Ltd"),
                ("billing_email", "ap@acme.example"),
                ("address", "1 Main Street\r\nSpringfield\r\n"),
                ("tax_id", "GB123456789"),
            ],
        )
        .await;
    assert_eq!(location(&saved), billing);
    let page = ada.page(&billing, StatusCode::OK).await;
    assert!(page.contains("Billing details saved. Invoices issued from now on use them"), "{page}");
    assert!(page.contains("value=\"Acme Holdings Ltd\"") && page.contains(">1 Main Street\nSpringfield</textarea>"));
    let second = bought(&ada, &slug, "30").await;

    let new = ada.page(&second, StatusCode::OK).await;
    assert!(new.contains("<strong>Acme Holdings Ltd</strong>"), "{new}");
    assert!(new.contains("1 Main Street\nSpringfield") && new.contains("Tax ID: GB123456789"));
    assert!(new.contains("ap@acme.example"));
    let old = ada.page(&first, StatusCode::OK).await;
    assert!(old.contains("<strong>Acme</strong>"), "issued to the team's name: {old}");
    assert!(!old.contains("Acme Holdings") && !old.contains("GB123456789") && !old.contains("Springfield"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_billing_details_are_shown_again_next_to_their_fields_and_nothing_is_saved() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let long_name = "N".repeat(201);

    let response = ada
        .submit(
            &format!("/a/{slug}/billing"),
            &format!("/a/{slug}/billing/details"),
            &[
                ("legal_name", &long_name),
                ("billing_email", "accounts at acme"),
                ("address", "1 Main St"),
                ("tax_id", ""),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("value=\"accounts at acme\"") && page.contains(&format!("value=\"{long_name}\"")));
    assert!(page.contains("id=\"billing-email-error\">Enter an email address like name@example.com.</p>"), "{page}");
    assert!(page.contains("id=\"legal-name-error\">The legal name can be at most 200 characters long.</p>"));
    assert!(page.contains(">1 Main St</textarea>") && !page.contains("address-error"));
    assert_eq!(app.count_rows("billing_profiles").await, 0, "nothing saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spend_limit_is_set_shown_and_removed() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (billing, limit) = (format!("/a/{slug}/billing"), format!("/a/{slug}/billing/limit"));

    let set = ada.submit(&billing, &limit, &[("limit", "500")]).await;

    assert_eq!(location(&set), billing);
    let page = ada.page(&billing, StatusCode::OK).await;
    assert!(page.contains("Monthly spend limit set to $500.00."), "{page}");
    assert!(page.contains("<p class=\"stat__value\">$500.00</p>") && page.contains("0 % used."));
    assert!(page.contains("get an email at 80 % and 100 %") && page.contains("id=\"limit\" name=\"limit\""));
    assert!(page.contains("value=\"500\""), "the field shows the limit");

    let wrong = ada.submit(&billing, &limit, &[("limit", "lots")]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("value=\"lots\"") && page.contains("id=\"limit-error\">Enter the limit in dollars"));
    assert!(page.contains("<p class=\"stat__value\">$500.00</p>"), "the limit did not change");

    let removed = ada.submit(&billing, &limit, &[("limit", "")]).await;
    assert_eq!(location(&removed), billing);
    let page = ada.page(&billing, StatusCode::OK).await;
    assert!(page.contains("Monthly spend limit removed") && page.contains("<p class=\"stat__value\">No limit</p>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoice_csv_lists_its_lines_as_plain_numbers() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let invoice = bought(&ada, &slug, "1,234.5").await;

    let response = ada.get(&format!("{invoice}/lines.csv")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let number = number(1);
    assert_eq!(response.headers()["content-disposition"], format!("attachment; filename=\"{number}.csv\"").as_str());
    let csv = response.text().await.unwrap();
    assert_eq!(
        csv,
        format!(
            "invoice,position,description,quantity,unit,unit_price_usd,amount_usd\n\
             {number},1,Prepaid credits,1,purchase,1234.50,1234.50\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_balance_is_announced_on_the_billing_page() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    bought(&ada, &slug, "5").await;
    mark_paid(&app, &number(1)).await.unwrap();

    let page = ada.page(&format!("/a/{slug}/billing"), StatusCode::OK).await;

    assert!(
        page.contains(
            "Your credit balance is $5.00. <a href=\"#amount\">Buy credits</a> to keep your team's calls running."
        ),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_invoice_is_void_and_can_no_longer_be_paid() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let invoice = bought(&ada, &slug, "50").await;

    let cancelled = ada.submit(&invoice, &format!("{invoice}/cancel"), &[]).await;

    assert_eq!(location(&cancelled), format!("/a/{slug}/billing"));
    let billing = ada.page(&format!("/a/{slug}/billing"), StatusCode::OK).await;
    assert!(billing.contains(&format!("Invoice {} cancelled.", number(1))), "{billing}");
    assert!(billing.contains("<span class=\"pill pill--void\">Void</span>"));
    let page = ada.page(&invoice, StatusCode::OK).await;
    assert!(page.contains("pill--void") && page.contains("<dt>Cancelled</dt>"));
    assert!(!page.contains("How to pay") && !page.contains("/cancel\""), "nothing to pay or cancel");
    assert!(matches!(mark_paid(&app, &number(1)).await, Err(BillingError::Void(_))));
    // A second cancel (another tab) says why nothing happened.
    let again = ada.submit(&format!("/a/{slug}/billing"), &format!("{invoice}/cancel"), &[]).await;
    assert_eq!(location(&again), invoice);
    let page = ada.page(&invoice, StatusCode::OK).await;
    assert!(page.contains("flash--error") && page.contains("can no longer be cancelled"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_teams_invoice_does_not_exist_for_you() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let acme = ada.create_team("Acme").await;
    let invoice = bought(&ada, &acme, "50").await;
    let id = invoice.rsplit('/').next().unwrap().to_owned();
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let globex = bob.create_team("Globex").await;

    let theirs = format!("/a/{globex}/billing/invoices/{id}");
    bob.page(&theirs, StatusCode::NOT_FOUND).await;
    bob.page(&format!("{theirs}/lines.csv"), StatusCode::NOT_FOUND).await;
    let cancel = bob.submit(&format!("/a/{globex}/billing"), &format!("{theirs}/cancel"), &[]).await;
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    bob.page(&invoice, StatusCode::NOT_FOUND).await;
    ada.page(&format!("/a/{acme}/billing/invoices/12345"), StatusCode::NOT_FOUND).await;
    let page = ada.page(&invoice, StatusCode::OK).await;
    assert!(page.contains("pill--open"), "still open: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_member_can_buy_credits_and_a_developer_cannot() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bill = app.signed_up("Bill", "bill@example.com").await;
    app.add_member(&slug, "bill@example.com", Role::Billing).await;
    let dev = app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;

    let invoice = bought(&bill, &slug, "25").await;
    assert!(bill.page(&invoice, StatusCode::OK).await.contains("$25.00"));

    dev.page(&format!("/a/{slug}/billing"), StatusCode::FORBIDDEN).await;
    dev.page(&invoice, StatusCode::FORBIDDEN).await;
    let token = csrf_token(&dev.page(&format!("/a/{slug}"), StatusCode::OK).await).unwrap();
    for (action, field, value) in [("credits", "amount", "50"), ("limit", "limit", "10"), ("details", "tax_id", "X")] {
        let response = dev
            .client
            .post(dev.url(&format!("/a/{slug}/billing/{action}")))
            .form(&[("csrf_token", token.as_str()), (field, value)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(app.count_rows("invoices").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_teams_billing_is_read_only() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let invoice = bought(&ada, &slug, "50").await;
    let archived = ada
        .submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme")])
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);

    let page = ada.page(&format!("/a/{slug}/billing"), StatusCode::OK).await;

    assert!(page.contains("Acme is archived: its billing can no longer change."), "{page}");
    assert!(
        !page.contains("/billing/credits") && !page.contains("/billing/limit") && !page.contains("/billing/details")
    );
    assert!(!page.contains("Your credit balance is"), "no call to buy credits");
    assert!(!ada.page(&invoice, StatusCode::OK).await.contains("/cancel\""));
    let refused = buy(&ada, &slug, "50").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amount_written_the_way_another_locale_writes_it_is_refused_not_guessed() {
    let app = spawn_billing_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let billing = format!("/a/{slug}/billing");
    for typed in ["50,00", "1.000,5"] {
        let refused = buy(&ada, &slug, typed).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(&format!("value=\"{typed}\"")), "what was typed stays: {page}");
        assert!(page.contains("Write cents after a dot"), "{page}");
        let limit = ada.submit(&billing, &format!("{billing}/limit"), &[("limit", typed)]).await;
        assert_eq!(limit.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        assert!(limit.text().await.unwrap().contains("Write cents after a dot"));
    }
    assert_eq!(app.count_rows("invoices").await, 0, "no invoice for $5,000 or $1.00");
    assert!(location(&buy(&ada, &slug, "1,000.50").await).contains("/billing/invoices/"), "thousands grouped");
}
