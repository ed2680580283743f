//! Fraud: versioned rule sets, the observations velocity windows count, review cases.

use sqlx::any::AnyRow;

use super::{col, from_json, page_limit, to_json, ts, Backend, Store, Tx};
use crate::error::{ConflictCode, Error, Result};
use crate::fraud::rules::{Key, Lookup, RuleFormat, Subject, Txn, WindowStat};
use crate::fraud::{Assessment, CaseStatus, FraudCase, StoredRuleSet};
use crate::fraud::{LabelledTxn, OwnedTxn};
use crate::id::{CaseId, TenantId};
use crate::money::Currency;

/// A bind parameter of a window query.
enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

/// How a review case is resolved.
#[derive(Debug, Clone, Copy)]
pub struct CaseResolution<'a> {
    /// Approved or rejected.
    pub to: CaseStatus,
    /// The operator.
    pub by: &'a str,
    /// The operator's comment.
    pub comment: Option<&'a str>,
    /// When (micros).
    pub at_micros: i64,
}

const CASE_COLUMNS: &str =
    "id, object_type, object_id, status, assessment, created_at, resolved_by, resolved_at, comment";

fn case_from_row(r: &AnyRow) -> Result<FraudCase> {
    Ok(FraudCase {
        id: CaseId::parse(&col::<String>(r, "id")?)?,
        object_type: col(r, "object_type")?,
        object_id: col(r, "object_id")?,
        status: CaseStatus::parse(&col::<String>(r, "status")?)?,
        assessment: from_json(&col::<String>(r, "assessment")?)?,
        created_at: ts(col(r, "created_at")?),
        resolved_by: col(r, "resolved_by")?,
        resolved_at: col::<Option<i64>>(r, "resolved_at")?.map(ts),
        comment: col(r, "comment")?,
    })
}

