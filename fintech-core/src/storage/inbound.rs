//! Provider webhooks received: one row per (provider, event id), claimed before the event is
//! applied, so a replay is recognized on every instance sharing the database.

use super::{now_micros, Store};
use crate::error::Result;

/// How long a claim may stay `processing` before another delivery of the event may take it
/// over (its holder crashed): longer than any application takes (a provider call is bounded
/// well below this).
pub const INBOUND_CLAIM_STALE_MICROS: i64 = 5 * 60 * 1_000_000;

/// How long received event ids are remembered: longer than any provider retries an event
/// (Stripe: 3 days).
pub const INBOUND_KEEP_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

impl Store {
    /// Claims an event for application: true when this call holds it now (first delivery, or
    /// a stale claim taken over), false when it is done or being applied elsewhere. Ids older
    /// than [`INBOUND_KEEP_MICROS`] are forgotten on the way.
    pub async fn claim_inbound_event(&self, provider: &str, event_id: &str) -> Result<bool> {
        let now = now_micros();
        sqlx::query("DELETE FROM inbound_events WHERE claimed_at < $1")
            .bind(now - INBOUND_KEEP_MICROS)
            .execute(&self.pool)
            .await?;
        let n = sqlx::query(
            "INSERT INTO inbound_events (provider, event_id, state, claimed_at) VALUES ($1, $2, 'processing', $3) \
             ON CONFLICT (provider, event_id) DO UPDATE SET claimed_at = excluded.claimed_at \
             WHERE inbound_events.state = 'processing' AND inbound_events.claimed_at < $4",
        )
        .bind(provider)
        .bind(event_id)
        .bind(now)
        .bind(now - INBOUND_CLAIM_STALE_MICROS)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks a claimed event applied: later deliveries of it are duplicates.
    pub async fn finish_inbound_event(&self, provider: &str, event_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE inbound_events SET state = 'done' WHERE provider = $1 AND event_id = $2",
        )
        .bind(provider)
        .bind(event_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a claimed event whose application failed, so the provider's retry applies it.
    pub async fn release_inbound_event(&self, provider: &str, event_id: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM inbound_events WHERE provider = $1 AND event_id = $2 AND state = 'processing'",
        )
        .bind(provider)
        .bind(event_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
