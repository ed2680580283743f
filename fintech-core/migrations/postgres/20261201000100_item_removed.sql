-- Removing a bank item (Plaid /item/remove) keeps its row for the audit trail and marks when it
-- was removed; its sealed access token is overwritten (the provider no longer honours it).
-- Removed items, their accounts and their transactions no longer list, and sync refuses them.

ALTER TABLE bank_items ADD COLUMN removed_at BIGINT;
