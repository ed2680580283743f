//! AP2 mandates through the door: the tenant's issuer key (generated on first use, sealed
//! like other secrets, rotatable, published as a JWKS), and the open Payment Mandates an
//! operator grants an agent key (issue, list, revoke). See docs/mandates.md.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use secrecy::ExposeSecret;

use super::{audit_entry, finish, Platform};
use crate::auth::{Actor, Principal, Scope};
use crate::error::{Error, Result};
use crate::id::{ApiKeyId, MandateId, TenantId};
use crate::mandate::{
    issue_open_mandate, Confirmation, Constraint, Jwk, Jwks, MandateRecord, NewMandate,
    OpenMandate, SigningKey, Usage, OPEN_VCT,
};
use crate::money::Currency;

/// Default lifetime of an issued mandate: one hour.
pub const DEFAULT_MANDATE_TTL_SECS: i64 = 3600;
/// Longest lifetime of an issued mandate: 30 days.
pub const MAX_MANDATE_TTL_SECS: i64 = 30 * 24 * 3600;

fn seal_context(tenant: &TenantId, kid: &str) -> String {
    format!("mandate-issuer:{tenant}:{kid}")
}

fn validate_constraints(constraints: &[Constraint]) -> Result<()> {
    let bad = |m: &str| Err(Error::validation("constraints", m));
    if constraints.is_empty() {
        return bad("at least one constraint");
    }
    let currency = |c: &str| {
        Currency::from_code(c).map_err(|_| Error::validation("constraints", "unknown currency"))
    };
    let (mut range, mut budget) = (false, false);
    for c in constraints {
        match c {
            Constraint::AmountRange {
                currency: cur,
                max,
                min,
            } => {
                currency(cur)?;
                if *max <= 0 || min.is_some_and(|m| m < 0 || m > *max) {
                    return bad("amount_range needs 0 <= min <= max and max > 0 (minor units)");
                }
                range = true;
            }
            Constraint::Budget { max, currency: cur } => {
                currency(cur)?;
                let ok = max
                    .to_string()
                    .parse::<rust_decimal::Decimal>()
                    .is_ok_and(|d| d > rust_decimal::Decimal::ZERO);
                if !ok {
                    return bad("budget.max must be a positive number of major units");
                }
                budget = true;
            }
            Constraint::AllowedPayees { allowed } if allowed.is_empty() => {
                return bad("allowed_payees needs at least one payee")
            }
            Constraint::AllowedPaymentInstruments { allowed } if allowed.is_empty() => {
                return bad("allowed_payment_instruments needs at least one instrument")
            }
            Constraint::AllowedPisps { allowed } if allowed.is_empty() => {
                return bad("allowed_pisps needs at least one PISP")
            }
            _ => {}
        }
    }
    let recurrence = constraints
        .iter()
        .any(|c| matches!(c, Constraint::AgentRecurrence { .. }));
    if recurrence && !(range && budget) {
        return bad("agent_recurrence needs amount_range and budget");
    }
    Ok(())
}

impl Platform {
    /// The tenant's signing key, generated (and stored sealed) on first use.
    async fn mandate_signing_key(&self, tenant: &TenantId) -> Result<SigningKey> {
        let keys = self.inner.store.mandate_issuer_keys(tenant).await?;
        if let Some(k) = keys.into_iter().find(|k| !k.retired) {
            return self.open_issuer_key(tenant, &k.kid, &k.private_enc);
        }
        self.new_issuer_key(tenant, false).await
    }

