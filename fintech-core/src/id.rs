//! Typed, prefixed identifiers (`pay_0192…`, `ord_0192…`).
//!
//! The prefix says what an id names, so a payment id can never be passed where an order id is
//! expected, and a log line is readable without a lookup. The body is a UUIDv7 in hex: random
//! enough to be unguessable across tenants and time-ordered for index locality.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this type starts with (without the underscore).
            pub const PREFIX: &'static str = $prefix;
            /// The object kind named in errors.
            pub const KIND: &'static str = $kind;

            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Parses an id, checking its prefix and characters.
            pub fn parse(s: &str) -> Result<Self> {
                let valid = s
                    .strip_prefix(concat!($prefix, "_"))
                    .is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.len() <= 64
                            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    });
                if valid {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(Error::validation(
                        concat!($kind, "_id"),
                        format!("{s:?} is not a {} id (expected {}_…)", $kind, $prefix),
                    ))
                }
            }

            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[A-Za-z0-9_-]{1,64}$")))
                    .description(Some(concat!("A ", $kind, " id")))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(/// A tenant: the unit of isolation.
    TenantId, "ten", "tenant");
define_id!(/// A human user of a tenant.
    UserId, "usr", "user");
define_id!(/// An API key (the id, not the secret).
    ApiKeyId, "key", "api_key");
define_id!(/// A linked bank item (one login at one institution).
    ItemId, "itm", "item");
define_id!(/// A bank account under a linked item.
    BankAccountId, "acc", "account");
define_id!(/// A bank transaction.
    TransactionId, "txn", "transaction");
define_id!(/// A payments customer.
    CustomerId, "cus", "customer");
define_id!(/// A payment.
    PaymentId, "pay", "payment");
define_id!(/// A refund of a payment.
    RefundId, "ref", "refund");
define_id!(/// A brokerage order.
    OrderId, "ord", "order");
define_id!(/// A fill of an order.
    FillId, "fil", "fill");
define_id!(/// A ledger journal entry.
    JournalId, "jrn", "journal_entry");
define_id!(/// A persisted event.
    EventId, "evt", "event");
define_id!(/// An outgoing webhook endpoint.
    WebhookEndpointId, "whe", "webhook_endpoint");
define_id!(/// One delivery of one event to one webhook endpoint.
    WebhookDeliveryId, "whd", "webhook_delivery");
define_id!(/// An AP2 payment mandate the tenant issued.
    MandateId, "mdt", "mandate");
define_id!(/// A fraud review case.
    CaseId, "fcs", "fraud_case");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_and_check_their_prefix() {
        let id = PaymentId::generate();
        assert!(id.as_str().starts_with("pay_"));
        assert_eq!(PaymentId::parse(id.as_str()).expect("round trip"), id);
        assert!(PaymentId::parse("ord_123").is_err());
        assert!(PaymentId::parse("pay_").is_err());
        assert!(PaymentId::parse("pay_a b").is_err());
        assert!(OrderId::parse(id.as_str()).is_err());
        assert_ne!(PaymentId::generate(), PaymentId::generate());
    }
}
