//! Bank data: link an item, read accounts, sync transactions by cursor.

use secrecy::SecretString;

use super::{audit_entry, finish, finish_once, hash_request, to_value, Executed, Idem, Platform};
use crate::auth::{Principal, Scope};
use crate::banking::{
    BankAccount, BankTransaction, LinkToken, LinkedItem, SpendingBucket, SpendingQuery,
    SyncSummary, TransactionQuery,
};
use crate::error::{ConflictCode, Error, Result};
use crate::events::types;
use crate::id::ItemId;
use crate::storage::ItemRow;

/// Progress of a sync, reported after each page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncProgress {
    /// Pages applied so far.
    pub pages: u64,
    /// Transactions added, modified or removed so far.
    pub changes: u64,
}

const SYNC_PAGE: u32 = 500;

/// Which balances a sync stores.
#[derive(Debug, Clone, Copy)]
enum Balances {
    /// Fetched from the institution now (billed, slow): a caller asked for a sync.
    RealTime,
    /// The provider's cached ones: the provider announced new data itself.
    Cached,
}

impl Platform {
    /// Starts a link flow for an end user of the tenant.
    pub async fn create_link_token(
        &self,
        p: &Principal,
        client_user_id: &str,
        idempotency_key: Option<String>,
    ) -> Result<Executed<LinkToken>> {
        p.require(Scope::BankingWrite)?;
        if client_user_id.is_empty() || client_user_id.len() > 128 {
            return Err(Error::validation("client_user_id", "1 to 128 characters"));
        }
        self.once(
            p,
            idempotency_key,
            "banking.link_token",
            &client_user_id,
            |idem| async move {
                let token = self
                    .inner
                    .providers
                    .banking(&p.tenant_id)
                    .create_link_token(client_user_id)
                    .await?;
                self.keep_answer(p, idem.as_ref(), &token).await?;
                Ok(token)
            },
        )
        .await
    }

    /// Sandbox and simulator only: a public token for an institution, skipping the Link UI.
    pub async fn sandbox_public_token(
        &self,
        p: &Principal,
        institution_id: &str,
        idempotency_key: Option<String>,
    ) -> Result<Executed<String>> {
        p.require(Scope::BankingWrite)?;
        self.once(
            p,
            idempotency_key,
            "banking.sandbox_public_token",
            &institution_id,
            |idem| async move {
                let token = self
                    .inner
                    .providers
                    .banking(&p.tenant_id)
                    .sandbox_public_token(institution_id)
                    .await?;
                self.keep_answer(p, idem.as_ref(), &token).await?;
                Ok(token)
            },
        )
        .await
    }

    /// Completes a link: exchanges the public token, stores the item with its access token
    /// encrypted, and stores its accounts.
    pub async fn link_item(
        &self,
        p: &Principal,
        public_token: &str,
        idempotency_key: Option<String>,
    ) -> Result<Executed<LinkedItem>> {
        p.require(Scope::BankingWrite)?;
        if public_token.is_empty() || public_token.len() > 500 {
            return Err(Error::validation("public_token", "1 to 500 characters"));
        }
        let request_hash = hash_request("banking.link", &public_token)?;
        self.idempotent(
            p,
            idempotency_key,
            "banking.link",
            request_hash,
            |idem| async move {
                let provider = self.inner.providers.banking(&p.tenant_id);
                let exchanged = provider.exchange_public_token(public_token).await?;
                let accounts = provider.accounts(&exchanged.access_token).await?;
                let item = LinkedItem {
                    id: ItemId::generate(),
                    provider: provider.name().to_owned(),
                    institution_id: exchanged.institution_id,
                    institution_name: exchanged.institution_name,
                    created_at: crate::storage::now(),
                    removed_at: None,
                };
                let sealed = self.inner.secrets.seal(
                    secrecy::ExposeSecret::expose_secret(&exchanged.access_token),
                    item.id.as_str(),
                )?;
                let response = serde_json::to_string(&item).map_err(Error::internal)?;
                let mut tx = self.inner.store.begin().await?;
                tx.insert_item(&p.tenant_id, &item, &exchanged.provider_item_id, &sealed)
                    .await?;
                for a in &accounts {
                    tx.upsert_account(&p.tenant_id, &item.id, a).await?;
                }
                let audit = audit_entry(
                    p,
                    "banking.link",
                    "item",
                    item.id.as_str(),
                    Some(&idem.key),
                    &format!("ok: {} accounts", accounts.len()),
                );
                finish(
                    &mut tx,
                    p,
                    Some((&idem, &response)),
                    &[(types::ITEM_LINKED, item.id.as_str(), to_value(&item)?)],
                    audit,
                )
                .await?;
                tx.commit().await?;
                self.accounts_changed(&p.tenant_id);
                Ok(item)
            },
        )
        .await
    }

