//! Operator sessions: passwords (argon2id), login, and rotating refresh tokens. The HTTP
//! shell turns a session into short-lived signed access tokens with
//! [`Platform::session_signing_key`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{audit_entry, finish, Platform};
use crate::auth::{Interface, Principal, Role, Scope};
use crate::error::{ConflictCode, Error, Result};
use crate::id::{TenantId, UserId};
use crate::storage::{now_micros, User};

/// How long a refresh token lives.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;

/// An identity a trusted identity provider vouches for: the claims of an OIDC ID token whose
/// signature, issuer, audience and expiry the shell has verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedIdentity {
    /// The provider (`iss`).
    pub issuer: String,
    /// The account at the provider (`sub`): what the user is linked by.
    pub subject: String,
    /// The e-mail the provider gives (`email`).
    pub email: String,
    /// The provider's `email_verified`; `None` when the token does not say.
    pub email_verified: Option<bool>,
}

/// A signed-in user and the refresh token (`frt_…`) to show the client once.
pub struct Session {
    /// The user.
    pub user: User,
    /// The new refresh token. Only its hash is stored.
    pub refresh_token: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("frt_{}", hex::encode(raw))
}

fn invalid_login() -> Error {
    Error::Unauthenticated("invalid tenant, e-mail or password".to_owned())
}

/// An argon2 hash to verify against when the user does not exist (or has no password), so an
/// unknown e-mail costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(uuid::Uuid::new_v4().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

