//! The verifier against every interoperability vector, the issuing side against the
//! verifier and the spec's JSON schemas.

use serde_json::{json, Value};

use super::*;

const VECTORS: &str = include_str!("../../testdata/ap2/vectors.json");

fn vectors() -> Vec<Value> {
    let file: Value = serde_json::from_str(VECTORS).expect("vectors.json");
    assert_eq!(file["format"], "ap2-payment-mandate-vectors/1");
    file["vectors"].as_array().expect("vectors").clone()
}

/// Compares an outcome with what the vector recorded; on accept, the extracted closed
/// mandate with the recorded one.
fn check(id: &str, expected: &Value, outcome: &vectors::Outcome) {
    let verdict = expected["expected"].as_str().expect("expected");
    match (verdict, outcome) {
        ("accept", Ok(chain)) => {
            if let (Some(chain), Some(want)) = (chain, expected["closed_mandate"].as_object()) {
                let got = serde_json::to_value(&chain.closed).expect("closed");
                for (k, v) in want {
                    assert_eq!(&got[k], v, "{id}: closed mandate field {k}");
                }
            }
        }
        ("reject", Err(r)) => {
            let mut ok = vec![expected["reason"].as_str().expect("reason").to_string()];
            if let Some(also) = expected["also_accepted_reasons"].as_array() {
                ok.extend(also.iter().filter_map(|a| a.as_str().map(str::to_string)));
            }
            assert!(
                ok.contains(&r.code.as_str().to_string()),
                "{id}: rejected with {r} but the vector says {ok:?}"
            );
        }
        (v, o) => panic!("{id}: expected {v}, got {}", vectors::outcome_line(o)),
    }
}

#[test]
fn every_vector_gets_its_recorded_verdict_and_reason() {
    let mut seen = 0;
    let mut reasons = std::collections::BTreeSet::new();
    for v in vectors() {
        let id = v["id"].as_str().expect("id");
        let outcomes = vectors::run_vector(&v).expect(id);
        match v["kind"].as_str() {
            Some("mandate_sequence") => {
                let ps = v["presentations"].as_array().expect("presentations");
                assert_eq!(ps.len(), outcomes.len(), "{id}");
                for (i, (p, o)) in ps.iter().zip(&outcomes).enumerate() {
                    check(&format!("{id}[{i}]"), p, o);
                    seen += 1;
                }
            }
            _ => {
                assert_eq!(outcomes.len(), 1, "{id}");
                check(id, &v, &outcomes[0]);
                seen += 1;
            }
        }
        for o in &outcomes {
            if let Err(r) = o {
                reasons.insert(r.code);
            }
        }
    }
    assert_eq!(seen, 62, "every presentation of the file ran");
    // Every reason code of the vectors' table is produced by some vector.
    assert_eq!(reasons.len(), 20, "{reasons:?}");
}

#[test]
fn a_flipped_bit_anywhere_in_an_accepted_token_is_refused() {
    for v in vectors() {
        if v["kind"] != "mandate" || v["expected"] != "accept" {
            continue;
        }
        let token = v["token"].as_str().expect("token");
        // Change one character in each segment of the chain: issuer JWT payload, a
        // disclosure, the terminal JWT signature, the closed disclosure.
        let segs: Vec<usize> = token
            .char_indices()
            .filter(|(_, c)| *c == '~' || *c == '.')
            .map(|(i, _)| i)
            .collect();
        for &at in &segs {
            let i = at + 3;
            if i >= token.len() || !token.is_char_boundary(i) {
                continue;
            }
            let mut bytes = token.as_bytes().to_vec();
            if matches!(bytes[i], b'~' | b'.') {
                continue;
            }
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let mut tampered = v.clone();
            tampered["token"] = json!(String::from_utf8(bytes).expect("ascii"));
            let out = vectors::run_vector(&tampered).expect("run");
            assert!(out[0].is_err(), "{}: tampering at {i} accepted", v["id"]);
        }
    }
}

