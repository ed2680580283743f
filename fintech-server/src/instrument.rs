//! Provider call metrics: a [`ProviderSet`] wrapper that times every provider call and counts
//! its errors (`fintech_provider_call_duration_seconds`, `fintech_provider_errors_total`,
//! labelled by provider, domain and operation).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use fintech_core::banking::{BankingProvider, ExchangedItem, LinkToken, ProviderAccount, SyncPage};
use fintech_core::id::TenantId;
use fintech_core::payments::{
    NewCustomer, PaymentMethod, PaymentProvider, ProviderBalance, ProviderCaptureRequest,
    ProviderCustomer, ProviderPayment, ProviderPaymentRequest, ProviderRefund,
    ProviderRefundRequest,
};
use fintech_core::trading::{
    Asset, Bar, BarTimeframe, BrokerageAccount, BrokerageProvider, MarketClock, OrderRequest,
    Position, ProviderOrder, Quote,
};
use fintech_core::{ProviderMode, ProviderSet, Result};
use secrecy::SecretString;

/// Wraps a provider set so every call is measured.
pub struct Instrumented(pub Arc<dyn ProviderSet>);

async fn timed<T>(
    provider: &'static str,
    domain: &'static str,
    op: &'static str,
    f: impl Future<Output = Result<T>>,
) -> Result<T> {
    let started = Instant::now();
    let out = f.await;
    let labels = [
        ("provider", provider),
        ("domain", domain),
        ("operation", op),
    ];
    metrics::histogram!("fintech_provider_call_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    if let Err(e) = &out {
        let kind = format!("{:?}", e.kind()).to_ascii_lowercase();
        metrics::counter!("fintech_provider_errors_total", "provider" => provider, "domain" => domain, "operation" => op, "kind" => kind)
            .increment(1);
    }
    out
}

impl ProviderSet for Instrumented {
    fn banking(&self, tenant: &TenantId) -> Arc<dyn BankingProvider> {
        Arc::new(Banking(self.0.banking(tenant)))
    }
    fn payments(&self, tenant: &TenantId) -> Arc<dyn PaymentProvider> {
        Arc::new(Payments(self.0.payments(tenant)))
    }
    fn brokerage(&self, tenant: &TenantId) -> Arc<dyn BrokerageProvider> {
        Arc::new(Brokerage(self.0.brokerage(tenant)))
    }
    fn attach_state(&self, state: &fintech_core::ProviderState) {
        self.0.attach_state(state);
    }
}

struct Banking(Arc<dyn BankingProvider>);
struct Payments(Arc<dyn PaymentProvider>);
struct Brokerage(Arc<dyn BrokerageProvider>);

#[async_trait]
impl BankingProvider for Banking {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn mode(&self) -> ProviderMode {
        self.0.mode()
    }
    async fn create_link_token(&self, client_user_id: &str) -> Result<LinkToken> {
        timed(
            self.name(),
            "banking",
            "create_link_token",
            self.0.create_link_token(client_user_id),
        )
        .await
    }
    async fn sandbox_public_token(&self, institution_id: &str) -> Result<String> {
        timed(
            self.name(),
            "banking",
            "sandbox_public_token",
            self.0.sandbox_public_token(institution_id),
        )
        .await
    }
    async fn exchange_public_token(&self, public_token: &str) -> Result<ExchangedItem> {
        timed(
            self.name(),
            "banking",
            "exchange_public_token",
            self.0.exchange_public_token(public_token),
        )
        .await
    }
    async fn accounts(&self, access_token: &SecretString) -> Result<Vec<ProviderAccount>> {
        timed(
            self.name(),
            "banking",
            "accounts",
            self.0.accounts(access_token),
        )
        .await
    }
    async fn refresh_balances(&self, access_token: &SecretString) -> Result<Vec<ProviderAccount>> {
        timed(
            self.name(),
            "banking",
            "refresh_balances",
            self.0.refresh_balances(access_token),
        )
        .await
    }
    async fn remove_item(&self, access_token: &SecretString) -> Result<()> {
        timed(
            self.name(),
            "banking",
            "remove_item",
            self.0.remove_item(access_token),
        )
        .await
    }
    async fn sync_transactions(
        &self,
        access_token: &SecretString,
        cursor: Option<&str>,
        count: u32,
    ) -> Result<SyncPage> {
        timed(
            self.name(),
            "banking",
            "sync_transactions",
            self.0.sync_transactions(access_token, cursor, count),
        )
        .await
    }
}

