//! `/api/v1/` endpoints and the OpenAPI document that describes them.

use super::auth::{ApiCaller, Credential, TeamAccess};
use crate::db::Db;
use crate::domain::When;
use crate::domain::{KeyScope, Permission, TeamName};
use crate::http::AppError;
use crate::service::keys::{self, ApiKey, KeyError};
use crate::service::tokens;
use crate::service::{members, requests};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Teamdeck API",
        version = "1",
        description = "Teams, members, API keys and request attribution. \
Authenticate with `Authorization: Key <team key>` (calls are attributed to the team) or \
`Authorization: Bearer <login token>` (attributed to the member). Errors are `{code, message}`."
    ),
    paths(
        whoami,
        list_teams,
        list_members,
        list_keys,
        create_key,
        delete_key,
        list_requests,
        super::secrets::list_secrets,
        super::secrets::set_secret,
        super::secrets::delete_secret,
        device_code,
        device_token,
        logout,
        super::platform::introspect,
        super::platform::usage_events,
        super::platform::billing_webhook
    ),
    components(schemas(
        ErrorBody,
        WhoAmI,
        TeamRef,
        KeyOut,
        MemberOut,
        MembersPage,
        KeysOut,
        CreateKey,
        CreatedKey,
        RequestOut,
        RequestsOut,
        super::secrets::SecretOut,
        super::secrets::SecretsOut,
        super::secrets::SetSecret,
        super::platform::IntrospectRequest,
        super::platform::IntrospectResponse,
        super::platform::AccountOut,
        super::platform::IntrospectUser,
        super::platform::IntrospectKey,
        super::platform::UsageBatch,
        super::platform::UsageReport,
        super::platform::RejectedOut,
        super::platform::WebhookEvent,
        super::platform::WebhookOutcome
    )),
    modifiers(&SecuritySchemes),
    security(("team_key" = []), ("login_token" = []))
)]
pub struct ApiDoc;

/// The ways to authenticate, named by every operation's `security` (one of them each): a
/// team key, a member's login token, or (the platform's endpoints) the service token.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build(),
            )
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "team_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Key <team key>`: the call acts for the key's team and is attributed to the team.",
            ))),
        );
        components.add_security_scheme(
            "login_token",
            bearer(
                "`Bearer <login token>` (from `teamdeck auth login`): the call is attributed to the member; \
                 name the team with the `X-Teamdeck-Team` header or in the path.",
            ),
        );
        components.add_security_scheme(
            "service_token",
            bearer("`Bearer <service token>`: the platform's own services (`TEAMDECK_SERVICE_TOKEN`)."),
        );
    }
}

