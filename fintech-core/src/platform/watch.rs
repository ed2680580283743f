//! Watching the event log: [`Platform::watch_events`] serves SSE streams and MCP resource
//! subscriptions. The persisted log is the source of truth, so every instance on a shared
//! PostgreSQL delivers every event whichever instance wrote it; the caller's authority is read
//! again before every read of the log, so a revoked key or a narrowed scope ends or filters a
//! stream within the authentication cache window, on every transport.

use std::collections::VecDeque;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};

use super::Platform;
use crate::auth::{Principal, Scope};
use crate::error::{Error, ErrorKind, Result};
use crate::events::Event;

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// After the last event committed when the watch starts (only what happens next).
    Now,
    /// After this sequence number (0: the whole log), for a client resuming where it stopped.
    After(i64),
}

/// What to watch and how often to read the log.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Where to start.
    pub from: WatchFrom,
    /// Only these event types (`payments.payment_succeeded`, …); every type when `None`.
    pub types: Option<Vec<String>>,
    /// How long to wait before reading the log again when it had nothing new.
    pub poll: Duration,
}

/// The scope that lets a principal see an event of this type: its domain's read scope
/// (`banking.*`, `payments.*`, `trading.*`); `fraud:read` sees every event.
fn scope_of(event_type: &str) -> Scope {
    match event_type.split('.').next() {
        Some("banking") => Scope::BankingRead,
        Some("payments") => Scope::PaymentsRead,
        Some("trading") => Scope::TradingRead,
        _ => Scope::FraudRead,
    }
}

/// True when `p` may see events of `event_type`.
pub(crate) fn may_see(p: &Principal, event_type: &str) -> bool {
    p.has(Scope::FraudRead) || p.has(scope_of(event_type))
}

const READ_SCOPES: [Scope; 4] = [
    Scope::BankingRead,
    Scope::PaymentsRead,
    Scope::TradingRead,
    Scope::FraudRead,
];

struct Cursor {
    platform: Platform,
    principal: Principal,
    after: i64,
    types: Option<Vec<String>>,
    poll: Duration,
    buffer: VecDeque<Event>,
    ended: bool,
}

impl Platform {
    /// The principal's tenant's events as they are committed, in order, each once: those of
    /// the domains its scopes may read (`fraud:read` sees all). A key without any read scope
    /// is refused up front. Before each read of the log the key is checked again: a revoked
    /// key yields its `Unauthenticated` error and ends the stream; a failed read yields its
    /// error and the watch goes on from where it was (the consumer decides whether to stop).
    pub async fn watch_events(
        &self,
        p: &Principal,
        watch: Watch,
    ) -> Result<BoxStream<'static, Result<Event>>> {
        let p = self.current_principal(p).await?;
        if !READ_SCOPES.iter().any(|s| p.has(*s)) {
            return Err(Error::missing_scope(Scope::FraudRead.as_str()));
        }
        let after = match watch.from {
            WatchFrom::Now => self.inner.store.last_event_seq(&p.tenant_id).await?,
            WatchFrom::After(seq) if seq >= 0 => seq,
            WatchFrom::After(_) => {
                return Err(Error::validation(
                    "after",
                    "an event sequence number is 0 or more",
                ))
            }
        };
        let cursor = Cursor {
            platform: self.clone(),
            principal: p,
            after,
            types: watch.types,
            poll: watch.poll,
            buffer: VecDeque::new(),
            ended: false,
        };
        Ok(stream::unfold(cursor, next).boxed())
    }
}

async fn next(mut c: Cursor) -> Option<(Result<Event>, Cursor)> {
    loop {
        if let Some(event) = c.buffer.pop_front() {
            return Some((Ok(event), c));
        }
        if c.ended {
            return None;
        }
        let principal = match c.platform.current_principal(&c.principal).await {
            Ok(p) => p,
            Err(e) => {
                c.ended = e.kind() == ErrorKind::Unauthenticated;
                if !c.ended {
                    tokio::time::sleep(c.poll).await;
                }
                return Some((Err(e), c));
            }
        };
        c.principal = principal;
        let batch = c
            .platform
            .inner
            .store
            .events_after(&c.principal.tenant_id, c.after, 200)
            .await;
        let events = match batch {
            Ok(events) => events,
            Err(e) => {
                tokio::time::sleep(c.poll).await;
                return Some((Err(e), c));
            }
        };
        let Some(last) = events.last() else {
            tokio::time::sleep(c.poll).await;
            continue;
        };
        c.after = last.seq;
        // a change another process made: what this one caches of it is stale now
        c.platform.events_seen(&c.principal.tenant_id, &events);
        let wanted = |e: &Event| {
            may_see(&c.principal, &e.event_type)
                && c.types.as_ref().is_none_or(|t| t.contains(&e.event_type))
        };
        c.buffer = events.into_iter().filter(wanted).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_domain_needs_its_read_scope_and_fraud_read_sees_all() {
        let p = |scopes: Vec<Scope>| Principal {
            scopes: scopes.into_iter().collect(),
            ..Principal::system(crate::id::TenantId::generate(), crate::Interface::Sdk)
        };
        let payments = p(vec![Scope::PaymentsRead]);
        assert!(may_see(&payments, "payments.payment_succeeded"));
        assert!(!may_see(&payments, "trading.order_filled"));
        assert!(!may_see(&payments, "banking.item_linked"));
        assert!(!may_see(&payments, "fraud.case_opened"));
        let trading = p(vec![Scope::TradingRead]);
        assert!(may_see(&trading, "trading.order_filled"));
        assert!(!may_see(&trading, "payments.refund_created"));
        let fraud = p(vec![Scope::FraudRead]);
        for t in [
            "banking.item_linked",
            "payments.payment_held",
            "trading.order_updated",
            "fraud.rules_updated",
        ] {
            assert!(may_see(&fraud, t));
        }
        let writer = p(vec![Scope::PaymentsWrite]);
        assert!(!may_see(&writer, "payments.payment_succeeded"));
    }
}
