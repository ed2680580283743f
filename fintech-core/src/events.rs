//! The persisted event log: every change writes a sequence-numbered [`Event`] in the same
//! transaction as the change. Sequence numbers are per tenant, allocated under the tenant's
//! row lock, so they commit in order and a consumer resuming after `seq` misses nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::EventId;

/// Event types the platform emits.
pub mod types {
    /// A bank item was linked.
    pub const ITEM_LINKED: &str = "banking.item_linked";
    /// A bank item was removed (at the provider and here).
    pub const ITEM_REMOVED: &str = "banking.item_removed";
    /// Transactions changed after a sync.
    pub const TRANSACTIONS_SYNCED: &str = "banking.transactions_synced";
    /// A customer was created.
    pub const CUSTOMER_CREATED: &str = "payments.customer_created";
    /// A payment was created (any status).
    pub const PAYMENT_CREATED: &str = "payments.payment_created";
    /// A payment with manual capture was authorized: funds held, waiting for a capture.
    pub const PAYMENT_AUTHORIZED: &str = "payments.payment_authorized";
    /// A payment succeeded.
    pub const PAYMENT_SUCCEEDED: &str = "payments.payment_succeeded";
    /// A payment failed.
    pub const PAYMENT_FAILED: &str = "payments.payment_failed";
    /// A payment was held for approval or review.
    pub const PAYMENT_HELD: &str = "payments.payment_held";
    /// A payment was cancelled or rejected.
    pub const PAYMENT_CANCELED: &str = "payments.payment_canceled";
    /// A payment method was attached to a customer.
    pub const PAYMENT_METHOD_ATTACHED: &str = "payments.payment_method_attached";
    /// A refund was created.
    pub const REFUND_CREATED: &str = "payments.refund_created";
    /// An order was placed or held.
    pub const ORDER_CREATED: &str = "trading.order_created";
    /// An order changed status or filled.
    pub const ORDER_UPDATED: &str = "trading.order_updated";
    /// An order was filled (partly or entirely).
    pub const ORDER_FILLED: &str = "trading.order_filled";
    /// A fraud review case was opened (a payment or order held for review).
    pub const FRAUD_CASE_OPENED: &str = "fraud.case_opened";
    /// A fraud review case was approved or rejected.
    pub const FRAUD_CASE_RESOLVED: &str = "fraud.case_resolved";
    /// A tenant's fraud rule set was replaced by a new version.
    pub const FRAUD_RULES_UPDATED: &str = "fraud.rules_updated";
}

/// A persisted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Globally unique id.
    pub id: EventId,
    /// Position in the tenant's log (1, 2, 3 ...).
    pub seq: i64,
    /// Event type (`payments.payment_succeeded`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The object the event is about.
    pub object_id: String,
    /// The object as it was after the change.
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}
