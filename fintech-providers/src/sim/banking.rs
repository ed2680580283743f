//! Simulated bank data in the Plaid sandbox model: institutions, a public token exchanged for
//! an access token, accounts with balances, and `/transactions/sync` pages of
//! added/modified/removed transactions behind an opaque cursor.
//!
//! Everything an item shows is derived from its access token (institution, link date and a
//! random seed), so a sync continues correctly after a restart. History covers the 90 days
//! before the link; [`SimBanking::advance`] simulates a day passing: yesterday's pending
//! transactions post (removed + added under a new id, as Plaid reports it), one transaction
//! is enriched (modified), and new ones arrive.
//!
//! State (namespace `sim.banking`), by a hash of the item's seed so no token material is
//! stored: `exchanged` (a public token works once), `item` (the days simulated since the
//! link), `removed` (its access token is refused from then on).

#[cfg(test)]
use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use fintech_core::banking::{
    AccountKind, BankingProvider, ExchangedItem, LinkToken, ProviderAccount, ProviderTransaction,
    SyncPage,
};
use fintech_core::{Currency, Error, Money, ProviderMode, Result};
use secrecy::{ExposeSecret, SecretString};

use super::prices::hash_parts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{sim_error, SimClock, SimState};

/// Sandbox institutions: `(id, name)`. `ins_sim_login_required` links, then answers every
/// read with `ITEM_LOGIN_REQUIRED`, to exercise the re-authentication path.
pub const INSTITUTIONS: &[(&str, &str)] = &[
    ("ins_109508", "First Platypus Bank"),
    ("ins_109509", "First Gingham Credit Union"),
    ("ins_109510", "Tattersall Federal Credit Union"),
    ("ins_109511", "Tartan Bank"),
    ("ins_109512", "Houndstooth Bank"),
    ("ins_sim_login_required", "Sim Bank (login required)"),
];

/// Days of history an item has when it is linked.
const HISTORY_DAYS: i64 = 90;

/// Days [`SimBanking::advance`] can simulate for an item (ten years). A cursor claiming more is
/// forged: building its change log would take unbounded time and memory.
const MAX_GENERATION: u32 = 3_650;

/// `(statement name, merchant, category, min cents, max cents)` of card spending.
const MERCHANTS: &[(&str, Option<&str>, &str, i64, i64)] = &[
    (
        "STARBUCKS STORE 0412",
        Some("Starbucks"),
        "FOOD_AND_DRINK",
        350,
        900,
    ),
    ("UBER TRIP 8H2K", Some("Uber"), "TRANSPORTATION", 800, 4_500),
    (
        "WHOLEFDS MKT 10234",
        Some("Whole Foods Market"),
        "FOOD_AND_DRINK",
        2_000,
        16_000,
    ),
    (
        "AMAZON MKTPL*2K4LL",
        Some("Amazon"),
        "GENERAL_MERCHANDISE",
        1_000,
        12_000,
    ),
    (
        "SHELL OIL 57444",
        Some("Shell"),
        "TRANSPORTATION",
        3_000,
        7_000,
    ),
    (
        "NETFLIX.COM",
        Some("Netflix"),
        "ENTERTAINMENT",
        1_549,
        1_549,
    ),
    ("CITY OF SF PARKING", None, "TRANSPORTATION", 200, 2_000),
    (
        "TARGET T-1829",
        Some("Target"),
        "GENERAL_MERCHANDISE",
        1_500,
        9_000,
    ),
    (
        "PG&E WEB ONLINE",
        Some("PG&E"),
        "RENT_AND_UTILITIES",
        6_000,
        18_000,
    ),
    (
        "CHIPOTLE 2231",
        Some("Chipotle"),
        "FOOD_AND_DRINK",
        900,
        2_200,
    ),
];

/// An item, as its access token describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemKey {
    institution: String,
    /// Days since 1970-01-01 of the link date.
    day: i64,
    seed: String,
}

impl ItemKey {
    fn encode(&self, kind: &str) -> String {
        format!("{kind}-sim-{}-{}-{}", self.institution, self.day, self.seed)
    }

    fn decode(token: &str, kind: &str) -> Option<Self> {
        let rest = token.strip_prefix(kind)?.strip_prefix("-sim-")?;
        let mut parts = rest.rsplitn(3, '-');
        let seed = parts.next()?;
        let day = parts.next()?.parse().ok()?;
        let institution = parts.next()?;
        let valid = seed.len() == 32
            && seed.bytes().all(|b| b.is_ascii_hexdigit())
            && INSTITUTIONS.iter().any(|(id, _)| *id == institution);
        valid.then(|| ItemKey {
            institution: institution.to_owned(),
            day,
            seed: seed.to_owned(),
        })
    }

