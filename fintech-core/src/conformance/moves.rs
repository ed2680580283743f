//! Money moves as a property: a [`Plan`] (a key's limits and rounds of moves) runs on a
//! platform, each round's moves **concurrently**, and after every round the books must hold:
//!
//! * every journal entry balances;
//! * the processor balance equals what was captured minus what was refunded;
//! * no payment captures more than it authorized, or refunds more than it captured;
//! * no payment is above the key's per-payment limit;
//! * what the key has committed today (captured, or still authorized or held) is within its
//!   daily limit and within what the daily reservation counts, so no release ever frees more
//!   than it should;
//! * two concurrent requests under one idempotency key answer the same payment;
//! * a refusal is a typed error a caller can act on, never an internal error.
//!
//! The test crate generates plans with proptest (so a failure shrinks to a short sequence)
//! and runs them on SQLite and PostgreSQL; the seeded sequence of
//! [`super::storage::random_money_moves_keep_the_ledger_and_the_limits`] runs one move at a
//! time, this one runs them side by side.

use futures::future::join_all;

use crate::auth::{Principal, Scope};
use crate::error::Error;
use crate::id::PaymentId;
use crate::ledger::accounts;
use crate::money::{Currency, Money};
use crate::payments::{CaptureMethod, NewRefund, Payment, PaymentStatus};
use crate::platform::PaymentQuery;
use crate::policy::KeyLimits;

use super::storage::{agent, assert_ledger_balanced, balance, operator, pay, tenant, Harness};

/// One move. `pick` chooses among the payments that existed when the round began (modulo
/// their number; nothing happens while there is none), so moves of one round often race on
/// the same payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// A payment of `cents` by the agent: manual capture when `manual`, a declined card when
    /// `declined`; with `twice`, the same request is sent twice at once under one
    /// idempotency key.
    Pay {
        /// Amount in cents (USD).
        cents: i64,
        /// Authorize only; capture later.
        manual: bool,
        /// A card the provider declines.
        declined: bool,
        /// Sent twice concurrently with one idempotency key.
        twice: bool,
    },
    /// Captures a payment: all of it, or `cents`.
    Capture {
        /// Which payment.
        pick: usize,
        /// Partial amount in cents, or everything.
        cents: Option<i64>,
    },
    /// Refunds `cents` of a payment (sometimes more than is left: refused).
    Refund {
        /// Which payment.
        pick: usize,
        /// Amount in cents.
        cents: i64,
    },
    /// Cancels a payment (the agent).
    Cancel {
        /// Which payment.
        pick: usize,
    },
    /// An operator approves a held payment.
    Approve {
        /// Which payment.
        pick: usize,
    },
    /// An operator rejects a held payment.
    Reject {
        /// Which payment.
        pick: usize,
    },
}

impl Move {
    /// Index of the move's kind in [`Tally::succeeded`].
    fn kind(&self) -> usize {
        match self {
            Move::Pay { .. } => 0,
            Move::Capture { .. } => 1,
            Move::Refund { .. } => 2,
            Move::Cancel { .. } => 3,
            Move::Approve { .. } => 4,
            Move::Reject { .. } => 5,
        }
    }
}

/// A key's limits (in cents, USD) and the rounds of moves made with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Largest single payment.
    pub max_per_payment: i64,
    /// Largest total per UTC day.
    pub max_per_day: i64,
    /// Payments above this are held for approval.
    pub approval_threshold: i64,
    /// Each round's moves run concurrently; rounds run one after another.
    pub rounds: Vec<Vec<Move>>,
}

/// What a plan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Moves made.
    pub moves: usize,
    /// Successes per kind: pay, capture, refund, cancel, approve, reject.
    pub succeeded: [usize; 6],
}

fn cents(n: i64) -> Money {
    Money::from_minor(n, Currency::USD)
}

/// Runs a plan on a fresh tenant and checks the books after every round; panics with the
/// round and the broken rule.
pub async fn run_plan(h: &Harness, plan: &Plan) -> Tally {
    static PLANS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PLANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let admin = tenant(h, &format!("moves {n}")).await;
    let limit = cents(plan.max_per_day);
    let per_payment = cents(plan.max_per_payment);
    let p = agent(
        h,
        &admin,
        &[Scope::PaymentsRead, Scope::PaymentsWrite],
        KeyLimits {
            max_per_payment: Some(per_payment),
            max_per_day: Some(limit),
            approval_threshold: Some(cents(plan.approval_threshold)),
            ..KeyLimits::default()
        },
    )
    .await;
    let reviewer = operator(&admin);
    let mut ids: Vec<PaymentId> = Vec::new();
    let mut tally = Tally::default();
    for (round, moves) in plan.rounds.iter().enumerate() {
        let before = ids.clone();
        let results = join_all(
            moves
                .iter()
                .enumerate()
                .map(|(i, m)| run_move(h, &p, &reviewer, &before, m, (round, i))),
        )
        .await;
        for (m, result) in moves.iter().zip(results) {
            tally.moves += 1;
            match result {
                Ok(created) => {
                    tally.succeeded[m.kind()] += 1;
                    ids.extend(created);
                }
                Err(e) => assert!(
                    !matches!(e, Error::Internal(_)),
                    "round {round}: {m:?} failed with an internal error: {e:?}"
                ),
            }
        }
        ids.dedup();
        check_books(h, &admin, &p, plan, &limit, &per_payment, round).await;
    }
    tally
}

