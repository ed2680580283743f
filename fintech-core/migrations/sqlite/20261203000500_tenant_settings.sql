-- Per-tenant settings. `allow_self_approval` (0 or 1, off by default): a human operator (a user,
-- or the operator acting through the CLI or an embedding program) may approve a held payment or
-- order they created themselves, for single-operator tenants. API keys never approve their own
-- holds. Changing it is audited (`tenants.settings`).

ALTER TABLE tenants ADD COLUMN allow_self_approval BIGINT NOT NULL DEFAULT 0;