    fn link_date(&self) -> NaiveDate {
        NaiveDate::default() + Duration::days(self.day)
    }

    fn rand(&self, parts: &[&[u8]]) -> u64 {
        let mut all: Vec<&[u8]> = vec![self.seed.as_bytes()];
        all.extend_from_slice(parts);
        hash_parts(&all)
    }

    fn account_id(&self, n: usize) -> String {
        format!("acc-sim-{}-{n}", &self.seed[..16])
    }
}

/// One change in an item's transaction history.
#[derive(Debug, Clone)]
enum Change {
    Added(ProviderTransaction),
    Modified(ProviderTransaction),
    Removed(String),
}

/// The simulated banking provider of one tenant.
#[derive(Debug)]
pub struct SimBanking {
    clock: SimClock,
    state: SimState,
}

/// An item's record: days simulated since its link.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct ItemDays {
    generation: u32,
}

const EXCHANGED: &str = "exchanged";
const ITEM: &str = "item";
const REMOVED: &str = "removed";

/// The record key of an item: a hash of its seed (the seed is what its access token carries).
fn item_key(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

impl SimBanking {
    /// A simulator of its own, kept in memory, reading time from `clock`.
    pub fn new(clock: SimClock) -> Self {
        Self::with_state(SimState::standalone("sim.banking"), clock)
    }

    pub(crate) fn with_state(state: SimState, clock: SimClock) -> Self {
        Self { clock, state }
    }

    /// Simulates a day passing for every item this tenant has linked and not removed (up to
    /// ten years of days per item): pending transactions post, one is enriched, new ones
    /// arrive. Returns how many items it moved on.
    pub async fn advance(&self) -> Result<usize> {
        let mut tx = self.state.begin().await?;
        let items = tx.list(ITEM).await?;
        for (key, value) in &items {
            let mut days: ItemDays = serde_json::from_str(value)
                .map_err(|e| Error::internal(format!("simulator item {key}: {e}")))?;
            days.generation = (days.generation + 1).min(MAX_GENERATION);
            tx.put_json(ITEM, key, &days).await?;
        }
        tx.commit().await?;
        Ok(items.len())
    }

    async fn item(&self, access_token: &SecretString) -> Result<ItemKey> {
        let key = ItemKey::decode(access_token.expose_secret(), "access").ok_or_else(|| {
            sim_error(
                "INVALID_ACCESS_TOKEN",
                "the access token is not one the simulator issued",
            )
        })?;
        let k = item_key(&key.seed);
        if self.state.get::<bool>(REMOVED, &k).await?.is_some() {
            return Err(removed_error());
        }
        if key.institution == "ins_sim_login_required" {
            return Err(sim_error(
                "ITEM_LOGIN_REQUIRED",
                "the institution needs the user to log in again; start a new link flow for this item",
            ));
        }
        Ok(key)
    }

    /// The days simulated for an item, at least `at_least` (a cursor from before a restart
    /// carries the days simulated then), recording the item on first sight.
    async fn generation(&self, key: &ItemKey, at_least: u32) -> Result<u32> {
        let k = item_key(&key.seed);
        if let Some(days) = self.state.get::<ItemDays>(ITEM, &k).await? {
            if days.generation >= at_least {
                return Ok(days.generation);
            }
        }
        let mut tx = self.state.begin().await?;
        if tx.get_json::<bool>(REMOVED, &k).await?.is_some() {
            return Err(removed_error());
        }
        let mut days = tx.get_json::<ItemDays>(ITEM, &k).await?.unwrap_or_default();
        days.generation = days.generation.max(at_least);
        tx.put_json(ITEM, &k, &days).await?;
        tx.commit().await?;
        Ok(days.generation)
    }
}

fn removed_error() -> Error {
    sim_error(
        "ITEM_NOT_FOUND",
        "the item was removed; its access token no longer works (link the bank again)",
    )
}

fn usd(cents: i64) -> Money {
    Money::from_minor(cents, Currency::USD)
}

fn accounts_of(key: &ItemKey) -> Vec<ProviderAccount> {
    let mask = |n: usize| format!("{:04}", key.rand(&[b"mask", &n.to_be_bytes()]) % 10_000);
    let amount = |n: usize, lo: i64, span: u64| {
        lo + (key.rand(&[b"balance", &n.to_be_bytes()]) % span) as i64
    };
    let checking = amount(0, 100_000, 500_000);
    let savings = amount(1, 500_000, 2_000_000);
    let card = amount(2, 10_000, 200_000);
    vec![
        ProviderAccount {
            provider_account_id: key.account_id(0),
            name: "Plaid Checking".into(),
            mask: Some(mask(0)),
            kind: AccountKind::Depository,
            subtype: Some("checking".into()),
            current: usd(checking),
            available: Some(usd(checking - 10_000)),
        },
        ProviderAccount {
            provider_account_id: key.account_id(1),
            name: "Plaid Saving".into(),
            mask: Some(mask(1)),
            kind: AccountKind::Depository,
            subtype: Some("savings".into()),
            current: usd(savings),
            available: Some(usd(savings)),
        },
        ProviderAccount {
            provider_account_id: key.account_id(2),
            name: "Plaid Credit Card".into(),
            mask: Some(mask(2)),
            kind: AccountKind::Credit,
            subtype: Some("credit card".into()),
            current: usd(card),
            available: None,
        },
    ]
}

/// Transactions of one day, `tag` distinguishing generations (ids must never repeat).
fn day_transactions(
    key: &ItemKey,
    date: NaiveDate,
    tag: &str,
    pending: bool,
) -> Vec<ProviderTransaction> {
    let day = (date - NaiveDate::default()).num_days();
    let r = |what: &[u8], n: u64| key.rand(&[what, &day.to_be_bytes(), &n.to_be_bytes()]);
    let mut out = Vec::new();
    let id = |n: usize| format!("txn-sim-{}-{tag}-{day}-{n}", &key.seed[..12]);
    if day % 14 == 0 {
        out.push(ProviderTransaction {
            provider_transaction_id: id(out.len()),
            provider_account_id: key.account_id(0),
            amount: usd(-245_000),
            date,
            name: "ACME CORP PAYROLL PPD ID: 1234".into(),
            merchant_name: Some("Acme Corp".into()),
            category: Some("INCOME".into()),
            pending,
        });
    }
    if day % 30 == 0 {
        out.push(ProviderTransaction {
            provider_transaction_id: id(out.len()),
            provider_account_id: key.account_id(1),
            amount: usd(-(100 + (r(b"interest", 0) % 900) as i64)),
            date,
            name: "INTEREST PAYMENT".into(),
            merchant_name: None,
            category: Some("INCOME".into()),
            pending,
        });
    }
    let count = r(b"count", 0) % 4;
    for n in 0..count {
        let (name, merchant, category, lo, hi) =
            MERCHANTS[(r(b"merchant", n) % MERCHANTS.len() as u64) as usize];
        let cents = lo + (r(b"amount", n) % (hi - lo + 1) as u64) as i64;
        let account = if r(b"account", n) % 3 == 0 { 0 } else { 2 };
        out.push(ProviderTransaction {
            provider_transaction_id: id(out.len()),
            provider_account_id: key.account_id(account),
            amount: usd(cents),
            date,
            name: name.into(),
            merchant_name: merchant.map(str::to_owned),
            category: Some(category.into()),
            pending,
        });
    }
    out
}

/// Every change of an item up to `generation` days after its link. The log for generation
/// `g` starts with the log for `g − 1`, so a cursor (an index into it) stays valid.
fn change_log(key: &ItemKey, generation: u32) -> Vec<Change> {
    let link = key.link_date();
    let mut log = Vec::new();
    let mut pending: Vec<ProviderTransaction> = Vec::new();
    let mut unenriched: Vec<ProviderTransaction> = Vec::new();
    for back in (0..HISTORY_DAYS).rev() {
        let date = link - Duration::days(back);
        for t in day_transactions(key, date, "h", back < 2) {
            if t.pending {
                pending.push(t.clone());
            } else if t.merchant_name.is_none() {
                unenriched.push(t.clone());
            }
            log.push(Change::Added(t));
        }
    }
    for g in 1..=generation {
        // Enrich a transaction from an earlier day first: a change never modifies what the
        // same day added (a sync page would report that as one added transaction).
        if let Some(mut t) = unenriched.pop() {
            t.merchant_name = Some(
                t.name
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            log.push(Change::Modified(t));
        }
        for mut t in std::mem::take(&mut pending) {
            log.push(Change::Removed(t.provider_transaction_id.clone()));
            t.provider_transaction_id = format!("{}-posted", t.provider_transaction_id);
            t.pending = false;
            if t.merchant_name.is_none() {
                unenriched.push(t.clone());
            }
            log.push(Change::Added(t));
        }
        let date = link + Duration::days(i64::from(g));
        for t in day_transactions(key, date, &format!("g{g}"), true) {
            pending.push(t.clone());
            log.push(Change::Added(t));
        }
    }
    log
}

fn parse_cursor(cursor: Option<&str>) -> Result<(u32, usize)> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok((0, 0));
    };
    let bad = || Error::validation("cursor", "not a cursor returned by a previous sync");
    let rest = c.strip_prefix("sim1.").ok_or_else(bad)?;
    let (g, i) = rest.split_once('.').ok_or_else(bad)?;
    let generation: u32 = g.parse().map_err(|_| bad())?;
    if generation > MAX_GENERATION {
        return Err(bad());
    }
    Ok((generation, i.parse().map_err(|_| bad())?))
}

