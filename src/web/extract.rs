//! Extractors that say who is calling and what they may do.
//!
//! - [`SignedIn`]: the user the browser's session signs in, loaded from the database with the
//!   session and every account they belong to (for the switcher).
//! - [`MaybeSignedIn`]: the same for public pages that change when someone is signed in.
//! - [`Authorized<P>`]: additionally the account named by `{slug}` and the member's **live**
//!   role in it; refused with 404 when they are not a member (another team's pages do not
//!   exist for them) and 403 when their role lacks `P`'s permission.
//!
//! Both are loaded and checked by `access::enforce` before the request reaches the handler
//! (before its body is even read); the extractors hand over what it established, and
//! `Authorized<P>` refuses to run when `P` is not the permission its route declared.

use super::error::AppError;
use crate::auth::session;
use crate::domain::{Permission, Role};
use crate::http::Access;
use crate::identity::{Identity, Person, Visit};
use crate::service::accounts::{Account, AccountMembership};
use crate::service::sessions::BrowserSession;
use crate::service::users::User;
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::marker::PhantomData;

#[derive(Clone)]
pub struct SignedIn {
    pub user: User,
    pub accounts: Vec<AccountMembership>,
    /// What the pages keep between requests (CSRF token, flashes, the account used last).
    pub session: Session,
    /// The browser's sign-in, as the database has it.
    pub signed_in: BrowserSession,
    /// Whether this session passed a second factor in the last ten minutes (what approving a
    /// CLI login and deleting the account ask for).
    pub factor_fresh: bool,
}

impl SignedIn {
    /// The user the request's session cookie signs in: `SignInRequired` without one, or when
    /// it is malformed, unknown, ended, or its user gone.
    pub(super) async fn load(req: &HttpRequest) -> Result<Self, AppError> {
        let site = req.app_data::<web::Data<crate::http::Site>>().map(|s| s.https).unwrap_or(false);
        let token = session::presented_token(req, site).ok_or(AppError::SignInRequired)?;
        let identity = req
            .app_data::<web::Data<Identity>>()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no identity")))?
            .clone();
        let Some(Visit { session: signed_in, person: Person { user, accounts } }) = identity.visit(&token).await?
        else {
            return Err(AppError::SignInRequired);
        };
        let session = req.get_session();
        session::keep_alive(&session, crate::domain::now_ms());
        let (_, now) = identity.session_lifetimes();
        let factor_fresh =
            signed_in.second_factor_at.is_some_and(|at| now - at <= crate::service::two_factor::FRESH_FOR_MS);
        Ok(Self { user, accounts, session, signed_in, factor_fresh })
    }

    /// The user's personal account.
    pub fn personal(&self) -> Option<&AccountMembership> {
        self.accounts.iter().find(|m| m.account.is_personal())
    }

    /// The account last worked in (remembered in the session) while it is still theirs and
    /// not archived, else the personal account.
    pub fn working_in(&self) -> Option<&AccountMembership> {
        let last = crate::auth::session::last_account(&self.session);
        self.accounts
            .iter()
            .find(|m| Some(&m.account.slug) == last.as_ref() && !m.account.is_archived())
            .or_else(|| self.personal())
    }
}

/// The signed-in user on a public page, if the browser is signed in.
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match SignedIn::load(&req).await {
                Ok(signed_in) => Ok(Self(Some(signed_in))),
                Err(AppError::SignInRequired) => Ok(Self(None)),
                Err(e) => Err(e),
            }
        })
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(req.extensions().get::<SignedIn>().cloned().ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "route {:?} is public but its handler needs a user",
                req.match_pattern()
            ))
        }))
    }
}

/// A permission named as a type, so a handler's signature states what it needs.
pub trait Need {
    const PERMISSION: Permission;
}

/// Marker types for [`Authorized`], one per [`Permission`].
pub mod need {
    use super::Need;
    use crate::domain::Permission;

    macro_rules! markers {
        ($($name:ident),* $(,)?) => {$(
            pub struct $name;
            impl Need for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }

    markers!(
        ViewTeam,
        UseTeamResources,
        ViewSecrets,
        ManageSecrets,
        ManageApps,
        ViewKeys,
        ManageKeys,
        ViewBilling,
        ManageBilling,
        ManageInvites,
        ManageMembers,
        ManageTeam,
        ViewAdmin,
        LeaveTeam,
    );
}

pub struct Authorized<P> {
    pub signed_in: SignedIn,
    pub account: Account,
    pub role: Role,
    _need: PhantomData<P>,
}

/// The account of a team route and the caller's live role in it, as `enforce` found them.
#[derive(Clone)]
pub(super) struct TeamContext(pub AccountMembership);

/// Finds the account `slug` among the user's and checks `permission` against the live role.
pub(super) fn resolve_team(
    signed_in: &SignedIn,
    slug: &str,
    permission: Permission,
) -> Result<AccountMembership, AppError> {
    let membership = signed_in.accounts.iter().find(|m| m.account.slug == slug).cloned().ok_or(AppError::NotFound)?;
    check(&membership, permission)?;
    session::remember_account(&signed_in.session, slug);
    Ok(membership)
}

impl<P> Authorized<P> {
    /// The signed-in user as the audit log records them.
    pub fn actor(&self) -> crate::service::audit::Actor {
        crate::service::audit::Actor { id: self.signed_in.user.id, name: self.signed_in.user.name.clone() }
    }

    /// `/a/{slug}` of this account, for links and redirects.
    pub fn base_path(&self) -> String {
        format!("/a/{}", self.account.slug)
    }
}

/// Whether `membership` may use `permission` now (its role, and an archived team's being
/// read-only), with the refusal to show when not.
pub fn check(membership: &AccountMembership, permission: Permission) -> Result<(), AppError> {
    let account = &membership.account;
    if account.is_personal() && !permission.applies_to_personal() {
        return Err(AppError::NotFound);
    }
    if !membership.role.allows(permission) {
        return Err(AppError::Forbidden(format!(
            "Your role in {} is {}, which cannot {}. Ask an admin of {} if you need this.",
            account.name,
            membership.role.label(),
            permission.describe(),
            account.name
        )));
    }
    if account.is_archived() && permission.changes_team() {
        return Err(AppError::Forbidden(format!("{} is archived and read-only.", account.name)));
    }
    Ok(())
}

impl<P: Need + 'static> FromRequest for Authorized<P> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        let declared = extensions.get::<Access>().copied();
        let result = match (declared, extensions.get::<SignedIn>(), extensions.get::<TeamContext>()) {
            (Some(Access::Team(p)), Some(signed_in), Some(TeamContext(m))) if p == P::PERMISSION => {
                Ok(Self { signed_in: signed_in.clone(), account: m.account.clone(), role: m.role, _need: PhantomData })
            }
            _ => Err(AppError::internal(anyhow::anyhow!(
                "route {:?} declares {declared:?} but its handler needs {:?}",
                req.match_pattern(),
                P::PERMISSION
            ))),
        };
        std::future::ready(result)
    }
}
