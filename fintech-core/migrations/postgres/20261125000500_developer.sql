-- Developer self-service: who created each key (a developer manages only its own keys), and
-- usage counts per key and UTC day, flushed from each process's in-memory counters.

ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';

CREATE TABLE api_key_usage (
    key_id TEXT NOT NULL REFERENCES api_keys(id),
    day TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (key_id, day)
);
