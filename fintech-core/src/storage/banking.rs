//! Linked items, bank accounts and transactions.

use chrono::NaiveDate;
use sqlx::any::AnyRow;

use super::{col, now_micros, page_limit, ts, Store, Tx};
use crate::banking::{
    AccountKind, BankAccount, BankTransaction, LinkedItem, ProviderAccount, ProviderTransaction,
    SpendingBucket, SpendingGroup, SpendingQuery, TransactionQuery,
};
use crate::error::{Error, Result};
use crate::id::{BankAccountId, ItemId, TenantId, TransactionId};
use crate::money::{Currency, Money};

/// A linked item with its sealed access token and sync cursor.
#[derive(Debug, Clone)]
pub struct ItemRow {
    /// The item.
    pub item: LinkedItem,
    /// The access token, encrypted (see `crypto`).
    pub access_token_enc: Vec<u8>,
    /// Where the last sync ended.
    pub cursor: Option<String>,
}

/// The tenant's items that are not removed (`$1` is the tenant): what accounts, transactions
/// and spending are listed from.
const ACTIVE_ITEMS: &str = "SELECT id FROM bank_items WHERE tenant_id = $1 AND removed_at IS NULL";

fn item_from_row(r: &AnyRow) -> Result<ItemRow> {
    Ok(ItemRow {
        item: LinkedItem {
            id: ItemId::parse(&col::<String>(r, "id")?)?,
            provider: col(r, "provider")?,
            institution_id: col(r, "institution_id")?,
            institution_name: col(r, "institution_name")?,
            created_at: ts(col(r, "created_at")?),
            removed_at: col::<Option<i64>>(r, "removed_at")?.map(ts),
        },
        access_token_enc: col(r, "access_token_enc")?,
        cursor: col(r, "sync_cursor")?,
    })
}

fn account_from_row(r: &AnyRow) -> Result<BankAccount> {
    let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
    Ok(BankAccount {
        id: BankAccountId::parse(&col::<String>(r, "id")?)?,
        item_id: ItemId::parse(&col::<String>(r, "item_id")?)?,
        provider_account_id: col(r, "provider_account_id")?,
        name: col(r, "name")?,
        mask: col(r, "mask")?,
        kind: AccountKind::parse(&col::<String>(r, "kind")?),
        subtype: col(r, "subtype")?,
        current: Money::from_minor(col(r, "current_minor")?, currency),
        available: col::<Option<i64>>(r, "available_minor")?
            .map(|m| Money::from_minor(m, currency)),
        updated_at: ts(col(r, "updated_at")?),
    })
}

fn transaction_from_row(r: &AnyRow) -> Result<BankTransaction> {
    let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
    let date: String = col(r, "tx_date")?;
    Ok(BankTransaction {
        id: TransactionId::parse(&col::<String>(r, "id")?)?,
        account_id: BankAccountId::parse(&col::<String>(r, "account_id")?)?,
        provider_transaction_id: col(r, "provider_transaction_id")?,
        amount: Money::from_minor(col(r, "amount_minor")?, currency),
        date: NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| Error::internal(format!("stored date: {e}")))?,
        name: col(r, "name")?,
        merchant_name: col(r, "merchant_name")?,
        category: col(r, "category")?,
        pending: col::<i64>(r, "pending")? != 0,
    })
}

