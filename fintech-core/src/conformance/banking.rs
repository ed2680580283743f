//! Scenarios every [`BankingProvider`] passes: the simulator now, Plaid (its sandbox) later.
//!
//! The sync scenarios apply pages the way Plaid documents it: `added`, then `modified`, then
//! `removed`, page after page, and compare the state a client builds with the state a fresh
//! full sync gives.

use std::collections::{BTreeMap, BTreeSet};

use secrecy::{ExposeSecret, SecretString};

use super::Outcome;
use crate::banking::{BankingProvider, ProviderTransaction};
use crate::error::{Error, ErrorKind};
use crate::money::Currency;

/// Makes a day pass at the provider: pending transactions post, new ones arrive. (A future,
/// because a provider may keep its days in a database.)
pub type Advance =
    Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// What a banking backend supplies beyond the trait.
pub struct BankingHarness {
    /// A sandbox institution that links and has transactions (`ins_109508` on Plaid's sandbox
    /// and on the simulator).
    pub institution: String,
    /// Makes new transactions appear (a day passing), when the backend can; the scenarios that
    /// need it are skipped without it.
    pub advance: Option<Advance>,
}

/// Every scenario, by name.
pub const SCENARIOS: &[&str] = &[
    "link_token_is_issued",
    "public_token_exchanges_once",
    "items_are_independent",
    "accounts_have_currencies",
    "paged_sync_equals_one_page",
    "resync_from_final_cursor_is_empty",
    "new_transactions_arrive_as_changes",
    "several_days_sync_in_small_pages",
    "invalid_cursor_is_an_error",
    "unknown_institution_is_a_validation_error",
    "forged_tokens_are_refused",
    "refreshed_balances_cover_the_same_accounts",
    "removed_item_is_refused",
];

/// Runs the scenario called `name` against `provider`.
pub async fn run(name: &str, provider: &dyn BankingProvider, h: &BankingHarness) -> Outcome {
    let p = provider;
    match name {
        "link_token_is_issued" => link_token_is_issued(p).await,
        "public_token_exchanges_once" => public_token_exchanges_once(p, h).await,
        "items_are_independent" => items_are_independent(p, h).await,
        "accounts_have_currencies" => accounts_have_currencies(p, h).await,
        "paged_sync_equals_one_page" => paged_sync_equals_one_page(p, h).await,
        "resync_from_final_cursor_is_empty" => resync_from_final_cursor_is_empty(p, h).await,
        "new_transactions_arrive_as_changes" => {
            return new_transactions_arrive_as_changes(p, h).await
        }
        "several_days_sync_in_small_pages" => return several_days_sync_in_small_pages(p, h).await,
        "invalid_cursor_is_an_error" => invalid_cursor_is_an_error(p, h).await,
        "unknown_institution_is_a_validation_error" => {
            unknown_institution_is_a_validation_error(p).await
        }
        "forged_tokens_are_refused" => forged_tokens_are_refused(p).await,
        "refreshed_balances_cover_the_same_accounts" => {
            refreshed_balances_cover_the_same_accounts(p, h).await
        }
        "removed_item_is_refused" => removed_item_is_refused(p, h).await,
        other => panic!("unknown banking scenario {other}"),
    }
    Outcome::Passed
}

/// Links the harness's institution and returns the access token.
async fn link(p: &dyn BankingProvider, h: &BankingHarness) -> SecretString {
    let public = p
        .sandbox_public_token(&h.institution)
        .await
        .unwrap_or_else(|e| panic!("sandbox public token for {}: {e}", h.institution));
    p.exchange_public_token(&public)
        .await
        .unwrap_or_else(|e| panic!("exchange of a fresh public token: {e}"))
        .access_token
}

/// A client's view of an item's transactions: provider id → transaction.
type State = BTreeMap<String, ProviderTransaction>;

/// Syncs from `cursor` until `has_more` is false, applying each page to `state` as Plaid
/// documents it and checking that every `modified` and `removed` id is one the client holds
/// at that point. Returns the final cursor and the number of pages.
async fn sync_into(
    p: &dyn BankingProvider,
    token: &SecretString,
    state: &mut State,
    mut cursor: Option<String>,
    count: u32,
) -> (String, usize) {
    let mut pages = 0;
    loop {
        let page = p
            .sync_transactions(token, cursor.as_deref(), count)
            .await
            .unwrap_or_else(|e| panic!("sync page {pages} from cursor {cursor:?}: {e}"));
        pages += 1;
        let changes = page.added.len() + page.modified.len() + page.removed.len();
        assert!(
            changes <= count as usize,
            "a page holds at most `count` ({count}) changes, got {changes}"
        );
        for t in page.added {
            let id = t.provider_transaction_id.clone();
            assert!(
                state.insert(id.clone(), t).is_none(),
                "transaction {id} was added twice"
            );
        }
        for t in page.modified {
            let id = t.provider_transaction_id.clone();
            assert!(
                state.insert(id.clone(), t).is_some(),
                "modified transaction {id} was never added"
            );
        }
        for id in page.removed {
            assert!(
                state.remove(&id).is_some(),
                "removed transaction {id} was never added (or already removed)"
            );
        }
        assert!(
            !page.next_cursor.is_empty(),
            "every page has a cursor to continue from"
        );
        cursor = Some(page.next_cursor.clone());
        if !page.has_more {
            return (page.next_cursor, pages);
        }
        assert!(pages < 10_000, "sync does not terminate");
    }
}

