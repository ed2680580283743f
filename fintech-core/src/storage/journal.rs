//! The cross-cutting records: idempotency claims, spending reservations, ledger postings, the
//! audit chain and the event log.

use sqlx::any::AnyRow;

use super::{col, from_json, now_micros, ts, Backend, Store, Tx};
use crate::audit::{self, AuditEntry, AuditRecord, AuditVerification};
use crate::error::{ConflictCode, Error, Result};
use crate::events::Event;
use crate::id::{EventId, JournalId, TenantId};
use crate::ledger::{AccountBalance, JournalEntry};
use crate::money::{Currency, Money};

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller owns the key and must run the operation, then complete or release it
    /// with the lease it holds.
    Acquired(Lease),
    /// The operation already ran: its stored response (JSON).
    Completed(String),
}

/// A held idempotency claim. The token changes whenever the claim is taken over, so a
/// completion or release by a holder whose lease ran out changes nothing (a fence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// This holder's token, checked by [`Tx::complete_idempotency`] and
    /// [`Store::release_idempotency`].
    pub token: String,
    /// When the key was first claimed (microseconds); kept across takeovers and releases, so
    /// anything derived from it (the provider idempotency key) is the same for every retry.
    pub epoch: i64,
}

/// What a finished or abandoned claim holds, for the loser of a lease race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimState {
    /// Nobody holds the key any more (deleted or released).
    Free,
    /// Another holder runs the operation.
    Running,
    /// The operation finished: its stored response.
    Done(String),
}

