-- Fenced idempotency claims: every claim (and every takeover of an expired one) gets a fresh
-- lease token, and a completion or release counts only while it still holds that token. A
-- failed attempt leaves its row 'released' (not deleted), so a retry keeps the claim's
-- created_at, and with it the provider idempotency key derived from it.
ALTER TABLE idempotency_keys ADD COLUMN lease_token TEXT;

-- Two rows can never point at one provider object.
CREATE UNIQUE INDEX payments_provider_idempotency_key ON payments (tenant_id, provider_idempotency_key);
CREATE UNIQUE INDEX refunds_provider_refund_id ON refunds (tenant_id, provider_refund_id);