#[async_trait]
impl BankingProvider for SimBanking {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn mode(&self) -> ProviderMode {
        ProviderMode::Simulated
    }

    async fn create_link_token(&self, client_user_id: &str) -> Result<LinkToken> {
        if client_user_id.trim().is_empty() || client_user_id.len() > 128 {
            return Err(Error::validation(
                "client_user_id",
                "must be 1 to 128 characters",
            ));
        }
        Ok(LinkToken {
            link_token: format!("link-sim-{}", uuid::Uuid::new_v4()),
            expiration: self.clock.now() + Duration::hours(4),
        })
    }

    async fn sandbox_public_token(&self, institution_id: &str) -> Result<String> {
        if !INSTITUTIONS.iter().any(|(id, _)| *id == institution_id) {
            let known: Vec<_> = INSTITUTIONS.iter().map(|(id, _)| *id).collect();
            return Err(Error::validation(
                "institution_id",
                format!(
                    "unknown sandbox institution {institution_id:?}; known: {}",
                    known.join(", ")
                ),
            ));
        }
        let key = ItemKey {
            institution: institution_id.to_owned(),
            day: (self.clock.now().date_naive() - NaiveDate::default()).num_days(),
            seed: uuid::Uuid::new_v4().simple().to_string(),
        };
        Ok(key.encode("public"))
    }