    /// Removes a linked item: the provider is told first (Plaid `/item/remove`: the access
    /// token stops working and billing ends), then one transaction marks the item removed,
    /// overwrites its sealed token and writes the audit record and a `banking.item_removed`
    /// event. The item, its accounts and its transactions no longer list, and sync refuses it.
    ///
    /// Idempotent: removing a removed item answers it again without calling the provider or
    /// writing anything. When the provider no longer knows the item (removed there already,
    /// e.g. by a crash between the provider call and the commit, or by the user at the bank),
    /// the removal is completed here. A foreign tenant's id is `NotFound`.
    pub async fn remove_item(
        &self,
        p: &Principal,
        item_id: &ItemId,
        idempotency_key: Option<String>,
    ) -> Result<Executed<LinkedItem>> {
        p.require(Scope::BankingWrite)?;
        let row = self.item_row(p, item_id).await?;
        self.once(p, idempotency_key, "banking.remove", item_id, |idem| {
            self.remove_item_row(p, row, idem)
        })
        .await
    }

    async fn remove_item_row(
        &self,
        p: &Principal,
        row: ItemRow,
        idem: Option<Idem>,
    ) -> Result<LinkedItem> {
        let idem = idem.as_ref();
        let item_id = &row.item.id.clone();
        if row.item.removed_at.is_some() {
            self.keep_answer(p, idem, &row.item).await?;
            return Ok(row.item);
        }
        let token = self.access_token(&row)?;
        let provider = self.inner.providers.banking(&p.tenant_id);
        let outcome = match provider.remove_item(&token).await {
            Ok(()) => "ok",
            Err(Error::Provider { code, .. }) if code.eq_ignore_ascii_case("item_not_found") => {
                "ok: the provider no longer knew the item"
            }
            Err(e) => return Err(e),
        };
        let removed_at = crate::storage::now();
        let mut item = row.item;
        item.removed_at = Some(removed_at);
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .mark_item_removed(&p.tenant_id, item_id, removed_at)
            .await?
        {
            // a concurrent removal committed first: it wrote the audit record and the event
            drop(tx);
            let item = self.item_row(p, item_id).await?.item;
            self.keep_answer(p, idem, &item).await?;
            return Ok(item);
        }
        let audit = audit_entry(
            p,
            "banking.remove",
            "item",
            item_id.as_str(),
            idem.map(|i| i.key.as_str()),
            outcome,
        );
        let answer = self.kept(p, idem, &item, false)?;
        finish_once(
            &mut tx,
            p,
            idem,
            answer.as_deref(),
            &[(types::ITEM_REMOVED, item_id.as_str(), to_value(&item)?)],
            audit,
        )
        .await?;
        tx.commit().await?;
        self.accounts_changed(&p.tenant_id);
        Ok(item)
    }

    /// Linked items.
    pub async fn items(&self, p: &Principal) -> Result<Vec<LinkedItem>> {
        p.require(Scope::BankingRead)?;
        self.inner.store.items(&p.tenant_id).await
    }

