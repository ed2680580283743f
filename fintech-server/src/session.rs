//! Operator sign-in over HTTP: short-lived signed access tokens (JWT, HS256, 15 minutes) on
//! top of core's password login and rotating refresh tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use fintech_core::id::{TenantId, UserId};
use fintech_core::platform::Session;
use fintech_core::{Interface, Principal, Role};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use crate::routes::Errors;
use crate::AppState;

/// Lifetime of an access token.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
const ISSUER: &str = "fintech";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tid: String,
    role: Role,
    iss: String,
    iat: i64,
    exp: i64,
}

/// Signs an access token for a session's user.
fn access_token(state: &AppState, session: &Session) -> ApiResult<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: session.user.id.to_string(),
        tid: session.user.tenant_id.to_string(),
        role: session.user.role,
        iss: ISSUER.to_owned(),
        iat: now,
        exp: now + ACCESS_TTL_SECS,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.platform().session_signing_key()),
    )
    .map_err(|e| fintech_core::Error::internal(format!("signing a session: {e}")).into())
}

/// The principal of a valid, unexpired access token; `None` for anything else.
pub(crate) fn principal(state: &AppState, token: &str) -> Option<Principal> {
    verify_access_token(state.platform().session_signing_key(), token)
}

/// The operator an access token signed with `signing_key` vouches for: HS256 only, issued by
/// this server, unexpired (5 s leeway), naming a valid tenant and user id; `None` for anything
/// else (a wrong key or algorithm, `none`, a malformed or expired token).
pub fn verify_access_token(signing_key: &[u8], token: &str) -> Option<Principal> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.leeway = 5;
    let data = decode::<Claims>(token, &DecodingKey::from_secret(signing_key), &v).ok()?;
    let c = data.claims;
    Some(Principal::user(
        TenantId::parse(&c.tid).ok()?,
        UserId::parse(&c.sub).ok()?,
        c.role,
        Interface::Http,
    ))
}

/// Sign-in request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Tenant id (`ten_…`).
    tenant_id: String,
    /// E-mail.
    email: String,
    /// Password.
    password: String,
}

/// Tokens of a session.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    /// Send as `Authorization: Bearer …` for 15 minutes.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds the access token lives.
    expires_in: i64,
    /// Exchange at `/v1/auth/refresh` for new tokens; single use.
    refresh_token: String,
}

fn tokens(state: &AppState, session: Session) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(TokenResponse {
        access_token: access_token(state, &session)?,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token: session.refresh_token,
    }))
}

/// Signs an operator in with e-mail and password (argon2id); answers an access token and a
/// refresh token. Attempts are limited per tenant and e-mail.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), Errors))]
pub(crate) async fn login(
    State(s): State<AppState>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let throttle_key = format!(
        "{}:{}",
        req.tenant_id,
        req.email.trim().to_ascii_lowercase()
    );
    if s.inner.login_limiter.check_key(&throttle_key).is_err() {
        return Err(ApiError::rate_limited(60));
    }
    let tenant = TenantId::parse(&req.tenant_id).map_err(|_| {
        ApiError::from(fintech_core::Error::Unauthenticated(
            "invalid tenant, e-mail or password".into(),
        ))
    })?;
    let session = s
        .platform()
        .login(&tenant, &req.email, &req.password, Interface::Http)
        .await?;
    tokens(&s, session)
}

/// An identity provider's ID token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OidcRequest {
    /// The ID token (a JWT) the identity provider issued to this client.
    id_token: String,
}

/// Signs a user in with an ID token from the configured OIDC provider (Auth0, Okta, any
/// issuer with discovery); answers the same tokens as a password login. The user is created
/// on first sign-in; its role follows the provider's claim. 404 when OIDC is not configured.
#[utoipa::path(post, path = "/v1/auth/oidc", tag = "auth",
    request_body = OidcRequest,
    responses((status = 200, body = TokenResponse), Errors))]
pub(crate) async fn oidc_login(
    State(s): State<AppState>,
    Body(req): Body<OidcRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let Some(oidc) = s.inner.oidc.as_ref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "OIDC sign-in is not configured on this server",
        ));
    };
    let (identity, role) = oidc.verify(&req.id_token).await.map_err(|r| {
        tracing::info!(reason = %r.0, "OIDC token refused");
        ApiError::from(fintech_core::Error::Unauthenticated(
            "the identity token is not valid for this server".into(),
        ))
    })?;
    let session = s
        .platform()
        .login_federated(
            oidc.tenant(),
            &identity,
            role,
            oidc.allow_unverified_email(),
            Interface::Http,
        )
        .await?;
    tokens(&s, session)
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    refresh_token: String,
}

/// New tokens for a refresh token, which is used up; using one twice revokes the login.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), Errors))]
pub(crate) async fn refresh(
    State(s): State<AppState>,
    Body(req): Body<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let session = s.platform().refresh_session(&req.refresh_token).await?;
    tokens(&s, session)
}

/// Ends the login of a refresh token.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"), Errors))]
pub(crate) async fn logout(
    State(s): State<AppState>,
    Body(req): Body<RefreshRequest>,
) -> ApiResult<StatusCode> {
    s.platform().logout(&req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
