-- Foundation schema. Money is stored as integer minor units plus an ISO 4217 code;
-- timestamps as microseconds since the Unix epoch; decimals (share quantities) as text.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    limits TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Per-tenant heads of the audit chain and the event log. Updating this row is the lock
-- that orders a tenant's audit records and events.
CREATE TABLE tenant_heads (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    audit_seq BIGINT NOT NULL,
    audit_hash TEXT NOT NULL,
    event_seq BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    operation TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response TEXT,
    locked_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE key_spend (
    key_id TEXT NOT NULL,
    day TEXT NOT NULL,
    currency TEXT NOT NULL,
    spent_minor BIGINT NOT NULL,
    PRIMARY KEY (key_id, day, currency)
);

CREATE TABLE bank_items (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    provider TEXT NOT NULL,
    provider_item_id TEXT NOT NULL,
    institution_id TEXT NOT NULL,
    institution_name TEXT NOT NULL,
    access_token_enc BYTEA NOT NULL,
    sync_cursor TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX bank_items_tenant ON bank_items (tenant_id);

CREATE TABLE bank_accounts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    item_id TEXT NOT NULL REFERENCES bank_items(id),
    provider_account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mask TEXT,
    kind TEXT NOT NULL,
    subtype TEXT,
    currency TEXT NOT NULL,
    current_minor BIGINT NOT NULL,
    available_minor BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (item_id, provider_account_id)
);
CREATE INDEX bank_accounts_tenant ON bank_accounts (tenant_id);

CREATE TABLE bank_transactions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    item_id TEXT NOT NULL REFERENCES bank_items(id),
    account_id TEXT NOT NULL REFERENCES bank_accounts(id),
    provider_transaction_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    tx_date TEXT NOT NULL,
    name TEXT NOT NULL,
    merchant_name TEXT,
    category TEXT,
    pending BIGINT NOT NULL,
    UNIQUE (item_id, provider_transaction_id)
);
CREATE INDEX bank_transactions_account_date ON bank_transactions (tenant_id, account_id, tx_date);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    email TEXT,
    name TEXT,
    provider TEXT NOT NULL,
    provider_customer_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX customers_tenant ON customers (tenant_id);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL,
    payment_method TEXT NOT NULL,
    customer_id TEXT REFERENCES customers(id),
    payee TEXT,
    description TEXT,
    status TEXT NOT NULL,
    failure_code TEXT,
    failure_message TEXT,
    provider TEXT NOT NULL,
    provider_payment_id TEXT,
    provider_idempotency_key TEXT NOT NULL,
    api_key_id TEXT,
    created_by TEXT NOT NULL,
    assessment TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payments_tenant_created ON payments (tenant_id, created_at);
CREATE INDEX payments_tenant_status ON payments (tenant_id, status);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    payment_id TEXT NOT NULL REFERENCES payments(id),
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    provider_refund_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty TEXT NOT NULL,
    order_type TEXT NOT NULL,
    time_in_force TEXT NOT NULL,
    currency TEXT NOT NULL,
    limit_price_minor BIGINT,
    stop_price_minor BIGINT,
    status TEXT NOT NULL,
    filled_qty TEXT NOT NULL,
    filled_avg_price TEXT,
    reject_reason TEXT,
    provider TEXT NOT NULL,
    provider_order_id TEXT,
    api_key_id TEXT,
    created_by TEXT NOT NULL,
    assessment TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_tenant_created ON orders (tenant_id, created_at);

CREATE TABLE fills (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    order_id TEXT NOT NULL REFERENCES orders(id),
    qty TEXT NOT NULL,
    currency TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX fills_order ON fills (order_id);

CREATE TABLE journal_entries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    memo TEXT NOT NULL,
    object_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX journal_entries_tenant ON journal_entries (tenant_id, created_at);

CREATE TABLE postings (
    journal_id TEXT NOT NULL REFERENCES journal_entries(id),
    line BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (journal_id, line)
);
CREATE INDEX postings_tenant_account ON postings (tenant_id, account, currency);

CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_micros BIGINT NOT NULL,
    actor TEXT NOT NULL,
    interface TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    idempotency_key TEXT,
    outcome TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE TABLE events (
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- The audit log is append-only.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
