//! What the fuzz targets share: test-only signing keys and a small byte splitter.
//!
//! The keys here are generated for tests and sign nothing real (the same P-256 key as the
//! OIDC suite in `tests/tests/it/oidc.rs`).

/// A P-256 private key (PKCS#8), test only.
pub const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAgr2qmvaBRL+ALo+
ZIuLCYTvp123piXryhmdsv+TedqhRANCAAQOugok3o4ba7SfhZy7ist5eS+cfVm9
qOCHdPH1Rbqb/V+UCDkk/bwuh5RT/mBmD9z7IhqD4E3PkSYJJXN0QYC1
-----END PRIVATE KEY-----
";
/// The public half of [`EC_KEY`]: its JWK coordinates.
pub const EC_X: &str = "DroKJN6OG2u0n4Wcu4rLeXkvnH1Zvajgh3Tx9UW6m_0";
/// See [`EC_X`].
pub const EC_Y: &str = "X5QIOST9vC6HlFP-YGYP3PsiGoPgTc-RJgklc3RBgLU";

/// The public key as a JWK (JSON), with a key id.
pub fn ec_jwk(kid: &str) -> serde_json::Value {
    serde_json::json!({
        "kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y,
        "kid": kid, "alg": "ES256", "use": "sig",
    })
}

/// Splits fuzz input into up to `N` parts at `0xFF` bytes (never valid UTF-8, so a separator
/// a text mutation rarely produces by accident); missing parts are empty.
pub fn parts<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == 0xFF) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// Lossy text of a part.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
