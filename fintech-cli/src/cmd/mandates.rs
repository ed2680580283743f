//! `fintech mandates verify`: an AP2 mandate chain decoded and verified by core, for operators
//! asking why an agent was refused; `--vector FILE` runs an interoperability vector.

use std::path::PathBuf;

use fintech_core::mandate::{self, Jwk, Usage, VerifyParams};
use fintech_core::Error;

use crate::output::{line, Format};

/// Arguments of `fintech mandates verify`.
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// Run one vector object (format `ap2-payment-mandate-vectors/1`) and print one line per
    /// presentation: `accept` or `reject REASON_CODE`. The other flags are ignored.
    #[arg(long, value_name = "FILE")]
    vector: Option<PathBuf>,
    /// The presented chain (`<open SD-JWT>~~<key-binding SD-JWT>`); `-` reads it from stdin.
    #[arg(long, required_unless_present = "vector")]
    token: Option<String>,
    /// Trusted issuer keys: a JWKS file (`{"keys": [...]}`) or a JSON array of JWKs.
    #[arg(long, value_name = "FILE", required_unless_present = "vector")]
    trusted_jwks: Option<PathBuf>,
    /// The audience the key-binding hop must name.
    #[arg(long, required_unless_present = "vector")]
    aud: Option<String>,
    /// The nonce the key-binding hop must carry.
    #[arg(long, required_unless_present = "vector")]
    nonce: Option<String>,
    /// Current time as unix seconds (default: now).
    #[arg(long)]
    now: Option<i64>,
    /// Allowed clock difference in seconds.
    #[arg(long, default_value_t = 300)]
    clock_skew: i64,
    /// Hash of the open checkout mandate, for a `payment.reference` constraint.
    #[arg(long)]
    checkout_hash: Option<String>,
    /// Minor units earlier accepted payments used of the budget.
    #[arg(long, default_value_t = 0)]
    used_amount: i64,
    /// Number of earlier accepted payments under the mandate.
    #[arg(long, default_value_t = 0)]
    used_count: u32,
}

fn read(path: &PathBuf) -> fintech_core::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::validation(
            "file",
            format!("cannot read {}: {}", path.display(), e.kind()),
        )
    })
}

/// Runs `fintech mandates verify`.
pub(crate) fn verify(args: &VerifyArgs, fmt: Format) -> fintech_core::Result<()> {
    if let Some(path) = &args.vector {
        let vector: serde_json::Value = fintech_core::json::from_slice(&read(path)?)?;
        for outcome in mandate::vectors::run_vector(&vector)? {
            line(mandate::vectors::outcome_line(&outcome));
        }
        return Ok(());
    }
    let missing = |f: &str| Error::validation(f, "required without --vector");
    let token = match args.token.as_deref().ok_or_else(|| missing("token"))? {
        "-" => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| Error::validation("token", format!("cannot read stdin: {e}")))?;
            s
        }
        t => t.to_string(),
    };
    let jwks: serde_json::Value = fintech_core::json::from_slice(&read(
        args.trusted_jwks
            .as_ref()
            .ok_or_else(|| missing("trusted_jwks"))?,
    )?)?;
    let keys = jwks.get("keys").cloned().unwrap_or(jwks);
    let trusted: Vec<Jwk> = serde_json::from_value(keys)
        .map_err(|e| Error::validation("trusted_jwks", format!("not a JWKS: {e}")))?;
    let params = VerifyParams {
        trusted_issuers: &trusted,
        now: args.now.unwrap_or_else(|| chrono::Utc::now().timestamp()),
        clock_skew_seconds: args.clock_skew,
        expected_aud: args.aud.as_deref().ok_or_else(|| missing("aud"))?,
        expected_nonce: args.nonce.as_deref().ok_or_else(|| missing("nonce"))?,
    };
    let usage = Usage {
        total_amount: args.used_amount,
        total_uses: args.used_count,
    };
    let result = mandate::verify::verify(&token, &params, usage, args.checkout_hash.as_deref());
    let decoded = mandate::decode_unverified(&token);
    let report = match &result {
        Ok(chain) => serde_json::json!({"verdict": "accept", "chain": chain}),
        Err(r) => serde_json::json!({
            "verdict": "reject", "reason": r.code, "message": r.message, "decoded": decoded,
        }),
    };
    match fmt {
        Format::Json => line(serde_json::to_string_pretty(&report).unwrap_or_default()),
        Format::Table => {
            let shown = match &result {
                Ok(chain) => serde_json::to_value(chain).unwrap_or_default(),
                Err(_) => decoded,
            };
            line(serde_json::to_string_pretty(&shown).unwrap_or_default());
            match &result {
                Ok(_) => line("verdict: accept"),
                Err(r) => line(format!("verdict: reject {} ({})", r.code, r.message)),
            }
        }
    }
    match result {
        Ok(_) => Ok(()),
        Err(r) => Err(Error::Forbidden {
            required: format!("a valid mandate ({r})"),
        }),
    }
}
