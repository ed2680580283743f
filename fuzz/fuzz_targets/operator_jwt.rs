//! Operator access tokens (`fintech_server::session::verify_access_token`): any token text
//! is refused or verified without a panic; a token we sign over fuzzed claims names an
//! operator only when it is HS256 with our key, issued by `fintech`, unexpired, and names a
//! valid tenant and user; the same claims under another key or algorithm never verify.
//! Input: `<token or claims JSON> 0xFF <selector>`.
#![no_main]

use fintech_fuzz::{parts, text, EC_KEY};
use fintech_server::session::verify_access_token;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    let [first, _] = parts::<2>(data);
    let _ = verify_access_token(&KEY, &text(first));
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(first) else {
        return;
    };
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&KEY),
    )
    .expect("sign");
    if let Some(p) = verify_access_token(&KEY, &hs) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        assert_eq!(claims.get("iss").and_then(|v| v.as_str()), Some("fintech"));
        let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
        assert!(
            exp.is_some_and(|e| e + 6 >= now),
            "expired token accepted: {claims:?}"
        );
        assert_eq!(
            claims.get("tid").and_then(|v| v.as_str()),
            Some(p.tenant_id.to_string().as_str())
        );
    }
    // another key, another HMAC, or an asymmetric algorithm: never
    let other = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"x"),
    )
    .expect("sign");
    assert!(verify_access_token(&KEY, &other).is_none());
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(&KEY),
    )
    .expect("sign");
    assert!(verify_access_token(&KEY, &hs512).is_none());
    let es = encode(
        &Header::new(Algorithm::ES256),
        &claims,
        &EncodingKey::from_ec_pem(EC_KEY.as_bytes()).expect("test key"),
    )
    .expect("sign");
    assert!(verify_access_token(&KEY, &es).is_none());
    // `alg: none` with no signature
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(serde_json::to_string(&claims).expect("json").as_bytes())
    );
    assert!(verify_access_token(&KEY, &none).is_none());
});

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
