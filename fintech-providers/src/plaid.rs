//! Plaid (API version 2020-09-14) as a [`BankingProvider`]: link tokens, the sandbox public
//! token shortcut, public token exchange (with the institution's name), accounts with cached
//! (`/accounts/get`) or real-time (`/accounts/balance/get`) balances, `/transactions/sync` and
//! `/item/remove`. Credentials travel in the `PLAID-CLIENT-ID` / `PLAID-SECRET` headers
//! (never in logs or `Debug`); Plaid error objects become [`Error::Provider`] with Plaid's
//! code, its request id, and an actionable message for `ITEM_LOGIN_REQUIRED`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use fintech_core::banking::{
    AccountKind, BankingProvider, ExchangedItem, LinkToken, ProviderAccount, ProviderTransaction,
    SyncPage,
};
use fintech_core::{Currency, Error, Money, ProviderMode, Result};

use crate::http::{decimal, secret_header, Answer, Body, Call, Http, HttpSettings};

/// Which Plaid environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaidEnvironment {
    /// `https://sandbox.plaid.com`: test data, no real bank.
    Sandbox,
    /// `https://production.plaid.com`: real banks.
    Production,
    /// Another base URL (a mock server, a proxy); treated as sandbox.
    Custom(String),
}

impl PlaidEnvironment {
    /// Parses `sandbox`, `production`, or a URL.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "sandbox" => Ok(Self::Sandbox),
            "production" => Ok(Self::Production),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Self::Custom(url.trim_end_matches('/').to_owned()))
            }
            other => Err(Error::validation(
                "plaid_env",
                format!("{other:?}: expected sandbox, production or a URL"),
            )),
        }
    }

    fn base(&self) -> &str {
        match self {
            Self::Sandbox => "https://sandbox.plaid.com",
            Self::Production => "https://production.plaid.com",
            Self::Custom(url) => url,
        }
    }
}

/// Plaid credentials and environment.
#[derive(Clone)]
pub struct PlaidConfig {
    /// Client id.
    pub client_id: String,
    /// Secret of the environment.
    pub secret: SecretString,
    /// Environment.
    pub environment: PlaidEnvironment,
    /// Name shown in Link.
    pub client_name: String,
}

impl std::fmt::Debug for PlaidConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaidConfig")
            .field("client_id", &self.client_id)
            .field("secret", &"[redacted]")
            .field("environment", &self.environment)
            .finish()
    }
}

/// The Plaid client.
pub struct Plaid {
    config: PlaidConfig,
    http: Http,
    /// Webhook verification keys by `kid`, key ids Plaid does not know, and the lookup budget.
    webhook_keys: tokio::sync::Mutex<WebhookKeys>,
}

/// How long a key id Plaid said it does not know is remembered as unknown.
pub const UNKNOWN_KEY_ID_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Verification-key lookups (`/webhook_verification_key/get`) this process makes at most per
/// minute, whatever the key ids; a webhook naming a new key id beyond that is refused (Plaid
/// retries it) until the minute is over. Known keys are cached and need no lookup.
pub const MAX_KEY_LOOKUPS_PER_MINUTE: u32 = 10;
/// Unknown key ids remembered at most (expired ones are dropped first; when still full, a new
/// unknown id is simply not remembered: the lookup budget bounds it anyway).
const MAX_UNKNOWN_KEY_IDS: usize = 10_000;

/// The webhook key cache: keys by id, unknown ids with when they were found unknown, and the
/// current minute's lookup count. Unauthenticated requests choose the key id, so neither a
/// repeated nor a fresh unknown id may cost an outbound call each.
#[derive(Default)]
struct WebhookKeys {
    known: std::collections::HashMap<String, Value>,
    unknown: std::collections::HashMap<String, std::time::Instant>,
    window: Option<(std::time::Instant, u32)>,
}

impl WebhookKeys {
    fn is_unknown(&mut self, kid: &str) -> bool {
        match self.unknown.get(kid) {
            Some(at) if at.elapsed() < UNKNOWN_KEY_ID_TTL => true,
            Some(_) => {
                self.unknown.remove(kid);
                false
            }
            None => false,
        }
    }

