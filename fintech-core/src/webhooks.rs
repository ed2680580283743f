//! Outgoing webhooks: endpoints, the durable delivery queue, and the signature scheme.
//!
//! Every event is queued for each matching endpoint in the transaction that writes the event,
//! so a delivery is never lost to a crash; a worker (in the server) sends due deliveries,
//! signed with the endpoint's secret, and retries failures with exponential backoff. Each
//! delivery carries the event id, so receivers deduplicate the at-least-once stream.
//!
//! Signature (Stripe's scheme): header `Fintech-Signature: t=<unix seconds>,v1=<hex>` where
//! `v1 = HMAC-SHA256(secret, "<t>.<raw body>")`. [`verify_signature`] checks one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::id::{EventId, WebhookDeliveryId, WebhookEndpointId};

/// Name of the signature header on deliveries.
pub const SIGNATURE_HEADER: &str = "Fintech-Signature";
/// Name of the event id header on deliveries (deduplicate on it).
pub const EVENT_ID_HEADER: &str = "Fintech-Event-Id";
/// Attempts before a delivery is given up as `failed` (about a day and a half of retries).
pub const MAX_ATTEMPTS: i64 = 12;

/// Input for a new endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWebhookEndpoint {
    /// Where to POST events: `https://…`. Private, loopback and link-local addresses are
    /// refused unless the deployment allows them.
    pub url: String,
    /// Event types to send (`payments.payment_succeeded` …), or `["*"]` for all.
    pub event_types: Vec<String>,
}

/// An endpoint as stored (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    /// Id.
    pub id: WebhookEndpointId,
    /// Target URL.
    pub url: String,
    /// Subscribed event types (`*`: all).
    pub event_types: Vec<String>,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was deleted (no new deliveries).
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`): verify `Fintech-Signature` with it.
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhookEndpoint")
            .field("endpoint", &self.endpoint)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryStatus {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(Error::internal(format!("unknown delivery status {s:?}"))),
        }
    }
}

/// One delivery of one event to one endpoint, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// Id.
    pub id: WebhookDeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event delivered.
    pub event_id: EventId,
    /// Its type.
    pub event_type: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<i64>,
    /// What went wrong last time.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the endpoint accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery due now, with what the sender needs.
#[derive(Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: WebhookDelivery,
    /// Target URL.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: String,
    /// The body to send: the event as JSON.
    pub body: String,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("delivery", &self.delivery)
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What one attempt achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Anything else: a status, or an error before one.
    Failed {
        /// The status, if the endpoint answered.
        status: Option<u16>,
        /// What went wrong (no secrets).
        error: String,
    },
}

/// Seconds to wait before attempt `attempts + 1`: 30 s doubling, capped at 6 h.
pub fn backoff_secs(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 20) as u32;
    (30_i64.saturating_mul(1_i64 << exp)).min(6 * 3600)
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, t: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for HMAC.
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `Fintech-Signature` header value for `body` sent at unix time `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

/// Checks a `Fintech-Signature` header against `body`: any `v1` may match (secret rotation),
/// the comparison is constant-time, and `t` must be within `tolerance_secs` of `now`.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<()> {
    let bad = |m: &str| Error::Unauthenticated(format!("webhook signature: {m}"));
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| bad("no timestamp"))?;
    if (now - t).abs() > tolerance_secs {
        return Err(bad("timestamp outside the tolerance"));
    }
    let ok = sigs.iter().any(|s| {
        hex::decode(s)
            .map(|raw| mac(secret, t, body).verify_slice(&raw).is_ok())
            .unwrap_or(false)
    });
    if ok {
        Ok(())
    } else {
        Err(bad("no matching v1 signature"))
    }
}

