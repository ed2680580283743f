//! Resource subscriptions driven by the core event log: a session's watcher follows
//! `Platform::watch_events` (the events the key may see, from when it started, with the key
//! checked again before each read) and reports each subscribed URI an event touches.
//! The log is the same one SSE and webhooks read, so every instance on a shared PostgreSQL
//! sees changes made through any other.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use fintech_core::events::Event;
use fintech_core::platform::{Watch, WatchFrom};
use fintech_core::{ErrorKind, Platform, Principal};
use futures::stream::{BoxStream, StreamExt};

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
        principal: &Principal,
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
        let events = platform.watch_events(principal, from_now(interval)).await?;
        let stop = CancellationToken::new();
        {
            let mut guard = self.watcher.lock().expect("lock");
            if guard.is_some() {
                return Ok(());
            }
            *guard = Some(stop.clone().drop_guard());
        }
        let me = Arc::downgrade(self);
        tokio::spawn(forward(
            events,
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

/// A watch of what happens from now on, reading the log every `interval`.
pub(crate) fn from_now(interval: Duration) -> Watch {
    Watch {
        from: WatchFrom::Now,
        types: None,
        poll: interval,
    }
}

/// Forwards core's event watch until `stop`: for the events ready at once, calls `send` once
/// for each URI `targets` picks from the URIs they touch. A revoked key ends it; a failed read
/// of the log is logged and the watch goes on. Also the body of `subscriptions/listen`.
pub(crate) async fn forward<T, F, Fut>(
    events: BoxStream<'static, fintech_core::Result<Event>>,
    stop: CancellationToken,
    targets: T,
    send: F,
) where
    T: Fn(Vec<String>) -> Vec<String> + Send,
    F: Fn(String) -> Fut + Send + Sync,
    Fut: Future<Output = bool> + Send,
{
    let mut batches = events.ready_chunks(200);
    loop {
        let batch = tokio::select! {
            _ = stop.cancelled() => return,
            batch = batches.next() => batch,
        };
        let Some(batch) = batch else { return };
        let mut due = BTreeSet::new();
        for event in batch {
            match event {
                Ok(event) => due.extend(targets(touched_by(&event))),
                Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                    tracing::info!(error = %e, "subscription ended");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "subscription read failed; retrying"),
            }
        }
        for uri in due {
            if !send(uri).await {
                return;
            }
        }
    }
}
