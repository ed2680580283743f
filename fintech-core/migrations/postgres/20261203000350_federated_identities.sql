-- Users who sign in through an identity provider (OIDC) are linked by the provider's issuer
-- and subject, never by e-mail: an e-mail belongs to whoever the provider says, a subject to
-- one account at that provider. One link per (tenant, issuer, subject).
CREATE TABLE federated_identities (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, issuer, subject)
);
CREATE INDEX federated_identities_user ON federated_identities (user_id);