    /// Accounts, optionally of one item, with the balances of the last refresh.
    pub async fn bank_accounts(
        &self,
        p: &Principal,
        item: Option<&ItemId>,
    ) -> Result<Vec<BankAccount>> {
        p.require(Scope::BankingRead)?;
        if let Some(item) = item {
            self.item_row(p, item).await?;
            return self
                .inner
                .store
                .bank_accounts(&p.tenant_id, Some(item))
                .await;
        }
        if let Some(accounts) = self.inner.accounts_cache.get(&p.tenant_id) {
            return Ok(accounts);
        }
        let generation = self.inner.accounts_cache.generation();
        let accounts = self.inner.store.bank_accounts(&p.tenant_id, None).await?;
        self.inner
            .accounts_cache
            .put(p.tenant_id.clone(), accounts.clone(), generation);
        Ok(accounts)
    }

    /// Forgets the cached accounts of a tenant whose bank data just changed here.
    fn accounts_changed(&self, tenant: &crate::id::TenantId) {
        self.inner.accounts_cache.forget(tenant);
    }

    /// Tells the platform about a tenant's events read from the log (by a live subscriber),
    /// which may come from other processes: cached reads they make stale are dropped, so a
    /// subscriber notified of a change reads the change.
    pub fn events_seen(&self, tenant: &crate::id::TenantId, events: &[crate::events::Event]) {
        if events.iter().any(|e| e.event_type.starts_with("banking.")) {
            self.accounts_changed(tenant);
        }
    }

    async fn item_row(&self, p: &Principal, id: &ItemId) -> Result<ItemRow> {
        self.inner
            .store
            .item_row(&p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("item", id))
    }

    /// An item that is still linked; a removed one is a conflict that says so.
    async fn linked_item_row(&self, p: &Principal, id: &ItemId) -> Result<ItemRow> {
        let row = self.item_row(p, id).await?;
        match row.item.removed_at {
            None => Ok(row),
            Some(at) => Err(Error::conflict(
                ConflictCode::InvalidState,
                format!(
                    "item {id} was removed at {}; link the bank again to use it",
                    at.to_rfc3339()
                ),
            )),
        }
    }

    fn access_token(&self, row: &ItemRow) -> Result<SecretString> {
        self.inner
            .secrets
            .open(&row.access_token_enc, row.item.id.as_str())
    }

    /// Refreshes balances from the institution (the provider's real-time balance call) and
    /// pulls every transaction change since the item's cursor, one transaction per page (each
    /// page and its cursor commit together, so an interrupted sync resumes where it stopped).
    /// `progress` is called after each page. A removed item is a conflict.
    ///
    /// Under an idempotency key a retry answers the first sync's summary (the answer is kept
    /// in the transaction of its last page); a retry of a sync interrupted between pages
    /// resumes from the last committed page.
    pub async fn sync_transactions(
        &self,
        p: &Principal,
        item_id: &ItemId,
        progress: Option<&(dyn Fn(SyncProgress) + Send + Sync)>,
        idempotency_key: Option<String>,
    ) -> Result<Executed<SyncSummary>> {
        p.require(Scope::BankingWrite)?;
        self.once(p, idempotency_key, "banking.sync", item_id, |idem| {
            self.sync_item(p, item_id, progress, Balances::RealTime, idem)
        })
        .await
    }

