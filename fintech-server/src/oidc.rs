//! Optional OIDC sign-in (Auth0, Okta, Keycloak, any issuer with discovery): a client that
//! signed the user in at the identity provider posts the ID token to `POST /v1/auth/oidc`;
//! the server verifies it against the issuer's published keys and answers the same session
//! tokens as a password login.
//!
//! Verification: the issuer's discovery document names its JWKS; keys are cached for ten
//! minutes and refetched (at most every 30 s) when a token names an unknown `kid`. Only
//! asymmetric algorithms are accepted (RS*, PS*, ES256/384; never HS* or `none`); `iss`, `aud`
//! and `exp` must match; `sub` and `email` are required. Roles come from a claim (default
//! `roles`; a string or a list), each value mapped through the configured map or taken as a
//! role name (`admin`, `operator`, `developer`, `viewer`); the most privileged wins.
//!
//! Core decides the rest ([`fintech_core::Platform::login_federated`]): the user is linked by
//! (issuer, subject), created on its first sign-in unless a user with that e-mail exists
//! (refused: no takeover by e-mail), follows the provider's role afterwards, and an e-mail
//! the provider has not verified (`email_verified` missing or false) is refused unless
//! [`OidcConfig::allow_unverified_email`].

use std::time::{Duration, Instant};

use fintech_core::id::TenantId;
use fintech_core::platform::FederatedIdentity;
use fintech_core::Role;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// How the server trusts an identity provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL exactly as in its tokens' `iss` (e.g. `https://example.okta.com`).
    pub issuer: String,
    /// The audience its ID tokens are issued for (the client id).
    pub audience: String,
    /// The tenant its users sign in to.
    pub tenant: TenantId,
    /// The claim holding roles or groups (default `roles`).
    pub role_claim: String,
    /// Claim values mapped to roles (`fintech-admins` → admin); unmapped values are taken as
    /// role names.
    pub role_map: Vec<(String, Role)>,
    /// Accept tokens whose `email_verified` is missing or false (for providers that never
    /// send it and verify addresses themselves). Off by default.
    pub allow_unverified_email: bool,
}

/// Why a token was refused (logged at debug level; the client only sees "invalid token").
#[derive(Debug)]
pub(crate) struct Refusal(pub String);

const KEYS_TTL: Duration = Duration::from_secs(600);
const REFETCH_EVERY: Duration = Duration::from_secs(30);

/// The verifier with its key cache.
pub(crate) struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    keys: Mutex<Option<(JwkSet, Instant)>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

fn privilege(r: Role) -> u8 {
    match r {
        Role::Admin => 3,
        Role::Operator => 2,
        Role::Developer => 1,
        Role::Viewer => 0,
    }
}

impl Oidc {
    pub(crate) fn new(config: OidcConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            config,
            http,
            keys: Mutex::new(None),
        }
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        &self.config.tenant
    }

    async fn fetch_keys(&self) -> Result<JwkSet, Refusal> {
        let base = self.config.issuer.trim_end_matches('/');
        let discovery: Discovery = self
            .http
            .get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Refusal(format!("discovery: {e}")))?
            .json()
            .await
            .map_err(|e| Refusal(format!("discovery document: {e}")))?;
        if discovery.issuer.trim_end_matches('/') != base {
            return Err(Refusal(format!(
                "discovery names issuer {}, configured {}",
                discovery.issuer, self.config.issuer
            )));
        }
        self.http
            .get(&discovery.jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Refusal(format!("jwks: {e}")))?
            .json()
            .await
            .map_err(|e| Refusal(format!("jwks document: {e}")))
    }

    /// The key for `kid`, from the cache or a (rate-limited) refetch.
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, Refusal> {
        let mut cache = self.keys.lock().await;
        let find = |set: &JwkSet| match kid {
            Some(k) => set.find(k).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        if let Some((set, at)) = cache.as_ref() {
            if let Some(k) = find(set) {
                if at.elapsed() < KEYS_TTL {
                    return Ok(k);
                }
            } else if at.elapsed() < REFETCH_EVERY {
                return Err(Refusal(format!("unknown key id {kid:?}")));
            }
        }
        let set = self.fetch_keys().await?;
        let found = find(&set);
        *cache = Some((set, Instant::now()));
        found.ok_or_else(|| Refusal(format!("unknown key id {kid:?}")))
    }

    /// Whether tokens without a verified e-mail are accepted (core enforces it).
    pub(crate) fn allow_unverified_email(&self) -> bool {
        self.config.allow_unverified_email
    }

    /// Verifies an ID token; the identity it vouches for and the mapped role.
    pub(crate) async fn verify(&self, token: &str) -> Result<(FederatedIdentity, Role), Refusal> {
        let kid = accepted_header(token)?;
        let jwk = self.key(kid.as_deref()).await?;
        verify_id_token(&self.config, token, &jwk).map_err(Refusal)
    }
}

/// The key id an ID token names, after checking that its algorithm is an accepted asymmetric
/// one (RS*, PS*, ES256/384; never HS* or `none`).
fn accepted_header(token: &str) -> Result<Option<String>, Refusal> {
    let header = decode_header(token).map_err(|e| Refusal(format!("header: {e}")))?;
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
    ) {
        return Err(Refusal(format!("algorithm {:?} not accepted", header.alg)));
    }
    Ok(header.kid)
}

/// Verifies an ID token against the issuer's key `jwk` (the one its `kid` names): an accepted
/// asymmetric algorithm, a valid signature, `iss` and `aud` as configured, `exp` in the future
/// (30 s leeway), a non-empty `sub`, an `email`, and a role claim that maps to a role (the
/// most privileged wins). The error says why, for the debug log (never for the client).
pub fn verify_id_token(
    config: &OidcConfig,
    token: &str,
    jwk: &Jwk,
) -> Result<(FederatedIdentity, Role), String> {
    let header = decode_header(token).map_err(|e| format!("header: {e}"))?;
    accepted_header(token).map_err(|r| r.0)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("jwk: {e}"))?;
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[&config.issuer]);
    v.set_audience(&[&config.audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.leeway = 30;
    let claims = decode::<Value>(token, &key, &v)
        .map_err(|e| format!("token: {e}"))?
        .claims;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "no sub claim".to_owned())?
        .to_owned();
    // a boolean, or the string some providers send
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => Some(s == "true"),
        _ => None,
    };
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .ok_or_else(|| "no email claim".to_owned())?
        .to_owned();
    let values: Vec<&str> = match claims.get(&config.role_claim) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let role = values
        .iter()
        .filter_map(|v| {
            config
                .role_map
                .iter()
                .find(|(name, _)| name == v)
                .map(|(_, r)| *r)
                .or_else(|| Role::parse(v).ok())
        })
        .max_by_key(|r| privilege(*r))
        .ok_or_else(|| format!("no fintech role in claim {:?}", config.role_claim))?;
    Ok((
        FederatedIdentity {
            issuer: config.issuer.clone(),
            subject,
            email,
            email_verified,
        },
        role,
    ))
}

/// Parses `value=role,value=role`.
pub fn parse_role_map(spec: &str) -> fintech_core::Result<Vec<(String, Role)>> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (value, role) = pair.split_once('=').ok_or_else(|| {
                fintech_core::Error::validation(
                    "oidc_role_map",
                    format!("{pair:?} is not value=role"),
                )
            })?;
            Ok((value.trim().to_owned(), Role::parse(role.trim())?))
        })
        .collect()
}