    fn remember_unknown(&mut self, kid: &str) {
        if self.unknown.len() >= MAX_UNKNOWN_KEY_IDS {
            self.unknown
                .retain(|_, at| at.elapsed() < UNKNOWN_KEY_ID_TTL);
        }
        if self.unknown.len() < MAX_UNKNOWN_KEY_IDS {
            self.unknown
                .insert(kid.to_owned(), std::time::Instant::now());
        }
    }

    /// Takes one lookup from this minute's budget; false when it is spent.
    fn take_lookup(&mut self) -> bool {
        let now = std::time::Instant::now();
        let (start, used) = match self.window {
            Some((start, used)) if now.duration_since(start).as_secs() < 60 => (start, used),
            _ => (now, 0),
        };
        if used >= MAX_KEY_LOOKUPS_PER_MINUTE {
            self.window = Some((start, used));
            return false;
        }
        self.window = Some((start, used + 1));
        true
    }
}

impl std::fmt::Debug for Plaid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plaid")
            .field("config", &self.config)
            .finish()
    }
}

const VERSION: &str = "2020-09-14";

impl Plaid {
    /// A client.
    pub fn new(config: PlaidConfig, settings: HttpSettings) -> Result<Self> {
        Ok(Self {
            http: Http::new("plaid", settings)?,
            config,
            webhook_keys: Default::default(),
        })
    }

    /// Verifies a webhook from Plaid: `Plaid-Verification` must be an ES256 JWT signed by the
    /// key its `kid` names (fetched from `/webhook_verification_key/get` and cached; an
    /// expired key is refused), issued at most 5 minutes before `now` (unix seconds), whose
    /// `request_body_sha256` is the SHA-256 of the raw body.
    pub async fn verify_webhook(
        &self,
        body: &[u8],
        verification: &str,
        now: i64,
    ) -> Result<crate::inbound::ProviderEvent> {
        let kid = crate::inbound::plaid_key_id(verification)?;
        let jwk = self.webhook_key(&kid).await?;
        crate::inbound::verify_plaid(body, verification, &jwk, now)
    }

    /// The verification key `kid` names: from the cache, or looked up at Plaid within the
    /// per-minute budget. A key id Plaid does not know is remembered for
    /// [`UNKNOWN_KEY_ID_TTL`], so a repeated forged id costs no further call.
    async fn webhook_key(&self, kid: &str) -> Result<Value> {
        let unknown =
            || Error::Unauthenticated("Plaid webhook verification: unknown key id".into());
        if kid.is_empty() || kid.len() > 128 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(unknown());
        }
        // held across the lookup: concurrent webhooks with new ids queue, within the budget
        let mut cache = self.webhook_keys.lock().await;
        if let Some(k) = cache.known.get(kid) {
            return Ok(k.clone());
        }
        if cache.is_unknown(kid) {
            return Err(unknown());
        }
        if !cache.take_lookup() {
            tracing::warn!("Plaid webhook key lookups are over budget this minute; refused");
            return Err(Error::Unauthenticated(
                "Plaid webhook verification: too many new key ids; try again later".into(),
            ));
        }
        let body = match self
            .post(
                "webhook_key",
                "/webhook_verification_key/get",
                json!({ "key_id": kid }),
                true,
            )
            .await
        {
            Ok(body) => body,
            Err(e) => {
                // Plaid answered that it does not know the id (not an outage): remember it
                if !matches!(
                    e,
                    Error::Provider {
                        retryable: true,
                        ..
                    }
                ) {
                    cache.remember_unknown(kid);
                }
                return Err(unknown());
            }
        };
        let key = body["key"].clone();
        if !key.is_object() {
            return Err(malformed("verification key"));
        }
        cache.known.insert(kid.to_owned(), key.clone());
        Ok(key)
    }

    async fn post(
        &self,
        operation: &str,
        path: &str,
        body: Value,
        retry_safe: bool,
    ) -> Result<Value> {
        let headers = vec![
            (
                HeaderName::from_static("plaid-client-id"),
                secret_header(&self.config.client_id)?,
            ),
            (
                HeaderName::from_static("plaid-secret"),
                secret_header(self.config.secret.expose_secret())?,
            ),
            (
                HeaderName::from_static("plaid-version"),
                HeaderValue::from_static(VERSION),
            ),
        ];
        let answer = self
            .http
            .send(Call {
                method: Method::POST,
                url: format!("{}{path}", self.config.environment.base()),
                headers,
                body: Body::Json(body),
                retry_safe,
                operation,
            })
            .await?;
        self.json(answer)
    }

    fn json(&self, answer: Answer) -> Result<Value> {
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status.is_success() {
            return Ok(body);
        }
        Err(plaid_error(answer.status.as_u16(), &body))
    }

    /// Accounts from `/accounts/get` or `/accounts/balance/get` (the same response shape).
    async fn accounts_at(
        &self,
        operation: &str,
        path: &str,
        access_token: &SecretString,
    ) -> Result<Vec<ProviderAccount>> {
        let body = self
            .post(
                operation,
                path,
                json!({ "access_token": access_token.expose_secret() }),
                true,
            )
            .await?;
        body["accounts"]
            .as_array()
            .ok_or_else(|| malformed("accounts"))?
            .iter()
            .map(|a| {
                let b = &a["balances"];
                let currency = &b["iso_currency_code"];
                Ok(ProviderAccount {
                    provider_account_id: a["account_id"]
                        .as_str()
                        .ok_or_else(|| malformed("account_id"))?
                        .to_owned(),
                    name: a["name"].as_str().unwrap_or_default().to_owned(),
                    mask: a["mask"].as_str().map(str::to_owned),
                    kind: AccountKind::parse(a["type"].as_str().unwrap_or("other")),
                    subtype: a["subtype"].as_str().map(str::to_owned),
                    current: balance(&b["current"], currency)?,
                    available: match &b["available"] {
                        Value::Null => None,
                        v => Some(balance(v, currency)?),
                    },
                })
            })
            .collect()
    }

    async fn institution_name(&self, institution_id: &str) -> Result<String> {
        let body = self
            .post(
                "institution",
                "/institutions/get_by_id",
                json!({ "institution_id": institution_id, "country_codes": ["US"] }),
                true,
            )
            .await?;
        Ok(body["institution"]["name"]
            .as_str()
            .unwrap_or(institution_id)
            .to_owned())
    }
}