/// A full sync from the beginning: the state, the final cursor and the number of pages.
async fn sync_all(
    p: &dyn BankingProvider,
    token: &SecretString,
    count: u32,
) -> (State, String, usize) {
    let mut state = State::new();
    let (cursor, pages) = sync_into(p, token, &mut state, None, count).await;
    (state, cursor, pages)
}

/// A link token is issued for an end user; an empty user id is refused.
pub async fn link_token_is_issued(p: &dyn BankingProvider) {
    let lt = p
        .create_link_token("conformance-user-1")
        .await
        .expect("link token for a valid client user id");
    assert!(!lt.link_token.is_empty(), "the link token is not empty");
    assert!(
        p.create_link_token("").await.is_err(),
        "an empty client user id is refused"
    );
}

/// A sandbox public token exchanges for an item once; a second exchange of the same public
/// token fails. The access token is never printed by `Debug`.
pub async fn public_token_exchanges_once(p: &dyn BankingProvider, h: &BankingHarness) {
    let public = p
        .sandbox_public_token(&h.institution)
        .await
        .expect("sandbox public token");
    assert!(!public.is_empty());
    let item = p
        .exchange_public_token(&public)
        .await
        .expect("first exchange");
    assert_eq!(item.institution_id, h.institution, "the linked institution");
    assert!(
        !item.institution_name.is_empty(),
        "the institution has a name"
    );
    assert!(!item.provider_item_id.is_empty(), "the item has an id");
    assert!(
        !item.access_token.expose_secret().is_empty(),
        "the access token is not empty"
    );
    assert!(
        !format!("{item:?}").contains(item.access_token.expose_secret()),
        "Debug must not print the access token"
    );
    let again = p.exchange_public_token(&public).await;
    assert!(
        again.is_err(),
        "a public token exchanges once; the second exchange gave {:?}",
        again.map(|i| i.provider_item_id)
    );
}

/// Two links of the same institution are two items with their own ids, tokens and accounts.
pub async fn items_are_independent(p: &dyn BankingProvider, h: &BankingHarness) {
    let mut items = Vec::new();
    for _ in 0..2 {
        let public = p
            .sandbox_public_token(&h.institution)
            .await
            .expect("sandbox public token");
        items.push(p.exchange_public_token(&public).await.expect("exchange"));
    }
    assert_ne!(items[0].provider_item_id, items[1].provider_item_id);
    assert_ne!(
        items[0].access_token.expose_secret(),
        items[1].access_token.expose_secret()
    );
    let mut accounts = Vec::new();
    for item in &items {
        let ids: BTreeSet<String> = p
            .accounts(&item.access_token)
            .await
            .expect("accounts")
            .into_iter()
            .map(|a| a.provider_account_id)
            .collect();
        accounts.push(ids);
    }
    assert!(
        accounts[0].is_disjoint(&accounts[1]),
        "two items never share account ids"
    );
}

/// An item has accounts with unique ids, names and balances in a known currency; the
/// available balance, when reported, is in the same currency as the current one.
pub async fn accounts_have_currencies(p: &dyn BankingProvider, h: &BankingHarness) {
    let token = link(p, h).await;
    let accounts = p.accounts(&token).await.expect("accounts");
    assert!(!accounts.is_empty(), "a linked item has accounts");
    let ids: BTreeSet<_> = accounts.iter().map(|a| &a.provider_account_id).collect();
    assert_eq!(ids.len(), accounts.len(), "account ids are unique");
    for a in &accounts {
        assert!(!a.provider_account_id.is_empty(), "an account has an id");
        assert!(
            !a.name.is_empty(),
            "account {} has a name",
            a.provider_account_id
        );
        let code = a.current.currency().code();
        assert!(
            Currency::from_code(code).is_ok(),
            "account {} is in {code}, not an ISO 4217 currency",
            a.provider_account_id
        );
        if let Some(av) = &a.available {
            assert_eq!(
                av.currency(),
                a.current.currency(),
                "available and current balances of {} share a currency",
                a.provider_account_id
            );
        }
        if let Some(mask) = &a.mask {
            assert!(
                (1..=4).contains(&mask.chars().count()),
                "a mask is the last 1 to 4 characters, got {mask:?}"
            );
        }
    }
    let again = p.accounts(&token).await.expect("accounts again");
    let again: BTreeSet<_> = again.iter().map(|a| &a.provider_account_id).collect();
    assert_eq!(again, ids, "the same item lists the same accounts");
}