    async fn exchange_public_token(&self, public_token: &str) -> Result<ExchangedItem> {
        // Plaid answers INVALID_PUBLIC_TOKEN with a 400: the caller's input is at fault.
        let key = ItemKey::decode(public_token, "public").ok_or_else(|| {
            Error::validation(
                "public_token",
                "not a public token the simulator issued (INVALID_PUBLIC_TOKEN)",
            )
        })?;
        let k = item_key(&key.seed);
        let mut tx = self.state.begin().await?;
        if tx.get_json::<bool>(EXCHANGED, &k).await?.is_some() {
            return Err(Error::validation(
                "public_token",
                "already exchanged; public tokens work once (INVALID_PUBLIC_TOKEN)",
            ));
        }
        tx.put_json(EXCHANGED, &k, &true).await?;
        tx.put_json(ITEM, &k, &ItemDays::default()).await?;
        tx.commit().await?;
        let name = INSTITUTIONS
            .iter()
            .find(|(id, _)| *id == key.institution)
            .map(|(_, n)| *n)
            .unwrap_or("Sim Bank");
        Ok(ExchangedItem {
            provider_item_id: format!("item-sim-{}", key.seed),
            access_token: SecretString::from(key.encode("access")),
            institution_id: key.institution.clone(),
            institution_name: name.to_owned(),
        })
    }

    async fn accounts(&self, access_token: &SecretString) -> Result<Vec<ProviderAccount>> {
        let key = self.item(access_token).await?;
        Ok(accounts_of(&key))
    }

    async fn refresh_balances(&self, access_token: &SecretString) -> Result<Vec<ProviderAccount>> {
        // the simulated bank has no cache: its balances are always current
        self.accounts(access_token).await
    }