    fn open_issuer_key(&self, tenant: &TenantId, kid: &str, sealed: &str) -> Result<SigningKey> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| Error::internal("stored issuer key is not base64"))?;
        let pkcs8 = self
            .inner
            .secrets
            .open(&bytes, &seal_context(tenant, kid))?;
        let der = STANDARD
            .decode(pkcs8.expose_secret())
            .map_err(|_| Error::internal("stored issuer key is not base64"))?;
        SigningKey::from_pkcs8(&der, kid)
    }

    async fn new_issuer_key(&self, tenant: &TenantId, retire: bool) -> Result<SigningKey> {
        let mut raw = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let kid = format!("mik_{}", hex::encode(raw));
        let key = SigningKey::generate(kid.clone())?;
        let sealed = self
            .inner
            .secrets
            .seal(&STANDARD.encode(key.pkcs8()), &seal_context(tenant, &kid))?;
        let mut tx = self.inner.store.begin().await?;
        if retire {
            tx.retire_mandate_issuer_keys(tenant).await?;
        }
        tx.insert_mandate_issuer_key(tenant, &kid, &STANDARD.encode(sealed), &key.public_jwk())
            .await?;
        tx.commit().await?;
        Ok(key)
    }

    /// The tenant's mandate issuer keys as a JWKS (any principal of the tenant): the signing
    /// key and the retired ones, whose mandates verify until they expire.
    pub async fn mandate_issuer_jwks(&self, p: &Principal) -> Result<Jwks> {
        self.mandate_signing_key(&p.tenant_id).await?;
        let keys = self.inner.store.mandate_issuer_keys(&p.tenant_id).await?;
        Ok(Jwks {
            keys: keys.into_iter().map(|k| k.public_jwk).collect(),
        })
    }

    /// Retires the signing key and makes a new one (admin); audited. Returns the new public key.
    pub async fn rotate_mandate_issuer_key(&self, p: &Principal) -> Result<Jwk> {
        p.require(Scope::Admin)?;
        let key = self.new_issuer_key(&p.tenant_id, true).await?;
        let mut tx = self.inner.store.begin().await?;
        finish(
            &mut tx,
            p,
            None,
            &[],
            audit_entry(
                p,
                "mandates.rotate_key",
                "mandate_issuer_key",
                key.kid(),
                None,
                "ok",
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(key.public_jwk())
    }

    /// Grants an agent key an open Payment Mandate (admin): signed with the tenant's issuer
    /// key, `cnf` the agent's public key, expiring after `ttl_secs`. Audited.
    pub async fn issue_mandate(&self, p: &Principal, req: NewMandate) -> Result<MandateRecord> {
        p.require(Scope::Admin)?;
        let key = self
            .inner
            .store
            .api_key(&p.tenant_id, &req.api_key_id)
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or_else(|| Error::not_found("api_key", &req.api_key_id))?;
        req.agent_jwk.sec1_point().map_err(|_| {
            Error::validation("agent_jwk", "must be a P-256 public key (EC, P-256, x, y)")
        })?;
        validate_constraints(&req.constraints)?;
        let ttl = req.ttl_secs.unwrap_or(DEFAULT_MANDATE_TTL_SECS);
        if !(60..=MAX_MANDATE_TTL_SECS).contains(&ttl) {
            return Err(Error::validation(
                "ttl_secs",
                format!("between 60 and {MAX_MANDATE_TTL_SECS}"),
            ));
        }
        let signer = self.mandate_signing_key(&p.tenant_id).await?;
        let now = crate::storage::now();
        let mandate = OpenMandate {
            vct: OPEN_VCT.into(),
            constraints: req.constraints,
            cnf: Confirmation { jwk: req.agent_jwk },
            payee: None,
            payment_amount: None,
            payment_instrument: None,
            pisp: None,
            execution_date: None,
            iat: Some(now.timestamp()),
            exp: Some(now.timestamp() + ttl),
        };
        let token = issue_open_mandate(&signer, &mandate)?;
        let issuer_jwt = token.split('~').next().unwrap_or_default();
        let record = MandateRecord {
            id: MandateId::generate(),
            api_key_id: key.id,
            issuer_kid: signer.kid().to_string(),
            mandate_digest: crate::mandate::jose::sha256_b64url(issuer_jwt),
            token: token.clone(),
            mandate,
            created_by: p.actor.to_string(),
            created_at: now,
            expires_at: now + chrono::Duration::seconds(ttl),
            revoked_at: None,
            usage: Usage::default(),
        };
        let mut tx = self.inner.store.begin().await?;
        tx.insert_mandate(&p.tenant_id, &record).await?;
        finish(
            &mut tx,
            p,
            None,
            &[],
            audit_entry(
                p,
                "mandates.issue",
                "mandate",
                record.id.as_str(),
                None,
                &format!(
                    "ok: for {} until {}",
                    record.api_key_id,
                    record.expires_at.to_rfc3339()
                ),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Mandates of the tenant: all of them for an admin (or of `api_key` when given); an API
    /// key sees only its own (`payments:read`).
    pub async fn mandates(
        &self,
        p: &Principal,
        api_key: Option<&ApiKeyId>,
    ) -> Result<Vec<MandateRecord>> {
        if p.has(Scope::Admin) {
            return self.inner.store.mandates(&p.tenant_id, api_key).await;
        }
        p.require(Scope::PaymentsRead)?;
        match &p.actor {
            Actor::ApiKey(own) if api_key.is_none_or(|k| k == own) => {
                self.inner.store.mandates(&p.tenant_id, Some(own)).await
            }
            _ => Err(Error::missing_scope(Scope::Admin)),
        }
    }

    /// Revokes a mandate at once (admin); audited. A revoked mandate is refused with
    /// `MANDATE_REVOKED`.
    pub async fn revoke_mandate(&self, p: &Principal, id: &MandateId) -> Result<MandateRecord> {
        p.require(Scope::Admin)?;
        let mut tx = self.inner.store.begin().await?;
        if !tx.revoke_mandate(&p.tenant_id, id).await? {
            // already revoked (answer it as it is) or not the tenant's
            drop(tx);
            return self
                .inner
                .store
                .mandate(&p.tenant_id, id)
                .await?
                .ok_or_else(|| Error::not_found("mandate", id));
        }
        finish(
            &mut tx,
            p,
            None,
            &[],
            audit_entry(p, "mandates.revoke", "mandate", id.as_str(), None, "ok"),
        )
        .await?;
        tx.commit().await?;
        self.inner
            .store
            .mandate(&p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("mandate", id))
    }
}
