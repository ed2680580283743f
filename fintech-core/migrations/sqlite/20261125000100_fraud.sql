-- Fraud engine: versioned rule sets per tenant, the observations velocity windows count, and
-- the review queue. Money as minor units + currency; time as microseconds since the epoch.
CREATE TABLE fraud_rule_sets (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    version BIGINT NOT NULL,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- Every screened operation of a tenant with a rule set (attempts, whatever the decision).
-- Velocity is counted here, in the database, so several instances agree.
CREATE TABLE fraud_observations (
    tenant_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    at_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    payer TEXT,
    payee TEXT,
    payment_method TEXT,
    api_key TEXT,
    ip TEXT
);
CREATE INDEX fraud_observations_payer ON fraud_observations (tenant_id, payer, at_micros);
CREATE INDEX fraud_observations_payee ON fraud_observations (tenant_id, payee, at_micros);
CREATE INDEX fraud_observations_method ON fraud_observations (tenant_id, payment_method, at_micros);
CREATE INDEX fraud_observations_key ON fraud_observations (tenant_id, api_key, at_micros);
CREATE INDEX fraud_observations_ip ON fraud_observations (tenant_id, ip, at_micros);

CREATE TABLE fraud_cases (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    status TEXT NOT NULL,
    assessment TEXT NOT NULL,
    rule_set_version BIGINT,
    created_at BIGINT NOT NULL,
    resolved_by TEXT,
    resolved_at BIGINT,
    comment TEXT,
    UNIQUE (tenant_id, object_type, object_id)
);
CREATE INDEX fraud_cases_tenant_status ON fraud_cases (tenant_id, status, created_at);
