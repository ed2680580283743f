-- AP2 payment mandates (docs/mandates.md). Each tenant signs open Payment Mandates with its own
-- P-256 issuer key; the private key is stored sealed (XChaCha20-Poly1305 under the encryption
-- key, AAD = tenant and kid), the public key as a JWK. Rotation retires the signing key (it
-- stays published so mandates it signed verify until they expire) and adds a new one.
CREATE TABLE mandate_issuer_keys (
    tenant_id   TEXT NOT NULL,
    kid         TEXT NOT NULL,
    private_enc TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    PRIMARY KEY (tenant_id, kid)
);

-- Open mandates the tenant issued to one of its API keys (the agent key is the mandate's cnf).
-- used_amount / used_count: what accepted payments under the mandate used (budget and
-- recurrence), counted by conditional updates.
CREATE TABLE mandates (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    api_key_id     TEXT NOT NULL,
    issuer_kid     TEXT NOT NULL,
    mandate_digest TEXT NOT NULL,
    token          TEXT NOT NULL,
    open_json      TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    used_amount    BIGINT NOT NULL DEFAULT 0,
    used_count     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX mandates_digest ON mandates (tenant_id, mandate_digest);
CREATE INDEX mandates_by_key ON mandates (tenant_id, api_key_id, created_at);