    async fn sync_item(
        &self,
        p: &Principal,
        item_id: &ItemId,
        progress: Option<&(dyn Fn(SyncProgress) + Send + Sync)>,
        balances: Balances,
        idem: Option<Idem>,
    ) -> Result<SyncSummary> {
        p.require(Scope::BankingWrite)?;
        let idem = idem.as_ref();
        let row = self.linked_item_row(p, item_id).await?;
        let token = self.access_token(&row)?;
        let provider = self.inner.providers.banking(&p.tenant_id);
        let accounts = match balances {
            Balances::RealTime => provider.refresh_balances(&token).await?,
            Balances::Cached => provider.accounts(&token).await?,
        };
        let mut tx = self.inner.store.begin().await?;
        for a in &accounts {
            tx.upsert_account(&p.tenant_id, item_id, a).await?;
        }
        tx.commit().await?;
        self.accounts_changed(&p.tenant_id);

        let mut summary = SyncSummary {
            added: 0,
            modified: 0,
            removed: 0,
            pages: 0,
        };
        let mut cursor = row.cursor.clone();
        loop {
            let page = provider
                .sync_transactions(&token, cursor.as_deref(), SYNC_PAGE)
                .await?;
            let mut tx = self.inner.store.begin().await?;
            for t in page.added.iter().chain(&page.modified) {
                tx.upsert_transaction(&p.tenant_id, item_id, t).await?;
            }
            for removed in &page.removed {
                tx.remove_transaction(item_id, removed).await?;
            }
            if !tx
                .advance_cursor(item_id, cursor.as_deref(), &page.next_cursor)
                .await?
            {
                return Err(Error::conflict(
                    ConflictCode::InvalidState,
                    "another sync of this item is running; try again when it ends",
                ));
            }
            summary.added += page.added.len() as u64;
            summary.modified += page.modified.len() as u64;
            summary.removed += page.removed.len() as u64;
            summary.pages += 1;
            if !page.has_more {
                let audit = audit_entry(
                    p,
                    "banking.sync",
                    "item",
                    item_id.as_str(),
                    idem.map(|i| i.key.as_str()),
                    &format!(
                        "ok: +{} ~{} -{}",
                        summary.added, summary.modified, summary.removed
                    ),
                );
                let changed = summary.added + summary.modified + summary.removed > 0;
                let events = if changed {
                    vec![(
                        types::TRANSACTIONS_SYNCED,
                        item_id.as_str(),
                        to_value(&summary)?,
                    )]
                } else {
                    vec![]
                };
                let answer = self.kept(p, idem, &summary, false)?;
                finish_once(&mut tx, p, idem, answer.as_deref(), &events, audit).await?;
            }
            tx.commit().await?;
            if let Some(report) = progress {
                report(SyncProgress {
                    pages: summary.pages,
                    changes: summary.added + summary.modified + summary.removed,
                });
            }
            cursor = Some(page.next_cursor);
            if !page.has_more {
                return Ok(summary);
            }
        }
    }

    /// A provider says an item has new data (a verified webhook): the item is found by the
    /// provider's id in whichever tenant holds it and synced. `None` when no item has that id.
    pub async fn provider_item_changed(
        &self,
        provider: &str,
        provider_item_id: &str,
        interface: crate::Interface,
    ) -> Result<Option<SyncSummary>> {
        let Some((tenant, id)) = self
            .inner
            .store
            .item_by_provider_id(provider, provider_item_id)
            .await?
        else {
            return Ok(None);
        };
        let system = Principal::system(tenant, interface);
        // the provider just updated the item, so its cached balances are as fresh as the
        // transactions it announces: no billed real-time balance call per webhook
        self.sync_item(&system, &id, None, Balances::Cached, None)
            .await
            .map(Some)
    }

    /// Stored transactions, newest first.
    pub async fn bank_transactions(
        &self,
        p: &Principal,
        q: &TransactionQuery,
    ) -> Result<Vec<BankTransaction>> {
        p.require(Scope::BankingRead)?;
        super::validate_limit(q.limit)?;
        if let (Some(s), Some(e)) = (q.start_date, q.end_date) {
            if s > e {
                return Err(Error::validation(
                    "start_date",
                    "must not be after end_date",
                ));
            }
        }
        for (field, text) in [("merchant", &q.merchant), ("category", &q.category)] {
            if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
                return Err(Error::validation(field, "at most 200 characters"));
            }
        }
        if let (Some(min), Some(max)) = (q.min_amount, q.max_amount) {
            if min > max {
                return Err(Error::validation(
                    "min_amount",
                    "must not exceed max_amount",
                ));
            }
        }
        self.inner.store.bank_transactions(&p.tenant_id, q).await
    }

    /// Posted outflows (positive amounts) in a date range, grouped by category or merchant,
    /// largest first, one bucket per currency.
    pub async fn spending_summary(
        &self,
        p: &Principal,
        q: &SpendingQuery,
    ) -> Result<Vec<SpendingBucket>> {
        p.require(Scope::BankingRead)?;
        if let (Some(s), Some(e)) = (q.start_date, q.end_date) {
            if s > e {
                return Err(Error::validation(
                    "start_date",
                    "must not be after end_date",
                ));
            }
        }
        self.inner.store.spending_summary(&p.tenant_id, q).await
    }
}