impl Store {
    /// The highest rule-set version of a tenant.
    pub async fn active_rule_set_version(&self, tenant: &TenantId) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT version FROM fraud_rule_sets WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .fetch_optional(self.pool())
        .await?)
    }

    /// One stored version of a tenant's rule set.
    pub async fn rule_set(&self, tenant: &TenantId, version: i64) -> Result<Option<StoredRuleSet>> {
        let row = sqlx::query(
            "SELECT version, format, source, created_by, created_at FROM fraud_rule_sets WHERE tenant_id = $1 AND version = $2",
        )
        .bind(tenant.as_str())
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(StoredRuleSet {
                version: col(&r, "version")?,
                format: RuleFormat::parse(&col::<String>(&r, "format")?)?,
                source: col(&r, "source")?,
                created_by: col(&r, "created_by")?,
                created_at: ts(col(&r, "created_at")?),
            })
        })
        .transpose()
    }

    /// Records a screened operation in the velocity windows (its own committed statement).
    ///
    /// On PostgreSQL the commit does not wait for the WAL flush: the operation's own final
    /// transaction (the payment, or the audited refusal) is a durable commit later in the same
    /// WAL, so once the operation has any durable effect its observation is durable too.
    pub async fn record_observation(&self, tenant: &TenantId, t: &Txn<'_>) -> Result<()> {
        let insert = sqlx::query(
            "INSERT INTO fraud_observations (tenant_id, subject, at_micros, currency, amount_minor, payer, payee, payment_method, api_key, ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(tenant.as_str())
        .bind(t.subject.as_str())
        .bind(t.at_micros)
        .bind(t.currency.code())
        .bind(t.amount_minor)
        .bind(t.key(Key::Payer))
        .bind(t.key(Key::Payee))
        .bind(t.key(Key::PaymentMethod))
        .bind(t.key(Key::ApiKey))
        .bind(t.key(Key::Ip));
        match self.backend() {
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
                insert.execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Backend::Sqlite => {
                insert.execute(self.pool()).await?;
            }
        }
        Ok(())
    }

    /// Counts one window in the database.
    #[cfg(feature = "conformance")]
    pub async fn window_stat(&self, tenant: &TenantId, l: &Lookup<'_>) -> Result<WindowStat> {
        Ok(self.window_stats(tenant, std::slice::from_ref(l)).await?[0])
    }

    /// Counts several windows, one query per key value: the windows of one key value (an
    /// hour, a day, a band, a payee of the same card or payer) are conditional aggregates of
    /// one scan of that value's recent observations. Results are in the order of `lookups`.
    pub async fn window_stats(
        &self,
        tenant: &TenantId,
        lookups: &[Lookup<'_>],
    ) -> Result<Vec<WindowStat>> {
        let mut out = vec![WindowStat::default(); lookups.len()];
        let mut done = vec![false; lookups.len()];
        for first in 0..lookups.len() {
            if done[first] {
                continue;
            }
            let head = &lookups[first];
            let group: Vec<usize> = (first..lookups.len())
                .filter(|&i| {
                    let l = &lookups[i];
                    !done[i]
                        && l.subject == head.subject
                        && l.key == head.key
                        && l.value == head.value
                        && l.currency == head.currency
                })
                .collect();
            // $1 tenant, $2 subject, $3 currency, $4 key value, $5 earliest instant; then
            // per window: after, [payee], [lo, hi].
            let mut params: Vec<Param<'_>> = Vec::new();
            let mut next = 6;
            let mut select = Vec::with_capacity(group.len());
            let mut earliest = i64::MAX;
            for (j, &i) in group.iter().enumerate() {
                let l = &lookups[i];
                let after = l.after_micros.unwrap_or(i64::MIN);
                earliest = earliest.min(after);
                let mut cond = format!("at_micros > ${next}");
                params.push(Param::Int(after));
                next += 1;
                if let Some(p) = l.payee {
                    cond.push_str(&format!(" AND payee = ${next}"));
                    params.push(Param::Text(p));
                    next += 1;
                }
                if let Some((lo, hi)) = l.band {
                    cond.push_str(&format!(
                        " AND currency = $3 AND amount_minor >= ${next} AND amount_minor < ${}",
                        next + 1
                    ));
                    params.push(Param::Int(lo));
                    params.push(Param::Int(hi));
                    next += 2;
                }
                select.push(format!(
                    "CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT) AS n{j}, {}",
                    super::split_sum_sql(
                        &format!("CASE WHEN {cond} AND currency = $3 THEN amount_minor ELSE 0 END"),
                        &format!("s{j}")
                    )
                ));
            }
            // The column name comes from a closed enum, never from input.
            let sql = format!(
                "SELECT {} FROM fraud_observations WHERE tenant_id = $1 AND subject = $2 AND {} = $4 AND at_micros > $5",
                select.join(", "),
                head.key.as_str()
            );
            let mut q = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(head.subject.as_str())
                .bind(head.currency.code())
                .bind(head.value)
                .bind(earliest);
            for p in &params {
                q = match *p {
                    Param::Int(v) => q.bind(v),
                    Param::Text(v) => q.bind(v),
                };
            }
            let row = q.fetch_one(self.pool()).await?;
            for (j, &i) in group.iter().enumerate() {
                let n: i64 = col(&row, &format!("n{j}"))?;
                out[i] = WindowStat {
                    count: u32::try_from(n).unwrap_or(u32::MAX),
                    // saturates: every threshold is far below i64::MAX
                    sum_minor: i64::try_from(super::split_sum(&row, &format!("s{j}"))?)
                        .unwrap_or(i64::MAX),
                };
                done[i] = true;
            }
        }
        Ok(out)
    }

    /// The tenant's payments as backtest records, oldest first (at most `limit`, the newest
    /// ones): payer is the customer or else the creating actor; labelled fraud when the
    /// payment's review case was rejected.
    pub async fn payment_history(&self, tenant: &TenantId, limit: i64) -> Result<Vec<LabelledTxn>> {
        let rows = sqlx::query(
            "SELECT p.created_at, p.currency, p.amount_minor, p.customer_id, p.created_by, p.payee, p.payment_method, p.api_key_id, c.status AS case_status
             FROM payments p LEFT JOIN fraud_cases c ON c.tenant_id = p.tenant_id AND c.object_type = 'payment' AND c.object_id = p.id
             WHERE p.tenant_id = $1 ORDER BY p.created_at DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
                let customer: Option<String> = col(r, "customer_id")?;
                let mut keys: [Option<String>; 5] = Default::default();
                keys[Key::Payer.index()] = Some(match customer {
                    Some(c) => c,
                    None => col(r, "created_by")?,
                });
                keys[Key::Payee.index()] = col(r, "payee")?;
                keys[Key::PaymentMethod.index()] = Some(col(r, "payment_method")?);
                keys[Key::ApiKey.index()] = col(r, "api_key_id")?;
                let case: Option<String> = col(r, "case_status")?;
                Ok(LabelledTxn {
                    txn: OwnedTxn {
                        subject: Subject::Payment,
                        at_micros: col(r, "created_at")?,
                        currency,
                        amount_minor: col(r, "amount_minor")?,
                        keys,
                        country: None,
                        category: None,
                        symbol: None,
                        position_after_minor: None,
                        equity_minor: None,
                    },
                    fraud: case.as_deref() == Some("rejected"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    /// Review cases of a tenant, newest first, optionally of one status.
    pub async fn fraud_cases(
        &self,
        tenant: &TenantId,
        status: Option<CaseStatus>,
        limit: Option<u32>,
    ) -> Result<Vec<FraudCase>> {
        let rows = match status {
            Some(s) => sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM fraud_cases WHERE tenant_id = $1 AND status = $2 ORDER BY created_at DESC, id DESC LIMIT $3"))
                .bind(tenant.as_str())
                .bind(s.as_str())
                .bind(page_limit(limit))
                .fetch_all(self.pool())
                .await?,
            None => sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM fraud_cases WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"))
                .bind(tenant.as_str())
                .bind(page_limit(limit))
                .fetch_all(self.pool())
                .await?,
        };
        rows.iter().map(case_from_row).collect()
    }

    /// One case.
    pub async fn fraud_case(&self, tenant: &TenantId, id: &CaseId) -> Result<Option<FraudCase>> {
        sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM fraud_cases WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(case_from_row)
        .transpose()
    }
}

impl Tx {
    /// Stores a new version of a tenant's rule set and returns its number.
    pub async fn insert_rule_set(
        &mut self,
        tenant: &TenantId,
        format: RuleFormat,
        source: &str,
        created_by: &str,
        at_micros: i64,
    ) -> Result<i64> {
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM fraud_rule_sets WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .fetch_optional(self.conn())
        .await?;
        let version = current.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO fraud_rule_sets (tenant_id, version, format, source, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.as_str())
        .bind(version)
        .bind(format.as_str())
        .bind(source)
        .bind(created_by)
        .bind(at_micros)
        .execute(self.conn())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => Error::conflict(
                ConflictCode::InvalidState,
                "another rule set was installed at the same time; retry",
            ),
            _ => Error::from(e),
        })?;
        Ok(version)
    }

    /// Opens a review case for a held payment or order.
    pub async fn insert_fraud_case(&mut self, tenant: &TenantId, case: &FraudCase) -> Result<()> {
        sqlx::query(
            "INSERT INTO fraud_cases (id, tenant_id, object_type, object_id, status, assessment, rule_set_version, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(case.id.as_str())
        .bind(tenant.as_str())
        .bind(&case.object_type)
        .bind(&case.object_id)
        .bind(case.status.as_str())
        .bind(to_json::<Assessment>(&case.assessment)?)
        .bind(case.assessment.rule_set_version)
        .bind(case.created_at.timestamp_micros())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Resolves the open case of an object; `false` when there was no open case (someone
    /// resolved it first).
    pub async fn resolve_fraud_case(
        &mut self,
        tenant: &TenantId,
        object_type: &str,
        object_id: &str,
        r: &CaseResolution<'_>,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE fraud_cases SET status = $1, resolved_by = $2, resolved_at = $3, comment = $4
             WHERE tenant_id = $5 AND object_type = $6 AND object_id = $7 AND status = 'open'",
        )
        .bind(r.to.as_str())
        .bind(r.by)
        .bind(r.at_micros)
        .bind(r.comment)
        .bind(tenant.as_str())
        .bind(object_type)
        .bind(object_id)
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1)
    }
}
