//! In-process sliding windows: what one process has seen, per key value, for backtests,
//! benchmarks and single-process embedding. The `Platform` counts from the database instead
//! (see [`super::engine`]), so several instances sharing one PostgreSQL agree.

use std::collections::{HashMap, VecDeque};

use super::rules::{Key, Lookup, RuleSet, Subject, Txn, WindowStat};
use crate::money::Currency;

#[derive(Debug, Clone, Copy)]
struct Obs {
    at: i64,
    currency: Currency,
    amount: i64,
    payee: u64,
}

/// Per subject and key, the recent operations of each key value, oldest first.
#[derive(Debug, Default)]
pub struct MemoryWindows {
    /// Indexed by `subject × 5 + key`.
    maps: [HashMap<Box<str>, VecDeque<Obs>>; 10],
    retain_micros: Option<i64>,
}

fn slot(s: Subject, k: Key) -> usize {
    (s as usize) * 5 + k.index()
}

fn hash_payee(p: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}

impl MemoryWindows {
    /// Windows that keep what `rules` needs (all history when a rule needs it).
    pub fn for_rules(rules: &RuleSet) -> Self {
        Self {
            maps: Default::default(),
            retain_micros: rules.longest_window(),
        }
    }

    /// Records an operation under each of its keys, dropping what no window needs any more.
    pub fn record(&mut self, txn: &Txn<'_>) {
        let payee = hash_payee(txn.key(Key::Payee));
        for k in Key::ALL {
            let Some(v) = txn.key(k) else { continue };
            let map = &mut self.maps[slot(txn.subject, k)];
            let q = match map.get_mut(v) {
                Some(q) => q,
                None => map.entry(v.into()).or_default(),
            };
            if let Some(retain) = self.retain_micros {
                while q.front().is_some_and(|o| o.at <= txn.at_micros - retain) {
                    q.pop_front();
                }
            }
            q.push_back(Obs {
                at: txn.at_micros,
                currency: txn.currency,
                amount: txn.amount_minor,
                payee,
            });
        }
    }

    /// Counts one lookup.
    pub fn stat(&self, l: &Lookup<'_>) -> WindowStat {
        let mut s = WindowStat::default();
        let Some(q) = self.maps[slot(l.subject, l.key)].get(l.value) else {
            return s;
        };
        let payee = l.payee.map(|p| hash_payee(Some(p)));
        for o in q.iter().rev() {
            if l.after_micros.is_some_and(|after| o.at <= after) {
                break;
            }
            if payee.is_some_and(|p| p != o.payee) {
                continue;
            }
            let same = o.currency == l.currency;
            if let Some((lo, hi)) = l.band {
                if !same || o.amount < lo || o.amount >= hi {
                    continue;
                }
            }
            s.count += 1;
            if same {
                s.sum_minor = s.sum_minor.saturating_add(o.amount);
            }
        }
        s
    }

    /// Fills `out` with the statistics of every window of `rules` for `txn` (call after
    /// [`MemoryWindows::record`] so the operation counts itself).
    pub fn stats(&self, rules: &RuleSet, txn: &Txn<'_>, out: &mut Vec<WindowStat>) {
        out.clear();
        out.extend(rules.windows().iter().map(|w| match w.lookup(txn) {
            Some(l) => self.stat(&l),
            None => WindowStat::default(),
        }));
    }
}
