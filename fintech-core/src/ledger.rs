//! Double-entry ledger. Every money movement is a [`JournalEntry`] whose postings sum to zero
//! per currency; a journal entry that does not balance cannot be constructed. Balances are
//! derived from postings, never stored on their own.
//!
//! Sign convention: a positive amount is a debit, a negative amount a credit.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::Money;
use crate::trading::OrderSide;

/// Ledger accounts the platform posts to.
pub mod accounts {
    /// Money held for the tenant at the payment processor.
    pub const PROCESSOR_BALANCE: &str = "assets:processor_balance";
    /// Revenue from payments.
    pub const PAYMENTS_INCOME: &str = "income:payments";
    /// Refunds given (contra-revenue).
    pub const REFUNDS: &str = "income:refunds";
    /// Cash at the broker.
    pub const BROKERAGE_CASH: &str = "assets:brokerage_cash";
    /// Securities at cost or proceeds.
    pub const SECURITIES: &str = "assets:securities";
}

/// One line of a journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Posting {
    /// Account name (`assets:processor_balance`).
    pub account: String,
    /// Positive debit, negative credit.
    pub amount: Money,
}

/// A balanced set of postings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalEntry {
    /// What the entry records (`payment pay_…`).
    pub memo: String,
    /// The lines; they sum to zero per currency.
    pub postings: Vec<Posting>,
}

impl JournalEntry {
    /// Builds an entry, refusing one that does not balance per currency or has fewer than two
    /// postings or a zero line.
    pub fn new(memo: impl Into<String>, postings: Vec<Posting>) -> Result<Self> {
        if postings.len() < 2 {
            return Err(Error::internal(
                "a journal entry needs at least two postings",
            ));
        }
        let mut sums: Vec<Money> = Vec::new();
        for p in &postings {
            if p.amount.is_zero() {
                return Err(Error::internal(
                    "a journal entry cannot have a zero posting",
                ));
            }
            match sums
                .iter_mut()
                .find(|s| s.currency() == p.amount.currency())
            {
                Some(sum) => *sum = sum.checked_add(&p.amount)?,
                None => sums.push(p.amount),
            }
        }
        if let Some(unbalanced) = sums.iter().find(|s| !s.is_zero()) {
            return Err(Error::internal(format!(
                "journal entry does not balance: off by {unbalanced}"
            )));
        }
        Ok(Self {
            memo: memo.into(),
            postings,
        })
    }

    fn pair(memo: String, debit: &str, credit: &str, amount: Money) -> Result<Self> {
        Self::new(
            memo,
            vec![
                Posting {
                    account: debit.to_owned(),
                    amount,
                },
                Posting {
                    account: credit.to_owned(),
                    amount: amount.negated(),
                },
            ],
        )
    }

    /// A captured payment: the processor holds the money, the tenant earned it.
    pub fn payment_captured(payment_id: &str, amount: Money) -> Result<Self> {
        Self::pair(
            format!("payment {payment_id}"),
            accounts::PROCESSOR_BALANCE,
            accounts::PAYMENTS_INCOME,
            amount,
        )
    }

    /// A refund: money leaves the processor balance.
    pub fn refund(refund_id: &str, amount: Money) -> Result<Self> {
        Self::pair(
            format!("refund {refund_id}"),
            accounts::REFUNDS,
            accounts::PROCESSOR_BALANCE,
            amount,
        )
    }

    /// An order fill: a buy turns cash into securities, a sell the reverse.
    pub fn fill(fill_id: &str, side: OrderSide, notional: Money) -> Result<Self> {
        let memo = format!("fill {fill_id}");
        match side {
            OrderSide::Buy => Self::pair(
                memo,
                accounts::SECURITIES,
                accounts::BROKERAGE_CASH,
                notional,
            ),
            OrderSide::Sell => Self::pair(
                memo,
                accounts::BROKERAGE_CASH,
                accounts::SECURITIES,
                notional,
            ),
        }
    }
}

/// The balance of one ledger account in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountBalance {
    /// Account name.
    pub account: String,
    /// Debits minus credits.
    pub balance: Money,
}

/// The outcome of checking a tenant's ledger against itself and against the rows it records
/// ([`crate::Platform::verify_ledger`]): every journal entry balances per currency, each
/// payment's postings equal what it captured, each refund's equal its amount, each order has
/// one entry per fill, and no entry points at nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerVerification {
    /// Journal entries checked.
    pub journals: u64,
    /// Journal entries whose postings do not sum to zero in some currency.
    pub unbalanced: Vec<String>,
    /// Objects whose postings disagree with their row (`payment pay_…`, `refund re_…`,
    /// `order ord_…`, `journal jrn_…` for an entry about no known object); at most 100.
    pub mismatched: Vec<String>,
}

impl LedgerVerification {
    /// Nothing is out of balance or out of step.
    pub fn is_ok(&self) -> bool {
        self.unbalanced.is_empty() && self.mismatched.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str, c: &str) -> Money {
        Money::parse(s, c).expect("valid")
    }

    #[test]
    fn entries_must_balance_per_currency() {
        let ok = JournalEntry::new(
            "x",
            vec![
                Posting {
                    account: "a".into(),
                    amount: m("10", "USD"),
                },
                Posting {
                    account: "b".into(),
                    amount: m("-10", "USD"),
                },
                Posting {
                    account: "c".into(),
                    amount: m("5", "EUR"),
                },
                Posting {
                    account: "d".into(),
                    amount: m("-5", "EUR"),
                },
            ],
        );
        assert!(ok.is_ok());
        let cross = JournalEntry::new(
            "x",
            vec![
                Posting {
                    account: "a".into(),
                    amount: m("10", "USD"),
                },
                Posting {
                    account: "b".into(),
                    amount: m("-10", "EUR"),
                },
            ],
        );
        assert!(cross.is_err(), "USD and EUR must not net out");
        let off = JournalEntry::new(
            "x",
            vec![
                Posting {
                    account: "a".into(),
                    amount: m("10", "USD"),
                },
                Posting {
                    account: "b".into(),
                    amount: m("-9.99", "USD"),
                },
            ],
        );
        assert!(off.is_err());
        assert!(JournalEntry::payment_captured("pay_1", m("1", "USD")).is_ok());
    }
}