fn closed(payee: &str, amount: i64) -> ClosedMandate {
    ClosedMandate {
        vct: CLOSED_VCT.into(),
        transaction_id: "tx-1".into(),
        payee: Merchant {
            id: Some(payee.into()),
            name: Some(format!("Shop {payee}")),
            website: None,
        },
        payment_amount: Amount {
            amount,
            currency: "USD".into(),
        },
        payment_instrument: Instrument {
            id: "pm_card_visa".into(),
            kind: "card".into(),
            description: None,
        },
        pisp: None,
        execution_date: None,
        iat: Some(1_000),
        exp: Some(1_600),
    }
}

fn open_for(agent: &SigningKey) -> OpenMandate {
    OpenMandate {
        vct: OPEN_VCT.into(),
        constraints: vec![
            Constraint::AmountRange {
                currency: "USD".into(),
                max: 5000,
                min: None,
            },
            Constraint::Budget {
                max: serde_json::Number::from_f64(120.0).expect("number"),
                currency: "USD".into(),
            },
            Constraint::AgentRecurrence {
                frequency: Frequency::Monthly,
                max_occurrences: None,
            },
            Constraint::AllowedPayees {
                allowed: vec![closed("acct_a", 1).payee, closed("acct_b", 1).payee],
            },
        ],
        cnf: Confirmation {
            jwk: agent.public_jwk(),
        },
        payee: None,
        payment_amount: None,
        payment_instrument: None,
        pisp: None,
        execution_date: None,
        iat: Some(900),
        exp: Some(900 + 3600),
    }
}

#[test]
fn what_we_issue_and_present_verifies_and_its_constraints_hold() {
    let issuer = SigningKey::generate("tenant-key-1").expect("issuer");
    let agent = SigningKey::generate("agent-1").expect("agent");
    let open = issue_open_mandate(&issuer, &open_for(&agent)).expect("issue");
    let trusted = [issuer.public_jwk()];
    let params = VerifyParams {
        trusted_issuers: &trusted,
        now: 1_000,
        clock_skew_seconds: 300,
        expected_aud: "fintech",
        expected_nonce: "n-1",
    };
    let token = present(
        &open,
        &agent,
        &closed("acct_a", 5000),
        "fintech",
        "n-1",
        1_000,
    )
    .expect("present");
    let chain = verify_chain(&token, &params).expect("verifies");
    assert_eq!(chain.open, open_for(&agent));
    assert_eq!(chain.closed, closed("acct_a", 5000));
    assert_eq!(
        chain.budget_limit().expect("budget"),
        Some((12000, "USD".into()))
    );
    check_constraints(&chain, Usage::default(), 1_000, None).expect("within");
    let used = Usage {
        total_amount: 7001,
        total_uses: 2,
    };
    assert_eq!(
        check_constraints(&chain, used, 1_000, None).map_err(|r| r.code),
        Err(ReasonCode::BudgetExceeded)
    );
    // Another payee, too much, another audience, another nonce, a foreign agent key.
    let refuse = |token: String, code: ReasonCode| {
        let got = verify_chain(&token, &params)
            .and_then(|c| check_constraints(&c, Usage::default(), 1_000, None));
        assert_eq!(got.map_err(|r| r.code), Err(code));
    };
    refuse(
        present(
            &open,
            &agent,
            &closed("acct_c", 100),
            "fintech",
            "n-1",
            1_000,
        )
        .expect("p"),
        ReasonCode::PayeeNotAllowed,
    );
    refuse(
        present(
            &open,
            &agent,
            &closed("acct_a", 5001),
            "fintech",
            "n-1",
            1_000,
        )
        .expect("p"),
        ReasonCode::AmountOutOfRange,
    );
    refuse(
        present(&open, &agent, &closed("acct_a", 100), "other", "n-1", 1_000).expect("p"),
        ReasonCode::WrongAud,
    );
    refuse(
        present(
            &open,
            &agent,
            &closed("acct_a", 100),
            "fintech",
            "n-2",
            1_000,
        )
        .expect("p"),
        ReasonCode::WrongNonce,
    );
    let stranger = SigningKey::generate("agent-2").expect("agent");
    refuse(
        present(
            &open,
            &stranger,
            &closed("acct_a", 100),
            "fintech",
            "n-1",
            1_000,
        )
        .expect("p"),
        ReasonCode::CnfMismatch,
    );
    let late = VerifyParams {
        now: 900 + 3600 + 301,
        ..params.clone()
    };
    assert_eq!(
        verify_chain(&token, &late).map(|_| ()).map_err(|r| r.code),
        Err(ReasonCode::Expired)
    );
    let untrusted = [SigningKey::generate("tenant-key-1")
        .expect("k")
        .public_jwk()];
    let wrong_key = VerifyParams {
        trusted_issuers: &untrusted,
        ..params.clone()
    };
    assert_eq!(
        verify_chain(&token, &wrong_key)
            .map(|_| ())
            .map_err(|r| r.code),
        Err(ReasonCode::BadSignature)
    );
}