/// The `VALUES` list of a multi-row insert: `rows` tuples of `columns` numbered placeholders
/// (`($1, $2), ($3, $4)`), which both backends accept.
fn values_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Claims `key` for `operation` with the request's hash, for `lease_micros`. Enforced by
    /// the primary key, so it holds across processes: concurrent duplicates see
    /// `IdempotencyInProgress`; the same key with another request is `IdempotencyKeyReused`; a
    /// finished one returns its response. A claim whose lease ran out (its holder crashed or
    /// is too slow) or that was released after a failure is taken over with a new token.
    pub async fn claim_idempotency(
        &self,
        tenant: &TenantId,
        key: &str,
        operation: &str,
        request_hash: &str,
        lease_micros: i64,
    ) -> Result<Claim> {
        let now = now_micros();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let insert = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, idem_key, operation, request_hash, state, response, locked_until, created_at, lease_token)
             VALUES ($1, $2, $3, $4, 'running', NULL, $5, $6, $7) ON CONFLICT (tenant_id, idem_key) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(key)
        .bind(operation)
        .bind(request_hash)
        .bind(now + lease_micros)
        .bind(now)
        .bind(&token);
        let inserted = match self.backend {
            // The claim is visible to every other session as soon as it commits, which is
            // what excludes concurrent duplicates; it need not wait for its own WAL flush. If
            // a crash loses it, a retry claims again and repeats the provider call with the
            // same provider idempotency key, which the provider answers with the first
            // result; the operation's final transaction is a normal durable commit.
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
                let n = insert.execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                n
            }
            Backend::Sqlite => insert.execute(&self.pool).await?.rows_affected(),
        };
        if inserted == 1 {
            return Ok(Claim::Acquired(Lease { token, epoch: now }));
        }
        let row = sqlx::query(
            "SELECT operation, request_hash, state, response, locked_until, created_at, lease_token FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Purged between our insert and select: the caller may simply retry.
            return Err(Error::conflict(
                ConflictCode::IdempotencyInProgress,
                "the request with this idempotency key was just released; retry",
            ));
        };
        let (op, hash, state): (String, String, String) = (
            col(&row, "operation")?,
            col(&row, "request_hash")?,
            col(&row, "state")?,
        );
        let released = state == "released";
        if !released && (op != operation || hash != request_hash) {
            return Err(Error::conflict(
                ConflictCode::IdempotencyKeyReused,
                format!("idempotency key {key:?} was already used for a different request ({op}); use a new key"),
            ));
        }
        if state == "done" {
            let response: Option<String> = col(&row, "response")?;
            return response
                .map(Claim::Completed)
                .ok_or_else(|| Error::internal("completed idempotency key without a response"));
        }
        let locked_until: i64 = col(&row, "locked_until")?;
        if !released && locked_until > now {
            return Err(Error::conflict(
                ConflictCode::IdempotencyInProgress,
                "a request with this idempotency key is in progress; retry later",
            ));
        }
        let epoch: i64 = col(&row, "created_at")?;
        let old: Option<String> = col(&row, "lease_token")?;
        // Released after a failure, or the holder's lease ran out: take over, once. The
        // previous token stops counting, so a late holder cannot complete.
        let took = sqlx::query(
            "UPDATE idempotency_keys SET state = 'running', operation = $1, request_hash = $2, locked_until = $3, lease_token = $4
             WHERE tenant_id = $5 AND idem_key = $6 AND state = $7 AND locked_until = $8 AND COALESCE(lease_token, '') = $9",
        )
        .bind(operation)
        .bind(request_hash)
        .bind(now + lease_micros)
        .bind(&token)
        .bind(tenant.as_str())
        .bind(key)
        .bind(&state)
        .bind(locked_until)
        .bind(old.unwrap_or_default())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if took == 1 {
            Ok(Claim::Acquired(Lease { token, epoch }))
        } else {
            Err(Error::conflict(
                ConflictCode::IdempotencyInProgress,
                "a request with this idempotency key is in progress; retry later",
            ))
        }
    }

    /// Gives a claim back after a failure that changed nothing, so the key can be retried.
    /// Only the current holder can: a holder whose lease was taken over changes nothing. The
    /// row stays (as `released`), keeping the claim's epoch for the retry.
    pub async fn release_idempotency(
        &self,
        tenant: &TenantId,
        key: &str,
        lease: &Lease,
    ) -> Result<()> {
        sqlx::query("UPDATE idempotency_keys SET state = 'released', locked_until = 0 WHERE tenant_id = $1 AND idem_key = $2 AND state = 'running' AND lease_token = $3")
            .bind(tenant.as_str())
            .bind(key)
            .bind(&lease.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Where a claim stands, as seen by `lease`'s holder: [`ClaimState::Running`] when someone
    /// else holds it, or its stored response when it finished.
    pub async fn idempotency_state(
        &self,
        tenant: &TenantId,
        key: &str,
        lease: &Lease,
    ) -> Result<(ClaimState, bool)> {
        let row = sqlx::query(
            "SELECT state, response, lease_token FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok((ClaimState::Free, false));
        };
        let state: String = col(&row, "state")?;
        let token: Option<String> = col(&row, "lease_token")?;
        let mine = token.as_deref() == Some(lease.token.as_str());
        let claim = match state.as_str() {
            "done" => {
                ClaimState::Done(col::<Option<String>>(&row, "response")?.ok_or_else(|| {
                    Error::internal("completed idempotency key without a response")
                })?)
            }
            "running" => ClaimState::Running,
            _ => ClaimState::Free,
        };
        Ok((claim, mine))
    }

    /// Deletes finished keys created before `older_than_micros` (keys are kept at least 24 h).
    pub async fn purge_idempotency(&self, older_than_micros: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < $1 AND state IN ('done', 'released')",
        )
        .bind(older_than_micros)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Reserves `amount` of a key's daily budget atomically: succeeds only if the day's total
    /// stays within `limit`. One conditional UPDATE, so it holds across instances.
    pub async fn reserve_spend(
        &self,
        key_id: &str,
        day: &str,
        amount: &Money,
        limit: &Money,
    ) -> Result<bool> {
        let currency = amount.currency().code();
        sqlx::query("INSERT INTO key_spend (key_id, day, currency, spent_minor) VALUES ($1, $2, $3, 0) ON CONFLICT (key_id, day, currency) DO NOTHING")
            .bind(key_id)
            .bind(day)
            .bind(currency)
            .execute(&self.pool)
            .await?;
        let reserved = sqlx::query(
            "UPDATE key_spend SET spent_minor = spent_minor + $1 WHERE key_id = $2 AND day = $3 AND currency = $4 AND spent_minor + $1 <= $5",
        )
        .bind(amount.to_minor()?)
        .bind(key_id)
        .bind(day)
        .bind(currency)
        .bind(limit.to_minor()?)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(reserved == 1)
    }

    /// Returns a reservation (the payment did not go through).
    pub async fn release_spend(&self, key_id: &str, day: &str, amount: &Money) -> Result<()> {
        sqlx::query("UPDATE key_spend SET spent_minor = spent_minor - $1 WHERE key_id = $2 AND day = $3 AND currency = $4")
            .bind(amount.to_minor()?)
            .bind(key_id)
            .bind(day)
            .bind(amount.currency().code())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What a key has spent (reserved) on a day.
    pub async fn spent(&self, key_id: &str, day: &str, currency: Currency) -> Result<Money> {
        let minor: Option<i64> = sqlx::query_scalar(
            "SELECT spent_minor FROM key_spend WHERE key_id = $1 AND day = $2 AND currency = $3",
        )
        .bind(key_id)
        .bind(day)
        .bind(currency.code())
        .fetch_optional(&self.pool)
        .await?;
        Ok(Money::from_minor(minor.unwrap_or(0), currency))
    }

    /// A tenant's audit records with `seq > after`, oldest first.
    pub async fn audit_records(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT seq, at_micros, actor, interface, action, object_type, object_id, idempotency_key, outcome, prev_hash, hash
             FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    /// Verifies a tenant's whole audit chain, streaming it in pages.
    pub async fn verify_audit(&self, tenant: &TenantId) -> Result<AuditVerification> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.audit_records(tenant, after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        // Also check the head: a deleted tail shows as a head ahead of the last record.
        let mut verification = audit::verify_chain(tenant.as_str(), &all);
        if verification.is_ok() {
            let head: Option<i64> =
                sqlx::query_scalar("SELECT audit_seq FROM tenant_heads WHERE tenant_id = $1")
                    .bind(tenant.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
            let last = all.last().map(|r| r.seq).unwrap_or(0);
            if head.unwrap_or(0) != last {
                verification.first_bad = Some(audit::AuditBreak {
                    seq: last + 1,
                    reason: format!(
                        "the chain head says {} records, found {last}: records were deleted",
                        head.unwrap_or(0)
                    ),
                });
            }
        }
        Ok(verification)
    }

    /// The sequence number of a tenant's latest event (0 when it has none): where a live
    /// subscriber starts.
    pub async fn last_event_seq(&self, tenant: &TenantId) -> Result<i64> {
        let seq: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM events WHERE tenant_id = $1",
        )
        .bind(tenant.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(seq)
    }

    /// A tenant's events with `seq > after`, oldest first, optionally of some types only.
    pub async fn events_after(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT id, seq, event_type, object_id, data, created_at FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(tenant.as_str())
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Ledger balances of a tenant per account and currency (derived from postings).
    pub async fn ledger_balances(&self, tenant: &TenantId) -> Result<Vec<AccountBalance>> {
        let rows = sqlx::query(
            &format!(
                "SELECT account, currency, {} FROM postings WHERE tenant_id = $1 GROUP BY account, currency ORDER BY account, currency",
                super::split_sum_sql("amount_minor", "total")
            ),
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
                Ok(AccountBalance {
                    account: col(r, "account")?,
                    balance: Money::from_minor_wide(super::split_sum(r, "total")?, currency)?,
                })
            })
            .collect()
    }

    /// Journal entries of a tenant whose postings do not sum to zero per currency (should be none).
    pub async fn unbalanced_journals(&self, tenant: &TenantId) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT journal_id FROM postings WHERE tenant_id = $1 GROUP BY journal_id, currency HAVING SUM(amount_minor) <> 0",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?)
    }
}

/// An `events` row (`id, seq, event_type, object_id, data, created_at`).
pub(super) fn event_from_row(r: &AnyRow) -> Result<Event> {
    Ok(Event {
        id: EventId::parse(&col::<String>(r, "id")?)?,
        seq: col(r, "seq")?,
        event_type: col(r, "event_type")?,
        object_id: col(r, "object_id")?,
        data: from_json(&col::<String>(r, "data")?)?,
        created_at: ts(col(r, "created_at")?),
    })
}

/// An `audit_log` row.
pub(super) fn audit_from_row(r: &AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: col(r, "seq")?,
        at_micros: col(r, "at_micros")?,
        entry: AuditEntry {
            actor: col(r, "actor")?,
            interface: col(r, "interface")?,
            action: col(r, "action")?,
            object_type: col(r, "object_type")?,
            object_id: col(r, "object_id")?,
            idempotency_key: col(r, "idempotency_key")?,
            outcome: col(r, "outcome")?,
        },
        prev_hash: col(r, "prev_hash")?,
        hash: col(r, "hash")?,
    })
}

impl Tx {
    /// Writes a balanced journal entry about `object_id`.
    pub async fn post_journal(
        &mut self,
        tenant: &TenantId,
        object_id: &str,
        entry: &JournalEntry,
    ) -> Result<JournalId> {
        let id = JournalId::generate();
        sqlx::query("INSERT INTO journal_entries (id, tenant_id, memo, object_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .bind(&entry.memo)
            .bind(object_id)
            .bind(now_micros())
            .execute(self.conn())
            .await?;
        // every posting in one statement: one round trip however many lines
        let sql = format!(
            "INSERT INTO postings (journal_id, line, tenant_id, account, currency, amount_minor) VALUES {}",
            values_rows(entry.postings.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (line, p) in entry.postings.iter().enumerate() {
            q = q
                .bind(id.as_str())
                .bind(line as i64)
                .bind(tenant.as_str())
                .bind(&p.account)
                .bind(p.amount.currency().code())
                .bind(p.amount.to_minor()?);
        }
        if !entry.postings.is_empty() {
            q.execute(self.conn()).await?;
        }
        Ok(id)
    }

    /// Appends a change's events and its audit record together, taking the tenant head (the
    /// row lock that orders the tenant's writes) once: one `UPDATE … RETURNING` allocates the
    /// events' sequence numbers and the audit record's, one insert writes every event, one
    /// the audit record, and one sets the new chain hash. The same records as one
    /// event at a time then [`append_audit`](Self::append_audit), in fewer round trips.
    pub async fn append_events_and_audit(
        &mut self,
        tenant: &TenantId,
        events: &[(&str, &str, serde_json::Value)],
        entry: &AuditEntry,
    ) -> Result<(Vec<Event>, AuditRecord)> {
        let n = events.len() as i64;
        let row = sqlx::query(
            "UPDATE tenant_heads SET event_seq = event_seq + $2, audit_seq = audit_seq + 1 WHERE tenant_id = $1
             RETURNING event_seq, audit_seq, audit_hash",
        )
        .bind(tenant.as_str())
        .bind(n)
        .fetch_optional(self.conn())
        .await?
        .ok_or_else(|| Error::not_found("tenant", tenant))?;
        let last_event: i64 = col(&row, "event_seq")?;
        let seq: i64 = col(&row, "audit_seq")?;
        let prev_hash: String = col(&row, "audit_hash")?;
        let at_micros = now_micros();
        let written: Vec<Event> = events
            .iter()
            .enumerate()
            .map(|(i, (event_type, object_id, data))| Event {
                id: EventId::generate(),
                seq: last_event - n + 1 + i as i64,
                event_type: (*event_type).to_owned(),
                object_id: (*object_id).to_owned(),
                data: data.clone(),
                created_at: ts(at_micros),
            })
            .collect();
        if !written.is_empty() {
            let sql = format!(
                "INSERT INTO events (tenant_id, seq, id, event_type, object_id, data, created_at) VALUES {}",
                values_rows(written.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for e in &written {
                q = q
                    .bind(tenant.as_str())
                    .bind(e.seq)
                    .bind(e.id.as_str())
                    .bind(&e.event_type)
                    .bind(&e.object_id)
                    .bind(super::to_json(&e.data)?)
                    .bind(at_micros);
            }
            q.execute(self.conn()).await?;
            self.queue_webhook_deliveries_for(tenant, &written).await?;
        }
        let hash = audit::record_hash(tenant.as_str(), seq, at_micros, entry, &prev_hash);
        self.insert_audit(tenant, seq, at_micros, entry, &prev_hash, &hash)
            .await?;
        Ok((
            written,
            AuditRecord {
                seq,
                at_micros,
                entry: entry.clone(),
                prev_hash,
                hash,
            },
        ))
    }

    /// Appends an audit record to the tenant's chain (row-locked head).
    pub async fn append_audit(
        &mut self,
        tenant: &TenantId,
        entry: &AuditEntry,
    ) -> Result<AuditRecord> {
        let row = sqlx::query("UPDATE tenant_heads SET audit_seq = audit_seq + 1 WHERE tenant_id = $1 RETURNING audit_seq, audit_hash")
            .bind(tenant.as_str())
            .fetch_optional(self.conn())
            .await?
            .ok_or_else(|| Error::not_found("tenant", tenant))?;
        let seq: i64 = col(&row, "audit_seq")?;
        let prev_hash: String = col(&row, "audit_hash")?;
        let at_micros = now_micros();
        let hash = audit::record_hash(tenant.as_str(), seq, at_micros, entry, &prev_hash);
        self.insert_audit(tenant, seq, at_micros, entry, &prev_hash, &hash)
            .await?;
        Ok(AuditRecord {
            seq,
            at_micros,
            entry: entry.clone(),
            prev_hash,
            hash,
        })
    }

    /// Writes an audit record whose chain position and hash the caller took from the locked
    /// tenant head, and moves the head's hash to it.
    async fn insert_audit(
        &mut self,
        tenant: &TenantId,
        seq: i64,
        at_micros: i64,
        entry: &AuditEntry,
        prev_hash: &str,
        hash: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, seq, at_micros, actor, interface, action, object_type, object_id, idempotency_key, outcome, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(tenant.as_str())
        .bind(seq)
        .bind(at_micros)
        .bind(&entry.actor)
        .bind(&entry.interface)
        .bind(&entry.action)
        .bind(&entry.object_type)
        .bind(&entry.object_id)
        .bind(entry.idempotency_key.as_deref())
        .bind(&entry.outcome)
        .bind(prev_hash)
        .bind(hash)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE tenant_heads SET audit_hash = $1 WHERE tenant_id = $2")
            .bind(hash)
            .bind(tenant.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Stores the response of a claimed idempotency key, in the same transaction as the change.
    pub async fn complete_idempotency(
        &mut self,
        tenant: &TenantId,
        key: &str,
        lease: &Lease,
        response: &str,
    ) -> Result<()> {
        let n = sqlx::query("UPDATE idempotency_keys SET state = 'done', response = $1 WHERE tenant_id = $2 AND idem_key = $3 AND state = 'running' AND lease_token = $4")
            .bind(response)
            .bind(tenant.as_str())
            .bind(key)
            .bind(&lease.token)
            .execute(self.conn())
            .await?
            .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(Error::conflict(
                ConflictCode::IdempotencyLeaseLost,
                "this request's idempotency claim expired and was taken over by a retry; its result stands",
            ))
        }
    }
}

#[cfg(test)]
mod values_tests {
    #[test]
    fn placeholders_number_across_rows() {
        assert_eq!(super::values_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values_rows(0, 3), "");
    }
}
