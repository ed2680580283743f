//! Plaid webhook verification (`fintech_providers::inbound::verify_plaid`): a fuzzed
//! `Plaid-Verification` JWT is refused without a panic (no signature of ours), and a JWT we
//! sign over fuzzed claims is accepted exactly when its `iat` is recent and its body hash
//! matches. Input: `<jwt or claims JSON> 0xFF <body>`.
#![no_main]

use fintech_fuzz::{ec_jwk, parts, text, EC_KEY};
use fintech_providers::inbound::{plaid_key_id, verify_plaid};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use sha2::Digest;

const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let [first, body] = parts::<2>(data);
    let jwk = ec_jwk("k1");
    // as a token: refused or verified, never a panic
    let token = text(first);
    let _ = plaid_key_id(&token);
    let _ = verify_plaid(body, &token, &jwk, NOW);
    let key = EncodingKey::from_ec_pem(EC_KEY.as_bytes()).expect("test key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let hash = hex::encode(sha2::Sha256::digest(body));
    let json_ok = serde_json::from_slice::<serde_json::Value>(body).is_ok();
    // a genuine webhook of this body, issued a fuzzed number of seconds ago
    let age = i64::from(first.first().copied().unwrap_or(0)) * 3 - 100;
    let genuine = serde_json::json!({ "iat": NOW - age, "request_body_sha256": hash });
    let jwt = encode(&header, &genuine, &key).expect("sign");
    let verdict = verify_plaid(body, &jwt, &jwk, NOW);
    assert_eq!(
        verdict.is_ok(),
        json_ok && (-60..=300).contains(&age),
        "{verdict:?}"
    );
    // the same token over another body is refused
    let mut other = body.to_vec();
    other.push(b' ');
    assert!(verify_plaid(&other, &jwt, &jwk, NOW).is_err());
    // as claims: signed with the real key
    let Ok(serde_json::Value::Object(mut claims)) = serde_json::from_slice(first) else {
        return;
    };
    if claims
        .get("request_body_sha256")
        .is_some_and(|v| v == "body")
    {
        claims.insert("request_body_sha256".into(), hash.clone().into());
    }
    let Ok(jwt) = encode(&header, &claims, &key) else {
        return;
    };
    let verdict = verify_plaid(body, &jwt, &jwk, NOW);
    let iat_ok = claims
        .get("iat")
        .and_then(serde_json::Value::as_i64)
        .is_some_and(|iat| (NOW - 300..=NOW + 60).contains(&iat));
    let hash_ok = claims
        .get("request_body_sha256")
        .and_then(serde_json::Value::as_str)
        == Some(hash.as_str());
    if verdict.is_ok() {
        assert!(iat_ok && hash_ok && json_ok, "accepted {claims:?}");
    }
    // an expired key refuses everything
    let mut expired = ec_jwk("k1");
    expired["expired_at"] = "2020-01-01T00:00:00Z".into();
    assert!(verify_plaid(body, &jwt, &expired, NOW).is_err());
});