#[test]
fn receipts_we_sign_verify_and_name_the_closed_mandate() {
    let key = SigningKey::generate("receipts-1").expect("key");
    let receipt = PaymentReceipt {
        status: ReceiptStatus::Success,
        iss: "fintech".into(),
        iat: 1_000,
        reference: "ref-1".into(),
        payment_id: "pay_1".into(),
        psp_confirmation_id: Some("pi_1".into()),
        network_confirmation_id: Some("pay_1".into()),
        error: None,
        error_description: None,
    };
    let jws = receipt.sign(&key).expect("sign");
    assert_eq!(
        verify_receipt(&jws, &key.public_jwk(), &["ref-1".into()]).expect("ok"),
        receipt
    );
    assert_eq!(
        verify_receipt(&jws, &key.public_jwk(), &["ref-2".into()]).map_err(|r| r.code),
        Err(ReasonCode::ReceiptUnknownReference)
    );
    let other = SigningKey::generate("receipts-1").expect("key");
    assert_eq!(
        verify_receipt(&jws, &other.public_jwk(), &["ref-1".into()]).map_err(|r| r.code),
        Err(ReasonCode::ReceiptBadSignature)
    );
    let schema = load_schema("payment_receipt.json");
    validate(
        &schema,
        &serde_json::to_value(&receipt).expect("json"),
        "payment_receipt.json",
    )
    .expect("receipt matches the spec schema");
}

// --- A small JSON Schema (2020-12) validator for the keywords the AP2 schemas use. ---

fn load_schema(name: &str) -> Value {
    let text = match name {
        "open_payment_mandate.json" => {
            include_str!("../../testdata/ap2/schemas/open_payment_mandate.json")
        }
        "payment_mandate.json" => include_str!("../../testdata/ap2/schemas/payment_mandate.json"),
        "payment_receipt.json" => include_str!("../../testdata/ap2/schemas/payment_receipt.json"),
        "types/amount.json" => include_str!("../../testdata/ap2/schemas/types/amount.json"),
        "types/merchant.json" => include_str!("../../testdata/ap2/schemas/types/merchant.json"),
        "types/payment_instrument.json" => {
            include_str!("../../testdata/ap2/schemas/types/payment_instrument.json")
        }
        "types/pisp.json" => include_str!("../../testdata/ap2/schemas/types/pisp.json"),
        "types/receipt_status.json" => {
            include_str!("../../testdata/ap2/schemas/types/receipt_status.json")
        }
        "types/jwk.json" => include_str!("../../testdata/ap2/schemas/types/jwk.json"),
        other => panic!("schema {other} not bundled"),
    };
    serde_json::from_str(text).expect("schema json")
}