/// A Plaid error object as a core error.
fn plaid_error(status: u16, body: &Value) -> Error {
    let code = body["error_code"].as_str().unwrap_or("UNKNOWN").to_owned();
    let kind = body["error_type"].as_str().unwrap_or("API_ERROR");
    let request_id = body["request_id"].as_str().map(str::to_owned);
    let plaid_message = body["error_message"]
        .as_str()
        .unwrap_or("Plaid answered an error");
    let message = match code.as_str() {
        "ITEM_LOGIN_REQUIRED" => "the bank needs the user to sign in again: start Link in update mode for this item, then sync again".to_owned(),
        "INVALID_ACCESS_TOKEN" | "INVALID_PUBLIC_TOKEN" => format!("Plaid refused the token: {plaid_message}"),
        "ITEM_NOT_FOUND" => format!("Plaid no longer has this item (it was removed): {plaid_message}"),
        _ => format!("Plaid {kind}: {plaid_message}"),
    };
    let retryable = status == 429
        || status >= 500
        || matches!(
            kind,
            "RATE_LIMIT_EXCEEDED" | "API_ERROR" | "INSTITUTION_ERROR"
        );
    if status == 400 && kind == "INVALID_REQUEST" {
        return Error::validation("request", message);
    }
    Error::Provider {
        provider: "plaid",
        code: code.to_ascii_lowercase(),
        message,
        request_id,
        retryable,
    }
}

fn malformed(what: &str) -> Error {
    Error::Provider {
        provider: "plaid",
        code: "malformed_response".into(),
        message: format!("Plaid answered without a valid {what}"),
        request_id: None,
        retryable: false,
    }
}

fn money(amount: &Value, currency: &Value) -> Result<Money> {
    let currency = Currency::from_code(currency.as_str().unwrap_or("USD"))?;
    let amount = decimal(amount).ok_or_else(|| malformed("amount"))?;
    Money::new(amount, currency).map_err(|_| malformed("amount"))
}