impl Tx {
    /// Inserts a linked item.
    pub async fn insert_item(
        &mut self,
        tenant: &TenantId,
        item: &LinkedItem,
        provider_item_id: &str,
        access_token_enc: &[u8],
    ) -> Result<()> {
        sqlx::query("INSERT INTO bank_items (id, tenant_id, provider, provider_item_id, institution_id, institution_name, access_token_enc, sync_cursor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)")
            .bind(item.id.as_str())
            .bind(tenant.as_str())
            .bind(&item.provider)
            .bind(provider_item_id)
            .bind(&item.institution_id)
            .bind(&item.institution_name)
            .bind(access_token_enc.to_vec())
            .bind(item.created_at.timestamp_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Inserts or refreshes an account of an item; returns our id for it.
    pub async fn upsert_account(
        &mut self,
        tenant: &TenantId,
        item: &ItemId,
        a: &ProviderAccount,
    ) -> Result<BankAccountId> {
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT id FROM bank_accounts WHERE item_id = $1 AND provider_account_id = $2",
        )
        .bind(item.as_str())
        .bind(&a.provider_account_id)
        .fetch_optional(self.conn())
        .await?;
        let id = existing
            .map(|s| BankAccountId::parse(&s))
            .transpose()?
            .unwrap_or_else(BankAccountId::generate);
        sqlx::query(
            "INSERT INTO bank_accounts (id, tenant_id, item_id, provider_account_id, name, mask, kind, subtype, currency, current_minor, available_minor, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (item_id, provider_account_id) DO UPDATE SET name = excluded.name, mask = excluded.mask, current_minor = excluded.current_minor,
               available_minor = excluded.available_minor, updated_at = excluded.updated_at",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(item.as_str())
        .bind(&a.provider_account_id)
        .bind(&a.name)
        .bind(a.mask.as_deref())
        .bind(a.kind.as_str())
        .bind(a.subtype.as_deref())
        .bind(a.current.currency().code())
        .bind(a.current.to_minor()?)
        .bind(a.available.as_ref().map(Money::to_minor).transpose()?)
        .bind(now_micros())
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// Inserts or updates a synced transaction. Its account must already be stored.
    pub async fn upsert_transaction(
        &mut self,
        tenant: &TenantId,
        item: &ItemId,
        t: &ProviderTransaction,
    ) -> Result<()> {
        let account: String = sqlx::query_scalar(
            "SELECT id FROM bank_accounts WHERE item_id = $1 AND provider_account_id = $2",
        )
        .bind(item.as_str())
        .bind(&t.provider_account_id)
        .fetch_optional(self.conn())
        .await?
        .ok_or_else(|| {
            Error::internal(format!(
                "transaction for unknown account {}",
                t.provider_account_id
            ))
        })?;
        sqlx::query(
            "INSERT INTO bank_transactions (id, tenant_id, item_id, account_id, provider_transaction_id, currency, amount_minor, tx_date, name, merchant_name, category, pending)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (item_id, provider_transaction_id) DO UPDATE SET account_id = excluded.account_id, currency = excluded.currency,
               amount_minor = excluded.amount_minor, tx_date = excluded.tx_date, name = excluded.name, merchant_name = excluded.merchant_name,
               category = excluded.category, pending = excluded.pending",
        )
        .bind(TransactionId::generate().as_str())
        .bind(tenant.as_str())
        .bind(item.as_str())
        .bind(account)
        .bind(&t.provider_transaction_id)
        .bind(t.amount.currency().code())
        .bind(t.amount.to_minor()?)
        .bind(t.date.format("%Y-%m-%d").to_string())
        .bind(&t.name)
        .bind(t.merchant_name.as_deref())
        .bind(t.category.as_deref())
        .bind(i64::from(t.pending))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes a transaction the provider removed.
    pub async fn remove_transaction(
        &mut self,
        item: &ItemId,
        provider_transaction_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM bank_transactions WHERE item_id = $1 AND provider_transaction_id = $2",
        )
        .bind(item.as_str())
        .bind(provider_transaction_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Marks an item removed at `at` and overwrites its sealed access token; `false` when it
    /// was already removed (or is not the tenant's).
    pub async fn mark_item_removed(
        &mut self,
        tenant: &TenantId,
        item: &ItemId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        Ok(sqlx::query("UPDATE bank_items SET removed_at = $1, access_token_enc = $2 WHERE tenant_id = $3 AND id = $4 AND removed_at IS NULL")
            .bind(at.timestamp_micros())
            .bind(Vec::<u8>::new())
            .bind(tenant.as_str())
            .bind(item.as_str())
            .execute(self.conn())
            .await?
            .rows_affected()
            == 1)
    }

    /// Moves an item's cursor from `from` to `to`; `false` if another sync moved it first.
    pub async fn advance_cursor(
        &mut self,
        item: &ItemId,
        from: Option<&str>,
        to: &str,
    ) -> Result<bool> {
        Ok(sqlx::query("UPDATE bank_items SET sync_cursor = $1 WHERE id = $2 AND COALESCE(sync_cursor, '') = $3")
            .bind(to)
            .bind(item.as_str())
            .bind(from.unwrap_or(""))
            .execute(self.conn())
            .await?
            .rows_affected()
            == 1)
    }
}

impl Store {
    /// A linked item of a tenant with its sealed token.
    pub async fn item_row(&self, tenant: &TenantId, id: &ItemId) -> Result<Option<ItemRow>> {
        let row = sqlx::query("SELECT id, provider, institution_id, institution_name, access_token_enc, sync_cursor, created_at, removed_at FROM bank_items WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// The tenant and id of the item a provider knows as `provider_item_id`.
    pub async fn item_by_provider_id(
        &self,
        provider: &str,
        provider_item_id: &str,
    ) -> Result<Option<(TenantId, ItemId)>> {
        let row = sqlx::query(
            "SELECT tenant_id, id FROM bank_items WHERE provider = $1 AND provider_item_id = $2 AND removed_at IS NULL",
        )
        .bind(provider)
        .bind(provider_item_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                TenantId::parse(&col::<String>(&r, "tenant_id")?)?,
                ItemId::parse(&col::<String>(&r, "id")?)?,
            ))
        })
        .transpose()
    }

    /// Linked items of a tenant.
    pub async fn items(&self, tenant: &TenantId) -> Result<Vec<LinkedItem>> {
        let rows = sqlx::query("SELECT id, provider, institution_id, institution_name, access_token_enc, sync_cursor, created_at, removed_at FROM bank_items WHERE tenant_id = $1 AND removed_at IS NULL ORDER BY id")
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| item_from_row(r).map(|i| i.item))
            .collect()
    }

    /// Accounts of a tenant, optionally of one item.
    pub async fn bank_accounts(
        &self,
        tenant: &TenantId,
        item: Option<&ItemId>,
    ) -> Result<Vec<BankAccount>> {
        let sql = format!(
            "SELECT id, item_id, provider_account_id, name, mask, kind, subtype, currency, current_minor, available_minor, updated_at
             FROM bank_accounts WHERE tenant_id = $1 AND ($2 = '' OR item_id = $2) AND item_id IN ({ACTIVE_ITEMS}) ORDER BY item_id, name, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(item.map(|i| i.as_str()).unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// Transactions of a tenant, newest first, filtered.
    pub async fn bank_transactions(
        &self,
        tenant: &TenantId,
        q: &TransactionQuery,
    ) -> Result<Vec<BankTransaction>> {
        let after = match &q.starting_after {
            Some(id) => {
                let row = sqlx::query(
                    "SELECT tx_date FROM bank_transactions WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| {
                    Error::validation("starting_after", "no such transaction in this tenant")
                })?;
                Some((col::<String>(&row, "tx_date")?, id.as_str().to_owned()))
            }
            None => None,
        };
        let (min_on, min) = amount_bounds("min_amount", q.min_amount, true)?;
        let (max_on, max) = amount_bounds("max_amount", q.max_amount, false)?;
        let (after_date, after_id) = after.unwrap_or_default();
        let rows = sqlx::query(transactions_sql())
            .bind(tenant.as_str())
            .bind(q.account_id.as_ref().map(|a| a.as_str()).unwrap_or(""))
            .bind(
                q.start_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            )
            .bind(
                q.end_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            )
            .bind(page_limit(q.limit))
            .bind(min_on)
            .bind(min[0])
            .bind(min[1])
            .bind(min[2])
            .bind(max_on)
            .bind(max[0])
            .bind(max[1])
            .bind(max[2])
            .bind(after_date)
            .bind(after_id)
            .bind(like_pattern(q.merchant.as_deref()))
            .bind(q.category.as_deref().unwrap_or("").to_lowercase())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(transaction_from_row).collect()
    }

    /// Posted outflows grouped by category or merchant, largest total first.
    pub async fn spending_summary(
        &self,
        tenant: &TenantId,
        q: &SpendingQuery,
    ) -> Result<Vec<SpendingBucket>> {
        let key = match q.group_by {
            SpendingGroup::Category => "COALESCE(category, 'uncategorized')",
            SpendingGroup::Merchant => "COALESCE(merchant_name, name)",
        };
        // Totals are exact split sums; the ORDER BY uses a floating sum only to rank (it
        // cannot overflow on SQLite, and near-equal totals past 2^53 may tie).
        let sql = format!(
            "SELECT {key} AS k, currency, {total}, COUNT(*) AS n
             FROM bank_transactions WHERE tenant_id = $1 AND amount_minor > 0 AND pending = 0 AND item_id IN ({ACTIVE_ITEMS})
             AND ($2 = '' OR account_id = $2) AND ($3 = '' OR tx_date >= $3) AND ($4 = '' OR tx_date <= $4)
             GROUP BY {key}, currency ORDER BY SUM(CAST(amount_minor AS DOUBLE PRECISION)) DESC, k LIMIT 500",
            total = super::split_sum_sql("amount_minor", "total"),
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(q.account_id.as_ref().map(|a| a.as_str()).unwrap_or(""))
            .bind(
                q.start_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            )
            .bind(
                q.end_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            )
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
                Ok(SpendingBucket {
                    key: col(r, "k")?,
                    total: Money::from_minor_wide(super::split_sum(r, "total")?, currency)?,
                    count: u64::try_from(col::<i64>(r, "n")?).unwrap_or(0),
                })
            })
            .collect()
    }
}

/// The transaction search: fixed SQL, every filter optional. Amount bounds are bound once per
/// minor-unit exponent (0, 2, 3) and picked by the row's currency, so a bound in major units
/// compares exactly against the stored minor units of any currency.
fn transactions_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let list = |exp: u32| {
            Currency::known()
                .filter(|c| c.exponent() == exp)
                .map(|c| format!("'{}'", c.code()))
                .collect::<Vec<_>>()
                .join(",")
        };
        let pick = |a: &str, b: &str, c: &str| {
            format!(
                "CASE WHEN currency IN ({}) THEN {a} WHEN currency IN ({}) THEN {c} ELSE {b} END",
                list(0),
                list(3)
            )
        };
        format!(
            "SELECT id, account_id, provider_transaction_id, currency, amount_minor, tx_date, name, merchant_name, category, pending
             FROM bank_transactions WHERE tenant_id = $1 AND ($2 = '' OR account_id = $2) AND ($3 = '' OR tx_date >= $3) AND ($4 = '' OR tx_date <= $4)
             AND item_id IN ({ACTIVE_ITEMS})
             AND ($6 = 0 OR amount_minor >= {})
             AND ($10 = 0 OR amount_minor <= {})
             AND ($14 = '' OR tx_date < $14 OR (tx_date = $14 AND id < $15))
             AND ($16 = '' OR LOWER(COALESCE(merchant_name, '') || ' ' || name) LIKE $16 ESCAPE '\\')
             AND ($17 = '' OR LOWER(COALESCE(category, '')) = $17)
             ORDER BY tx_date DESC, id DESC LIMIT $5",
            pick("$7", "$8", "$9"),
            pick("$11", "$12", "$13"),
        )
    })
}

/// A bound in major units as minor units for exponents 0, 2 and 3: a lower bound rounds up,
/// an upper bound down, so the comparison stays exact. `(0, _)` when absent.
fn amount_bounds(
    field: &'static str,
    bound: Option<rust_decimal::Decimal>,
    lower: bool,
) -> Result<(i64, [i64; 3])> {
    use rust_decimal::prelude::ToPrimitive;
    let Some(v) = bound else {
        return Ok((0, [0; 3]));
    };
    let mut out = [0i64; 3];
    for (slot, exp) in out.iter_mut().zip([0u32, 2, 3]) {
        let scaled = v
            .checked_mul(rust_decimal::Decimal::from(10i64.pow(exp)))
            .ok_or_else(|| Error::validation(field, "amount out of range"))?;
        let rounded = if lower { scaled.ceil() } else { scaled.floor() };
        *slot = rounded
            .to_i64()
            .ok_or_else(|| Error::validation(field, "amount out of range"))?;
    }
    Ok((1, out))
}

/// `%text%` for a case-insensitive LIKE, with `%`, `_` and `\` escaped; empty when absent.
fn like_pattern(text: Option<&str>) -> String {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => String::new(),
        Some(t) => {
            let mut p = String::from("%");
            for c in t.to_lowercase().chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            p
        }
    }
}
