//! OIDC ID tokens (`fintech_server::oidc::verify_id_token`): any token text is refused or
//! verified without a panic; a token the identity provider's key signs over fuzzed claims
//! signs someone in only when issuer, audience and expiry match and it names a subject, an
//! e-mail and a known role; HS256 (even keyed with the public key's text), `none` and a token
//! without its signature are refused. Input: `<token or claims JSON> 0xFF <anything>`.
#![no_main]

use std::sync::OnceLock;

use fintech_core::id::TenantId;
use fintech_fuzz::{ec_jwk, parts, text, EC_KEY, EC_X};
use fintech_server::oidc::{verify_id_token, OidcConfig};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "fintech-console";

fn config() -> &'static OidcConfig {
    static C: OnceLock<OidcConfig> = OnceLock::new();
    C.get_or_init(|| OidcConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        tenant: TenantId::generate(),
        role_claim: "roles".into(),
        role_map: vec![("fintech-admins".into(), fintech_core::Role::Admin)],
        allow_unverified_email: false,
    })
}

fn jwk() -> Jwk {
    serde_json::from_value(ec_jwk("k1")).expect("jwk")
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fuzz_target!(|data: &[u8]| {
    let [first, _] = parts::<2>(data);
    let jwk = jwk();
    let _ = verify_id_token(config(), &text(first), &jwk);
    let Ok(Value::Object(claims)) = serde_json::from_slice(first) else {
        return;
    };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let key = EncodingKey::from_ec_pem(EC_KEY.as_bytes()).expect("test key");
    let token = encode(&header, &claims, &key).expect("sign");
    if let Ok((identity, _role)) = verify_id_token(config(), &token, &jwk) {
        assert_eq!(claims.get("iss").and_then(Value::as_str), Some(ISSUER));
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == AUDIENCE,
            Some(Value::Array(a)) => a.iter().any(|v| v == AUDIENCE),
            _ => false,
        };
        assert!(aud_ok, "{claims:?}");
        assert!(claims.get("exp").is_some());
        assert!(!identity.subject.is_empty());
        assert_eq!(
            claims.get("email").and_then(Value::as_str),
            Some(identity.email.as_str())
        );
    }
    // the same claims: HS256 keyed with the public key's text, `none`, another key
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(EC_X.as_bytes()),
    )
    .expect("sign");
    assert!(verify_id_token(config(), &hs, &jwk).is_err());
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
        b64(serde_json::to_string(&claims).expect("json").as_bytes())
    );
    assert!(verify_id_token(config(), &none, &jwk).is_err());
    let mut unsigned = token.clone();
    unsigned.truncate(token.rfind('.').expect("three parts") + 1);
    assert!(verify_id_token(config(), &unsigned, &jwk).is_err());
});