/// A balance: exact when the currency can hold it; an investment account's balance valued at
/// sub-cent prices (Plaid reports e.g. `23631.9805`) is rounded half-even to the currency's
/// minor unit, as it is information, not an amount that moves. Transaction amounts are never
/// rounded ([`money`]).
fn balance(amount: &Value, currency: &Value) -> Result<Money> {
    let currency = Currency::from_code(currency.as_str().unwrap_or("USD"))?;
    let amount = decimal(amount).ok_or_else(|| malformed("balance"))?;
    Ok(Money::rounded(amount, currency))
}

fn transaction(t: &Value) -> Result<ProviderTransaction> {
    let date = t["date"].as_str().ok_or_else(|| malformed("date"))?;
    Ok(ProviderTransaction {
        provider_transaction_id: t["transaction_id"]
            .as_str()
            .ok_or_else(|| malformed("transaction_id"))?
            .to_owned(),
        provider_account_id: t["account_id"]
            .as_str()
            .ok_or_else(|| malformed("account_id"))?
            .to_owned(),
        amount: money(&t["amount"], &t["iso_currency_code"])?,
        date: NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| malformed("date"))?,
        name: t["name"].as_str().unwrap_or_default().to_owned(),
        merchant_name: t["merchant_name"].as_str().map(str::to_owned),
        category: t["personal_finance_category"]["primary"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                t["category"]
                    .as_array()
                    .and_then(|c| c.first())
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
        pending: t["pending"].as_bool().unwrap_or(false),
    })
}