/// Every error: a stable code and words for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct TeamRef {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    /// `API` or `ADMIN`.
    pub scope: String,
    /// The key's prefix and last four characters; the secret is never returned again.
    pub masked: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<ApiKey> for KeyOut {
    fn from(k: ApiKey) -> Self {
        KeyOut {
            id: k.id.to_string(),
            scope: k.scope.as_str().to_owned(),
            masked: k.masked(),
            created_at: When::from_ms(k.created_at).iso,
            last_used_at: k.last_used_at.map(|t| When::from_ms(t).iso),
            name: k.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    /// `team_key` or `login_token`.
    pub authenticated_by: &'static str,
    /// `team` (a team key) or `member` (a login token).
    pub attributed_to: &'static str,
    /// The team the call acts on (for a login token: from the `X-Teamdeck-Team` header).
    pub team: Option<TeamRef>,
    /// The member's role in that team (login token).
    pub role: Option<String>,
    pub key: Option<KeyOut>,
    pub user: Option<UserOut>,
    pub scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    pub email: String,
}

fn team_ref(t: &TeamAccess) -> TeamRef {
    TeamRef { slug: t.account.slug.clone(), name: t.account.name.clone() }
}

/// Who is calling, for which team, and how they authenticated.
#[utoipa::path(get, path = "/api/v1/whoami",
    params(("X-Teamdeck-Team" = Option<String>, Header, description = "With a login token: the team to act for (its slug).")),
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub async fn whoami(caller: ApiCaller) -> Result<web::Json<WhoAmI>, AppError> {
    let team = match (&caller.credential, caller.chosen_team()) {
        (Credential::LoginToken { .. }, None) => None,
        _ => Some(caller.team(None).await?),
    };
    Ok(web::Json(match &caller.credential {
        Credential::TeamKey { key, .. } => WhoAmI {
            authenticated_by: "team_key",
            attributed_to: "team",
            team: team.as_ref().map(team_ref),
            role: None,
            scope: Some(key.scope.as_str().to_owned()),
            key: Some(key.clone().into()),
            user: None,
        },
        Credential::LoginToken { user, .. } => WhoAmI {
            authenticated_by: "login_token",
            attributed_to: "member",
            team: team.as_ref().map(team_ref),
            role: team.as_ref().and_then(|t| t.role).map(|r| r.as_str().to_owned()),
            scope: None,
            key: None,
            user: Some(UserOut { id: user.id.to_string(), name: user.name.clone(), email: user.email.clone() }),
        },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    pub slug: String,
    pub name: String,
    /// `personal` or `team`.
    pub kind: String,
    pub role: String,
    pub archived: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TeamsOut {
    pub teams: Vec<TeamOut>,
}

/// The accounts of the member behind a login token, with their role in each.
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = TeamsOut), (status = 403, body = ErrorBody)))]
pub async fn list_teams(caller: ApiCaller) -> Result<web::Json<TeamsOut>, AppError> {
    let user_id = caller
        .member()
        .map(|u| u.id)
        .ok_or_else(|| AppError::Forbidden("A team key belongs to one team: call whoami to see which.".into()))?;
    let accounts = caller.db().query(move |conn| crate::service::accounts::accounts_of(conn, user_id)).await?;
    Ok(web::Json(TeamsOut {
        teams: accounts
            .into_iter()
            .map(|m| TeamOut {
                kind: m.account.kind.as_str().to_owned(),
                role: m.role.as_str().to_owned(),
                archived: m.account.is_archived(),
                slug: m.account.slug,
                name: m.account.name,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct DeviceCodeRequest {
    /// Shown to the person confirming, and on their tokens page (e.g. the hostname).
    pub device_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Starts a CLI login: show `user_code` and `verification_uri` to the person, then poll
/// `device/token` every `interval` seconds.
#[utoipa::path(post, path = "/api/v1/device/code", request_body = DeviceCodeRequest, security(()),
    responses((status = 200, body = DeviceCode)))]
pub async fn device_code(
    body: web::Json<DeviceCodeRequest>,
    db: web::Data<Db>,
    site: web::Data<crate::http::Site>,
) -> Result<web::Json<DeviceCode>, AppError> {
    let name: String =
        body.device_name.as_deref().unwrap_or("CLI").chars().filter(|c| !c.is_control()).take(64).collect();
    let started = db.query(move |conn| tokens::start_device(conn, &name)).await?;
    let uri = format!("{}/device", site.base_url);
    Ok(web::Json(DeviceCode {
        verification_uri_complete: format!("{uri}?code={}", started.user_code),
        verification_uri: uri,
        device_code: started.device_code,
        user_code: started.user_code,
        expires_in: tokens::DEVICE_CODE_TTL_MS / 1000,
        interval: 2,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct DeviceTokenRequest {
    pub device_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

/// The CLI's poll. 400 with code `authorization_pending` until the person confirms;
/// `access_denied` or `expired_token` end the login.
#[utoipa::path(post, path = "/api/v1/device/token", request_body = DeviceTokenRequest, security(()),
    responses((status = 200, body = AccessToken), (status = 400, body = ErrorBody)))]
pub async fn device_token(body: web::Json<DeviceTokenRequest>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let code = body.into_inner().device_code;
    let (status_code, message) = match db.query(move |conn| tokens::poll(conn, &code)).await? {
        tokens::Poll::Token(token) => {
            return Ok(HttpResponse::Ok().json(AccessToken { access_token: token, token_type: "Bearer" }));
        }
        tokens::Poll::Pending => ("authorization_pending", "Waiting for the code to be confirmed in the browser."),
        tokens::Poll::Denied => ("access_denied", "The login was denied in the browser."),
        tokens::Poll::Expired => {
            ("expired_token", "The code expired or was already used. Run `teamdeck auth login` again.")
        }
    };
    Ok(HttpResponse::BadRequest().json(ErrorBody { code: status_code.into(), message: message.into() }))
}

/// Revokes the login token the call is made with (the CLI's `auth logout`).
#[utoipa::path(post, path = "/api/v1/auth/logout", security(("login_token" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(caller: ApiCaller) -> Result<HttpResponse, AppError> {
    let Credential::LoginToken { token, user } = &caller.credential else {
        return Err(AppError::BadRequest(
            "Only a login token can be logged out; delete a team key on its page.".into(),
        ));
    };
    let (user_id, token_id) = (user.id, token.id);
    caller.db().query(move |conn| tokens::revoke(conn, user_id, token_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub joined_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MembersPage {
    pub members: Vec<MemberOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

/// The team's members by name, 100 a page.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/members", params(("slug" = String, Path,), ("after" = Option<String>, Query,)),
    responses((status = 200, body = MembersPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    caller: ApiCaller,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
    db: web::Data<Db>,
) -> Result<web::Json<MembersPage>, AppError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewTeam, false)?;
    let cursor = query.after.as_deref().and_then(|a| {
        let (id, name) = a.split_once(':')?;
        Some(members::Cursor { user_id: id.parse().ok()?, sort_name: name.to_owned() })
    });
    let account_id = team.account.id;
    let (page, more) = db.query(move |conn| members::page(conn, account_id, None, cursor.as_ref(), 100)).await?;
    let next = more.then(|| page.last().map(|m| format!("{}:{}", m.user_id, m.sort_name))).flatten();
    Ok(web::Json(MembersPage {
        members: page
            .into_iter()
            .map(|m| MemberOut {
                id: m.user_id.to_string(),
                role: m.role.as_str().to_owned(),
                joined_at: When::from_ms(m.joined_at).iso,
                name: m.name,
                email: m.email,
            })
            .collect(),
        next,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct KeysOut {
    pub keys: Vec<KeyOut>,
}

/// The team's keys (an ADMIN-scoped key, or the login token of an admin or billing member).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/keys", params(("slug" = String, Path,)),
    responses((status = 200, body = KeysOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_keys(
    caller: ApiCaller,
    slug: web::Path<String>,
    db: web::Data<Db>,
) -> Result<web::Json<KeysOut>, AppError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewKeys, true)?;
    let account_id = team.account.id;
    let listed = db.query(move |conn| keys::list(conn, account_id)).await?;
    Ok(web::Json(KeysOut { keys: listed.into_iter().map(|l| l.key.into()).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateKey {
    pub name: String,
    /// `API` or `ADMIN`.
    pub scope: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: KeyOut,
    /// The whole key. Returned this once; store it now.
    pub secret: String,
}

/// Creates a key (an ADMIN-scoped key, or an admin's login token).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/keys", params(("slug" = String, Path,)), request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_key(
    caller: ApiCaller,
    slug: web::Path<String>,
    body: web::Json<CreateKey>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let name = TeamName::parse(&body.name).map_err(|e| AppError::BadRequest(format!("name: {e}")))?;
    let scope: KeyScope = body.scope.parse().map_err(AppError::BadRequest)?;
    let actor = caller.actor();
    let account = team.account.clone();
    let created = db.run(move |conn| Ok::<_, AppError>(keys::create(conn, &account, &actor, &name, scope))).await?;
    match created {
        Ok((key, secret)) => Ok(HttpResponse::Created().json(CreatedKey { key: key.into(), secret })),
        Err(KeyError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => Err(AppError::Forbidden(e.to_string())),
    }
}

/// Deletes (revokes) a key: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/keys/{key_id}", params(("slug" = String, Path,), ("key_id" = String, Path,)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_key(
    caller: ApiCaller,
    path: web::Path<(String, i64)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (slug, key_id) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let (account_id, actor) = (team.account.id, caller.actor());
    match db.run(move |conn| Ok::<_, AppError>(keys::revoke(conn, account_id, &actor, key_id))).await? {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(KeyError::Db(e)) => Err(AppError::internal(e)),
        Err(_) => Err(AppError::NotFound),
    }
}

#[derive(Serialize, ToSchema)]
pub struct RequestOut {
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_ms: i32,
    /// The member's name, or `team key <name>`.
    pub by: String,
    pub user_id: Option<String>,
    pub key_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestsOut {
    pub requests: Vec<RequestOut>,
}

/// The team's latest 100 API requests, newest first, each with who made it.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/requests", params(("slug" = String, Path,)),
    responses((status = 200, body = RequestsOut), (status = 401, body = ErrorBody)))]
pub async fn list_requests(
    caller: ApiCaller,
    slug: web::Path<String>,
    db: web::Data<Db>,
) -> Result<web::Json<RequestsOut>, AppError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewTeam, false)?;
    let account_id = team.account.id;
    let rows = db.query(move |conn| requests::recent(conn, account_id, None, None, 100)).await?;
    Ok(web::Json(RequestsOut {
        requests: rows
            .into_iter()
            .map(|r| RequestOut {
                at: When::from_ms(r.created_at).iso,
                by: r.by(),
                method: r.method,
                path: r.path,
                status: r.status,
                duration_ms: r.duration_ms,
                user_id: r.user_id.map(|i| i.to_string()),
                key_id: r.key_id.map(|i| i.to_string()),
            })
            .collect(),
    }))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}
