//! Scenarios every [`BankingProvider`] passes: the simulator now, Plaid (against a mock of its
//! OpenAPI document, and its sandbox) later.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use secrecy::SecretString;

use crate::banking::{BankingProvider, ProviderTransaction};
use crate::error::Error;

/// A banking provider under test and what the backend can do beyond the trait.
pub struct BankingHarness {
    /// The provider.
    pub provider: Arc<dyn BankingProvider>,
    /// A sandbox institution that links and has transactions.
    pub institution: String,
    /// Makes new transactions appear (a day passing), when the backend can.
    pub advance: Option<Box<dyn Fn() + Send + Sync>>,
}

/// Every scenario, by name.
pub const SCENARIOS: &[&str] = &[
    "link_and_exchange_once",
    "accounts_have_balances",
    "paged_sync_equals_one_page",
    "resync_from_final_cursor_is_empty",
    "new_transactions_arrive_as_changes",
    "bad_input_is_refused",
];

/// Runs the scenario called `name`.
pub async fn run(name: &str, h: &BankingHarness) {
    match name {
        "link_and_exchange_once" => link_and_exchange_once(h).await,
        "accounts_have_balances" => accounts_have_balances(h).await,
        "paged_sync_equals_one_page" => paged_sync_equals_one_page(h).await,
        "resync_from_final_cursor_is_empty" => resync_from_final_cursor_is_empty(h).await,
        "new_transactions_arrive_as_changes" => new_transactions_arrive_as_changes(h).await,
        "bad_input_is_refused" => bad_input_is_refused(h).await,
        other => panic!("unknown banking scenario {other}"),
    }
}

async fn link(h: &BankingHarness) -> SecretString {
    let public = h
        .provider
        .sandbox_public_token(&h.institution)
        .await
        .expect("sandbox public token");
    h.provider
        .exchange_public_token(&public)
        .await
        .expect("exchange")
        .access_token
}

/// The state a cursor sync builds: provider id → transaction.
async fn sync_all(
    h: &BankingHarness,
    token: &SecretString,
    mut cursor: Option<String>,
    count: u32,
) -> (BTreeMap<String, ProviderTransaction>, String, usize) {
    let mut state = BTreeMap::new();
    let mut pages = 0;
    loop {
        let page = h
            .provider
            .sync_transactions(token, cursor.as_deref(), count)
            .await
            .expect("sync page");
        pages += 1;
        assert!(
            page.added.len() + page.modified.len() + page.removed.len() <= count as usize,
            "a page holds at most `count` changes"
        );
        for t in page.added.into_iter().chain(page.modified) {
            state.insert(t.provider_transaction_id.clone(), t);
        }
        for id in page.removed {
            state.remove(&id);
        }
        cursor = Some(page.next_cursor.clone());
        if !page.has_more {
            return (state, page.next_cursor, pages);
        }
        assert!(pages < 10_000, "sync does not terminate");
    }
}

/// A link token works; a sandbox public token exchanges once, and only once.
pub async fn link_and_exchange_once(h: &BankingHarness) {
    let lt = h
        .provider
        .create_link_token("user-1")
        .await
        .expect("link token");
    assert!(!lt.link_token.is_empty());
    let public = h
        .provider
        .sandbox_public_token(&h.institution)
        .await
        .expect("public token");
    let item = h
        .provider
        .exchange_public_token(&public)
        .await
        .expect("exchange");
    assert_eq!(item.institution_id, h.institution);
    assert!(!item.provider_item_id.is_empty());
    assert!(
        !format!("{item:?}").contains(secrecy::ExposeSecret::expose_secret(&item.access_token)),
        "Debug must not print the access token"
    );
    assert!(
        h.provider.exchange_public_token(&public).await.is_err(),
        "a public token works once"
    );
}

/// Accounts exist, with ids, names and current balances.
pub async fn accounts_have_balances(h: &BankingHarness) {
    let token = link(h).await;
    let accounts = h.provider.accounts(&token).await.expect("accounts");
    assert!(!accounts.is_empty(), "an item has accounts");
    let ids: BTreeSet<_> = accounts.iter().map(|a| &a.provider_account_id).collect();
    assert_eq!(ids.len(), accounts.len(), "account ids are unique");
    for a in &accounts {
        assert!(!a.name.is_empty());
        if let Some(av) = &a.available {
            assert_eq!(av.currency(), a.current.currency());
        }
    }
}

/// Syncing with small pages yields exactly what one big page yields.
pub async fn paged_sync_equals_one_page(h: &BankingHarness) {
    let token = link(h).await;
    let (big, _, _) = sync_all(h, &token, None, 500).await;
    assert!(!big.is_empty(), "history has transactions");
    let (small, _, pages) = sync_all(h, &token, None, 7).await;
    assert!(pages > 1, "small pages need several requests");
    assert_eq!(small, big);
    let accounts: BTreeSet<_> = h
        .provider
        .accounts(&token)
        .await
        .expect("accounts")
        .into_iter()
        .map(|a| a.provider_account_id)
        .collect();
    for t in big.values() {
        assert!(
            accounts.contains(&t.provider_account_id),
            "transaction of an unknown account"
        );
    }
}

/// From the final cursor, nothing is new.
pub async fn resync_from_final_cursor_is_empty(h: &BankingHarness) {
    let token = link(h).await;
    let (_, cursor, _) = sync_all(h, &token, None, 500).await;
    let page = h
        .provider
        .sync_transactions(&token, Some(&cursor), 500)
        .await
        .expect("resync");
    assert!(page.added.is_empty() && page.modified.is_empty() && page.removed.is_empty());
    assert!(!page.has_more);
}

/// New activity arrives as changes after the cursor: removed ids were known, modified ids
/// exist, and applying the changes equals a fresh full sync.
pub async fn new_transactions_arrive_as_changes(h: &BankingHarness) {
    let Some(advance) = &h.advance else { return };
    let token = link(h).await;
    let (mut state, cursor, _) = sync_all(h, &token, None, 500).await;
    advance();
    let page = h
        .provider
        .sync_transactions(&token, Some(&cursor), 500)
        .await
        .expect("incremental sync");
    assert!(!page.added.is_empty(), "new transactions arrive");
    for id in &page.removed {
        assert!(state.contains_key(id), "removed {id} was never added");
    }
    for t in &page.modified {
        assert!(
            state.contains_key(&t.provider_transaction_id),
            "modified {} was never added",
            t.provider_transaction_id
        );
    }
    for t in page.added.into_iter().chain(page.modified) {
        state.insert(t.provider_transaction_id.clone(), t);
    }
    for id in page.removed {
        state.remove(&id);
    }
    let (fresh, _, _) = sync_all(h, &token, None, 500).await;
    assert_eq!(state, fresh, "incremental state equals a full sync");
}

/// Unknown institutions, forged tokens and cursors are refused.
pub async fn bad_input_is_refused(h: &BankingHarness) {
    assert!(matches!(
        h.provider.sandbox_public_token("ins_does_not_exist").await,
        Err(Error::Validation { .. })
    ));
    assert!(h
        .provider
        .exchange_public_token("public-not-a-token")
        .await
        .is_err());
    assert!(h
        .provider
        .accounts(&SecretString::from("access-forged"))
        .await
        .is_err());
    let token = link(h).await;
    assert!(h
        .provider
        .sync_transactions(&token, Some("not-a-cursor"), 100)
        .await
        .is_err());
}