#[async_trait]
impl BankingProvider for Plaid {
    fn name(&self) -> &'static str {
        "plaid"
    }

    fn mode(&self) -> ProviderMode {
        match self.config.environment {
            PlaidEnvironment::Production => ProviderMode::Live,
            _ => ProviderMode::Sandbox,
        }
    }

    async fn create_link_token(&self, client_user_id: &str) -> Result<LinkToken> {
        if client_user_id.trim().is_empty() || client_user_id.len() > 128 {
            return Err(Error::validation("client_user_id", "1 to 128 characters"));
        }
        let body = self
            .post(
                "link_token",
                "/link/token/create",
                json!({
                    "client_name": self.config.client_name,
                    "language": "en",
                    "country_codes": ["US"],
                    "user": { "client_user_id": client_user_id },
                    "products": ["transactions"],
                }),
                true,
            )
            .await?;
        Ok(LinkToken {
            link_token: body["link_token"]
                .as_str()
                .ok_or_else(|| malformed("link_token"))?
                .to_owned(),
            expiration: body["expiration"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| malformed("expiration"))?,
        })
    }

    async fn sandbox_public_token(&self, institution_id: &str) -> Result<String> {
        if self.mode() == ProviderMode::Live {
            return Err(Error::validation(
                "institution_id",
                "sandbox public tokens exist only in Plaid's sandbox",
            ));
        }
        let body = self
            .post(
                "sandbox_public_token",
                "/sandbox/public_token/create",
                json!({ "institution_id": institution_id, "initial_products": ["transactions"] }),
                true,
            )
            .await?;
        body["public_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| malformed("public_token"))
    }

    async fn exchange_public_token(&self, public_token: &str) -> Result<ExchangedItem> {
        // single use at Plaid: never repeated blindly
        let body = self
            .post(
                "exchange",
                "/item/public_token/exchange",
                json!({ "public_token": public_token }),
                false,
            )
            .await?;
        let access_token = body["access_token"]
            .as_str()
            .ok_or_else(|| malformed("access_token"))?
            .to_owned();
        let item_id = body["item_id"]
            .as_str()
            .ok_or_else(|| malformed("item_id"))?
            .to_owned();
        let item = self
            .post(
                "item",
                "/item/get",
                json!({ "access_token": access_token }),
                true,
            )
            .await?;
        let institution_id = item["item"]["institution_id"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned();
        let institution_name = self.institution_name(&institution_id).await?;
        Ok(ExchangedItem {
            provider_item_id: item_id,
            access_token: SecretString::from(access_token),
            institution_id,
            institution_name,
        })
    }

    async fn accounts(&self, access_token: &SecretString) -> Result<Vec<ProviderAccount>> {
        // free and fast: the balances of the item's last update at Plaid
        self.accounts_at("accounts", "/accounts/get", access_token)
            .await
    }

    async fn refresh_balances(&self, access_token: &SecretString) -> Result<Vec<ProviderAccount>> {
        // billed per call and slow: Plaid asks the institution now
        self.accounts_at("balances", "/accounts/balance/get", access_token)
            .await
    }

    async fn remove_item(&self, access_token: &SecretString) -> Result<()> {
        // safe to repeat: a repeat after a lost answer is ITEM_NOT_FOUND, which the platform
        // takes as removed
        let body = self
            .post(
                "remove_item",
                "/item/remove",
                json!({ "access_token": access_token.expose_secret() }),
                true,
            )
            .await?;
        if body["request_id"].is_string() {
            Ok(())
        } else {
            Err(malformed("request_id"))
        }
    }

    async fn sync_transactions(
        &self,
        access_token: &SecretString,
        cursor: Option<&str>,
        count: u32,
    ) -> Result<SyncPage> {
        if !(1..=500).contains(&count) {
            return Err(Error::validation("count", "1 to 500 transactions per page"));
        }
        let mut body = json!({
            "access_token": access_token.expose_secret(),
            "count": count,
        });
        if let Some(c) = cursor {
            body["cursor"] = json!(c);
        }
        // Plaid asks to restart pagination when the data changed under it; the page is
        // requested again from the same cursor (pages commit one by one, upserts are
        // idempotent), a bounded number of times.
        let mut restarts = 0;
        let page = loop {
            match self
                .post("sync", "/transactions/sync", body.clone(), true)
                .await
            {
                Err(Error::Provider { code, .. })
                    if code == "transactions_sync_mutation_during_pagination" && restarts < 3 =>
                {
                    restarts += 1;
                }
                other => break other?,
            }
        };
        let list = |key: &str| -> Result<Vec<ProviderTransaction>> {
            page[key]
                .as_array()
                .map(|a| a.iter().map(transaction).collect())
                .unwrap_or_else(|| Ok(Vec::new()))
        };
        Ok(SyncPage {
            added: list("added")?,
            modified: list("modified")?,
            removed: page["removed"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r["transaction_id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            next_cursor: page["next_cursor"]
                .as_str()
                .ok_or_else(|| malformed("next_cursor"))?
                .to_owned(),
            has_more: page["has_more"].as_bool().unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_login_required_is_actionable() {
        let e = plaid_error(
            400,
            &json!({"error_type": "ITEM_ERROR", "error_code": "ITEM_LOGIN_REQUIRED",
                    "error_message": "the login details of this item have changed",
                    "request_id": "req-1"}),
        );
        match e {
            Error::Provider {
                code,
                message,
                request_id,
                retryable,
                ..
            } => {
                assert_eq!(code, "item_login_required");
                assert!(message.contains("update mode"));
                assert_eq!(request_id.as_deref(), Some("req-1"));
                assert!(!retryable);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            plaid_error(429, &json!({"error_type": "RATE_LIMIT_EXCEEDED"})),
            Error::Provider {
                retryable: true,
                ..
            }
        ));
    }

    #[test]
    fn amounts_are_exact() {
        let m = money(&json!(110.1), &json!("USD")).unwrap();
        assert_eq!(m.amount().to_string(), "110.10");
        assert!(
            money(&json!(0.001), &json!("USD")).is_err(),
            "more digits than cents"
        );
        // a balance valued at sub-cent prices rounds half-even; an exact one stays exact
        let b = balance(&json!(23631.9805), &json!("USD")).unwrap();
        assert_eq!(b.amount().to_string(), "23631.98");
        let b = balance(&json!(0.125), &json!("USD")).unwrap();
        assert_eq!(b.amount().to_string(), "0.12");
        let b = balance(&json!(110), &json!("USD")).unwrap();
        assert_eq!(b.amount().to_string(), "110.00");
        assert!(balance(&json!("x"), &json!("USD")).is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = PlaidConfig {
            client_id: "cid".into(),
            secret: SecretString::from("shh-very-secret"),
            environment: PlaidEnvironment::Sandbox,
            client_name: "x".into(),
        };
        assert!(!format!("{c:?}").contains("shh-very-secret"));
    }
}
