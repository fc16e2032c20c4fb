//! Two-factor sign-in on `/account`: setting up an authenticator app (a QR code drawn here as
//! SVG, and the secret as text, confirmed by a current code and the password), removing it
//! and making new recovery codes (both take the password and a current code). Recovery codes
//! are shown once, on the page that answers the change, with a plain-text download.

use super::{Forms, reauth, render};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::Clock;
use crate::domain::second_factor;
use crate::identity::Identity;
use crate::service::secrets::Sealer;
use crate::service::two_factor::{MadeFrom, recovery, totp};
use crate::web::error::AppError;
use crate::web::extract::SignedIn;
use crate::web::layout::Layout;
use crate::web::render::{page_with_status, see_other};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account/two_factor_setup.html")]
struct SetupPage {
    layout: Layout,
    /// The QR code, an SVG drawn here (attributes only: the CSP allows no inline style).
    qr_svg: String,
    /// The secret, grouped by four for typing.
    secret: String,
    code_error: Option<String>,
    password_error: Option<String>,
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
struct CodesPage {
    layout: Layout,
    /// What was just done, in words.
    done: &'static str,
    codes: Vec<String>,
    /// The codes as a `data:` URL of a text file.
    download: String,
}

fn made_from(req: &HttpRequest) -> MadeFrom {
    let origin = crate::web::auth::origin(req);
    MadeFrom { device: crate::web::sessions::device_of(&origin.user_agent), client_address: origin.client_address }
}

/// Starts setting up an app (a new secret), then shows it.
pub async fn begin(
    user: SignedIn,
    db: web::Data<Db>,
    sealer: web::Data<Sealer>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, AppError> {
    let (user_id, now, sealer) = (user.user.id, clock.now_ms(), sealer.into_inner());
    match db.run(move |conn| Ok::<_, AppError>(totp::begin(conn, &sealer, user_id, now))).await? {
        Ok(_) => Ok(see_other("/account/two-factor/app")),
        Err(totp::TotpError::AlreadySetUp) => {
            session::push_flash(&user.session, Flash::error(totp::TotpError::AlreadySetUp.to_string()));
            Ok(see_other("/account#two-factor"))
        }
        Err(e) => Err(AppError::internal(e)),
    }
}

/// The app waiting to be confirmed: its QR code and secret, and the form that confirms it.
pub async fn setup(user: SignedIn, db: web::Data<Db>, sealer: web::Data<Sealer>) -> Result<HttpResponse, AppError> {
    setup_page(&user, &db, &sealer, None, None, StatusCode::OK).await
}

async fn setup_page(
    user: &SignedIn,
    db: &Db,
    sealer: &web::Data<Sealer>,
    code_error: Option<String>,
    password_error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (user_id, sealer) = (user.user.id, sealer.clone().into_inner());
    let Some(secret) = db.query(move |conn| totp::pending_secret(conn, &sealer, user_id)).await? else {
        return Ok(see_other("/account#two-factor"));
    };
    let url = second_factor::otpauth_url(&secret, &user.user.email)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a new secret makes no URL")))?;
    let page = SetupPage {
        layout: Layout::for_user(user, "Set up an authenticator app"),
        qr_svg: qr_svg(&url)?,
        secret: secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        code_error,
        password_error,
    };
    page_with_status(status, &page)
}

/// `text` as a QR code in SVG, to put in the page as it is.
fn qr_svg(text: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(AppError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // Inline in HTML: without the XML declaration, and named for screen readers.
    let svg = svg.trim_start_matches(|c| c != '<').to_owned();
    let svg = match svg.find("<svg") {
        Some(at) => svg[at..].replacen(
            "<svg",
            "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\" class=\"qr\"",
            1,
        ),
        None => svg,
    };
    Ok(svg)
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

#[tracing::instrument(name = "confirm authenticator app", skip_all, fields(user_id = user.user.id))]
pub async fn confirm(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<ConfirmForm>,
    db: web::Data<Db>,
    sealer: web::Data<Sealer>,
    identity: web::Data<Identity>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, AppError> {
    let ConfirmForm { code, password } = form.into_inner();
    let wrong = "That is not your password.";
    if let Err(refusal) = reauth::check(&req, &user, password, wrong).await? {
        let page = setup_page(&user, &db, &sealer, None, Some(refusal.message.clone()), refusal.status).await?;
        return Ok(refusal.answer(page));
    }
    let (user_id, session_id, now, from, opener) =
        (user.user.id, user.signed_in.id, clock.now_ms(), made_from(&req), sealer.clone().into_inner());
    let confirmed = identity
        .commit(move |conn| {
            let done = totp::confirm(conn, &opener, user_id, &code, now, &from)?;
            crate::service::two_factor::passed_on_session(conn, session_id, now)?;
            Ok::<_, totp::TotpError>(done)
        })
        .await?;
    match confirmed {
        Ok(codes) => {
            tracing::info!(user_id, "authenticator app added");
            codes_page(&user, "Your authenticator app is set up. From now on, signing in asks for its code.", codes)
        }
        Err(totp::TotpError::WrongCode) => {
            let message = totp::TotpError::WrongCode.to_string();
            setup_page(&user, &db, &sealer, Some(message), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(totp::TotpError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => {
            session::push_flash(&user.session, Flash::error(e.to_string()));
            Ok(see_other("/account#two-factor"))
        }
    }
}

fn codes_page(user: &SignedIn, done: &'static str, codes: Vec<String>) -> Result<HttpResponse, AppError> {
    let mut text = String::from("Teamdeck recovery codes for ");
    text.push_str(&user.user.email);
    text.push_str("\nEach works once, in place of a code from your authenticator app.\n\n");
    for code in &codes {
        text.push_str(code);
        text.push('\n');
    }
    let download = format!("data:text/plain;charset=utf-8,{}", percent_encode(&text));
    let page = CodesPage { layout: Layout::for_user(user, "Your recovery codes"), done, codes, download };
    page_with_status(StatusCode::OK, &page)
}

/// Every byte but unreserved ASCII as `%XX`, for a `data:` URL.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct ManageForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// The password and a current code, for a change of the factors; the account page with the
/// refusal when not.
async fn password_and_code(
    req: &HttpRequest,
    user: &SignedIn,
    db: &Db,
    form: ManageForm,
) -> Result<Result<(), HttpResponse>, AppError> {
    let refused = |message: String| Forms { factor_error: Some(message), ..Forms::default() };
    if let Err(refusal) = reauth::check(req, user, form.password, "That is not your password.").await? {
        let page = render(user, db, refused(refusal.message.clone()), refusal.status).await?;
        return Ok(Err(refusal.answer(page)));
    }
    if let Err(refusal) = reauth::check_code(req, user, &form.code).await? {
        let page = render(user, db, refused(refusal.message.clone()), refusal.status).await?;
        return Ok(Err(refusal.answer(page)));
    }
    Ok(Ok(()))
}

#[tracing::instrument(name = "remove authenticator app", skip_all, fields(user_id = user.user.id))]
pub async fn remove(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<ManageForm>,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, AppError> {
    if let Err(page) = password_and_code(&req, &user, &db, form.into_inner()).await? {
        return Ok(page);
    }
    let (user_id, now, from) = (user.user.id, clock.now_ms(), made_from(&req));
    match identity.commit(move |conn| totp::remove(conn, user_id, now, &from)).await? {
        Ok(()) => {
            tracing::info!(user_id, "authenticator app removed");
            let message =
                "Authenticator app removed, with its recovery codes. Signing in takes only your password now.";
            session::push_flash(&user.session, Flash::success(message));
            Ok(see_other("/account#two-factor"))
        }
        Err(totp::TotpError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => {
            session::push_flash(&user.session, Flash::error(e.to_string()));
            Ok(see_other("/account#two-factor"))
        }
    }
}

#[tracing::instrument(name = "new recovery codes", skip_all, fields(user_id = user.user.id))]
pub async fn regenerate(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<ManageForm>,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, AppError> {
    if let Err(page) = password_and_code(&req, &user, &db, form.into_inner()).await? {
        return Ok(page);
    }
    let (user_id, now, from) = (user.user.id, clock.now_ms(), made_from(&req));
    // Only a person with an app has recovery codes (a code was just checked, so they have one).
    let codes = identity.commit(move |conn| recovery::regenerate(conn, user_id, now, &from)).await??;
    tracing::info!(user_id, "recovery codes replaced");
    codes_page(&user, "New recovery codes are ready. The old ones no longer work.", codes)
}