/// One move; the payments it created.
async fn run_move(
    h: &Harness,
    p: &Principal,
    reviewer: &Principal,
    ids: &[PaymentId],
    m: &Move,
    at: (usize, usize),
) -> Result<Vec<PaymentId>, Error> {
    let pick = |i: usize| (!ids.is_empty()).then(|| ids[i % ids.len()].clone());
    let none = || Ok(Vec::new());
    match m {
        Move::Pay {
            cents: n,
            manual,
            declined,
            twice,
        } => {
            let mut req = pay("1.00");
            req.amount = cents(*n);
            if *manual {
                req.capture_method = Some(CaptureMethod::Manual);
            }
            if *declined {
                req.payment_method = "pm_card_chargeDeclined".into();
            }
            if *twice {
                let key = format!("moves-{}-{}", at.0, at.1);
                let (a, b) = futures::join!(
                    h.platform.create_payment(p, req.clone(), Some(key.clone())),
                    h.platform.create_payment(p, req, Some(key)),
                );
                if let (Ok(a), Ok(b)) = (&a, &b) {
                    assert_eq!(a.id, b.id, "one idempotency key, two payments");
                    assert!(
                        a.replayed || b.replayed,
                        "one idempotency key executed twice: {}",
                        a.id
                    );
                }
                let created: Vec<PaymentId> = [&a, &b]
                    .into_iter()
                    .filter_map(|r| r.as_ref().ok().map(|pm| pm.id.clone()))
                    .collect();
                match (a, b) {
                    (Err(e), Err(_)) => Err(e),
                    _ => Ok(created),
                }
            } else {
                h.platform
                    .create_payment(p, req, None)
                    .await
                    .map(|pm| vec![pm.into_value().id])
            }
        }
        Move::Capture { pick: i, cents: n } => match pick(*i) {
            Some(id) => h
                .platform
                .capture_payment(p, &id, n.map(cents), None)
                .await
                .map(|_| Vec::new()),
            None => none(),
        },
        Move::Refund { pick: i, cents: n } => match pick(*i) {
            Some(id) => h
                .platform
                .create_refund(
                    p,
                    NewRefund {
                        payment_id: id,
                        amount: Some(cents(*n)),
                        reason: None,
                        confirmation_token: None,
                    },
                    None,
                )
                .await
                .map(|_| Vec::new()),
            None => none(),
        },
        Move::Cancel { pick: i } => match pick(*i) {
            Some(id) => h
                .platform
                .cancel_payment(p, &id, None)
                .await
                .map(|_| Vec::new()),
            None => none(),
        },
        Move::Approve { pick: i } => match pick(*i) {
            Some(id) => h
                .platform
                .approve_payment(reviewer, &id, None, None)
                .await
                .map(|_| Vec::new()),
            None => none(),
        },
        Move::Reject { pick: i } => match pick(*i) {
            Some(id) => h
                .platform
                .reject_payment(reviewer, &id, None, None)
                .await
                .map(|_| Vec::new()),
            None => none(),
        },
    }
}

/// What a payment still holds of the key's daily limit: what it captured, or all of it while
/// it is authorized, held or processing; nothing once it failed, was cancelled or rejected.
fn committed(pm: &Payment) -> Money {
    match pm.status {
        PaymentStatus::PendingApproval
        | PaymentStatus::PendingReview
        | PaymentStatus::Processing
        | PaymentStatus::RequiresCapture => pm.amount,
        PaymentStatus::Succeeded => pm.amount_captured,
        PaymentStatus::Failed | PaymentStatus::Canceled | PaymentStatus::Rejected => {
            Money::zero(pm.amount.currency())
        }
    }
}

async fn check_books(
    h: &Harness,
    admin: &Principal,
    p: &Principal,
    plan: &Plan,
    limit: &Money,
    per_payment: &Money,
    round: usize,
) {
    assert_ledger_balanced(h, admin).await;
    let all = h
        .platform
        .payments(
            admin,
            &PaymentQuery {
                limit: Some(500),
                ..PaymentQuery::default()
            },
        )
        .await
        .expect("payments");
    let mut net = cents(0);
    let mut held = cents(0);
    for pm in &all {
        let le = |a: &Money, b: &Money| a.checked_cmp(b).expect("usd").is_le();
        assert!(
            le(&pm.amount_refunded, &pm.amount_captured),
            "round {round}: {} refunded {} of {} captured",
            pm.id,
            pm.amount_refunded,
            pm.amount_captured
        );
        assert!(
            le(&pm.amount_captured, &pm.amount),
            "round {round}: {} captured {} of {}",
            pm.id,
            pm.amount_captured,
            pm.amount
        );
        assert!(
            le(&pm.amount, per_payment),
            "round {round}: {} is {}, above the per-payment limit {per_payment}",
            pm.id,
            pm.amount
        );
        net = net
            .checked_add(
                &pm.amount_captured
                    .checked_sub(&pm.amount_refunded)
                    .expect("usd"),
            )
            .expect("usd");
        held = held.checked_add(&committed(pm)).expect("usd");
    }
    assert_eq!(
        balance(h, admin, accounts::PROCESSOR_BALANCE).await,
        net,
        "round {round}: the processor balance is what was captured minus what was refunded"
    );
    let spent = h
        .platform
        .whoami(p)
        .await
        .expect("whoami")
        .spent_today
        .expect("a daily limit");
    let le = |a: &Money, b: &Money| a.checked_cmp(b).expect("usd").is_le();
    assert!(
        le(&spent, limit),
        "round {round}: the key spent {spent}, past its daily limit {limit} ({plan:?})"
    );
    assert!(
        le(&held, &spent),
        "round {round}: payments hold {held} of the daily limit but the reservation counts {spent}: a release freed too much"
    );
}
