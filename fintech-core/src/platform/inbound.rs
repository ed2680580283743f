//! Verified provider webhooks, applied once each: the shell has checked the provider's
//! signature and names the event by the provider's id for it; core claims that id in the
//! database (`inbound_events`, unique per provider and id) before applying the event, so a
//! replay within the signature tolerance, or the provider delivering one event twice, is
//! acknowledged without being applied again, on every instance sharing the database.
//!
//! An application that fails forgets the claim, so the provider's retry (it retries what was
//! not acknowledged) applies the event; a claim whose holder crashed is taken over after
//! [`crate::storage::INBOUND_CLAIM_STALE_MICROS`].

use super::Platform;
use crate::error::{Error, Result};
use crate::payments::Payment;
use crate::Interface;

/// What became of a verified provider webhook.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound<T> {
    /// First delivery: applied, with its result.
    Applied(T),
    /// Received before (a replay, or a duplicate delivery): acknowledged, not applied again.
    Duplicate,
}

fn validate_event_id(event_id: &str) -> Result<()> {
    if event_id.is_empty()
        || event_id.len() > 255
        || !event_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::validation(
            "event_id",
            "the provider event has no usable id (1 to 255 printable ASCII characters)",
        ));
    }
    Ok(())
}

impl Platform {
    /// A verified provider event about a payment (a Stripe `payment_intent.*`), applied once
    /// per `event_id`: the first delivery refreshes the payment from the provider
    /// ([`Platform::provider_payment_changed`]; `Applied(None)` when no payment has that id),
    /// every later one is [`Inbound::Duplicate`].
    pub async fn provider_payment_event(
        &self,
        provider: &str,
        event_id: &str,
        provider_payment_id: &str,
        interface: Interface,
    ) -> Result<Inbound<Option<Payment>>> {
        validate_event_id(event_id)?;
        let store = &self.inner.store;
        if !store.claim_inbound_event(provider, event_id).await? {
            return Ok(Inbound::Duplicate);
        }
        match self
            .provider_payment_changed(provider, provider_payment_id, interface)
            .await
        {
            Ok(found) => {
                store.finish_inbound_event(provider, event_id).await?;
                Ok(Inbound::Applied(found))
            }
            Err(e) => {
                if let Err(release) = store.release_inbound_event(provider, event_id).await {
                    tracing::warn!(error = %release, provider, "could not release a failed inbound event; its retry waits for the claim to go stale");
                }
                Err(e)
            }
        }
    }

    /// A verified provider event about a bank item (a Plaid `TRANSACTIONS` webhook), applied
    /// once per `event_id`. The first delivery answers at once, `Applied(true)` when an item
    /// has that id, and syncs the item in the background (the provider wants a quick answer);
    /// a sync that fails forgets the event, so the provider's next delivery syncs again.
    pub async fn provider_item_event(
        &self,
        provider: &str,
        event_id: &str,
        provider_item_id: &str,
        interface: Interface,
    ) -> Result<Inbound<bool>> {
        validate_event_id(event_id)?;
        let store = &self.inner.store;
        if !store.claim_inbound_event(provider, event_id).await? {
            return Ok(Inbound::Duplicate);
        }
        let known = match store.item_by_provider_id(provider, provider_item_id).await {
            Ok(found) => found.is_some(),
            Err(e) => {
                let _ = store.release_inbound_event(provider, event_id).await;
                return Err(e);
            }
        };
        if !known {
            store.finish_inbound_event(provider, event_id).await?;
            return Ok(Inbound::Applied(false));
        }
        let platform = self.clone();
        let (provider, event_id, item) = (
            provider.to_owned(),
            event_id.to_owned(),
            provider_item_id.to_owned(),
        );
        tokio::spawn(async move {
            let store = &platform.inner.store;
            let done = match platform
                .provider_item_changed(&provider, &item, interface)
                .await
            {
                Ok(summary) => {
                    tracing::info!(?summary, provider, "synced after a provider webhook");
                    store.finish_inbound_event(&provider, &event_id).await
                }
                Err(e) => {
                    tracing::warn!(error = %e, provider, "sync after a provider webhook failed");
                    store.release_inbound_event(&provider, &event_id).await
                }
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, provider, "could not record an inbound event's outcome");
            }
        });
        Ok(Inbound::Applied(true))
    }
}
