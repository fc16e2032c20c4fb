//! Who is calling the API, and on behalf of which team.

use super::error::ApiError;
use crate::db::Db;
use crate::domain::{KeyScope, Permission, Role};
use crate::http::AppError;
use crate::identity::{Identity, Person};
use crate::service::accounts::Account;
use crate::service::keys::guards::Refusal;
use crate::service::keys::{ApiKey, Found};
use crate::service::tokens::LoginToken;
use crate::service::users::User;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A team API key: the call acts as the team.
    TeamKey { key: Box<ApiKey>, account: Account },
    /// A member's login token: the call acts as the member, in the team they choose.
    LoginToken { token: LoginToken, user: User },
}

/// The verified caller of an API request.
pub struct ApiCaller {
    pub credential: Credential,
    req: HttpRequest,
    db: Db,
    identity: Identity,
}

/// The header a login-token caller names its team with (when the path does not).
pub const TEAM_HEADER: &str = "X-Teamdeck-Team";

/// Who a recorded request is attributed to (read by the request recorder).
#[derive(Debug, Clone)]
pub struct Attribution {
    pub account_id: i64,
    pub user_id: Option<i64>,
    pub key_id: Option<i64>,
    /// Made with a rotated key's old secret.
    pub old_secret: bool,
    /// The client's address, for a key's "last used".
    pub client: Option<String>,
}

/// The team a call acts on, with the caller's standing in it.
#[derive(Debug, Clone)]
pub struct TeamAccess {
    pub account: Account,
    /// The member's role for a login token; `None` for a team key.
    pub role: Option<Role>,
    pub scope: Option<KeyScope>,
}

fn unauthenticated(message: &str) -> ApiError {
    AppError::Unauthenticated(message.to_owned()).into()
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal.api_code() {
        Some(code) => AppError::CredentialRefused { code, message: refusal.message().to_owned() }.into(),
        None => unauthenticated(refusal.message()),
    }
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let value = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    unauthenticated("Send an Authorization header: `Key <team key>` or `Bearer <login token>`.")
                })?
                .to_owned();
            let db = req
                .app_data::<web::Data<Db>>()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("no database")))?
                .get_ref()
                .clone();
            let identity = req
                .app_data::<web::Data<Identity>>()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("no identity")))?
                .get_ref()
                .clone();
            let (kind, presented) = value.split_once(' ').unwrap_or((value.as_str(), ""));
            let presented = presented.trim().to_owned();
            let credential = match kind {
                "Key" => {
                    let client = crate::http::client_address(&req);
                    let Found { key, account, old_secret } =
                        identity.team_key(presented, Some(&client)).await?.map_err(refused)?;
                    req.extensions_mut().insert(Attribution {
                        account_id: account.id,
                        user_id: None,
                        key_id: Some(key.id),
                        old_secret,
                        client: Some(client),
                    });
                    Credential::TeamKey { key: Box::new(key), account }
                }
                "Bearer" => {
                    let verified = identity.login_token(presented).await?;
                    let (token, user) = verified.ok_or_else(|| {
                        unauthenticated(
                            "This login token is not valid: it is unknown or revoked. Run `teamdeck auth login`.",
                        )
                    })?;
                    Credential::LoginToken { token, user }
                }
                _ => {
                    return Err(unauthenticated(
                        "Unsupported Authorization scheme: use `Key <team key>` or `Bearer <login token>`.",
                    ));
                }
            };
            Ok(ApiCaller { credential, req, db, identity })
        })
    }
}

impl ApiCaller {
    /// Who the audit log names for changes made through the API.
    pub fn actor(&self) -> crate::service::audit::Actor {
        match &self.credential {
            Credential::TeamKey { key, .. } => crate::service::audit::Actor::team_key(&key.name),
            Credential::LoginToken { user, .. } => {
                crate::service::audit::Actor { id: user.id, name: user.name.clone() }
            }
        }
    }

    /// The team the call acts on: a key's own team (another slug is a 404: it does not exist
    /// for this caller); for a login token the team in the path or the `X-Teamdeck-Team`
    /// header, with the member's live role (404 once they are no longer a member).
    pub async fn team(&self, slug: Option<&str>) -> Result<TeamAccess, AppError> {
        match &self.credential {
            Credential::TeamKey { key, account } => {
                if slug.is_some_and(|s| s != account.slug) {
                    return Err(AppError::NotFound);
                }
                Ok(TeamAccess { account: account.clone(), role: None, scope: Some(key.scope) })
            }
            Credential::LoginToken { user, .. } => {
                let slug = slug.map(str::to_owned).or_else(|| self.chosen_team()).ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "Choose a team: call teams/{{slug}}/… or send the {TEAM_HEADER} header."
                    ))
                })?;
                // The member's accounts as they are now (they may have left since the token was
                // checked); gone with the user.
                let Person { accounts, .. } = self.identity.person(user.id).await?.ok_or(AppError::NotFound)?;
                let membership = accounts.into_iter().find(|m| m.account.slug == slug).ok_or(AppError::NotFound)?;
                self.req.extensions_mut().insert(Attribution {
                    account_id: membership.account.id,
                    user_id: Some(user.id),
                    key_id: None,
                    old_secret: false,
                    client: None,
                });
                Ok(TeamAccess { account: membership.account, role: Some(membership.role), scope: None })
            }
        }
    }

    /// The team named in the `X-Teamdeck-Team` header, if any.
    pub fn chosen_team(&self) -> Option<String> {
        self.req
            .headers()
            .get(TEAM_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// The member behind a login token.
    pub fn member(&self) -> Option<&User> {
        match &self.credential {
            Credential::LoginToken { user, .. } => Some(user),
            Credential::TeamKey { .. } => None,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

impl TeamAccess {
    /// Refuses (403) unless the caller may do this: a login token by the member's role, a
    /// team key by its scope (`needs_admin_scope` for management calls).
    pub fn require(&self, permission: Permission, needs_admin_scope: bool) -> Result<(), AppError> {
        if let Some(role) = self.role
            && !role.allows(permission)
        {
            return Err(AppError::Forbidden(format!(
                "Your role in {} is {}, which cannot {}.",
                self.account.name,
                role.label(),
                permission.describe()
            )));
        }
        if needs_admin_scope && self.scope == Some(KeyScope::Api) {
            return Err(AppError::Forbidden("This key's scope is API; this call needs an ADMIN-scoped key.".into()));
        }
        if self.account.is_archived() && permission.changes_team() {
            return Err(AppError::Forbidden(format!("{} is archived and read-only.", self.account.name)));
        }
        Ok(())
    }
}
