//! Per-key guard rails: spending limits and an approval threshold, set by an admin on each
//! API key. These are what make handing a key to an AI agent reasonable.
//!
//! The daily limit is enforced with an atomic conditional update in the database (see
//! `storage`), so it holds across server instances and under concurrency.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::{Currency, Money};

/// Limits of one API key. All amounts share one currency; operations in another currency are
/// refused for a key with limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyLimits {
    /// Largest single payment.
    #[serde(default)]
    pub max_per_payment: Option<Money>,
    /// Largest total of payments per UTC day.
    #[serde(default)]
    pub max_per_day: Option<Money>,
    /// Largest order notional (quantity times reference price).
    #[serde(default)]
    pub max_order_notional: Option<Money>,
    /// Payments and orders above this are held for an operator's approval.
    #[serde(default)]
    pub approval_threshold: Option<Money>,
    /// Money moves (payments, refunds, orders) above this answer `confirmation_required` with
    /// the decision and a token, on every interface, and run only when sent again with the
    /// token. When absent, every money move over MCP needs confirmation and none elsewhere.
    #[serde(default)]
    pub confirm_above: Option<Money>,
}

/// What the policy says about an operation that is within limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOutcome {
    /// Go ahead.
    Proceed,
    /// Hold as `pending_approval`.
    HoldForApproval,
}

impl KeyLimits {
    /// No limits at all.
    pub fn is_empty(&self) -> bool {
        self.all().all(|(_, m)| m.is_none())
    }

    fn all(&self) -> impl Iterator<Item = (&'static str, Option<&Money>)> {
        [
            ("max_per_payment", self.max_per_payment.as_ref()),
            ("max_per_day", self.max_per_day.as_ref()),
            ("max_order_notional", self.max_order_notional.as_ref()),
            ("approval_threshold", self.approval_threshold.as_ref()),
            ("confirm_above", self.confirm_above.as_ref()),
        ]
        .into_iter()
    }

    /// The one currency of the limits, if any is set.
    pub fn currency(&self) -> Option<Currency> {
        self.all().find_map(|(_, m)| m.map(|m| m.currency()))
    }

