//! A payment's timeline: what happened to it, in order — the events about it and its refunds
//! and, for callers that may read the audit log, the audit records about them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Platform;
use crate::audit::AuditRecord;
use crate::auth::{Principal, Scope};
use crate::error::Result;
use crate::events::Event;
use crate::id::PaymentId;
use crate::payments::Payment;

/// A payment and its history, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentTimeline {
    /// The payment as it is now.
    pub payment: Payment,
    /// Events and audit records about the payment and its refunds, oldest first.
    pub entries: Vec<TimelineEntry>,
    /// Whether audit records are included: only for keys with the `fraud:read` scope, which
    /// reads the audit log.
    pub audit_included: bool,
}

/// One entry of a timeline: an event or an audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `event` or `audit`.
    pub kind: TimelineKind,
    /// The event, when `kind` is `event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// The audit record, when `kind` is `audit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditRecord>,
}

/// What a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// An audit record (who did what, through which interface): listed before the event of
    /// the same moment, since the action comes before its announcement.
    Audit,
    /// An event (what changed, with the object as it was after the change).
    Event,
}

impl Platform {
    /// The timeline of a payment: the payment, then every event about it and its refunds
    /// and, when `p` also holds `fraud:read`, every audit record about them, ordered by time
    /// (audit before event at the same instant, then by sequence number).
    pub async fn payment_timeline(&self, p: &Principal, id: &PaymentId) -> Result<PaymentTimeline> {
        p.require(Scope::PaymentsRead)?;
        let payment = self.payment(p, id).await?;
        let mut objects = vec![payment.id.to_string()];
        objects.extend(
            self.refunds(p, id)
                .await?
                .into_iter()
                .map(|r| r.id.to_string()),
        );
        let store = &self.inner.store;
        let mut entries: Vec<(i64, TimelineEntry)> = store
            .object_events(&p.tenant_id, &objects)
            .await?
            .into_iter()
            .map(|e| {
                let seq = e.seq;
                let entry = TimelineEntry {
                    at: e.created_at,
                    kind: TimelineKind::Event,
                    event: Some(e),
                    audit: None,
                };
                (seq, entry)
            })
            .collect();
        let audit_included = p.has(Scope::FraudRead);
        if audit_included {
            entries.extend(
                store
                    .object_audit(&p.tenant_id, &objects)
                    .await?
                    .into_iter()
                    .map(|a| {
                        let seq = a.seq;
                        let entry = TimelineEntry {
                            at: a.at(),
                            kind: TimelineKind::Audit,
                            event: None,
                            audit: Some(a),
                        };
                        (seq, entry)
                    }),
            );
        }
        entries.sort_by(|(sa, a), (sb, b)| (a.at, a.kind, sa).cmp(&(b.at, b.kind, sb)));
        Ok(PaymentTimeline {
            payment,
            entries: entries.into_iter().map(|(_, e)| e).collect(),
            audit_included,
        })
    }
}
