//! Outgoing webhooks through the door: endpoints (admin), their deliveries, replays, and the
//! two calls the delivery worker makes.

use base64::Engine;
use rand::RngCore;
use secrecy::ExposeSecret;

use super::{audit_entry, finish_once, validate_limit, Executed, Platform};
use crate::auth::{Principal, Scope};
use crate::error::{Error, Result};
use crate::id::{WebhookDeliveryId, WebhookEndpointId};
use crate::webhooks::{
    validate_event_types, validate_url, AttemptOutcome, CreatedWebhookEndpoint, DueDelivery,
    NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint,
};

impl Platform {
    /// Registers an endpoint (admin). The signing secret is in the result and nowhere else in
    /// clear: it is stored sealed. `allow_private` is the deployment's choice (local
    /// development), never the caller's.
    pub async fn create_webhook_endpoint(
        &self,
        p: &Principal,
        req: NewWebhookEndpoint,
        allow_private: bool,
        idempotency_key: Option<String>,
    ) -> Result<Executed<CreatedWebhookEndpoint>> {
        p.require(Scope::Developer)?;
        let url = validate_url(&req.url, allow_private)?;
        validate_event_types(&req.event_types)?;
        let request = req.clone();
        self.once(
            p,
            idempotency_key,
            "webhooks.create",
            &request,
            |idem| async move {
                let idem = idem.as_ref();
                let mut raw = [0u8; 24];
                rand::rngs::OsRng.fill_bytes(&mut raw);
                let secret = format!("whsec_{}", hex::encode(raw));
                let endpoint = WebhookEndpoint {
                    id: WebhookEndpointId::generate(),
                    url: url.to_string(),
                    event_types: req.event_types,
                    created_by: p.actor.to_string(),
                    created_at: crate::storage::now(),
                    disabled_at: None,
                };
                let sealed = self.inner.secrets.seal(&secret, endpoint.id.as_str())?;
                let sealed = base64::engine::general_purpose::STANDARD.encode(sealed);
                let mut tx = self.inner.store.begin().await?;
                tx.insert_webhook_endpoint(&p.tenant_id, &endpoint, &sealed)
                    .await?;
                let audit = audit_entry(
                    p,
                    "webhooks.create",
                    "webhook_endpoint",
                    endpoint.id.as_str(),
                    idem.map(|i| i.key.as_str()),
                    &format!("ok: {}", endpoint.url),
                );
                let created = CreatedWebhookEndpoint { endpoint, secret };
                let answer = self.kept(p, idem, &created, true)?;
                finish_once(&mut tx, p, idem, answer.as_deref(), &[], audit).await?;
                tx.commit().await?;
                Ok(created)
            },
        )
        .await
    }

    /// Endpoints of the tenant (admin).
    pub async fn webhook_endpoints(&self, p: &Principal) -> Result<Vec<WebhookEndpoint>> {
        p.require(Scope::Developer)?;
        self.inner.store.webhook_endpoints(&p.tenant_id).await
    }

    /// Deletes an endpoint: no new deliveries; its history stays (admin).
    pub async fn delete_webhook_endpoint(
        &self,
        p: &Principal,
        id: &WebhookEndpointId,
        idempotency_key: Option<String>,
    ) -> Result<Executed<()>> {
        p.require(Scope::Developer)?;
        self.once(
            p,
            idempotency_key,
            "webhooks.delete",
            id,
            |idem| async move {
                let idem = idem.as_ref();
                let mut tx = self.inner.store.begin().await?;
                if !tx.disable_webhook_endpoint(&p.tenant_id, id).await? {
                    return Err(Error::not_found("webhook_endpoint", id));
                }
                let answer = self.kept(p, idem, &(), false)?;
                let audit = audit_entry(
                    p,
                    "webhooks.delete",
                    "webhook_endpoint",
                    id.as_str(),
                    idem.map(|i| i.key.as_str()),
                    "ok",
                );
                finish_once(&mut tx, p, idem, answer.as_deref(), &[], audit).await?;
                tx.commit().await
            },
        )
        .await
    }

    /// Deliveries to one endpoint, newest first, with their attempts (admin).
    pub async fn webhook_deliveries(
        &self,
        p: &Principal,
        endpoint: &WebhookEndpointId,
        limit: Option<u32>,
    ) -> Result<Vec<WebhookDelivery>> {
        p.require(Scope::Developer)?;
        validate_limit(limit)?;
        if self
            .inner
            .store
            .webhook_endpoint(&p.tenant_id, endpoint)
            .await?
            .is_none()
        {
            return Err(Error::not_found("webhook_endpoint", endpoint));
        }
        self.inner
            .store
            .webhook_deliveries(&p.tenant_id, endpoint, crate::storage::page_limit(limit))
            .await
    }

    /// Sends a delivery again (due now, fresh attempt budget), whatever its status (admin).
    pub async fn replay_webhook_delivery(
        &self,
        p: &Principal,
        id: &WebhookDeliveryId,
        idempotency_key: Option<String>,
    ) -> Result<Executed<WebhookDelivery>> {
        p.require(Scope::Developer)?;
        self.once(
            p,
            idempotency_key,
            "webhooks.replay",
            id,
            |idem| async move {
                let idem = idem.as_ref();
                let d = self
                    .inner
                    .store
                    .replay_webhook_delivery(&p.tenant_id, id)
                    .await?
                    .ok_or_else(|| Error::not_found("webhook_delivery", id))?;
                let answer = self.kept(p, idem, &d, false)?;
                let mut tx = self.inner.store.begin().await?;
                finish_once(
                    &mut tx,
                    p,
                    idem,
                    answer.as_deref(),
                    &[],
                    audit_entry(
                        p,
                        "webhooks.replay",
                        "webhook_delivery",
                        id.as_str(),
                        idem.map(|i| i.key.as_str()),
                        "ok",
                    ),
                )
                .await?;
                tx.commit().await?;
                Ok(d)
            },
        )
        .await
    }

    /// For the delivery worker: claims up to `limit` due deliveries for `lease` (other
    /// workers skip them meanwhile) with their URL, opened secret and body.
    pub async fn claim_webhook_deliveries(
        &self,
        limit: i64,
        lease: std::time::Duration,
    ) -> Result<Vec<DueDelivery>> {
        let lease = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
        let claimed = self
            .inner
            .store
            .claim_webhook_deliveries(limit, lease)
            .await?;
        claimed
            .into_iter()
            .map(|c| {
                let sealed = base64::engine::general_purpose::STANDARD
                    .decode(&c.secret_enc)
                    .map_err(|_| Error::internal("sealed webhook secret is not base64"))?;
                let secret = self
                    .inner
                    .secrets
                    .open(&sealed, c.delivery.endpoint_id.as_str())?;
                Ok(DueDelivery {
                    delivery: c.delivery,
                    url: c.url,
                    secret: secret.expose_secret().to_owned(),
                    body: c.body,
                })
            })
            .collect()
    }

    /// For the delivery worker: records what an attempt achieved.
    pub async fn record_webhook_attempt(
        &self,
        id: &WebhookDeliveryId,
        outcome: &AttemptOutcome,
    ) -> Result<()> {
        self.inner.store.record_webhook_attempt(id, outcome).await
    }
}
