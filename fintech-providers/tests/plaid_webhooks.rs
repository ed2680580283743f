//! Plaid webhook verification with tokens built here: a local server plays Plaid's
//! `/webhook_verification_key/get` (a current key and an expired one), and the test signs
//! `Plaid-Verification` JWTs itself with the matching private key.

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use fintech_providers::http::HttpSettings;
use fintech_providers::plaid::{Plaid, PlaidConfig, PlaidEnvironment};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A P-256 key generated for this test only, and its public coordinates.
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAgr2qmvaBRL+ALo+
ZIuLCYTvp123piXryhmdsv+TedqhRANCAAQOugok3o4ba7SfhZy7ist5eS+cfVm9
qOCHdPH1Rbqb/V+UCDkk/bwuh5RT/mBmD9z7IhqD4E3PkSYJJXN0QYC1
-----END PRIVATE KEY-----
";
const X: &str = "DroKJN6OG2u0n4Wcu4rLeXkvnH1Zvajgh3Tx9UW6m_0";
const Y: &str = "X5QIOST9vC6HlFP-YGYP3PsiGoPgTc-RJgklc3RBgLU";

async fn keys(Json(req): Json<Value>) -> (axum::http::StatusCode, Json<Value>) {
    let kid = req["key_id"].as_str().unwrap_or_default();
    let expired_at = match kid {
        "current" => Value::Null,
        "retired" => json!(1_600_000_000),
        _ => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                Json(
                    json!({"error_type": "INVALID_INPUT", "error_code": "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "error_message": "invalid key_id", "request_id": "r1"}),
                ),
            )
        }
    };
    (
        axum::http::StatusCode::OK,
        Json(
            json!({ "key": { "alg": "ES256", "crv": "P-256", "kid": kid, "kty": "EC", "use": "sig",
            "x": X, "y": Y, "created_at": 1_560_466_150, "expired_at": expired_at }, "request_id": "r2" }),
        ),
    )
}

fn jwt(kid: &str, alg: Algorithm, iat: i64, body: &[u8]) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    let claims = json!({ "iat": iat, "request_body_sha256": hex::encode(Sha256::digest(body)) });
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(b"guessable"),
        _ => EncodingKey::from_ec_pem(KEY.as_bytes()).unwrap(),
    };
    encode(&h, &claims, &key).unwrap()
}

#[tokio::test]
async fn plaid_verification_jwts() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            l,
            Router::new().route("/webhook_verification_key/get", post(keys)),
        )
        .await
    });
    let plaid = Plaid::new(
        PlaidConfig {
            client_id: "c".into(),
            secret: "s".to_owned().into(),
            environment: PlaidEnvironment::Custom(url),
            client_name: "t".into(),
        },
        HttpSettings {
            timeout: Duration::from_secs(5),
            ..HttpSettings::default()
        },
    )
    .unwrap();
    let body = br#"{"webhook_type":"TRANSACTIONS","webhook_code":"SYNC_UPDATES_AVAILABLE","item_id":"item_1"}"#;
    let now = chrono::Utc::now().timestamp();

    let e = plaid
        .verify_webhook(body, &jwt("current", Algorithm::ES256, now - 10, body), now)
        .await
        .expect("valid");
    assert_eq!(e.kind, "TRANSACTIONS:SYNC_UPDATES_AVAILABLE");
    assert_eq!(e.object_id.as_deref(), Some("item_1"));
    // the event id names this signed request: the same JWT again is the same event, a new
    // signature over the same body (a new delivery) is another
    let token = jwt("current", Algorithm::ES256, now - 5, body);
    let again = jwt("current", Algorithm::ES256, now - 4, body);
    let first = plaid
        .verify_webhook(body, &token, now)
        .await
        .expect("valid");
    let replay = plaid
        .verify_webhook(body, &token, now)
        .await
        .expect("valid");
    let other = plaid
        .verify_webhook(body, &again, now)
        .await
        .expect("valid");
    assert!(first.event_id.starts_with("jwt:"), "{}", first.event_id);
    assert_eq!(first.event_id, replay.event_id);
    assert_ne!(first.event_id, other.event_id);

    let tampered = br#"{"webhook_type":"TRANSACTIONS","webhook_code":"SYNC_UPDATES_AVAILABLE","item_id":"item_2"}"#;
    for (what, token, payload) in [
        (
            "symmetric algorithm",
            jwt("current", Algorithm::HS256, now, body),
            &body[..],
        ),
        (
            "issued 6 minutes ago",
            jwt("current", Algorithm::ES256, now - 360, body),
            &body[..],
        ),
        (
            "body changed after signing",
            jwt("current", Algorithm::ES256, now, body),
            &tampered[..],
        ),
        (
            "expired key",
            jwt("retired", Algorithm::ES256, now, body),
            &body[..],
        ),
        (
            "unknown key",
            jwt("nope", Algorithm::ES256, now, body),
            &body[..],
        ),
        ("not a JWT", "garbage".to_owned(), &body[..]),
    ] {
        let r = plaid.verify_webhook(payload, &token, now).await;
        assert!(
            matches!(r, Err(fintech_core::Error::Unauthenticated(_))),
            "{what}: {r:?}"
        );
    }
}

