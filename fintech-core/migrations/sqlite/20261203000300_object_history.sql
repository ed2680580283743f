-- A payment's timeline reads its events and audit records by object id.
CREATE INDEX events_object ON events (tenant_id, object_id, seq);
CREATE INDEX audit_log_object ON audit_log (tenant_id, object_id, seq);