impl Platform {
    /// Sets a user's password (admin): 12 to 256 characters, stored as an argon2id hash.
    pub async fn set_user_password(
        &self,
        p: &Principal,
        user: &UserId,
        password: &str,
    ) -> Result<()> {
        p.require(Scope::Admin)?;
        let n = password.chars().count();
        if !(12..=256).contains(&n) {
            return Err(Error::validation("password", "12 to 256 characters"));
        }
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| Error::internal(format!("password hashing: {e}")))?
            .to_string();
        let mut tx = self.inner.store.begin().await?;
        if !tx.set_password_hash(&p.tenant_id, user, &hash).await? {
            return Err(Error::not_found("user", user));
        }
        finish(
            &mut tx,
            p,
            None,
            &[],
            audit_entry(p, "users.set_password", "user", user.as_str(), None, "ok"),
        )
        .await?;
        tx.commit().await
    }

    /// Signs a user in on the word of a trusted identity provider (OIDC): the HTTP shell has
    /// verified the provider's signed token and mapped its claims to `role`.
    ///
    /// The user is found by the identity's `(issuer, subject)` link, never by e-mail. On the
    /// first sign-in of an identity a user is created and linked, unless a user with that
    /// e-mail already exists in the tenant (a password user, or one linked to another
    /// identity): that is refused with `Conflict(already_exists)` and nothing is created or
    /// changed, so a provider account cannot take over a local one by claiming its address.
    /// The e-mail must be verified by the provider (`email_verified: true`) unless
    /// `allow_unverified_email`. The linked user's role follows the provider's on every
    /// sign-in.
    pub async fn login_federated(
        &self,
        tenant: &TenantId,
        identity: &FederatedIdentity,
        role: Role,
        allow_unverified_email: bool,
        interface: Interface,
    ) -> Result<Session> {
        let email = identity.email.trim().to_ascii_lowercase();
        if email.is_empty() || email.len() > 254 || !email.contains('@') {
            return Err(Error::validation(
                "email",
                "the identity token carries no valid e-mail",
            ));
        }
        let issuer = identity.issuer.as_str();
        let subject = identity.subject.as_str();
        if issuer.is_empty() || issuer.len() > 1024 || subject.is_empty() || subject.len() > 255 {
            return Err(Error::validation(
                "sub",
                "the identity token carries no valid issuer and subject",
            ));
        }
        if self.inner.store.tenant(tenant).await?.is_none() {
            return Err(Error::not_found("tenant", tenant));
        }
        let anon = Principal::system(tenant.clone(), interface);
        if identity.email_verified != Some(true) && !allow_unverified_email {
            let err = Error::Unauthenticated(
                "the identity provider has not verified this e-mail address".to_owned(),
            );
            self.audit_denial(
                &anon,
                "auth.login_federated",
                "identity",
                issuer,
                None,
                &err,
            )
            .await?;
            return Err(err);
        }
        let linked =
            match self
                .inner
                .store
                .federated_user(tenant, issuer, subject)
                .await?
            {
                Some(id) => {
                    Some(self.inner.store.user(tenant, &id).await?.ok_or_else(|| {
                        Error::internal("a federated identity links a missing user")
                    })?)
                }
                None => None,
            };
        if linked.is_none()
            && self
                .inner
                .store
                .user_credentials(tenant, &email)
                .await?
                .is_some()
        {
            let err = Error::conflict(
                ConflictCode::AlreadyExists,
                "a user with this e-mail already exists and is not linked to this identity; federated sign-in never takes over an existing account by e-mail (sign in with its password, or use another address at the identity provider)",
            );
            self.audit_denial(&anon, "auth.login_federated", "user", &email, None, &err)
                .await?;
            return Err(err);
        }
        let mut tx = self.inner.store.begin().await?;
        let user = match linked {
            Some(mut user) => {
                if user.role != role {
                    tx.set_user_role(tenant, &user.id, role).await?;
                    user.role = role;
                }
                user
            }
            None => {
                let user = User {
                    id: UserId::generate(),
                    tenant_id: tenant.clone(),
                    email: email.clone(),
                    role,
                    created_at: crate::storage::now(),
                };
                // a concurrent first sign-in with the same e-mail makes this a conflict
                tx.insert_user(&user, None).await?;
                tx.insert_federated_identity(tenant, issuer, subject, &user.id)
                    .await?;
                user
            }
        };
        let p = Principal::user(tenant.clone(), user.id.clone(), user.role, interface);
        let refresh_token = new_refresh_token();
        tx.insert_refresh_token(
            tenant,
            &user.id,
            &token_hash(&refresh_token),
            &uuid::Uuid::new_v4().to_string(),
            now_micros() + REFRESH_TTL_SECS * 1_000_000,
        )
        .await?;
        finish(
            &mut tx,
            &p,
            None,
            &[],
            audit_entry(
                &p,
                "auth.login_federated",
                "user",
                user.id.as_str(),
                None,
                &format!("ok: {issuer} as {}", role.as_str()),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Session {
            user,
            refresh_token,
        })
    }

    /// Signs a user in with e-mail and password; audited either way.
    pub async fn login(
        &self,
        tenant: &TenantId,
        email: &str,
        password: &str,
        interface: Interface,
    ) -> Result<Session> {
        let email = email.trim().to_ascii_lowercase();
        let found = self.inner.store.user_credentials(tenant, &email).await?;
        let hash = found
            .as_ref()
            .and_then(|(_, h)| h.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let parsed =
            PasswordHash::new(&hash).map_err(|_| Error::internal("stored password hash"))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        let Some((user, Some(_))) = found.filter(|_| ok) else {
            if self.inner.store.tenant(tenant).await?.is_some() {
                let anon = Principal::system(tenant.clone(), interface);
                self.audit_denial(&anon, "auth.login", "user", &email, None, &invalid_login())
                    .await?;
            }
            return Err(invalid_login());
        };
        let p = Principal::user(tenant.clone(), user.id.clone(), user.role, interface);
        let refresh_token = new_refresh_token();
        let mut tx = self.inner.store.begin().await?;
        tx.insert_refresh_token(
            tenant,
            &user.id,
            &token_hash(&refresh_token),
            &uuid::Uuid::new_v4().to_string(),
            now_micros() + REFRESH_TTL_SECS * 1_000_000,
        )
        .await?;
        finish(
            &mut tx,
            &p,
            None,
            &[],
            audit_entry(&p, "auth.login", "user", user.id.as_str(), None, "ok"),
        )
        .await?;
        tx.commit().await?;
        Ok(Session {
            user,
            refresh_token,
        })
    }

    /// Exchanges a refresh token for a new one (rotation). A token used twice means it was
    /// stolen: its whole family is revoked and both holders must sign in again.
    pub async fn refresh_session(&self, refresh_token: &str) -> Result<Session> {
        let bad = || Error::Unauthenticated("invalid or expired refresh token".to_owned());
        let hash = token_hash(refresh_token);
        let row = self
            .inner
            .store
            .refresh_token(&hash)
            .await?
            .ok_or_else(bad)?;
        if row.revoked {
            self.inner.store.revoke_refresh_family(&row.family).await?;
            return Err(Error::Unauthenticated(
                "refresh token reused: every session of this login is revoked; sign in again"
                    .to_owned(),
            ));
        }
        if row.expires_at <= now_micros() {
            return Err(bad());
        }
        let user = self
            .inner
            .store
            .user(&row.tenant_id, &row.user_id)
            .await?
            .ok_or_else(bad)?;
        let next = new_refresh_token();
        let mut tx = self.inner.store.begin().await?;
        // Exactly one concurrent refresh wins; the other is treated as reuse.
        if !tx.revoke_refresh_token(&hash).await? {
            drop(tx);
            self.inner.store.revoke_refresh_family(&row.family).await?;
            return Err(bad());
        }
        tx.insert_refresh_token(
            &row.tenant_id,
            &user.id,
            &token_hash(&next),
            &row.family,
            now_micros() + REFRESH_TTL_SECS * 1_000_000,
        )
        .await?;
        tx.commit().await?;
        Ok(Session {
            user,
            refresh_token: next,
        })
    }

    /// Ends a login: the refresh token's family is revoked (access tokens expire on their own).
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        if let Some(row) = self
            .inner
            .store
            .refresh_token(&token_hash(refresh_token))
            .await?
        {
            self.inner.store.revoke_refresh_family(&row.family).await?;
        }
        Ok(())
    }

    /// The key the HTTP shell signs access tokens with: derived from the encryption key, so
    /// every instance sharing the database and key accepts every instance's tokens.
    pub fn session_signing_key(&self) -> &[u8; 32] {
        self.inner.secrets.signing_key()
    }
}