/// Syncing with small pages gives exactly what one big page gives; every transaction
/// belongs to one of the item's accounts and is in that account's currency.
pub async fn paged_sync_equals_one_page(p: &dyn BankingProvider, h: &BankingHarness) {
    let token = link(p, h).await;
    let (big, _, _) = sync_all(p, &token, 500).await;
    assert!(!big.is_empty(), "a sandbox item has transaction history");
    let (small, _, pages) = sync_all(p, &token, 7).await;
    assert!(
        pages > 1,
        "{} changes in pages of 7 need several requests, took {pages}",
        big.len()
    );
    assert_eq!(
        small, big,
        "pages of 7 give the same transactions as one page"
    );
    let currencies: BTreeMap<String, Currency> = p
        .accounts(&token)
        .await
        .expect("accounts")
        .into_iter()
        .map(|a| (a.provider_account_id, a.current.currency()))
        .collect();
    for t in big.values() {
        let currency = currencies.get(&t.provider_account_id).unwrap_or_else(|| {
            panic!(
                "transaction {} belongs to unknown account {}",
                t.provider_transaction_id, t.provider_account_id
            )
        });
        assert_eq!(
            t.amount.currency(),
            *currency,
            "transaction {} is in its account's currency",
            t.provider_transaction_id
        );
        assert!(!t.name.is_empty(), "a transaction has a name");
    }
}

/// From the final cursor of a full sync, nothing is new, and the cursor still works after.
pub async fn resync_from_final_cursor_is_empty(p: &dyn BankingProvider, h: &BankingHarness) {
    let token = link(p, h).await;
    let (_, cursor, _) = sync_all(p, &token, 500).await;
    for attempt in 0..2 {
        let page = p
            .sync_transactions(&token, Some(&cursor), 500)
            .await
            .expect("resync from the final cursor");
        assert!(
            page.added.is_empty() && page.modified.is_empty() && page.removed.is_empty(),
            "resync {attempt} from the final cursor brought changes: {} added, {} modified, {} removed",
            page.added.len(),
            page.modified.len(),
            page.removed.len()
        );
        assert!(!page.has_more, "nothing more after the final cursor");
    }
}

/// After a day passes, changes arrive after the cursor: new transactions are added, removed
/// ids are ones the client had, modified ids exist, and the result equals a fresh full sync.
/// A quiet day brings nothing new, so days pass until one does (at most ten).
pub async fn new_transactions_arrive_as_changes(
    p: &dyn BankingProvider,
    h: &BankingHarness,
) -> Outcome {
    let Some(advance) = &h.advance else {
        return Outcome::skipped("needs the `advance` hook");
    };
    let token = link(p, h).await;
    let (before, cursor, _) = sync_all(p, &token, 500).await;
    for day in 1.. {
        advance().await;
        let peek = p
            .sync_transactions(&token, Some(&cursor), 500)
            .await
            .expect("incremental sync");
        if !peek.added.is_empty() {
            break;
        }
        assert!(day < 10, "{day} days passed without a new transaction");
    }
    let mut state = before.clone();
    let (last, _) = sync_into(p, &token, &mut state, Some(cursor), 500).await;
    assert!(
        state.keys().any(|id| !before.contains_key(id)),
        "new transactions were added"
    );
    let (fresh, _, _) = sync_all(p, &token, 500).await;
    assert_eq!(state, fresh, "the incremental state equals a full sync");
    let after = p
        .sync_transactions(&token, Some(&last), 500)
        .await
        .expect("resync");
    assert!(
        after.added.is_empty() && after.modified.is_empty() && after.removed.is_empty(),
        "nothing new after the final incremental cursor"
    );
    Outcome::Passed
}

/// Several days pass between syncs; an incremental sync in pages of 3 applies cleanly and
/// ends where a one-page incremental sync and a fresh full sync end.
pub async fn several_days_sync_in_small_pages(
    p: &dyn BankingProvider,
    h: &BankingHarness,
) -> Outcome {
    let Some(advance) = &h.advance else {
        return Outcome::skipped("needs the `advance` hook");
    };
    let token = link(p, h).await;
    let (state, cursor, _) = sync_all(p, &token, 500).await;
    advance().await;
    advance().await;
    advance().await;
    let mut small = state.clone();
    sync_into(p, &token, &mut small, Some(cursor.clone()), 3).await;
    assert_ne!(small, state, "three days bring changes");
    let mut big = state;
    sync_into(p, &token, &mut big, Some(cursor), 500).await;
    assert_eq!(small, big, "pages of 3 and one page give the same state");
    let (fresh, _, _) = sync_all(p, &token, 500).await;
    assert_eq!(small, fresh, "the incremental state equals a full sync");
    Outcome::Passed
}

