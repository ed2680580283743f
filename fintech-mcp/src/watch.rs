//! Resource subscriptions driven by the core event log: a session's watcher polls its
//! tenant's events from where it started and reports each subscribed URI an event touches.
//! The log is the same one SSE and webhooks read, so every instance on a shared PostgreSQL
//! sees changes made through any other.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use fintech_core::id::TenantId;
use fintech_core::Platform;

use crate::resources::{matches, touched_by};

/// The subscriptions of one session.
#[derive(Default)]
pub(crate) struct Subscriptions {
    uris: Mutex<BTreeSet<String>>,
    watcher: Mutex<Option<tokio_util::sync::DropGuard>>,
}

impl Subscriptions {
    pub(crate) fn add(&self, uri: &str) {
        self.uris.lock().expect("lock").insert(uri.to_owned());
    }

    pub(crate) fn remove(&self, uri: &str) {
        self.uris.lock().expect("lock").remove(uri);
    }

    fn matching(&self, touched: &[String]) -> Vec<String> {
        let uris = self.uris.lock().expect("lock");
        uris.iter()
            .filter(|s| touched.iter().any(|t| matches(s, t)))
            .cloned()
            .collect()
    }

    /// Starts the watcher once; it stops when the session (and with it this value) is dropped
    /// or `send` fails (the client went away).
    pub(crate) async fn ensure_watching<F, Fut>(
        self: &Arc<Self>,
        platform: &Platform,
        tenant: &TenantId,
        interval: Duration,
        send: F,
    ) -> fintech_core::Result<()>
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        if self.watcher.lock().expect("lock").is_some() {
            return Ok(());
        }
        let start = platform.store().last_event_seq(tenant).await?;
        let stop = CancellationToken::new();
        {
            let mut guard = self.watcher.lock().expect("lock");
            if guard.is_some() {
                return Ok(());
            }
            *guard = Some(stop.clone().drop_guard());
        }
        let me = Arc::downgrade(self);
        tokio::spawn(watch(
            platform.clone(),
            tenant.clone(),
            start,
            interval,
            stop,
            move |touched| {
                me.upgrade()
                    .map(|s| s.matching(&touched))
                    .unwrap_or_default()
            },
            send,
        ));
        Ok(())
    }
}

/// Polls `tenant`'s events after `seq` until `stop`, calling `send` for each URI `targets`
/// picks from the URIs an event touches. Also the body of `subscriptions/listen`.
pub(crate) async fn watch<T, F, Fut>(
    platform: Platform,
    tenant: TenantId,
    mut seq: i64,
    interval: Duration,
    stop: CancellationToken,
    targets: T,
    send: F,
) where
    T: Fn(Vec<String>) -> Vec<String> + Send,
    F: Fn(String) -> Fut + Send + Sync,
    Fut: Future<Output = bool> + Send,
{
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let events = match platform.store().events_after(&tenant, seq, 200).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "subscription poll failed; retrying");
                continue;
            }
        };
        let mut due = BTreeSet::new();
        for event in &events {
            seq = event.seq;
            due.extend(targets(touched_by(event)));
        }
        if !events.is_empty() {
            // a change another process made: what this one caches of it is stale now
            platform.events_seen(&tenant, &events);
        }
        for uri in due {
            if !send(uri).await {
                return;
            }
        }
    }
}
