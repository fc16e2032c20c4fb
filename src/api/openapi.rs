//! The OpenAPI document of `/api/v1/` (served at `/api/v1/openapi.json`): every operation and
//! schema of the resource files, and the ways to authenticate.
//!
//! Handlers are named bare (the resource files are glob-imported) because utoipa tags an
//! operation with the module path it is named by here: the first resources stay untagged,
//! and the secrets and platform handlers declare the tags they were published with.

use super::apps::*;
use super::device::*;
use super::error::ErrorBody;
use super::keys::*;
use super::members::*;
use super::platform::{introspect::*, runtime::*, usage::*, webhook::*};
use super::requests::*;
use super::secrets::*;
use super::whoami::*;
use actix_web::HttpResponse;
use utoipa::OpenApi;

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
        rotate_key,
        retire_old_secret,
        set_key_limits,
        list_requests,
        list_secrets,
        set_secret,
        delete_secret,
        deploy,
        list_apps,
        list_revisions,
        rollback,
        delete_app,
        changes,
        environment,
        report,
        device_code,
        device_token,
        logout,
        introspect,
        usage_events,
        billing_webhook
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
        RotateKey,
        KeyLimits,
        RequestOut,
        RequestsOut,
        SecretOut,
        SecretsOut,
        SetSecret,
        Deployment,
        AppOut,
        AppsOut,
        RevisionOut,
        RevisionsOut,
        ChangesOut,
        DesiredAppOut,
        EnvironmentOut,
        ReportIn,
        ReportOut,
        IntrospectRequest,
        IntrospectResponse,
        AccountOut,
        IntrospectUser,
        IntrospectKey,
        UsageBatch,
        UsageReport,
        RejectedOut,
        WebhookEvent,
        WebhookOutcome
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

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}
