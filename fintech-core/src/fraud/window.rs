//! In-process sliding windows: what one process has seen, per key value, for backtests,
//! benchmarks and single-process embedding. The `Platform` counts from the database instead
//! (see `StoredRules`), so several instances sharing one PostgreSQL agree.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

use foldhash::fast::{FixedState, RandomState};

use super::rules::{Key, Lookup, RuleSet, Subject, Txn, WindowStat};
use crate::money::Currency;

type Map<K, V> = HashMap<K, V, RandomState>;

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
    maps: [Map<Box<str>, VecDeque<Obs>>; 10],
    /// All-history counts per payer and payee hash (new-payee rules), per subject.
    pairs: [Map<Box<str>, Map<u64, u32>>; 2],
    retain_micros: i64,
}

fn slot(s: Subject, k: Key) -> usize {
    (s as usize) * 5 + k.index()
}

/// A 64-bit fingerprint of a payee (fixed seed, so equal payees always match; two payees
/// colliding would make a new payee look known, with odds of about 2⁻⁶⁴ per pair).
fn hash_payee(p: Option<&str>) -> u64 {
    FixedState::with_seed(0x5EED_F4A0_D000_0001).hash_one(p)
}

impl MemoryWindows {
    /// Windows that keep what `rules` needs: the longest sliding window of operations, and
    /// for new-payee rules every payer–payee pair ever seen.
    pub fn for_rules(rules: &RuleSet) -> Self {
        let retain = rules
            .windows()
            .iter()
            .filter_map(|w| w.window_micros)
            .max()
            .unwrap_or(0);
        Self {
            maps: Default::default(),
            pairs: Default::default(),
            retain_micros: retain,
        }
    }

    /// Records an operation under each of its keys, dropping what no window needs any more.
    pub fn record(&mut self, txn: &Txn<'_>) {
        let payee = hash_payee(txn.key(Key::Payee));
        if let (Some(payer), Some(_)) = (txn.key(Key::Payer), txn.key(Key::Payee)) {
            let map = &mut self.pairs[txn.subject as usize];
            let per_payer = match map.get_mut(payer) {
                Some(m) => m,
                None => map.entry(payer.into()).or_default(),
            };
            *per_payer.entry(payee).or_default() += 1;
        }
        for k in Key::ALL {
            let Some(v) = txn.key(k) else { continue };
            let map = &mut self.maps[slot(txn.subject, k)];
            let q = match map.get_mut(v) {
                Some(q) => q,
                None => map.entry(v.into()).or_default(),
            };
            while q
                .front()
                .is_some_and(|o| o.at <= txn.at_micros - self.retain_micros)
            {
                q.pop_front();
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
        if let (None, Some(payee), Key::Payer, None) = (l.after_micros, l.payee, l.key, l.band) {
            // All history to one payee: the pair count (sums are not kept for all history).
            s.count = self.pairs[l.subject as usize]
                .get(l.value)
                .and_then(|m| m.get(&hash_payee(Some(payee))))
                .copied()
                .unwrap_or(0);
            return s;
        }
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