/// A cursor the provider did not issue, or one the client altered, is an error, not an empty
/// page or a restart.
pub async fn invalid_cursor_is_an_error(p: &dyn BankingProvider, h: &BankingHarness) {
    let token = link(p, h).await;
    let (_, issued, _) = sync_all(p, &token, 500).await;
    let altered = format!("{issued}0");
    for cursor in ["not-a-cursor", "🙃", "sim1.x.y", altered.as_str()] {
        let got = p.sync_transactions(&token, Some(cursor), 100).await;
        assert!(
            got.is_err(),
            "cursor {cursor:?} is refused, got a page: {:?}",
            got.map(|page| page.added.len())
        );
    }
    assert!(
        p.sync_transactions(&token, None, 0).await.is_err(),
        "a count of 0 is refused"
    );
}

/// An institution the provider does not know is the caller's mistake: a validation error.
pub async fn unknown_institution_is_a_validation_error(p: &dyn BankingProvider) {
    match p.sandbox_public_token("ins_does_not_exist").await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Validation, "{e}"),
        Ok(token) => panic!("an unknown institution gave a public token {token:?}"),
    }
}

/// Public and access tokens the provider did not issue are refused.
pub async fn forged_tokens_are_refused(p: &dyn BankingProvider) {
    for public in ["public-not-a-token", ""] {
        let got = p.exchange_public_token(public).await;
        assert!(
            got.is_err(),
            "public token {public:?} exchanged for {:?}",
            got.map(|i| i.provider_item_id)
        );
    }
    let forged = SecretString::from("access-forged");
    assert!(
        p.accounts(&forged).await.is_err(),
        "a forged access token lists accounts"
    );
    let sync: Result<_, Error> = p.sync_transactions(&forged, None, 100).await;
    assert!(sync.is_err(), "a forged access token syncs transactions");
    assert!(
        p.refresh_balances(&forged).await.is_err(),
        "a forged access token refreshes balances"
    );
    assert!(
        p.remove_item(&forged).await.is_err(),
        "a forged access token removes an item"
    );
}

/// Real-time balances (`refresh_balances`) and cached ones (`accounts`) describe the same
/// accounts of an item, in the same currencies.
pub async fn refreshed_balances_cover_the_same_accounts(
    p: &dyn BankingProvider,
    h: &BankingHarness,
) {
    let token = link(p, h).await;
    let ids = |accounts: Vec<crate::banking::ProviderAccount>| -> BTreeMap<String, Currency> {
        accounts
            .into_iter()
            .map(|a| (a.provider_account_id, a.current.currency()))
            .collect()
    };
    let cached = ids(p.accounts(&token).await.expect("cached accounts"));
    let live = ids(p
        .refresh_balances(&token)
        .await
        .expect("real-time balances"));
    assert!(!cached.is_empty(), "a linked item has accounts");
    assert_eq!(
        live, cached,
        "real-time and cached balances cover the same accounts"
    );
}

/// Removing an item ends its access token: accounts, balances, sync and a second removal are
/// refused, the second with code `item_not_found` (what the platform relies on to complete a
/// removal the provider already did). Another item of the same institution is untouched.
pub async fn removed_item_is_refused(p: &dyn BankingProvider, h: &BankingHarness) {
    let removed = link(p, h).await;
    let kept = link(p, h).await;
    assert!(
        !p.accounts(&removed)
            .await
            .expect("accounts before")
            .is_empty(),
        "a linked item has accounts"
    );
    p.remove_item(&removed).await.expect("remove the item");
    let accounts = p.accounts(&removed).await;
    assert!(
        accounts.is_err(),
        "a removed item still lists {:?} accounts",
        accounts.map(|a| a.len())
    );
    assert!(
        p.refresh_balances(&removed).await.is_err(),
        "a removed item still refreshes balances"
    );
    let sync = p.sync_transactions(&removed, None, 100).await;
    assert!(
        sync.is_err(),
        "a removed item still syncs ({:?} added)",
        sync.map(|page| page.added.len())
    );
    match p.remove_item(&removed).await {
        Err(Error::Provider { code, .. }) => assert!(
            code.eq_ignore_ascii_case("item_not_found"),
            "a second removal answers item_not_found, got {code}"
        ),
        other => panic!("a second removal answers item_not_found, got {other:?}"),
    }
    assert!(
        !p.accounts(&kept)
            .await
            .expect("the other item's accounts")
            .is_empty(),
        "removing one item leaves the other linked"
    );
    p.sync_transactions(&kept, None, 100)
        .await
        .expect("the other item still syncs");
}