    async fn remove_item(&self, access_token: &SecretString) -> Result<()> {
        // Plaid removes an item whatever its login state, so no `item()` check here
        let key = ItemKey::decode(access_token.expose_secret(), "access").ok_or_else(|| {
            sim_error(
                "INVALID_ACCESS_TOKEN",
                "the access token is not one the simulator issued",
            )
        })?;
        let k = item_key(&key.seed);
        let mut tx = self.state.begin().await?;
        if tx.get_json::<bool>(REMOVED, &k).await?.is_some() {
            return Err(removed_error());
        }
        tx.put_json(REMOVED, &k, &true).await?;
        tx.delete(ITEM, &k).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sync_transactions(
        &self,
        access_token: &SecretString,
        cursor: Option<&str>,
        count: u32,
    ) -> Result<SyncPage> {
        let key = self.item(access_token).await?;
        if !(1..=500).contains(&count) {
            return Err(Error::validation("count", "must be between 1 and 500"));
        }
        let (cursor_gen, start) = parse_cursor(cursor)?;
        // A cursor from before a restart carries the days simulated then: catch the item's
        // counter up to it, so the next `advance` brings a new day instead of a known one.
        let generation = self.generation(&key, cursor_gen).await?;
        let log = change_log(&key, generation);
        if start > log.len() {
            return Err(Error::validation(
                "cursor",
                "not a cursor returned by a previous sync",
            ));
        }
        let end = (start + count as usize).min(log.len());
        let mut page = SyncPage {
            added: Vec::new(),
            modified: Vec::new(),
            removed: Vec::new(),
            next_cursor: format!("sim1.{generation}.{end}"),
            has_more: end < log.len(),
        };
        for change in &log[start..end] {
            match change {
                Change::Added(t) => page.added.push(t.clone()),
                Change::Modified(t) => page.modified.push(t.clone()),
                Change::Removed(id) => page.removed.push(id.clone()),
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cursor from before a restart: the new process catches up and its next day is new.
    #[tokio::test]
    async fn a_restarted_simulator_continues_from_the_cursor() {
        let clock =
            SimClock::manual(chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("time"));
        let first = SimBanking::new(clock.clone());
        let public = first
            .sandbox_public_token("ins_109508")
            .await
            .expect("public");
        let token = first
            .exchange_public_token(&public)
            .await
            .expect("exchange")
            .access_token;
        let mut cursor = first
            .sync_transactions(&token, None, 500)
            .await
            .expect("sync")
            .next_cursor;
        for _ in 0..3 {
            first.advance().await.expect("advance");
        }
        cursor = first
            .sync_transactions(&token, Some(&cursor), 500)
            .await
            .expect("sync")
            .next_cursor;
        let second = SimBanking::new(clock);
        let page = second
            .sync_transactions(&token, Some(&cursor), 500)
            .await
            .expect("resume");
        assert!(
            page.added.is_empty() && page.removed.is_empty(),
            "nothing new on resume"
        );
        assert!(cursor.starts_with("sim1.3."), "{cursor}");
        second.advance().await.expect("advance");
        let next = second
            .sync_transactions(&token, Some(&page.next_cursor), 500)
            .await
            .expect("next day");
        assert!(
            next.next_cursor.starts_with("sim1.4."),
            "one day after the three before the restart: {}",
            next.next_cursor
        );
    }

    #[test]
    fn logs_extend_each_other() {
        let key = ItemKey {
            institution: "ins_109508".into(),
            day: 20_000,
            seed: "0123456789abcdef0123456789abcdef".into(),
        };
        let g0 = change_log(&key, 0);
        let g2 = change_log(&key, 2);
        assert!(g0.len() > 50, "90 days of history: {}", g0.len());
        assert!(g2.len() > g0.len());
        for (a, b) in g0.iter().zip(&g2) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        let ids: Vec<_> = g2
            .iter()
            .filter_map(|c| match c {
                Change::Added(t) => Some(t.provider_transaction_id.clone()),
                _ => None,
            })
            .collect();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "transaction ids never repeat");
        assert_eq!(
            ItemKey::decode(&key.encode("access"), "access"),
            Some(key.clone())
        );
        assert_eq!(ItemKey::decode(&key.encode("access"), "public"), None);
    }

    #[tokio::test]
    async fn forged_cursor_generations_are_refused_quickly() {
        let sim = SimBanking::new(SimClock::system());
        let public = sim
            .sandbox_public_token("ins_109508")
            .await
            .expect("public token");
        let token = sim
            .exchange_public_token(&public)
            .await
            .expect("exchange")
            .access_token;
        let started = std::time::Instant::now();
        let forged = sim
            .sync_transactions(&token, Some("sim1.4000000000.0"), 100)
            .await;
        assert!(forged.is_err(), "a cursor from billions of days ahead");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let cursor = format!("sim1.{MAX_GENERATION}.0");
        let furthest = sim.sync_transactions(&token, Some(&cursor), 100).await;
        assert!(furthest.is_ok(), "ten years of simulated days still sync");
    }
}
