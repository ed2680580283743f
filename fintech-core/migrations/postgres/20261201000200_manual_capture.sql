-- Manual capture: a payment may be authorized first and captured later, in full or in part.
-- captured_minor is what moved (NULL on rows from before: a succeeded one captured all).
ALTER TABLE payments ADD COLUMN capture_method TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE payments ADD COLUMN captured_minor BIGINT;