/// True for addresses a webhook must not reach unless the deployment allows private targets.
///
/// IPv4: loopback, private ranges, link-local (cloud metadata), CGNAT, unspecified
/// (`0.0.0.0/8`), broadcast, multicast, IETF protocol assignments (`192.0.0.0/24`), the 6to4
/// relay anycast, documentation, benchmarking and reserved (`240.0.0.0/4`) ranges.
///
/// IPv6 is an allowlist: only global unicast (`2000::/3`) passes, so loopback, unspecified,
/// multicast, link-local (`fe80::/10`), site-local (`fec0::/10`), unique-local (`fc00::/7`),
/// discard (`100::/64`), local-use NAT64 (`64:ff9b:1::/48`) and every other special range are
/// refused; within it the IETF protocol block (`2001::/23`, Teredo included) and the
/// documentation ranges (`2001:db8::/32`, `3fff::/20`) are refused too. Forms that embed an
/// IPv4 address are judged by that address: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated
/// (`::ffff:0:a.b.c.d`), well-known NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`).
/// The deprecated IPv4-compatible form (`::a.b.c.d`) is refused whatever it embeds.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 192 && o[1] == 88 && o[2] == 99)
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || o[0] >= 240
}

fn is_private_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let o = v6.octets();
    let low_v4 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated): the IPv4 address is the target
    if (s[..5] == [0; 5] && s[5] == 0xffff) || (s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0) {
        return is_private_v4(low_v4);
    }
    // 64:ff9b::a.b.c.d: the well-known NAT64 prefix reaches that IPv4 address
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_private_v4(low_v4);
    }
    // 2002:AABB:CCDD::/48: 6to4 tunnels to the embedded IPv4 address
    if s[0] == 0x2002 {
        return is_private_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    // Everything outside global unicast 2000::/3: ::/96 (unspecified, loopback, the deprecated
    // IPv4-compatible form), 64:ff9b:1::/48, 100::/64, fc00::/7, fe80::/10, fec0::/10, ff00::/8 …
    if s[0] & 0xe000 != 0x2000 {
        return true;
    }
    // 2001::/23 (IETF protocol assignments: Teredo, benchmarking, ORCHID), 2001:db8::/32 and
    // 3fff::/20 (documentation)
    (s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8)) || (s[0] == 0x3fff && s[1] < 0x1000)
}