fn validate(schema: &Value, v: &Value, root: &str) -> Result<(), String> {
    let s = schema.as_object().ok_or("schema is not an object")?;
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        if let Some(def) = r.strip_prefix("#/$defs/") {
            let top = load_schema(root);
            validate(&top["$defs"][def], v, root)?;
        } else {
            validate(&load_schema(r), v, r)?;
        }
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => false,
        };
        if !ok {
            return Err(format!("{v} is not {t}"));
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            return Err(format!("{v} is not the constant {c}"));
        }
    }
    if let Some(Value::Array(e)) = s.get("enum") {
        if !e.contains(v) {
            return Err(format!("{v} not in enum"));
        }
    }
    if let (Some(Value::String(p)), Some(text)) = (s.get("pattern"), v.as_str()) {
        if !regex::Regex::new(p).expect("pattern").is_match(text) {
            return Err(format!("{text} does not match {p}"));
        }
    }
    if let Some(obj) = v.as_object() {
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req {
                let name = r.as_str().expect("name");
                if !obj.contains_key(name) {
                    return Err(format!("missing required {name}"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(ps, val, root).map_err(|e| format!("{k}: {e}"))?,
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("unexpected property {k}"))
                }
                None => {}
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(items) = s.get("items") {
            for (i, item) in arr.iter().enumerate() {
                validate(items, item, root).map_err(|e| format!("[{i}]: {e}"))?;
            }
        }
        if let Some(c) = s.get("contains") {
            if !arr.iter().any(|item| validate(c, item, root).is_ok()) {
                return Err("no element matches contains".into());
            }
        }
    }
    if let Some(Value::Array(alts)) = s.get("oneOf") {
        let n = alts.iter().filter(|a| validate(a, v, root).is_ok()).count();
        if n != 1 {
            return Err(format!("{n} of oneOf match"));
        }
    }
    Ok(())
}

#[test]
fn the_schema_validator_refuses_what_it_should() {
    let schema = load_schema("payment_mandate.json");
    let good = serde_json::to_value(closed("acct_a", 100)).expect("json");
    validate(&schema, &good, "payment_mandate.json").expect("valid");
    let mut bad = good.clone();
    bad["vct"] = json!("mandate.payment.2");
    assert!(validate(&schema, &bad, "payment_mandate.json").is_err());
    let mut bad = good.clone();
    bad["payment_amount"]["amount"] = json!("1.00");
    assert!(validate(&schema, &bad, "payment_mandate.json").is_err());
    let mut bad = good;
    bad.as_object_mut().expect("obj").remove("payee");
    assert!(validate(&schema, &bad, "payment_mandate.json").is_err());
    let jwk = load_schema("types/jwk.json");
    let mut key =
        serde_json::to_value(SigningKey::generate("k").expect("k").public_jwk()).expect("jwk");
    validate(&jwk, &key, "types/jwk.json").expect("our JWKs match the schema");
    key["x"] = json!("short");
    assert!(validate(&jwk, &key, "types/jwk.json").is_err());
}

#[test]
fn mandates_we_issue_match_the_spec_schemas() {
    let issuer = SigningKey::generate("tenant-key-1").expect("issuer");
    let agent = SigningKey::generate("agent-1").expect("agent");
    let mut mandate = open_for(&agent);
    // The spec's open mandate must contain a payment.reference constraint.
    mandate.constraints.push(Constraint::Reference {
        conditional_transaction_id: "checkout-hash".into(),
    });
    mandate.constraints.push(Constraint::ExecutionDate {
        not_before: Some("2026-01-01T00:00:00Z".into()),
        not_after: None,
    });
    let open = issue_open_mandate(&issuer, &mandate).expect("issue");
    let token =
        present(&open, &agent, &closed("acct_b", 10), "fintech", "n", 1_000).expect("present");
    let trusted = [issuer.public_jwk()];
    let chain = verify_chain(
        &token,
        &VerifyParams {
            trusted_issuers: &trusted,
            now: 1_000,
            clock_skew_seconds: 0,
            expected_aud: "fintech",
            expected_nonce: "n",
        },
    )
    .expect("verifies");
    let open_json = serde_json::to_value(&chain.open).expect("json");
    validate(
        &load_schema("open_payment_mandate.json"),
        &open_json,
        "open_payment_mandate.json",
    )
    .expect("open mandate matches the spec schema");
    validate(
        &load_schema("payment_mandate.json"),
        &serde_json::to_value(&chain.closed).expect("json"),
        "payment_mandate.json",
    )
    .expect("closed mandate matches the spec schema");
    validate(
        &load_schema("types/jwk.json"),
        &serde_json::to_value(&chain.open.cnf.jwk).expect("json"),
        "types/jwk.json",
    )
    .expect("cnf key matches the spec schema");
}
