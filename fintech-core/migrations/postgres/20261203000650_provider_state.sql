-- State that a provider keeps for a tenant, so every process that opens the database sees the
-- same provider world across restarts: the offline simulator's customers, payments,
-- idempotency keys, orders, positions and items. Records are small JSON documents addressed by
-- (tenant, namespace, kind, key); the namespace is the provider and domain (`sim.payments`).
-- Providers change records only inside a transaction that first takes the row of
-- `provider_state_heads` for (tenant, namespace), so two processes never interleave a
-- read-modify-write of one tenant's provider state.

CREATE TABLE provider_state (
    tenant_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    record_key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, namespace, kind, record_key)
);

CREATE TABLE provider_state_heads (
    tenant_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, namespace)
);