/// Checks an endpoint URL: `https` (plain `http` only when private targets are allowed, for
/// local development), a host, no credentials, and — unless allowed — no literal private
/// address or local host name. Names are resolved and checked again at delivery time.
pub fn validate_url(raw: &str, allow_private: bool) -> Result<url::Url> {
    let bad = |m: &str| Error::validation("url", m.to_owned());
    if raw.len() > 2048 {
        return Err(bad("at most 2048 characters"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(bad("must be an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    let host = url.host().ok_or_else(|| bad("must have a host"))?;
    if !allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost"
                    || d.ends_with(".localhost")
                    || d.ends_with(".local")
                    || d.ends_with(".internal")
                    || !d.contains('.')
            }
        };
        if private {
            return Err(bad(
                "private, loopback and link-local targets are refused (allow them in the server configuration for local development)",
            ));
        }
    }
    Ok(url)
}

/// Checks event type filters: `*`, or names like `payments.payment_succeeded`.
pub fn validate_event_types(types: &[String]) -> Result<()> {
    if types.is_empty() || types.len() > 50 {
        return Err(Error::validation(
            "event_types",
            "1 to 50 event types, or [\"*\"]",
        ));
    }
    for t in types {
        let ok = t == "*"
            || (t.len() <= 100
                && t.contains('.')
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'));
        if !ok {
            return Err(Error::validation(
                "event_types",
                format!("{t:?} is not an event type like \"payments.payment_succeeded\""),
            ));
        }
    }
    Ok(())
}

/// Whether an endpoint subscribed to `event_type` gets it.
pub fn matches(types: &[String], event_type: &str) -> bool {
    types.iter().any(|t| t == "*" || t == event_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign("whsec_a", 1_000, body);
        assert!(verify_signature("whsec_a", &header, body, 1_100, 300).is_ok());
        assert!(
            verify_signature("whsec_b", &header, body, 1_100, 300).is_err(),
            "wrong secret"
        );
        assert!(
            verify_signature("whsec_a", &header, b"{}", 1_100, 300).is_err(),
            "tampered"
        );
        assert!(
            verify_signature("whsec_a", &header, body, 1_301, 300).is_err(),
            "stale"
        );
        let rotated = format!("{header},v1={}", "00".repeat(32));
        assert!(verify_signature("whsec_a", &rotated, body, 1_000, 300).is_ok());
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        for u in [
            "https://127.0.0.1/h",
            "https://10.1.2.3/h",
            "https://169.254.169.254/latest",
            "https://[::1]/h",
            "https://[fd00::1]/h",
            "https://localhost/h",
            "https://db.internal/h",
            "https://100.64.0.1/h",
            "http://example.com/h",
            "https://user:pw@example.com/h",
            "ftp://example.com/h",
        ] {
            assert!(validate_url(u, false).is_err(), "{u}");
        }
        assert!(validate_url("https://hooks.example.com/in", false).is_ok());
        assert!(validate_url("http://127.0.0.1:9000/h", true).is_ok());
    }

    /// IPv6 literals: every form that reaches loopback, private, link-local, unspecified,
    /// multicast, documentation or other special space is refused; public ones pass.
    #[test]
    fn ipv6_literals_are_judged_by_what_they_reach() {
        let table: &[(&str, bool, &str)] = &[
            // (host, allowed, what)
            ("[::ffff:127.0.0.1]", false, "IPv4-mapped loopback"),
            ("[::ffff:10.0.0.1]", false, "IPv4-mapped private"),
            ("[::ffff:169.254.169.254]", false, "IPv4-mapped metadata"),
            ("[::ffff:0:127.0.0.1]", false, "IPv4-translated loopback"),
            ("[::127.0.0.1]", false, "IPv4-compatible loopback"),
            ("[::10.0.0.1]", false, "IPv4-compatible private"),
            ("[::169.254.169.254]", false, "IPv4-compatible metadata"),
            (
                "[::8.8.8.8]",
                false,
                "IPv4-compatible is deprecated: refused whatever it embeds",
            ),
            ("[64:ff9b::127.0.0.1]", false, "NAT64 loopback"),
            ("[64:ff9b::a9fe:a9fe]", false, "NAT64 metadata"),
            ("[64:ff9b::192.168.1.1]", false, "NAT64 private"),
            ("[64:ff9b:1::808:808]", false, "local-use NAT64"),
            ("[2002:7f00:1::1]", false, "6to4 of loopback"),
            ("[2002:a00:1::1]", false, "6to4 of 10.0.0.1"),
            ("[2002:c0a8:101::1]", false, "6to4 of 192.168.1.1"),
            ("[2002:a9fe:a9fe::]", false, "6to4 of the metadata address"),
            ("[fec0::1]", false, "site-local"),
            ("[fc00::1]", false, "unique-local"),
            ("[fdff:ffff::1]", false, "unique-local"),
            ("[fe80::1]", false, "link-local"),
            ("[febf::1]", false, "link-local"),
            ("[ff02::1]", false, "multicast"),
            ("[ff0e::1]", false, "global multicast"),
            ("[::]", false, "unspecified"),
            ("[::1]", false, "loopback"),
            ("[100::1]", false, "discard-only"),
            ("[2001:db8::1]", false, "documentation"),
            ("[3fff::1]", false, "documentation (RFC 9637)"),
            ("[2001::1]", false, "Teredo"),
            ("[2001:2::1]", false, "benchmarking"),
            ("[5f00::1]", false, "SRv6 SIDs"),
            ("[2606:4700:4700::1111]", true, "public"),
            ("[2a00:1450:4001:80b::200e]", true, "public"),
            ("[::ffff:8.8.8.8]", true, "IPv4-mapped public"),
            ("[64:ff9b::808:808]", true, "NAT64 of a public address"),
            ("[2002:808:808::1]", true, "6to4 of a public address"),
        ];
        for (host, allowed, what) in table {
            let url = format!("https://{host}/hook");
            assert_eq!(validate_url(&url, false).is_ok(), *allowed, "{what}: {url}");
            assert!(
                validate_url(&url, true).is_ok(),
                "allowed for development: {url}"
            );
        }
        // IPv4 ranges beside the usual private ones
        for ip in [
            "192.0.0.8",
            "192.88.99.1",
            "198.18.0.1",
            "240.0.0.1",
            "0.1.2.3",
            "255.255.255.255",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        assert!(!is_private("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_secs(0), 30);
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(30), 6 * 3600);
    }
}
