//! The append-only audit log: who did what, through which interface, with which outcome.
//!
//! Records are chained per tenant: each record's hash is SHA-256 over the previous record's
//! hash and this record's fields, so editing, deleting or reordering any record breaks every
//! hash after it. [`verify_chain`] reports the first record that does not match.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash that precedes a tenant's first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Who acted (`key_…`, `usr_…`, `system`).
    pub actor: String,
    /// Through which shell (`cli`, `http`, `mcp`, `sdk`).
    pub interface: String,
    /// What was done (`payments.create`).
    pub action: String,
    /// Kind of object (`payment`).
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// The idempotency key of the request, if any.
    pub idempotency_key: Option<String>,
    /// `ok`, `held`, `failed: …`, `denied: …`.
    pub outcome: String,
}

/// A stored, chained audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the tenant's chain (1, 2, 3 ...).
    pub seq: i64,
    /// When, in microseconds since the epoch (hashed exactly).
    pub at_micros: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

impl AuditRecord {
    /// When, as a timestamp.
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.at_micros).unwrap_or_default()
    }
}

/// The hash of a record: SHA-256 over the previous hash and each field, length-prefixed so
/// no two different records serialize alike.
pub fn record_hash(
    tenant_id: &str,
    seq: i64,
    at_micros: i64,
    entry: &AuditEntry,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(tenant_id.as_bytes());
    field(&seq.to_be_bytes());
    field(&at_micros.to_be_bytes());
    field(entry.actor.as_bytes());
    field(entry.interface.as_bytes());
    field(entry.action.as_bytes());
    field(entry.object_type.as_bytes());
    field(entry.object_id.as_bytes());
    match &entry.idempotency_key {
        Some(k) => {
            field(b"1");
            field(k.as_bytes());
        }
        None => field(b"0"),
    }
    field(entry.outcome.as_bytes());
    hex::encode(h.finalize())
}

/// The result of verifying a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerification {
    /// Records checked.
    pub records: u64,
    /// The first record that does not verify, if any.
    pub first_bad: Option<AuditBreak>,
}

impl AuditVerification {
    /// The chain is intact.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Where and why a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditBreak {
    /// The sequence number of the first bad record.
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// Verifies records of one tenant, given in sequence order.
pub fn verify_chain<'a>(
    tenant_id: &str,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> AuditVerification {
    let mut prev = GENESIS_HASH.to_owned();
    let mut count = 0;
    for (expected_seq, r) in (1_i64..).zip(records) {
        count += 1;
        let reason = if r.seq != expected_seq {
            Some(format!(
                "expected seq {expected_seq}, found {} (a record is missing or reordered)",
                r.seq
            ))
        } else if r.prev_hash != prev {
            Some("prev_hash does not match the previous record".to_owned())
        } else if record_hash(tenant_id, r.seq, r.at_micros, &r.entry, &r.prev_hash) != r.hash {
            Some("hash does not match the record's contents (the record was edited)".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            return AuditVerification {
                records: count,
                first_bad: Some(AuditBreak { seq: r.seq, reason }),
            };
        }
        prev = r.hash.clone();
    }
    AuditVerification {
        records: count,
        first_bad: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry {
                    actor: "system".into(),
                    interface: "sdk".into(),
                    action: "payments.create".into(),
                    object_type: "payment".into(),
                    object_id: format!("pay_{seq}"),
                    idempotency_key: None,
                    outcome: "ok".into(),
                };
                let hash = record_hash("ten_1", seq, seq * 10, &entry, &prev);
                let r = AuditRecord {
                    seq,
                    at_micros: seq * 10,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn detects_edit_deletion_and_reorder() {
        let good = chain(5);
        assert!(verify_chain("ten_1", &good).is_ok());
        assert!(
            !verify_chain("ten_2", &good).is_ok(),
            "chain is bound to its tenant"
        );

        let mut edited = good.clone();
        edited[2].entry.outcome = "denied".into();
        assert_eq!(
            verify_chain("ten_1", &edited).first_bad.expect("bad").seq,
            3
        );

        let mut deleted = good.clone();
        deleted.remove(1);
        assert_eq!(
            verify_chain("ten_1", &deleted).first_bad.expect("bad").seq,
            3
        );

        let mut swapped = good;
        swapped.swap(3, 4);
        assert_eq!(
            verify_chain("ten_1", &swapped).first_bad.expect("bad").seq,
            5
        );
    }
}