#[async_trait]
impl PaymentProvider for Payments {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn mode(&self) -> ProviderMode {
        self.0.mode()
    }
    async fn create_customer(&self, req: &NewCustomer, key: &str) -> Result<ProviderCustomer> {
        timed(
            self.name(),
            "payments",
            "create_customer",
            self.0.create_customer(req, key),
        )
        .await
    }
    async fn create_payment(&self, req: &ProviderPaymentRequest) -> Result<ProviderPayment> {
        timed(
            self.name(),
            "payments",
            "create_payment",
            self.0.create_payment(req),
        )
        .await
    }
    async fn get_payment(&self, id: &str) -> Result<ProviderPayment> {
        timed(
            self.name(),
            "payments",
            "get_payment",
            self.0.get_payment(id),
        )
        .await
    }
    async fn cancel_payment(&self, id: &str) -> Result<ProviderPayment> {
        timed(
            self.name(),
            "payments",
            "cancel_payment",
            self.0.cancel_payment(id),
        )
        .await
    }
    async fn create_refund(&self, req: &ProviderRefundRequest) -> Result<ProviderRefund> {
        timed(
            self.name(),
            "payments",
            "create_refund",
            self.0.create_refund(req),
        )
        .await
    }
    async fn capture_payment(&self, req: &ProviderCaptureRequest) -> Result<ProviderPayment> {
        timed(
            self.name(),
            "payments",
            "capture_payment",
            self.0.capture_payment(req),
        )
        .await
    }
    async fn attach_payment_method(&self, pm: &str, customer: &str) -> Result<PaymentMethod> {
        timed(
            self.name(),
            "payments",
            "attach_payment_method",
            self.0.attach_payment_method(pm, customer),
        )
        .await
    }
    async fn payment_method_exists(&self, pm: &str) -> Result<bool> {
        timed(
            self.name(),
            "payments",
            "payment_method_exists",
            self.0.payment_method_exists(pm),
        )
        .await
    }
    async fn payment_methods(&self, customer: &str) -> Result<Vec<PaymentMethod>> {
        timed(
            self.name(),
            "payments",
            "payment_methods",
            self.0.payment_methods(customer),
        )
        .await
    }
    async fn balance(&self) -> Result<Vec<ProviderBalance>> {
        timed(self.name(), "payments", "balance", self.0.balance()).await
    }
}

#[async_trait]
impl BrokerageProvider for Brokerage {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn mode(&self) -> ProviderMode {
        self.0.mode()
    }
    async fn account(&self) -> Result<BrokerageAccount> {
        timed(self.name(), "brokerage", "account", self.0.account()).await
    }
    async fn place_order(
        &self,
        req: &OrderRequest,
        client_order_id: &str,
    ) -> Result<ProviderOrder> {
        timed(
            self.name(),
            "brokerage",
            "place_order",
            self.0.place_order(req, client_order_id),
        )
        .await
    }
    async fn get_order(&self, id: &str) -> Result<ProviderOrder> {
        timed(self.name(), "brokerage", "get_order", self.0.get_order(id)).await
    }
    async fn get_order_by_client_id(&self, id: &str) -> Result<Option<ProviderOrder>> {
        timed(
            self.name(),
            "brokerage",
            "get_order_by_client_id",
            self.0.get_order_by_client_id(id),
        )
        .await
    }
    async fn cancel_order(&self, id: &str) -> Result<ProviderOrder> {
        timed(
            self.name(),
            "brokerage",
            "cancel_order",
            self.0.cancel_order(id),
        )
        .await
    }
    async fn positions(&self) -> Result<Vec<Position>> {
        timed(self.name(), "brokerage", "positions", self.0.positions()).await
    }
    async fn latest_quote(&self, symbol: &str) -> Result<Quote> {
        timed(
            self.name(),
            "brokerage",
            "latest_quote",
            self.0.latest_quote(symbol),
        )
        .await
    }
    async fn bars(&self, symbol: &str, timeframe: BarTimeframe, limit: u32) -> Result<Vec<Bar>> {
        timed(
            self.name(),
            "brokerage",
            "bars",
            self.0.bars(symbol, timeframe, limit),
        )
        .await
    }
    async fn clock(&self) -> Result<MarketClock> {
        timed(self.name(), "brokerage", "clock", self.0.clock()).await
    }
    async fn asset(&self, symbol: &str) -> Result<Asset> {
        timed(self.name(), "brokerage", "asset", self.0.asset(symbol)).await
    }
}