    /// Checks that limits are positive and share a currency.
    pub fn validate(&self) -> Result<()> {
        let currency = self.currency();
        for (name, limit) in self.all() {
            if let Some(m) = limit {
                if m.amount().is_sign_negative() || m.is_zero() {
                    return Err(Error::validation(name, "must be greater than zero"));
                }
                if Some(m.currency()) != currency {
                    return Err(Error::validation(
                        name,
                        "all limits of a key must use one currency",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The limits a key created (or changed) by a key with `parent`'s limits gets: each limit
    /// at most the parent's, and a limit the parent has but the request leaves out inherited
    /// from it. A requested limit above the parent's, or in another currency, is refused, so
    /// a delegated key can never spend more than the key that made it.
    pub fn bounded_by(&self, parent: &KeyLimits) -> Result<KeyLimits> {
        let pick = |name: &'static str,
                    asked: &Option<Money>,
                    bound: &Option<Money>|
         -> Result<Option<Money>> {
            match (asked, bound) {
                (None, b) => Ok(*b),
                (Some(a), None) => Ok(Some(*a)),
                (Some(a), Some(b)) => {
                    if a.currency() != b.currency() {
                        return Err(Error::Forbidden {
                            required: format!(
                                "{name} in {}: the creating key's limits are in {}",
                                b.currency(),
                                a.currency()
                            ),
                        });
                    }
                    if a.checked_cmp(b)?.is_gt() {
                        return Err(Error::Forbidden {
                            required: format!(
                                "{name} at most {b}: a key's limits cannot be looser than those of the key that manages it"
                            ),
                        });
                    }
                    Ok(Some(*a))
                }
            }
        };
        let bounded = KeyLimits {
            max_per_payment: pick(
                "max_per_payment",
                &self.max_per_payment,
                &parent.max_per_payment,
            )?,
            max_per_day: pick("max_per_day", &self.max_per_day, &parent.max_per_day)?,
            max_order_notional: pick(
                "max_order_notional",
                &self.max_order_notional,
                &parent.max_order_notional,
            )?,
            approval_threshold: pick(
                "approval_threshold",
                &self.approval_threshold,
                &parent.approval_threshold,
            )?,
            confirm_above: pick("confirm_above", &self.confirm_above, &parent.confirm_above)?,
        };
        bounded.validate()?;
        Ok(bounded)
    }

    fn check_currency(&self, amount: &Money) -> Result<()> {
        match self.currency() {
            Some(c) if c != amount.currency() => Err(Error::LimitExceeded {
                limit: "currency",
                message: format!(
                    "this key's limits are in {c}; operations in {} are not allowed for it",
                    amount.currency()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Checks a payment against the per-payment limit and the approval threshold. The daily
    /// limit is checked by the storage reservation.
    pub fn check_payment(&self, amount: &Money) -> Result<PolicyOutcome> {
        self.check_currency(amount)?;
        if let Some(max) = &self.max_per_payment {
            if amount.checked_cmp(max)?.is_gt() {
                return Err(Error::LimitExceeded {
                    limit: "max_per_payment",
                    message: format!("{amount} is above this key's limit of {max} per payment"),
                });
            }
        }
        self.threshold(amount)
    }

    /// Checks an order's notional against the limit and the approval threshold.
    pub fn check_order(&self, notional: &Money) -> Result<PolicyOutcome> {
        self.check_currency(notional)?;
        if let Some(max) = &self.max_order_notional {
            if notional.checked_cmp(max)?.is_gt() {
                return Err(Error::LimitExceeded {
                    limit: "max_order_notional",
                    message: format!(
                        "order notional {notional} is above this key's limit of {max}"
                    ),
                });
            }
        }
        self.threshold(notional)
    }

    fn threshold(&self, amount: &Money) -> Result<PolicyOutcome> {
        match &self.approval_threshold {
            Some(t) if amount.checked_cmp(t)?.is_gt() => Ok(PolicyOutcome::HoldForApproval),
            _ => Ok(PolicyOutcome::Proceed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Money {
        Money::parse(s, "USD").expect("valid")
    }

    #[test]
    fn limits_are_inclusive_and_threshold_is_strict() {
        let limits = KeyLimits {
            max_per_payment: Some(usd("100")),
            approval_threshold: Some(usd("50")),
            ..Default::default()
        };
        assert_eq!(
            limits.check_payment(&usd("50")).expect("ok"),
            PolicyOutcome::Proceed
        );
        assert_eq!(
            limits.check_payment(&usd("50.01")).expect("ok"),
            PolicyOutcome::HoldForApproval
        );
        assert_eq!(
            limits.check_payment(&usd("100")).expect("ok"),
            PolicyOutcome::HoldForApproval
        );
        assert!(matches!(
            limits.check_payment(&usd("100.01")),
            Err(Error::LimitExceeded {
                limit: "max_per_payment",
                ..
            })
        ));
        assert!(limits
            .check_payment(&Money::parse("1", "EUR").expect("ok"))
            .is_err());
        assert!(KeyLimits::default().check_payment(&usd("1000000")).is_ok());
    }

    #[test]
    fn delegated_limits_are_bounded_by_the_creator() {
        let parent = KeyLimits {
            max_per_payment: Some(usd("10")),
            max_per_day: Some(usd("100")),
            ..Default::default()
        };
        // nothing asked: everything inherited
        assert_eq!(
            KeyLimits::default().bounded_by(&parent).expect("ok"),
            parent
        );
        // tighter is kept, missing is inherited, a limit the parent lacks may be added
        let asked = KeyLimits {
            max_per_payment: Some(usd("5")),
            approval_threshold: Some(usd("2")),
            ..Default::default()
        };
        let got = asked.bounded_by(&parent).expect("ok");
        assert_eq!(got.max_per_payment, Some(usd("5")));
        assert_eq!(got.max_per_day, Some(usd("100")));
        assert_eq!(got.approval_threshold, Some(usd("2")));
        // looser, or in another currency, is refused
        let looser = KeyLimits {
            max_per_payment: Some(usd("5000")),
            ..Default::default()
        };
        assert!(matches!(
            looser.bounded_by(&parent),
            Err(Error::Forbidden { .. })
        ));
        let eur = KeyLimits {
            max_per_day: Some(Money::parse("1", "EUR").expect("ok")),
            ..Default::default()
        };
        assert!(eur.bounded_by(&parent).is_err());
        // an unlimited parent delegates anything valid
        assert_eq!(
            looser.bounded_by(&KeyLimits::default()).expect("ok"),
            looser
        );
    }

    #[test]
    fn a_limit_in_one_currency_refuses_operations_in_another() {
        // only a USD daily limit: an EUR payment must not slip past it (a surviving mutant
        // turned `check_currency` into `Ok(())`)
        let limits = KeyLimits {
            max_per_day: Some(usd("100")),
            ..Default::default()
        };
        let eur = Money::parse("1", "EUR").expect("ok");
        assert!(matches!(
            limits.check_payment(&eur),
            Err(Error::LimitExceeded {
                limit: "currency",
                ..
            })
        ));
        assert!(matches!(
            limits.check_order(&eur),
            Err(Error::LimitExceeded {
                limit: "currency",
                ..
            })
        ));
        assert!(limits.check_payment(&usd("1")).is_ok());
    }

    #[test]
    fn zero_and_negative_limits_are_refused_each() {
        for bad in ["0", "-1"] {
            let limits = KeyLimits {
                max_per_payment: Some(usd(bad)),
                ..Default::default()
            };
            assert!(limits.validate().is_err(), "{bad} accepted");
        }
        assert!(KeyLimits {
            max_per_payment: Some(usd("0.01")),
            ..Default::default()
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn empty_means_no_limit_at_all() {
        assert!(KeyLimits::default().is_empty());
        assert!(!KeyLimits {
            confirm_above: Some(usd("1")),
            ..Default::default()
        }
        .is_empty());
        assert_eq!(KeyLimits::default().currency(), None);
    }

    #[test]
    fn limits_must_share_a_currency() {
        let limits = KeyLimits {
            max_per_payment: Some(usd("100")),
            max_per_day: Some(Money::parse("100", "EUR").expect("ok")),
            ..Default::default()
        };
        assert!(limits.validate().is_err());
    }
}