/// Unauthenticated requests choose the key id: a repeated unknown id is looked up once, and
/// fresh unknown ids are looked up at most `MAX_KEY_LOOKUPS_PER_MINUTE` times, counted by the
/// stand-in for Plaid. Known keys keep verifying without lookups.
#[tokio::test]
async fn unknown_key_ids_are_cached_and_lookups_bounded() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let lookups = Arc::new(AtomicUsize::new(0));
    let counted = lookups.clone();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let app = Router::new().route(
        "/webhook_verification_key/get",
        post(move |req: Json<Value>| {
            counted.fetch_add(1, Ordering::SeqCst);
            keys(req)
        }),
    );
    tokio::spawn(async move { axum::serve(l, app).await });
    let plaid = Plaid::new(
        PlaidConfig {
            client_id: "c".into(),
            secret: "s".to_owned().into(),
            environment: PlaidEnvironment::Custom(url),
            client_name: "t".into(),
        },
        HttpSettings {
            timeout: Duration::from_secs(5),
            ..HttpSettings::default()
        },
    )
    .unwrap();
    let body = br#"{"webhook_type":"TRANSACTIONS","webhook_code":"SYNC_UPDATES_AVAILABLE","item_id":"item_1"}"#;
    let now = chrono::Utc::now().timestamp();
    let calls = || lookups.load(Ordering::SeqCst);

    // the real key, looked up once and cached
    let good = jwt("current", Algorithm::ES256, now, body);
    plaid.verify_webhook(body, &good, now).await.expect("valid");
    assert_eq!(calls(), 1);

    // one forged key id, many times: one lookup
    let forged = jwt("forged", Algorithm::ES256, now, body);
    for _ in 0..50 {
        let r = plaid.verify_webhook(body, &forged, now).await;
        assert!(
            matches!(r, Err(fintech_core::Error::Unauthenticated(_))),
            "{r:?}"
        );
    }
    assert_eq!(calls(), 2, "a known-unknown id costs no call");

    // a fresh forged id every time: lookups stop at the budget
    for i in 0..50 {
        let token = jwt(&format!("forged-{i}"), Algorithm::ES256, now, body);
        let r = plaid.verify_webhook(body, &token, now).await;
        assert!(
            matches!(r, Err(fintech_core::Error::Unauthenticated(_))),
            "{r:?}"
        );
    }
    let budget = fintech_providers::plaid::MAX_KEY_LOOKUPS_PER_MINUTE as usize;
    assert_eq!(calls(), budget, "at most {budget} lookups a minute");

    // the cached key still verifies, with no lookup
    plaid
        .verify_webhook(body, &good, now)
        .await
        .expect("still valid");
    assert_eq!(calls(), budget);
}
