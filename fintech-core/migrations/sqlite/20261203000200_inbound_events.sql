-- Provider webhooks already received, by the provider's event id (Stripe: the event's `id`;
-- Plaid: the SHA-256 of the verification JWT), so a replay within the signature tolerance is
-- acknowledged but not applied twice. A row is 'processing' while its event is applied (a
-- claim older than a few minutes may be taken over: the holder crashed) and 'done' after;
-- a failed application deletes the row so the provider's retry applies it.
CREATE TABLE inbound_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX inbound_events_claimed_at ON inbound_events (claimed_at);
